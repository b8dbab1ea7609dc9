//! Configuration errors through the command: refused with `file:line: reason`, exit code 78.

use std::process::Command;

/// Runs `fcgi-rs-pm -t ARGS` (check the configuration and exit): exit code, stdout, stderr.
fn pm_test(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fcgi-rs-pm"))
        .arg("-t")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn check(text: &str) -> (i32, String) {
    let dir = std::env::temp_dir().join(format!("fcgi-rs-pm-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("p{}.conf", text.len()));
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap();
    let (code, _, err) = pm_test(&["-c", path]);
    let _ = std::fs::remove_file(path);
    (code, err.replace(path, "FILE"))
}

#[test]
fn bad_files_are_refused_with_location() {
    for (text, want) in [
        ("[www]\nlisten = 9000\npm.max_children = 2\npm.maxchildren = 3\n", "FILE:4: unknown directive 'pm.maxchildren'"),
        ("[www]\nlisten = 9000\npm.max_children = 2\nrequest_terminate_timeout = 3w\n", "FILE:4: '3w' is not a duration"),
        ("[www]\nlisten = 9000\npm = dynamic\npm.max_children = 4\npm.min_spare_servers = 1\npm.max_spare_servers = 2\npm.start_servers = 3\n", "FILE:1: [pool www] pm.start_servers(3)"),
        ("[www]\nlisten = 9000\npm.max_children = 2\n", "[pool www] no program"),
    ] {
        let (code, msg) = check(text);
        assert_eq!(code, 78, "{msg}");
        assert!(msg.contains(want), "got {msg:?}, want {want:?}");
    }
}

#[test]
fn good_file_and_command_line_form() {
    let (code, msg) = check(
        "[www]\nlisten = 127.0.0.1:9000\npm = ondemand\npm.max_children = 3\ncommand = /bin/true\n",
    );
    assert_eq!(code, 0, "{msg}");
    let (code, stdout, stderr) = pm_test(&[
        "-a",
        "127.0.0.1:9000",
        "-n",
        "8",
        "--pm",
        "dynamic",
        "--",
        "/bin/true",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("pm dynamic max_children 8"), "{stdout}");
    let (code, _, _) = pm_test(&["--pm", "sometimes", "--", "x"]);
    assert_eq!(code, 78);
}

#[test]
fn output_capture_and_allowed_clients_directives() {
    let (code, msg) = check(
        "[www]\nlisten = 127.0.0.1:9000\npm.max_children = 2\ncommand = /bin/true\nlisten.allowed_clients = 127.0.0.1, ::1\ncatch_workers_output = yes\ndecorate_workers_output = no\n",
    );
    assert_eq!(code, 0, "{msg}");
    let (code, msg) = check(
        "[www]\nlisten = 127.0.0.1:9000\npm.max_children = 2\ncommand = /bin/true\nlisten.allowed_clients = 127.0.0.1, web.example\n",
    );
    assert_eq!(code, 78, "{msg}");
    assert!(
        msg.contains("FILE:5: 'web.example' is not an IP address"),
        "{msg}"
    );
    // The command-line forms.
    let (code, _, stderr) = pm_test(&[
        "-a",
        "127.0.0.1:9000",
        "--allowed-clients",
        "127.0.0.2,::1",
        "--catch-output",
        "--raw-output",
        "--",
        "/bin/true",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = pm_test(&["--allowed-clients", "localhost", "--", "/bin/true"]);
    assert_eq!(code, 78);
    assert!(
        stderr.contains("'localhost' is not an IP address"),
        "{stderr}"
    );
}
