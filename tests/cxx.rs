//! The C++ library (`fcgio.h`, `libfcgi++.so.0`) as a drop-in for libfcgi's:
//! - the exports of `build/compat/libfcgi++.so.0` are exactly libfcgi++'s 44 (names and kinds,
//!   sizes of the vtables, typeinfo and VTT objects), with its SONAME and NEEDED entries;
//! - `sizeof` of the three classes is the same with our header and with Debian's;
//! - echo-cpp answers the same requests with the same bytes in every mix of libraries: ours
//!   end to end, Debian's libfcgi++ over our libfcgi.so.0, our libfcgi++ over Debian's
//!   libfcgi.so.0, and Debian's end to end (the reference).
//!
//! Needs `make` (it builds the libraries and both echo-cpp binaries) and Debian's libfcgi-dev.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::client::{Conn, Request};
use common::paths::{self, Flavor};
use common::procs::{App, ListenKind, SpawnOpts, TempDir};

/// libfcgi++.so.0's dynamic exports (`nm -D --defined-only`, Debian 12).
const GOLDEN: &[&str] = &[
    "_ZN12fcgi_istream6attachEP11FCGX_Stream",
    "_ZN12fcgi_istreamC1EP11FCGX_Stream",
    "_ZN12fcgi_istreamC2EP11FCGX_Stream",
    "_ZN12fcgi_istreamD0Ev",
    "_ZN12fcgi_istreamD1Ev",
    "_ZN12fcgi_ostream6attachEP11FCGX_Stream",
    "_ZN12fcgi_ostreamC1EP11FCGX_Stream",
    "_ZN12fcgi_ostreamC2EP11FCGX_Stream",
    "_ZN12fcgi_ostreamD0Ev",
    "_ZN12fcgi_ostreamD1Ev",
    "_ZN14fcgi_streambuf4initEP11FCGX_StreamPcl",
    "_ZN14fcgi_streambuf4syncEv",
    "_ZN14fcgi_streambuf5resetEv",
    "_ZN14fcgi_streambuf5uflowEv",
    "_ZN14fcgi_streambuf6attachEP11FCGX_Stream",
    "_ZN14fcgi_streambuf6setbufEPcl",
    "_ZN14fcgi_streambuf6xsgetnEPcl",
    "_ZN14fcgi_streambuf6xsputnEPKcl",
    "_ZN14fcgi_streambuf8overflowEi",
    "_ZN14fcgi_streambuf9underflowEv",
    "_ZN14fcgi_streambufC1EP11FCGX_Stream",
    "_ZN14fcgi_streambufC1EP11FCGX_StreamPci",
    "_ZN14fcgi_streambufC1EPcl",
    "_ZN14fcgi_streambufC2EP11FCGX_Stream",
    "_ZN14fcgi_streambufC2EP11FCGX_StreamPci",
    "_ZN14fcgi_streambufC2EPcl",
    "_ZN14fcgi_streambufD0Ev",
    "_ZN14fcgi_streambufD1Ev",
    "_ZN14fcgi_streambufD2Ev",
    "_ZTI12fcgi_istream",
    "_ZTI12fcgi_ostream",
    "_ZTI14fcgi_streambuf",
    "_ZTS12fcgi_istream",
    "_ZTS12fcgi_ostream",
    "_ZTS14fcgi_streambuf",
    "_ZTT12fcgi_istream",
    "_ZTT12fcgi_ostream",
    "_ZTV12fcgi_istream",
    "_ZTV12fcgi_ostream",
    "_ZTV14fcgi_streambuf",
    "_ZTv0_n24_N12fcgi_istreamD0Ev",
    "_ZTv0_n24_N12fcgi_istreamD1Ev",
    "_ZTv0_n24_N12fcgi_ostreamD0Ev",
    "_ZTv0_n24_N12fcgi_ostreamD1Ev",
];

