//! Two things the binary learns at build time: the git commit it was built from, for
//! `brain --version` (a bug report then names the exact source), and — for release builds —
//! compressed line tables (backtraces name our lines; the linker zlib-compresses the debug
//! sections, which the backtrace symbolizer reads as they are; dev builds link faster
//! without).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    if std::env::var("PROFILE").as_deref() == Ok("release") {
        println!("cargo:rustc-link-arg-bins=-Wl,--compress-debug-sections=zlib");
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-env=BRAIN_GIT_COMMIT={}", commit());
}

/// "55f8a6c 2026-12-07", or "unknown commit" outside a git checkout (a source tarball) or
/// without git. Cargo is told to rebuild when HEAD or the branch it points to moves.
fn commit() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .map(|text| text.trim().to_owned())
    };
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        let dir = PathBuf::from(dir);
        println!("cargo:rerun-if-changed={}", dir.join("HEAD").display());
        println!(
            "cargo:rerun-if-changed={}",
            dir.join("packed-refs").display()
        );
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            // A worktree's branch ref lives in the main repository's folder.
            let common = git(&["rev-parse", "--path-format=absolute", "--git-common-dir"])
                .map_or(dir, PathBuf::from);
            println!("cargo:rerun-if-changed={}", common.join(branch).display());
        }
    }
    git(&["log", "-1", "--format=%h %cs"]).unwrap_or_else(|| "unknown commit".to_owned())
}
