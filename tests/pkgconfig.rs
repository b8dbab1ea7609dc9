//! Building a C program the way users will: `cc app.c $(pkg-config --cflags --libs fcgi_rs)`,
//! with the uninstalled `build/pkgconfig/fcgi_rs.pc`, after `make install` into a scratch
//! prefix, and statically with `pkg-config --static`.
//!
//! Needs `make`, pkg-config and a C compiler.

mod common;

use common::paths::repo_root as repo;
use common::tools::{built, run_ok, scratch};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn pkg_config(pc_dir: &Path, args: &[&str]) -> Vec<String> {
    let out = run_ok(
        Command::new("pkg-config")
            .env("PKG_CONFIG_PATH", pc_dir)
            .env_remove("PKG_CONFIG_LIBDIR")
            .args(args)
            .arg("fcgi_rs"),
    );
    out.split_whitespace().map(String::from).collect()
}

fn compile(out: &Path, flags: &[String]) {
    run_ok(
        Command::new("cc")
            .args(["-Wall", "-Werror"])
            .arg(repo().join("tests/c/pkg_app.c"))
            .arg("-o")
            .arg(out)
            .args(flags),
    );
}

/// Runs the program with a pipe as stdin (so: CGI mode) and returns its output.
fn run_from_pipe(exe: &Path, ld_path: Option<&Path>) -> String {
    let mut cmd = Command::new(exe);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match ld_path {
        Some(p) => cmd.env("LD_LIBRARY_PATH", p),
        None => cmd.env_remove("LD_LIBRARY_PATH"),
    };
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{} failed: {}",
        exe.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn expected_output() -> String {
    let cargo_toml = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let version = cargo_toml
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("version in Cargo.toml");
    format!("IsCGI=1 Init=0 version={version}\n")
}

fn needed(exe: &Path) -> Vec<String> {
    run_ok(Command::new("readelf").args(["-d", "-W"]).arg(exe))
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| Some(l[l.find('[')? + 1..l.rfind(']')?].to_string()))
        .collect()
}

#[test]
fn uninstalled_pc_builds_and_runs() {
    built("lib/libfcgi_rs.so.0");
    let pc_dir = built("pkgconfig");
    let flags = pkg_config(&pc_dir, &["--cflags", "--libs"]);
    assert!(flags.contains(&format!("-I{}", repo().join("include").display())));
    assert!(flags.contains(&"-lfcgi_rs".to_string()), "{flags:?}");

    let dir = scratch("uninst");
    let exe = dir.join("app");
    compile(&exe, &flags);
    assert!(needed(&exe).contains(&"libfcgi_rs.so.0".to_string()));
    let out = run_from_pipe(&exe, Some(&repo().join("build/lib")));
    assert_eq!(out, expected_output());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn static_link_with_pkg_config_static() {
    built("lib/libfcgi_rs.a");
    let pc_dir = built("pkgconfig");
    let libs = pkg_config(&pc_dir, &["--static", "--cflags", "--libs"]);
    assert!(libs.iter().any(|f| f == "-lpthread"), "{libs:?}");
    // Pick the archive, not the shared library next to it, for -lfcgi_rs only.
    let flags: Vec<String> = libs
        .into_iter()
        .flat_map(|f| {
            if f == "-lfcgi_rs" {
                vec!["-Wl,-Bstatic".to_string(), f, "-Wl,-Bdynamic".to_string()]
            } else {
                vec![f]
            }
        })
        .collect();

    let dir = scratch("static");
    let exe = dir.join("app");
    compile(&exe, &flags);
    let needs = needed(&exe);
    assert!(
        !needs.iter().any(|n| n.starts_with("libfcgi")),
        "static build still needs {needs:?}"
    );
    let defined = run_ok(Command::new("nm").arg("--defined-only").arg(&exe));
    assert!(defined.lines().any(|l| l.ends_with(" T FCGX_IsCGI")));
    assert_eq!(run_from_pipe(&exe, None), expected_output());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn installed_pc_builds_and_runs() {
    built("lib/libfcgi_rs.so.0");
    let prefix = scratch("prefix");
    let make = |target: &str| {
        run_ok(
            Command::new("make")
                .arg("-C")
                .arg(repo())
                .arg("--no-print-directory")
                .arg(target)
                .arg(format!("PREFIX={}", prefix.display())),
        )
    };
    make("install");

    for f in [
        "lib/libfcgi_rs.so.0",
        "lib/libfcgi_rs.a",
        "lib/fcgi_rs/libfcgi.so.0",
        "lib/pkgconfig/fcgi_rs.pc",
        "include/fcgi_rs/fcgiapp.h",
        "include/fcgi_rs/fastcgi.h",
        "include/fcgi_rs/fcgi_rs.h",
    ] {
        assert!(prefix.join(f).exists(), "make install did not create {f}");
    }
    assert_eq!(
        std::fs::read_link(prefix.join("lib/libfcgi_rs.so"))
            .unwrap()
            .to_str(),
        Some("libfcgi_rs.so.0")
    );

    let pc_dir = prefix.join("lib/pkgconfig");
    let flags = pkg_config(&pc_dir, &["--cflags", "--libs"]);
    assert!(
        flags.contains(&format!("-I{}/include/fcgi_rs", prefix.display())),
        "{flags:?}"
    );
    assert!(
        flags.contains(&format!("-L{}/lib", prefix.display())),
        "{flags:?}"
    );

    let exe = prefix.join("app");
    compile(&exe, &flags);
    let out = run_from_pipe(&exe, Some(&prefix.join("lib")));
    assert_eq!(out, expected_output());

    make("uninstall");
    for f in [
        "lib/libfcgi_rs.so.0",
        "lib/libfcgi_rs.so",
        "lib/libfcgi_rs.a",
        "lib/fcgi_rs/libfcgi.so.0",
        "lib/pkgconfig/fcgi_rs.pc",
        "include/fcgi_rs/fcgiapp.h",
    ] {
        assert!(!prefix.join(f).exists(), "make uninstall left {f}");
    }
    let _ = std::fs::remove_dir_all(&prefix);
}
