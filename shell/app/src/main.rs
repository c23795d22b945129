//! The stock `brain` binary: the command line with the built-in plugins. To add your own
//! plugin, write a binary like this one that pushes it onto [`brain::default_plugins`].

fn main() -> std::process::ExitCode {
    brain::main_with(brain::default_plugins())
}
