//! Structure layouts of the C interface, checked from C.
//!
//! `tests/c/layout.c` is compiled once against libfcgi's installed `/usr/include/fcgiapp.h` and
//! once against our `include/`; both must print the reference numbers (x86_64) and agree on
//! every line. At run time `FCGX_InitRequest` must write exactly the 80 bytes of the request and
//! set the documented fields, on our library just as on libfcgi.
//!
//! Needs `make` (for `build/lib`) and the Debian package libfcgi-dev.

mod common;

use common::paths::repo_root as repo;
use common::tools::{built, run_ok, scratch};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn debian_header() -> PathBuf {
    let p = PathBuf::from("/usr/include/fcgiapp.h");
    assert!(
        p.exists(),
        "{} is missing: install libfcgi-dev (run-tests.sh does)",
        p.display()
    );
    p
}

/// Which fcgiapp.h a compilation with these flags picks up, from `cc -M`.
fn header_used(flags: &[&str]) -> String {
    let src = repo().join("tests/c/layout.c");
    let deps = run_ok(Command::new("cc").args(flags).arg("-M").arg(&src));
    deps.split_whitespace()
        .find(|w| w.ends_with("/fcgiapp.h"))
        .expect("layout.c includes fcgiapp.h")
        .to_string()
}

/// Header choice for a build: libfcgi's (system include path) or ours (`-I include`).
#[derive(Clone, Copy, Debug)]
enum Headers {
    Debian,
    Ours,
}

/// Library to link the runtime check with.
#[derive(Clone, Copy, Debug)]
enum Lib {
    None,
    Ours,
    Debian,
}

