//! The C-variadic exports (`FCGX_FPrintF`, `FCGX_VFPrintF`, `FCGI_fprintf`, `FCGI_vfprintf`),
//! which live in `csrc/printf_shim.c`: all of C99's conversions, `%s` with NULL, output longer
//! than the shim's stack buffer, and the FCGI_FILE dispatch (stdio / FCGX stream / neither).
//!
//! `tests/c/printf_shim.c` prints through an FCGX stream on its stdout; this test decodes the
//! FastCGI records and checks the text and every return value. Needs `make`.

mod common;

use common::paths::repo_root as repo;
use common::tools::built;
use std::collections::BTreeMap;
use std::process::Command;

fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Splits a byte stream into (type, request id, content) records, checking the framing.
fn records(mut b: &[u8]) -> Vec<(u8, u16, Vec<u8>)> {
    let mut v = Vec::new();
    while !b.is_empty() {
        assert!(b.len() >= 8, "truncated record header");
        assert_eq!(b[0], 1, "version");
        let id = u16::from_be_bytes([b[2], b[3]]);
        let len = u16::from_be_bytes([b[4], b[5]]) as usize;
        let pad = b[6] as usize;
        assert!(b.len() >= 8 + len + pad, "truncated record body");
        v.push((b[1], id, b[8..8 + len].to_vec()));
        b = &b[8 + len + pad..];
    }
    v
}

#[test]
fn printf_family_formats_with_c99_and_reports_counts() {
    let libdir = built("lib/libfcgi_rs.so.0").parent().unwrap().to_path_buf();
    let dir = std::env::temp_dir().join(format!("fcgi_rs-printf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("printf_shim");
    run_ok(
        Command::new("cc")
            .args([
                "-std=c99",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-Wno-format-overflow",
            ])
            .arg(format!("-I{}", repo().join("include").display()))
            .arg(repo().join("tests/c/printf_shim.c"))
            .arg("-o")
            .arg(&exe)
            .arg(format!("-L{}", libdir.display()))
            .arg(format!("-Wl,-rpath,{}", libdir.display()))
            .arg("-lfcgi_rs"),
    );
    let out = run_ok(&mut Command::new(&exe));
    let _ = std::fs::remove_dir_all(&dir);

    let stderr = String::from_utf8(out.stderr).unwrap();
    let counts: BTreeMap<&str, i64> = stderr
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k, v.parse().unwrap()))
        .collect();

    let c99 = format!("[{}|-1|{}|3.142|0x1p+0|   ab|7  |%]", usize::MAX, i64::MIN);
    let big = format!("[{}]", "x".repeat(4999));
    let expected = format!("{c99}[(null)]{big}[v42][fcgi][fvz]");

    let recs = records(&out.stdout);
    assert!(
        recs.iter().all(|(t, id, _)| *t == 6 && *id == 1),
        "only STDOUT records for id 1"
    );
    let last = recs.last().expect("some records");
    assert!(
        last.2.is_empty(),
        "FCGX_FClose ends with an empty STDOUT record"
    );
    let text: Vec<u8> = recs.iter().flat_map(|r| r.2.clone()).collect();
    assert_eq!(String::from_utf8(text).unwrap(), expected);

    let want: &[(&str, i64)] = &[
        ("c99", c99.len() as i64),
        ("null", "[(null)]".len() as i64),
        ("big", big.len() as i64),
        ("vfprintf", 5),
        ("empty", 0),
        ("fcgi_fprintf_stream", 6),
        ("fcgi_vfprintf_stream", 5),
        ("fcgi_fprintf_nothing", -1),
        ("fcgi_fprintf_stdio", "stdio-path:5\n".len() as i64),
        ("fclose", 0),
    ];
    for (k, v) in want {
        assert_eq!(counts.get(k), Some(v), "{k} in:\n{stderr}");
    }
    assert!(
        stderr.contains("stdio-path:5\n"),
        "FCGI_fprintf to a FILE: {stderr}"
    );
}
