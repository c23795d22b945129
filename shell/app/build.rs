//! Release binaries keep their line tables (backtraces name our lines) but compressed: the
//! linker zlib-compresses the debug sections, which the backtrace symbolizer reads as they
//! are. Dev builds are left alone (faster links).

fn main() {
    if std::env::var("PROFILE").as_deref() == Ok("release") {
        println!("cargo:rustc-link-arg-bins=-Wl,--compress-debug-sections=zlib");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
