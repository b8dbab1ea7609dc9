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

/// Compiles `tests/c/NAME.c` with [`compile_c`], once per test process; returns the
/// executable.
pub fn test_program(name: &str) -> PathBuf {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = built.get(name) {
        return p.clone();
    }
    let source = paths::repo_root().join("tests/c").join(format!("{name}.c"));
    let text =
        std::fs::read_to_string(&source).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
    let exe = compile_c(&scratch(&format!("prog-{name}")), name, &text);
    built.insert(name.to_string(), exe.clone());
    exe
}

/// Compiles `tests/c/NAME.c` against Debian's libfcgi (`/usr/include/fcgiapp.h`,
/// `-lfcgi`), once per test process; `None` when that is not installed.
pub fn test_program_libfcgi(name: &str) -> Option<PathBuf> {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    static BUILT: Mutex<BTreeMap<String, Option<PathBuf>>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = built.get(name) {
        return p.clone();
    }
    let source = paths::repo_root().join("tests/c").join(format!("{name}.c"));
    let exe = scratch(&format!("prog-libfcgi-{name}")).join(name);
    let ok = Command::new("cc")
        .arg("-O1")
        .arg("-o")
        .arg(&exe)
        .arg(&source)
        .arg("-lfcgi")
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let out = ok.then_some(exe);
    if out.is_none() {
        eprintln!("skipping: cannot build {name} with libfcgi (cc and libfcgi-dev needed)");
    }
    built.insert(name.to_string(), out.clone());
    out
}
