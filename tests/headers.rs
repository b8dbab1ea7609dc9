//! Our `include/fcgiapp.h` and `include/fastcgi.h` against libfcgi's installed ones.
//!
//! (a) gcc's `-aux-info` lists every prototype a translation unit declares, with types only;
//!     the `FCGX_*` lists from both headers must be identical.
//! (b) `tests/c/constants.c` prints every macro both headers define; built against either, it
//!     must print the same thing.
//! (c) `include/fcgi_rs.h` is what cbindgen generates today (`make check-headers`).
//!
//! Needs libfcgi-dev and gcc/g++.

mod common;

use common::paths::repo_root as repo;
use common::tools::{run_ok, scratch};
use std::collections::BTreeSet;
use std::process::Command;

fn require_debian_headers() {
    for h in ["/usr/include/fcgiapp.h", "/usr/include/fastcgi.h"] {
        assert!(
            std::path::Path::new(h).exists(),
            "{h} is missing: install libfcgi-dev (run-tests.sh does)"
        );
    }
}

fn our_include() -> String {
    format!("-I{}", repo().join("include").display())
}

/// The FCGX_* prototypes gcc sees, normalised: "extern int FCGX_GetStr (char *, int, FCGX_Stream *);"
fn prototypes(extra_flags: &[&str], tag: &str) -> BTreeSet<String> {
    let dir = scratch(tag);
    let src = dir.join("tu.c");
    std::fs::write(&src, "#include <fcgiapp.h>\n#include <fastcgi.h>\n").unwrap();
    let aux = dir.join("tu.aux");
    run_ok(
        Command::new("gcc")
            .args(extra_flags)
            .arg("-aux-info")
            .arg(&aux)
            .arg("-c")
            .arg(&src)
            .arg("-o")
            .arg(dir.join("tu.o")),
    );
    let text = std::fs::read_to_string(&aux).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    text.lines()
        .filter(|l| l.contains("FCGX_") && l.contains('('))
        .map(|l| {
            // Drop the "/* file:line:NC */" origin comment, then collapse whitespace.
            let body = match l.find("*/") {
                Some(i) => &l[i + 2..],
                None => l,
            };
            body.split_whitespace().collect::<Vec<_>>().join(" ")
        })
        .collect()
}

#[test]
fn fcgx_prototypes_are_identical() {
    require_debian_headers();
    let deb = prototypes(&[], "deb");
    let inc = our_include();
    let ours = prototypes(&[inc.as_str()], "ours");
    assert_eq!(
        deb.len(),
        31,
        "libfcgi's fcgiapp.h declares 31 functions: {deb:#?}"
    );
    let only_deb: Vec<_> = deb.difference(&ours).collect();
    let only_ours: Vec<_> = ours.difference(&deb).collect();
    assert!(
        only_deb.is_empty() && only_ours.is_empty(),
        "prototypes differ\nonly in libfcgi's: {only_deb:#?}\nonly in ours: {only_ours:#?}"
    );
}

fn constants(extra_flags: &[&str], tag: &str) -> String {
    let dir = scratch(tag);
    let exe = dir.join("constants");
    run_ok(
        Command::new("cc")
            .args(["-std=c99", "-Wall", "-Wextra", "-Werror"])
            .args(extra_flags)
            .arg(repo().join("tests/c/constants.c"))
            .arg("-o")
            .arg(&exe),
    );
    let out = run_ok(&mut Command::new(&exe));
    let _ = std::fs::remove_dir_all(&dir);
    out
}

#[test]
fn constants_are_identical() {
    require_debian_headers();
    let deb = constants(&[], "cdeb");
    let inc = our_include();
    let ours = constants(&[inc.as_str()], "cours");
    assert_eq!(deb, ours);
    // A few values from the reference, so a constants.c that printed nothing would fail too.
    for line in [
        "FCGI_MAX_LENGTH 65535",
        "FCGI_UNKNOWN_TYPE 11",
        "FCGI_MAXTYPE 11",
        "FCGX_CALL_SEQ_ERROR -5",
        "FCGI_FAIL_ACCEPT_ON_INTR 1",
        "FCGI_MPXS_CONNS \"FCGI_MPXS_CONNS\"",
        "DLLAPI defined, expands to \"x\"",
    ] {
        assert!(
            ours.lines().any(|l| l == line),
            "missing {line:?} in:\n{ours}"
        );
    }
}

