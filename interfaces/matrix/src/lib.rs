//! The Matrix interface: a bot that drives the shell from Matrix rooms (work in progress).