/// The six libfcgi functions libfcgi++ may import.
const ALLOWED_FCGX_IMPORTS: &[&str] = &[
    "FCGX_FFlush",
    "FCGX_GetChar",
    "FCGX_GetStr",
    "FCGX_PutChar",
    "FCGX_PutStr",
    "FCGX_UnGetChar",
];

const DEBIAN_LIBFCGIPP: &str = "/usr/lib/x86_64-linux-gnu/libfcgi++.so.0";
const DEBIAN_LIBFCGI: &str = "/usr/lib/x86_64-linux-gnu/libfcgi.so.0";

fn compat_cxx() -> PathBuf {
    let p = paths::build_dir().join("compat/libfcgi++.so.0");
    paths::require(&p);
    p
}

fn rs_cxx() -> PathBuf {
    let p = paths::build_dir().join("lib/libfcgi_rs++.so.0");
    paths::require(&p);
    p
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// name -> (kind letter, size) of the defined dynamic symbols.
fn dyn_exports(lib: &Path) -> BTreeMap<String, (String, u64)> {
    let text = run(Command::new("nm")
        .args(["-D", "--defined-only", "-S"])
        .arg(lib));
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        // "addr size kind name" (size may be absent for some symbols).
        let (size, kind, name) = match f.len() {
            4 => (u64::from_str_radix(f[1], 16).unwrap_or(0), f[2], f[3]),
            3 => (0, f[1], f[2]),
            _ => continue,
        };
        out.insert(name.to_string(), (kind.to_string(), size));
    }
    out
}

fn dynamic_entries(lib: &Path, tag: &str) -> Vec<String> {
    run(Command::new("readelf").arg("-dW").arg(lib))
        .lines()
        .filter(|l| l.contains(&format!("({tag})")))
        .filter_map(|l| Some(l[l.find('[')? + 1..l.rfind(']')?].to_string()))
        .collect()
}

fn check_exports(lib: &Path) {
    let ours = dyn_exports(lib);
    let names: Vec<&str> = ours.keys().map(String::as_str).collect();
    let mut golden = GOLDEN.to_vec();
    golden.sort_unstable();
    assert_eq!(
        names,
        golden,
        "{}: exports differ from libfcgi++'s",
        lib.display()
    );

    // Kinds (T/V/W) and object sizes as in Debian's library.
    if Path::new(DEBIAN_LIBFCGIPP).exists() {
        let deb = dyn_exports(Path::new(DEBIAN_LIBFCGIPP));
        for (name, (kind, size)) in &ours {
            let (dkind, dsize) = &deb[name];
            assert_eq!(kind, dkind, "{name}: kind");
            if kind == "V" {
                assert_eq!(size, dsize, "{name}: object size");
            }
        }
    }

    let undefined = run(Command::new("nm").args(["-D", "--undefined-only"]).arg(lib));
    for line in undefined.lines() {
        let name = line.split_whitespace().last().unwrap_or("");
        if name.starts_with("FCGX_") || name.starts_with("FCGI_") || name.starts_with("OS_") {
            assert!(
                ALLOWED_FCGX_IMPORTS.contains(&name),
                "{}: imports {name}, libfcgi++ only uses six FCGX functions",
                lib.display()
            );
        }
    }
}

#[test]
fn compat_library_exports_are_libfcgi_plus_plus() {
    let lib = compat_cxx();
    check_exports(&lib);
    assert_eq!(dynamic_entries(&lib, "SONAME"), ["libfcgi++.so.0"]);
    let needed = dynamic_entries(&lib, "NEEDED");
    assert!(
        needed.iter().any(|n| n == "libfcgi.so.0"),
        "NEEDED {needed:?}"
    );
    assert!(
        !needed.iter().any(|n| n.starts_with("libfcgi_rs")),
        "NEEDED {needed:?}"
    );
}

