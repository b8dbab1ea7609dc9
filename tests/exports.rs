//! The dynamic symbol table of the shipped shared libraries, against libfcgi's.
//!
//! `build/compat/libfcgi.so.0` must be a binary drop-in for libfcgi.so.0: the same 89 names
//! (kept in `capi-lib/exports/libfcgi.syms`), unversioned, plus only our `fcgi_rs_*`
//! extensions; `_fcgi_sF` a 48-byte object; the right SONAME; only system libraries needed.
//! `build/lib/libfcgi_rs.so.0` is the same code under our own SONAME.
//!
//! Needs `make` and binutils (nm, objdump, readelf).

mod common;

use common::paths::repo_root as repo;
use common::tools::{built, run_ok};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

fn compat() -> PathBuf {
    built("compat/libfcgi.so.0")
}

fn ours() -> PathBuf {
    built("lib/libfcgi_rs.so.0")
}

fn read_list(path: &std::path::Path) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// libfcgi's 89 exported names.
fn golden() -> BTreeSet<String> {
    read_list(&repo().join("capi-lib/exports/libfcgi.syms"))
}

/// Defined dynamic symbols of a shared library.
fn exported(lib: &std::path::Path) -> BTreeSet<String> {
    run_ok(Command::new("nm").args(["-D", "--defined-only"]).arg(lib))
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3).then(|| f[2].to_string())
        })
        .collect()
}

/// `fcgi_rs_*` functions declared in the generated header.
fn header_extensions() -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo().join("include/fcgi_rs.h"))
        .expect("include/fcgi_rs.h (make headers)");
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with('*') || line.trim_start().starts_with("/*") {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("fcgi_rs_") {
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            if tail[end..].trim_start().starts_with('(') {
                names.insert(tail[..end].to_string());
            }
            rest = &tail[end..];
        }
    }
    names
}

fn missing_from(lib: &std::path::Path, wanted: &BTreeSet<String>) -> Vec<String> {
    let have = exported(lib);
    wanted.difference(&have).cloned().collect()
}

#[test]
fn golden_list_is_libfcgis() {
    let g = golden();
    assert_eq!(
        g.len(),
        89,
        "capi-lib/exports/libfcgi.syms must hold 89 names"
    );
    let count = |p: &str| g.iter().filter(|s| s.starts_with(p)).count();
    assert_eq!(count("FCGX_"), 31);
    assert_eq!(count("FCGI_"), 39);
    assert_eq!(count("OS_"), 18);
    assert!(g.contains("_fcgi_sF"));
    // The project keeps its own copy; when the shared reference is beside the repo, they agree.
    let reference = repo().join("../shared/reference/libfcgi.so.0.symbols");
    if reference.exists() {
        assert_eq!(
            g,
            read_list(&reference),
            "in-repo list differs from the reference"
        );
    }
}

#[test]
fn every_fcgx_function_is_exported() {
    let fcgx: BTreeSet<String> = golden()
        .into_iter()
        .filter(|s| s.starts_with("FCGX_"))
        .collect();
    for lib in [compat(), ours()] {
        let missing = missing_from(&lib, &fcgx);
        assert!(missing.is_empty(), "{}: missing {missing:?}", lib.display());
    }
}

#[test]
fn all_89_libfcgi_symbols_are_exported() {
    for lib in [compat(), ours()] {
        let missing = missing_from(&lib, &golden());
        assert!(
            missing.is_empty(),
            "{}: {} of 89 missing: {missing:?}",
            lib.display(),
            missing.len()
        );
    }
}

#[test]
fn every_extension_in_the_header_is_exported() {
    let ext = header_extensions();
    assert!(
        ext.contains("fcgi_rs_version"),
        "fcgi_rs.h declares fcgi_rs_version"
    );
    for lib in [compat(), ours()] {
        let missing = missing_from(&lib, &ext);
        assert!(missing.is_empty(), "{}: missing {missing:?}", lib.display());
    }
}

#[test]
fn nothing_else_is_exported() {
    let g = golden();
    for lib in [compat(), ours()] {
        let extra: Vec<String> = exported(&lib)
            .into_iter()
            .filter(|s| !g.contains(s) && !s.starts_with("fcgi_rs_"))
            .collect();
        assert!(
            extra.is_empty(),
            "{}: unexpected exports {extra:?}",
            lib.display()
        );
    }
}

#[test]
fn both_libraries_export_the_same_names() {
    assert_eq!(exported(&compat()), exported(&ours()));
}

