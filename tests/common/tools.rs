//! Small helpers for tests that build and inspect C programs and libraries.

use super::paths;
use std::path::PathBuf;
use std::process::Command;

/// A file under `build/`, which must exist (else: run `make` first).
pub fn built(rel: &str) -> PathBuf {
    let p = paths::build_dir().join(rel);
    paths::require(&p);
    p
}

/// Runs `cmd`, which must succeed; returns its stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fresh directory for this test process, named after `tag`.
pub fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fcgi_rs-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Compiles a C program from `source` against our headers and `libfcgi_rs` (run from the
/// build tree through an rpath); returns the executable.
pub fn compile_c(dir: &std::path::Path, name: &str, source: &str) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let exe = dir.join(name);
    let lib = paths::build_dir().join("lib");
    run_ok(
        Command::new("cc")
            .arg(format!(
                "-I{}",
                paths::repo_root().join("include").display()
            ))
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .arg(format!("-L{}", lib.display()))
            .arg("-lfcgi_rs")
            .arg(format!("-Wl,-rpath,{}", lib.display())),
    );
    exe
}
