//! Integration tests of the shell on real brain directories: plugin registration, tool
//! permissions and validation, configuration errors, plugin start-up failures.

mod support;

mod config;
mod permissions;
mod plugins;
mod tools;