/// Our headers on their own: strict C89 and C11, C++, included twice, in either order.
#[test]
fn headers_compile_cleanly_everywhere() {
    let dir = scratch("strict");
    let inc = our_include();
    // fcgi_rs.h uses <stdint.h> types: C99 and later only.
    let c89 = dir.join("c89.c");
    std::fs::write(
        &c89,
        "#include <fcgiapp.h>\n#include <fastcgi.h>\n#include <fcgiapp.h>\n#include <fastcgi.h>\n\
         int use(FCGX_Request *r) { return r->requestId + FCGI_HEADER_LEN; }\n",
    )
    .unwrap();
    let c11 = dir.join("c11.c");
    std::fs::write(
        &c11,
        "#include <fastcgi.h>\n#include <fcgiapp.h>\n#include <fcgi_rs.h>\n#include <fcgiapp.h>\n\
         #include <fcgi_rs.h>\n\
         int use(FCGX_Request *r) { return r->requestId + FCGI_HEADER_LEN; }\n",
    )
    .unwrap();
    for (std, src) in [("-std=c89", &c89), ("-std=c11", &c11)] {
        run_ok(
            Command::new("gcc")
                .args([std, "-pedantic-errors", "-Wall", "-Wextra", "-Werror"])
                .arg(&inc)
                .arg("-c")
                .arg(src)
                .arg("-o")
                .arg(dir.join("c.o")),
        );
    }
    let cxx = dir.join("both.cc");
    std::fs::write(
        &cxx,
        "#include <fastcgi.h>\n#include <fcgiapp.h>\n#include <fcgi_rs.h>\n\
         int use(FCGX_Request *r) { return FCGX_GetParam(\"A\", r->envp) != 0; }\n",
    )
    .unwrap();
    run_ok(
        Command::new("g++")
            .args(["-std=c++11", "-Wall", "-Wextra", "-Werror"])
            .arg(&inc)
            .arg("-c")
            .arg(&cxx)
            .arg("-o")
            .arg(dir.join("both_cc.o")),
    );
    // C linkage: the C++ object must refer to the unmangled name.
    let syms = run_ok(Command::new("nm").arg("-u").arg(dir.join("both_cc.o")));
    assert!(
        syms.lines()
            .any(|l| l.split_whitespace().last() == Some("FCGX_GetParam")),
        "g++ mangled FCGX_GetParam: extern \"C\" missing?\n{syms}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The header text is ours: no line of libfcgi's header comments reappears in it.
#[test]
fn headers_share_no_comment_text_with_libfcgi() {
    require_debian_headers();
    for (theirs, ours) in [
        ("/usr/include/fcgiapp.h", "include/fcgiapp.h"),
        ("/usr/include/fastcgi.h", "include/fastcgi.h"),
    ] {
        let comment_lines = |t: &str| -> BTreeSet<String> {
            t.lines()
                .filter_map(|l| {
                    let i = l.find("/*").or_else(|| {
                        l.trim_start()
                            .starts_with('*')
                            .then(|| l.find('*').unwrap())
                    })?;
                    let c = l[i..]
                        .trim_start_matches(['/', '*'])
                        .trim_end_matches(['/', '*'])
                        .trim();
                    (c.len() >= 20).then(|| c.to_string())
                })
                .collect()
        };
        let a = comment_lines(&std::fs::read_to_string(theirs).unwrap());
        let b = comment_lines(&std::fs::read_to_string(repo().join(ours)).unwrap());
        let shared: Vec<_> = a.intersection(&b).collect();
        assert!(shared.is_empty(), "{ours} repeats comments: {shared:#?}");
    }
}

#[test]
fn generated_header_is_up_to_date() {
    // The Makefile builds the generator (with cbindgen) in a target directory of its own, so
    // this nested cargo never waits on the one running the tests.
    let out = Command::new("make")
        .arg("-C")
        .arg(repo())
        .arg("--no-print-directory")
        .arg("check-headers")
        .output()
        .expect("run make");
    assert!(
        out.status.success(),
        "make check-headers failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