#[test]
fn exports_carry_no_symbol_versions() {
    for lib in [compat(), ours()] {
        let dynamic = run_ok(Command::new("readelf").args(["-d", "-W"]).arg(&lib));
        assert!(
            !dynamic.contains("(VERDEF)"),
            "{}: defines symbol versions",
            lib.display()
        );
        // objdump -T: "ADDR flags section size version name"; defined symbols must show Base
        // (or no version at all), never a version node.
        let table = run_ok(Command::new("objdump").arg("-T").arg(&lib));
        let mut seen = 0;
        for line in table.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let Some(name) = f.last() else { continue };
            if !(name.starts_with("FCGX_")
                || name.starts_with("FCGI_")
                || name.starts_with("OS_")
                || name.starts_with("fcgi_rs_")
                || *name == "_fcgi_sF")
            {
                continue;
            }
            if line.contains("*UND*") {
                continue;
            }
            seen += 1;
            let version = f[f.len() - 2];
            assert!(
                version == "Base" || version.chars().all(|c| c.is_ascii_hexdigit()),
                "{}: {name} has version {version}",
                lib.display()
            );
        }
        assert!(seen > 0, "{}: objdump -T listed no exports", lib.display());
    }
}

#[test]
fn fcgi_sf_is_a_48_byte_object() {
    for lib in [compat(), ours()] {
        let syms = run_ok(Command::new("readelf").args(["--dyn-syms", "-W"]).arg(&lib));
        let line = syms
            .lines()
            .find(|l| l.split_whitespace().last() == Some("_fcgi_sF"));
        let Some(line) = line else {
            panic!(
                "{}: _fcgi_sF is not exported (needed by programs using FCGI_stdout)",
                lib.display()
            );
        };
        let f: Vec<&str> = line.split_whitespace().collect();
        // Num: Value Size Type Bind Vis Ndx Name
        assert_eq!(f[2], "48", "{}: _fcgi_sF size: {line}", lib.display());
        assert_eq!(f[3], "OBJECT", "{}: {line}", lib.display());
        assert_eq!(f[4], "GLOBAL", "{}: {line}", lib.display());
        assert_ne!(f[6], "UND", "{}: {line}", lib.display());
    }
}

fn dynamic_section(lib: &std::path::Path) -> String {
    run_ok(Command::new("readelf").args(["-d", "-W"]).arg(lib))
}

fn tag_values(dynamic: &str, tag: &str) -> Vec<String> {
    dynamic
        .lines()
        .filter(|l| l.contains(&format!("({tag})")))
        .filter_map(|l| {
            let start = l.find('[')?;
            let end = l.rfind(']')?;
            Some(l[start + 1..end].to_string())
        })
        .collect()
}

#[test]
fn sonames() {
    assert_eq!(
        tag_values(&dynamic_section(&compat()), "SONAME"),
        ["libfcgi.so.0"]
    );
    assert_eq!(
        tag_values(&dynamic_section(&ours()), "SONAME"),
        ["libfcgi_rs.so.0"]
    );
    let link = repo().join("build/lib/libfcgi_rs.so");
    assert_eq!(
        std::fs::read_link(&link)
            .unwrap_or_else(|e| panic!("{}: {e}", link.display()))
            .to_str(),
        Some("libfcgi_rs.so.0")
    );
}

#[test]
fn needs_only_system_libraries() {
    const ALLOWED: &[&str] = &[
        "libc.so.6",
        "libm.so.6",
        "libgcc_s.so.1",
        "libpthread.so.0",
        "libdl.so.2",
        "librt.so.1",
        "libutil.so.1",
        "ld-linux-x86-64.so.2",
    ];
    for lib in [compat(), ours()] {
        let needed = tag_values(&dynamic_section(&lib), "NEEDED");
        assert!(needed.iter().any(|n| n == "libc.so.6"), "{needed:?}");
        for n in &needed {
            assert!(
                ALLOWED.contains(&n.as_str()),
                "{}: unexpected NEEDED {n}",
                lib.display()
            );
        }
    }
}

#[test]
fn linked_bind_now_and_not_symbolic() {
    for lib in [compat(), ours()] {
        let d = dynamic_section(&lib);
        assert!(
            d.contains("BIND_NOW"),
            "{}: not linked -z now",
            lib.display()
        );
        // -Bsymbolic would bind _fcgi_sF inside the library and break copy relocations.
        assert!(
            !d.contains("(SYMBOLIC)"),
            "{}: DT_SYMBOLIC set",
            lib.display()
        );
        assert!(
            !d.contains("SYMBOLIC"),
            "{}: DF_SYMBOLIC set",
            lib.display()
        );
        assert!(
            !d.contains("(TEXTREL)"),
            "{}: text relocations",
            lib.display()
        );
    }
}

/// `_fcgi_sF` must be reached through the GOT inside the library, so that an executable's
/// copy-relocated instance is the one the library uses.
#[test]
fn fcgi_sf_is_preemptible() {
    for lib in [compat(), ours()] {
        let relocs = run_ok(Command::new("readelf").args(["-r", "-W"]).arg(&lib));
        if !exported(&lib).contains("_fcgi_sF") {
            panic!("{}: _fcgi_sF is not exported yet", lib.display());
        }
        assert!(
            relocs
                .lines()
                .any(|l| l.contains("_fcgi_sF") && l.contains("GLOB_DAT")),
            "{}: no GLOB_DAT relocation against _fcgi_sF: the library binds it locally",
            lib.display()
        );
    }
}