#[test]
fn source_build_library_exports_are_libfcgi_plus_plus() {
    let lib = rs_cxx();
    check_exports(&lib);
    assert_eq!(dynamic_entries(&lib, "SONAME"), ["libfcgi_rs++.so.0"]);
    let needed = dynamic_entries(&lib, "NEEDED");
    assert!(
        needed.iter().any(|n| n == "libfcgi_rs.so.0"),
        "NEEDED {needed:?}"
    );
    let link = paths::build_dir().join("lib/libfcgi_rs++.so");
    assert_eq!(
        std::fs::read_link(&link).expect("libfcgi_rs++.so symlink"),
        Path::new("libfcgi_rs++.so.0")
    );
}

const SIZES_CPP: &str = r#"
#include "fcgio.h"
#include <cstdio>
int main() {
    std::printf("%zu %zu %zu\n", sizeof(fcgi_streambuf), sizeof(fcgi_istream), sizeof(fcgi_ostream));
    return 0;
}
"#;

fn sizes_with(include_dir: &Path, tmp: &TempDir, tag: &str) -> String {
    let src = tmp.join(&format!("sizes-{tag}.cpp"));
    std::fs::write(&src, SIZES_CPP).unwrap();
    let exe = tmp.join(&format!("sizes-{tag}"));
    run(Command::new("c++")
        .arg("-I")
        .arg(include_dir)
        .arg(&src)
        .arg("-o")
        .arg(&exe));
    run(&mut Command::new(&exe)).trim().to_string()
}

#[test]
fn class_sizes_match_libfcgi() {
    let tmp = TempDir::new("cxx-sizes");
    let ours = sizes_with(&paths::repo_root().join("include"), &tmp, "ours");
    assert_eq!(ours, "88 368 360");
    if Path::new("/usr/include/fcgio.h").exists() {
        // The source file lives in `tmp`, so `"fcgio.h"` resolves through -I only.
        assert_eq!(sizes_with(Path::new("/usr/include"), &tmp, "debian"), ours);
    }
}

/// One way of running echo-cpp: which binary, and which libraries it must end up with.
struct Combo {
    label: &'static str,
    program: PathBuf,
    /// Directory for LD_LIBRARY_PATH (symlinks to the chosen libraries), if any.
    lib_dir: Option<TempDir>,
    /// Library files (canonical) that must be mapped into the running process.
    expect_mapped: Vec<PathBuf>,
    /// Library files that must not be.
    expect_unmapped: Vec<PathBuf>,
}

fn canon(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn link_dir(tag: &str, libs: &[(&str, &Path)]) -> TempDir {
    let d = TempDir::new(tag);
    for (name, target) in libs {
        std::os::unix::fs::symlink(canon(target), d.join(name)).unwrap();
    }
    d
}

fn combos() -> Vec<Combo> {
    let build = paths::build_dir();
    let our_c = build.join("compat/libfcgi.so.0");
    let our_cxx = compat_cxx();
    let rs_c = build.join("lib/libfcgi_rs.so.0");
    let rs_cxx_lib = rs_cxx();
    paths::require(&our_c);
    let deb_c = Path::new(DEBIAN_LIBFCGI);
    let deb_cxx = Path::new(DEBIAN_LIBFCGIPP);
    vec![
        Combo {
            label: "ours (echo-cpp on libfcgi_rs++ and libfcgi_rs)",
            program: paths::example(Flavor::Ours, "echo-cpp"),
            lib_dir: None,
            expect_mapped: vec![canon(&rs_cxx_lib), canon(&rs_c)],
            expect_unmapped: vec![canon(deb_c), canon(deb_cxx)],
        },
        Combo {
            label: "Debian libfcgi++ over our libfcgi.so.0",
            program: paths::example(Flavor::Libfcgi, "echo-cpp"),
            lib_dir: Some(link_dir("cxx-ourc", &[("libfcgi.so.0", &our_c)])),
            expect_mapped: vec![canon(deb_cxx), canon(&our_c)],
            expect_unmapped: vec![canon(deb_c)],
        },
        Combo {
            label: "our libfcgi++ over Debian libfcgi.so.0",
            program: paths::example(Flavor::Libfcgi, "echo-cpp"),
            lib_dir: Some(link_dir("cxx-ourcxx", &[("libfcgi++.so.0", &our_cxx)])),
            expect_mapped: vec![canon(&our_cxx), canon(deb_c)],
            expect_unmapped: vec![canon(deb_cxx)],
        },
        Combo {
            label: "Debian end to end (reference)",
            program: paths::example(Flavor::Libfcgi, "echo-cpp"),
            lib_dir: None,
            expect_mapped: vec![canon(deb_cxx), canon(deb_c)],
            expect_unmapped: vec![],
        },
    ]
}

fn mapped_files(pid: u32) -> Vec<PathBuf> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    maps.lines()
        .filter_map(|l| l.find('/').map(|i| PathBuf::from(&l[i..])))
        .collect()
}

