//! `gen-header REPO_ROOT OUTPUT`: writes the C declarations of every `fcgi_rs_*` export in
//! `REPO_ROOT/src/capi/ext.rs` to `OUTPUT`, configured by `REPO_ROOT/cbindgen.toml`.
//!
//! Only ext.rs is parsed: the libfcgi-compatible functions are declared by the hand-written
//! fcgiapp.h / fcgi_stdio.h, and must never appear twice.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: gen-header REPO_ROOT OUTPUT");
        return ExitCode::from(2);
    }
    let root = PathBuf::from(&args[1]);
    let out = PathBuf::from(&args[2]);

    let config = match cbindgen::Config::from_file(root.join("cbindgen.toml")) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gen-header: cannot read cbindgen.toml: {e}");
            return ExitCode::FAILURE;
        }
    };
    let bindings = match cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/capi/ext.rs"))
        .generate()
    {
        Ok(b) => b,
        Err(e) => {
            eprintln!("gen-header: cbindgen failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    bindings.write_to_file(&out);
    ExitCode::SUCCESS
}
