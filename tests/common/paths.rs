//! Where things are: the repository, the `build/` tree, the two builds of the C examples.

use std::path::{Path, PathBuf};

/// Which build of a C example to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Built against our headers and linked with our library (`build/bin/`).
    Ours,
    /// Built against Debian's `fcgiapp.h` and linked with Debian's libfcgi
    /// (`build/bin-libfcgi/`): the reference behaviour.
    Libfcgi,
}

impl Flavor {
    pub fn label(self) -> &'static str {
        match self {
            Flavor::Ours => "fcgi_rs",
            Flavor::Libfcgi => "libfcgi",
        }
    }

    fn dir_name(self) -> &'static str {
        match self {
            Flavor::Ours => "bin",
            Flavor::Libfcgi => "bin-libfcgi",
        }
    }
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The build output directory: `$FCGI_RS_BUILD_DIR` if set, else `<repo>/build`.
pub fn build_dir() -> PathBuf {
    match std::env::var_os("FCGI_RS_BUILD_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => repo_root().join("build"),
    }
}

/// Path of the example `name` in the given build; panics with a clear message if it has
/// not been built.
pub fn example(flavor: Flavor, name: &str) -> PathBuf {
    let p = build_dir().join(flavor.dir_name()).join(name);
    require(&p);
    p
}

/// Panics with "run `make` first" if `p` does not exist.
pub fn require(p: &Path) {
    if !p.exists() {
        panic!(
            "{} is missing: run `make` first (it builds the library and the C examples)",
            p.display()
        );
    }
}

/// Path of a system program, or `None` if it is not installed.
pub fn system_program(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}
