//! Queue benchmark.
fn main() {}