fn build_and_run(headers: Headers, lib: Lib) -> BTreeMap<String, String> {
    let inc = repo().join("include");
    let inc_flag = format!("-I{}", inc.display());
    let mut flags: Vec<String> = vec!["-std=c11".into(), "-Wall".into(), "-Werror".into()];
    if let Headers::Ours = headers {
        flags.push(inc_flag);
    }
    let flag_refs: Vec<&str> = flags.iter().map(String::as_str).collect();
    let used = header_used(&flag_refs);
    match headers {
        Headers::Debian => assert_eq!(Path::new(&used), debian_header()),
        Headers::Ours => assert_eq!(Path::new(&used), inc.join("fcgiapp.h")),
    }

    let dir = scratch(&format!("{headers:?}-{lib:?}"));
    let exe = dir.join("layout");
    let mut cc = Command::new("cc");
    cc.args(&flags)
        .arg(repo().join("tests/c/layout.c"))
        .arg("-o")
        .arg(&exe);
    match lib {
        Lib::None => {}
        Lib::Ours => {
            let libdir = built("lib/libfcgi_rs.so.0").parent().unwrap().to_path_buf();
            cc.arg("-DWITH_INIT_CHECK")
                .arg(format!("-L{}", libdir.display()))
                .arg(format!("-Wl,-rpath,{}", libdir.display()))
                .arg("-lfcgi_rs");
        }
        Lib::Debian => {
            cc.arg("-DWITH_INIT_CHECK").arg("-lfcgi");
        }
    }
    run_ok(&mut cc);
    let out = run_ok(&mut Command::new(&exe));
    let _ = std::fs::remove_dir_all(&dir);
    out.lines()
        .map(|l| {
            let (k, v) = l.split_once(' ').expect("\"name value\" lines");
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// The reference layout (x86_64, from the libfcgi inventory).
const EXPECTED_LAYOUT: &[(&str, usize)] = &[
    ("FCGX_Stream.size", 72),
    ("FCGX_Stream.align", 8),
    ("FCGX_Stream.rdNext", 0),
    ("FCGX_Stream.wrNext", 8),
    ("FCGX_Stream.stop", 16),
    ("FCGX_Stream.stopUnget", 24),
    ("FCGX_Stream.isReader", 32),
    ("FCGX_Stream.isClosed", 36),
    ("FCGX_Stream.wasFCloseCalled", 40),
    ("FCGX_Stream.FCGI_errno", 44),
    ("FCGX_Stream.fillBuffProc", 48),
    ("FCGX_Stream.emptyBuffProc", 56),
    ("FCGX_Stream.data", 64),
    ("FCGX_Request.size", 80),
    ("FCGX_Request.align", 8),
    ("FCGX_Request.requestId", 0),
    ("FCGX_Request.role", 4),
    ("FCGX_Request.in", 8),
    ("FCGX_Request.out", 16),
    ("FCGX_Request.err", 24),
    ("FCGX_Request.envp", 32),
    ("FCGX_Request.paramsPtr", 40),
    ("FCGX_Request.ipcFd", 48),
    ("FCGX_Request.isBeginProcessed", 52),
    ("FCGX_Request.keepConnection", 56),
    ("FCGX_Request.appStatus", 60),
    ("FCGX_Request.nWriters", 64),
    ("FCGX_Request.flags", 68),
    ("FCGX_Request.listen_sock", 72),
    ("FCGX_Request.detached", 76),
    ("FCGX_ParamArray.size", 8),
    ("FCGX_ParamArray.align", 8),
    ("FCGI_Header.size", 8),
    ("FCGI_Header.align", 1),
    ("FCGI_Header.version", 0),
    ("FCGI_Header.type", 1),
    ("FCGI_Header.requestIdB1", 2),
    ("FCGI_Header.requestIdB0", 3),
    ("FCGI_Header.contentLengthB1", 4),
    ("FCGI_Header.contentLengthB0", 5),
    ("FCGI_Header.paddingLength", 6),
    ("FCGI_Header.reserved", 7),
    ("FCGI_BeginRequestBody.size", 8),
    ("FCGI_BeginRequestBody.align", 1),
    ("FCGI_BeginRequestBody.roleB1", 0),
    ("FCGI_BeginRequestBody.roleB0", 1),
    ("FCGI_BeginRequestBody.flags", 2),
    ("FCGI_BeginRequestBody.reserved", 3),
    ("FCGI_BeginRequestRecord.size", 16),
    ("FCGI_BeginRequestRecord.align", 1),
    ("FCGI_BeginRequestRecord.header", 0),
    ("FCGI_BeginRequestRecord.body", 8),
    ("FCGI_EndRequestBody.size", 8),
    ("FCGI_EndRequestBody.align", 1),
    ("FCGI_EndRequestBody.appStatusB3", 0),
    ("FCGI_EndRequestBody.appStatusB2", 1),
    ("FCGI_EndRequestBody.appStatusB1", 2),
    ("FCGI_EndRequestBody.appStatusB0", 3),
    ("FCGI_EndRequestBody.protocolStatus", 4),
    ("FCGI_EndRequestBody.reserved", 5),
    ("FCGI_EndRequestRecord.size", 16),
    ("FCGI_EndRequestRecord.align", 1),
    ("FCGI_EndRequestRecord.header", 0),
    ("FCGI_EndRequestRecord.body", 8),
    ("FCGI_UnknownTypeBody.size", 8),
    ("FCGI_UnknownTypeBody.align", 1),
    ("FCGI_UnknownTypeBody.type", 0),
    ("FCGI_UnknownTypeBody.reserved", 1),
    ("FCGI_UnknownTypeRecord.size", 16),
    ("FCGI_UnknownTypeRecord.align", 1),
    ("FCGI_UnknownTypeRecord.header", 0),
    ("FCGI_UnknownTypeRecord.body", 8),
];

fn assert_reference_layout(got: &BTreeMap<String, String>, which: &str) {
    for (name, want) in EXPECTED_LAYOUT {
        let v = got
            .get(*name)
            .unwrap_or_else(|| panic!("{which}: layout.c printed no {name}"));
        assert_eq!(v, &want.to_string(), "{which}: {name}");
    }
    let layout_lines = got.keys().filter(|k| !k.starts_with("init.")).count();
    assert_eq!(
        layout_lines,
        EXPECTED_LAYOUT.len(),
        "{which}: layout.c and the reference table disagree on which fields exist"
    );
}

#[test]
fn layouts_match_reference_with_debian_headers() {
    debian_header();
    let deb = build_and_run(Headers::Debian, Lib::None);
    assert_reference_layout(&deb, "libfcgi's headers");
}

#[test]
fn layouts_match_reference_with_our_headers() {
    let ours = build_and_run(Headers::Ours, Lib::None);
    assert_reference_layout(&ours, "our headers");
}

#[test]
fn both_headers_give_identical_layouts() {
    debian_header();
    let deb = build_and_run(Headers::Debian, Lib::None);
    let ours = build_and_run(Headers::Ours, Lib::None);
    assert_eq!(deb, ours);
}

/// What `FCGX_InitRequest(req, 5, 1)` must leave in the 80 bytes and around them.
fn assert_init_request(got: &BTreeMap<String, String>, which: &str) {
    let want: &[(&str, &str)] = &[
        ("init.rc", "0"),
        ("init.tail_bytes_touched", "0"),
        ("init.requestId", "0"),
        ("init.role", "0"),
        ("init.in_null", "1"),
        ("init.out_null", "1"),
        ("init.err_null", "1"),
        ("init.envp_null", "1"),
        ("init.paramsPtr_null", "1"),
        ("init.ipcFd", "-1"),
        ("init.isBeginProcessed", "0"),
        ("init.keepConnection", "0"),
        ("init.appStatus", "0"),
        ("init.nWriters", "0"),
        ("init.flags", "1"),
        ("init.listen_sock", "5"),
        ("init.detached", "0"),
    ];
    for (k, v) in want {
        let got_v = got
            .get(*k)
            .unwrap_or_else(|| panic!("{which}: layout.c printed no {k}"));
        assert_eq!(got_v, v, "{which}: {k}");
    }
}

/// The expectations above, checked against the original library so they cannot drift from it.
#[test]
fn init_request_on_libfcgi_matches_expectations() {
    debian_header();
    assert!(
        Path::new("/usr/lib/x86_64-linux-gnu/libfcgi.so").exists()
            || Path::new("/usr/lib/libfcgi.so").exists(),
        "libfcgi.so (libfcgi-dev) is missing"
    );
    let got = build_and_run(Headers::Debian, Lib::Debian);
    assert_init_request(&got, "libfcgi");
}

#[test]
fn init_request_on_our_library_with_our_headers() {
    let got = build_and_run(Headers::Ours, Lib::Ours);
    assert_init_request(&got, "fcgi_rs, our headers");
}

#[test]
fn init_request_on_our_library_with_debian_headers() {
    debian_header();
    let got = build_and_run(Headers::Debian, Lib::Ours);
    assert_init_request(&got, "fcgi_rs, libfcgi's headers");
}