/// The requests every combination answers; the answers are compared byte for byte.
fn requests() -> Vec<(&'static str, Request)> {
    let mid = common::pseudo_random_bytes(10_000, 7);
    let big = common::pseudo_random_bytes((1 << 20) + 300_000, 11);
    vec![
        (
            "get",
            Request::http("GET", "/echo?a=1&b=two").param("HTTP_HOST", "example"),
        ),
        (
            "post-10k-chunked",
            Request::http("POST", "/echo").stdin(mid).stdin_chunk(1000),
        ),
        (
            "post-1.3MiB-capped",
            Request::http("POST", "/big").stdin(big),
        ),
        (
            "empty-body",
            Request::http("POST", "/empty").stdin(Vec::new()),
        ),
    ]
}

#[derive(Debug, PartialEq)]
struct Answer {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    app_status: i32,
}

fn serve(combo: &Combo) -> Vec<(String, Answer)> {
    let mut opts = SpawnOpts::default();
    if let Some(d) = &combo.lib_dir {
        opts.env
            .push(("LD_LIBRARY_PATH".into(), d.path().display().to_string()));
    }
    let app = App::spawn_program(&combo.program, ListenKind::Unix, &opts);
    let mut answers = Vec::new();
    // Two requests on a kept-alive connection, the rest on fresh ones.
    let mut conn = Conn::connect(app.addr())
        .expect("connect")
        .with_timeout(Duration::from_secs(20));
    for (i, (name, req)) in requests().into_iter().enumerate() {
        if i >= 2 {
            conn = Conn::connect(app.addr())
                .expect("connect")
                .with_timeout(Duration::from_secs(20));
        }
        let resp = conn.request(&req.keep_conn(i < 1)).unwrap_or_else(|e| {
            panic!(
                "{}: request {name}: {e}; app stderr: {}",
                combo.label,
                app.stderr_text()
            )
        });
        answers.push((
            name.to_string(),
            Answer {
                stdout: resp.stdout,
                stderr: resp.stderr,
                app_status: resp.app_status,
            },
        ));
    }
    let mapped = mapped_files(app.pid());
    for want in &combo.expect_mapped {
        assert!(
            mapped.contains(want),
            "{}: {} is not loaded; maps: {mapped:?}",
            combo.label,
            want.display()
        );
    }
    for not in &combo.expect_unmapped {
        assert!(
            !mapped.contains(not),
            "{}: {} is loaded",
            combo.label,
            not.display()
        );
    }
    answers
}

fn check_echo(name: &str, req_body: &[u8], a: &Answer) {
    let text = String::from_utf8_lossy(&a.stdout);
    assert!(
        text.starts_with("Content-type: text/plain\r\n\r\necho-cpp: request "),
        "{name}: {text:.200}"
    );
    let kept = req_body.len().min(1 << 20);
    let dropped = req_body.len() - kept;
    let line = format!("body: {kept} bytes kept, {dropped} dropped\n");
    let at = text
        .find(&line)
        .unwrap_or_else(|| panic!("{name}: no `{line}` in the answer"));
    let body_at = at + line.len();
    assert_eq!(
        &a.stdout[body_at..body_at + kept],
        &req_body[..kept],
        "{name}: echoed body"
    );
    assert_eq!(&a.stdout[body_at + kept..], b"\nend\n", "{name}: tail");
    assert!(
        String::from_utf8_lossy(&a.stderr).starts_with("echo-cpp: served request "),
        "{name}: stderr"
    );
    assert_eq!(a.app_status, 0);
}

