//! `brain-example`: the stock `brain` binary with the example plugin added — all it takes
//! to put a plugin of your own into your brain.

use std::sync::Arc;

use brain_example_plugin::ExamplePlugin;

fn main() -> std::process::ExitCode {
    let mut plugins = brain::default_plugins();
    plugins.push(Arc::new(ExamplePlugin));
    brain::main_with(plugins)
}