#[test]
fn echo_cpp_gives_the_same_bytes_in_every_library_mix() {
    let combos = combos();
    let results: Vec<Vec<(String, Answer)>> = combos.iter().map(serve).collect();

    // The reference answers are what echo-cpp should say; check them for sense, then compare.
    let reference = results.last().unwrap();
    for ((name, req), (rname, answer)) in requests().iter().zip(reference) {
        assert_eq!(name, rname);
        let body = req_body(req);
        check_echo(name, &body, answer);
    }
    for (combo, got) in combos.iter().zip(&results) {
        for ((name, want), (_, have)) in reference.iter().zip(got) {
            assert!(
                want == have,
                "{}: request {name} differs from Debian's answer:\n--- want {:.300}\n--- have {:.300}",
                combo.label,
                String::from_utf8_lossy(&want.stdout),
                String::from_utf8_lossy(&have.stdout),
            );
        }
    }
}

/// The body a request carries (re-created: the builders are deterministic).
fn req_body(req: &Request) -> Vec<u8> {
    let enc = req.encode();
    let (records, _) = common::client::parse_records(&enc);
    records
        .iter()
        .filter(|r| r.record_type() == 5)
        .flat_map(|r| r.content.clone())
        .collect()
}

/// Drives fcgi_streambuf in its buffered and unbuffered forms over a real FCGX writer and
/// prints the FastCGI records that came out (flush points included).
const STREAMBUF_CPP: &str = r#"
#include "fcgio.h"
#include <string>
#include <cstdio>
#include <unistd.h>

int main() {
    int p[2];
    if (pipe(p) != 0) return 1;
    FCGX_Stream *w = FCGX_CreateWriter(p[1], 1, 8192, 6 /* FCGI_STDOUT */);
    char buf[16];
    {
        fcgi_streambuf sb(w, buf, sizeof buf);
        std::ostream os(&sb);
        os << "abc";
        os.flush();
        os << std::string(100, 'x') << 42 << '\n';
        os.write("0123456789", 10);
        os.flush();
        os << "tail left in the buffer";
    }
    {
        char big[64];
        fcgi_streambuf sb(big, sizeof big);
        sb.attach(w);
        std::ostream os(&sb);
        os << "attached later " << -7;
        os.flush();
    }
    {
        fcgi_ostream o(w);
        o << "unbuffered " << 3.5 << std::endl;
        o.put('!');
        o.attach(w);
        o << "after attach" << std::flush;
        std::printf("good=%d\n", (int)o.good());
    }
    FCGX_FClose(w);
    close(p[1]);
    char rd[65536];
    ssize_t n;
    while ((n = read(p[0], rd, sizeof rd)) > 0) fwrite(rd, 1, (size_t)n, stdout);
    return 0;
}
"#;

#[test]
fn streambuf_output_matches_libfcgi_plus_plus() {
    let tmp = TempDir::new("cxx-streambuf");
    let src = tmp.join("streambuf.cpp");
    std::fs::write(&src, STREAMBUF_CPP).unwrap();
    let exe = tmp.join("streambuf");
    // Built against Debian's header and libraries; run once on them and once with our
    // libfcgi++.so.0 in their place (Debian's libfcgi.so.0 underneath in both runs).
    run(Command::new("c++")
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .args(["-lfcgi++", "-lfcgi"]));
    let reference = run(&mut Command::new(&exe));
    let ours_dir = link_dir("cxx-sb", &[("libfcgi++.so.0", &compat_cxx())]);
    let ours = run(Command::new(&exe).env("LD_LIBRARY_PATH", ours_dir.path()));
    assert!(reference.contains("good=1"), "{reference:?}");
    assert!(
        reference.contains("tail left in the buffer"),
        "{reference:?}"
    );
    assert_eq!(ours, reference);
}
