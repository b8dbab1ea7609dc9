//! Differential tests: the same C example linked with our library and with Debian's libfcgi,
//! driven by the same requests in the same order, must produce the same stdout bytes, stderr
//! bytes and appStatus. Record framing may differ (it is not observable by the program or by
//! a web server) and is not compared.
//!
//! Where we differ on purpose (a bug fixed, reference §5) the test asserts our behaviour and
//! names the bug.

mod common;

use common::client::{Conn, Request, Role};
use common::paths::Flavor;
use common::procs::{App, ListenKind};

/// What is compared for one request.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    app_status: i32,
    protocol_status: u8,
}

/// One scripted step: a label and the requests it sends on one connection.
struct Step {
    label: &'static str,
    requests: Vec<Request>,
}

fn step(label: &'static str, requests: Vec<Request>) -> Step {
    Step { label, requests }
}

/// Runs `steps` in order against a fresh `name` process of `flavor`.
fn run(flavor: Flavor, name: &str, args: &[&str], steps: &[Step]) -> Vec<(String, Outcome)> {
    let app = App::spawn(flavor, name, args, ListenKind::Unix);
    let mut out = Vec::new();
    for s in steps {
        let mut conn = Conn::connect(app.addr()).unwrap();
        for (i, req) in s.requests.iter().enumerate() {
            let r = conn
                .request(req)
                .unwrap_or_else(|e| panic!("{} ({}), request {i}: {e}", s.label, flavor.label()));
            out.push((
                format!("{} #{i}", s.label),
                Outcome {
                    stdout: r.stdout,
                    stderr: r.stderr,
                    app_status: r.app_status,
                    protocol_status: r.protocol_status,
                },
            ));
        }
    }
    out
}

fn describe(o: &Outcome) -> String {
    let s = String::from_utf8_lossy(&o.stdout);
    let cut: String = s.chars().take(1500).collect();
    format!(
        "appStatus {} protocolStatus {} stderr {:?} stdout ({} bytes):\n{cut}",
        o.app_status,
        o.protocol_status,
        String::from_utf8_lossy(&o.stderr),
        o.stdout.len()
    )
}

/// Compares both runs step by step. `fixed` lists labels where we differ on purpose, with a
/// check of our outcome.
type FixedCheck = (&'static str, &'static str, fn(&Outcome, &Outcome));

fn compare(name: &str, args: &[&str], steps: &[Step], fixed: &[FixedCheck]) {
    let ours = run(Flavor::Ours, name, args, steps);
    let theirs = run(Flavor::Libfcgi, name, args, steps);
    assert_eq!(ours.len(), theirs.len());
    let mut mismatches = Vec::new();
    let mut on_purpose = Vec::new();
    for ((label, o), (_, t)) in ours.iter().zip(theirs.iter()) {
        if let Some((_, bug, check)) = fixed.iter().find(|(l, _, _)| label == l) {
            on_purpose.push((label, *bug, *check, o, t));
            continue;
        }
        if o != t {
            mismatches.push(format!(
                "{name}: {label}\n--- fcgi_rs: {}\n--- libfcgi: {}",
                describe(o),
                describe(t)
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
    for (label, bug, check, o, t) in on_purpose {
        println!("{name}: {label}: differs on purpose ({bug})");
        check(o, t);
    }
    println!("{name}: {} responses identical", ours.len());
}

#[test]
fn echo() {
    let big_body = common::pseudo_random_bytes(1 << 20, 1);
    let mut binary = common::pseudo_random_bytes(5000, 2);
    binary[0] = 0;
    binary[4999] = 0;
    let long_value = |c: char| c.to_string().repeat(200 * 1024);

    let mut many = Request::http("GET", "/many?n=500");
    for i in 0..500 {
        many = many.param(format!("P{i:03}"), format!("value-{}", i * i));
    }
    many = many
        .param("", "empty name")
        .param("EMPTY_VALUE", "")
        .param("A=B", "c=d");

    let steps = vec![
        step(
            "GET with a query",
            vec![Request::http("GET", "/index?x=1&y=%20z")],
        ),
        step(
            "POST small",
            vec![Request::http("POST", "/form").stdin(b"a=1&b=2".to_vec())],
        ),
        step(
            "POST 1 MiB in 1000-byte records",
            vec![Request::http("POST", "/big")
                .stdin(big_body.clone())
                .stdin_chunk(1000)],
        ),
        step(
            "binary body with NULs",
            vec![Request::http("PUT", "/bin").stdin(binary)],
        ),
        step("500 params and odd names", vec![many]),
        step(
            "two 200 KB param values",
            vec![Request::http("GET", "/long")
                .param("HTTP_X_LONG", long_value('a'))
                .param("HTTP_X_LONGER", long_value('b'))],
        ),
        step(
            "params in 1-byte records",
            vec![Request::http("GET", "/tiny?t=1").params_record_max(1)],
        ),
        step(
            "empty body, CONTENT_LENGTH 0",
            vec![Request::http("POST", "/empty").param("CONTENT_LENGTH", "0")],
        ),
        step(
            "CONTENT_LENGTH smaller than the body",
            vec![Request::http("POST", "/lie")
                .stdin_raw(b"twenty bytes of body".to_vec())
                .param("CONTENT_LENGTH", "10")],
        ),
        step(
            "UTF-8 and an embedded NUL in a value",
            vec![Request::http("GET", "/u")
                .param("HTTP_X_NAME", "Zoë ✓")
                .param("HTTP_X_NUL", b"before\0after")],
        ),
        step(
            "three requests on one kept-alive connection",
            vec![
                Request::http("GET", "/k1?a=1").keep_conn(true),
                Request::http("POST", "/k2?b=2")
                    .keep_conn(true)
                    .id(2)
                    .stdin(b"kept".to_vec()),
                Request::http("GET", "/k3?c=3").keep_conn(false).id(3),
            ],
        ),
        step(
            "stderr output",
            vec![Request::http("GET", "/e?stderr=something%20went%20wrong")],
        ),
        step(
            "long stderr output",
            vec![Request::http(
                "GET",
                &format!("/e?stderr={}", "E".repeat(3000)),
            )],
        ),
        step("exit status", vec![Request::http("GET", "/s?status=5")]),
        step(
            "request after an exit status",
            vec![Request::http("GET", "/s2")],
        ),
        step(
            "negative exit status",
            vec![Request::http("GET", "/s3?status=-2")],
        ),
        step(
            "authorizer role on the echo program",
            vec![Request::http("GET", "/auth").role(Role::Authorizer)],
        ),
    ];
    // reference §5 defect 5: libfcgi never resets appStatus between requests, so a request
    // after `status=5` (or `status=-2`) still reports that value. Ours reports 0; the output
    // bytes are the same.
    fn sticky_status(ours: &Outcome, theirs: &Outcome) {
        assert_eq!(
            ours.app_status, 0,
            "appStatus must be reset for each request"
        );
        assert_ne!(
            theirs.app_status, 0,
            "libfcgi's sticky appStatus (baseline changed?)"
        );
        assert_eq!(ours.stdout, theirs.stdout);
        assert_eq!(ours.stderr, theirs.stderr);
    }
    compare(
        "echo",
        &[],
        &steps,
        &[
            (
                "request after an exit status #0",
                "appStatus sticks across requests",
                sticky_status,
            ),
            (
                "authorizer role on the echo program #0",
                "appStatus sticks across requests",
                sticky_status,
            ),
        ],
    );
}

#[test]
fn large_output() {
    let steps: Vec<Step> = [0usize, 1, 8184, 65536, 100_000, 5 << 20]
        .iter()
        .map(|&n| step("size", vec![Request::http("GET", &format!("/o?size={n}"))]))
        .collect();
    let ours = run(Flavor::Ours, "large_output", &[], &steps);
    let theirs = run(Flavor::Libfcgi, "large_output", &[], &steps);
    for (((_, o), (_, t)), s) in
        ours.iter()
            .zip(&theirs)
            .zip([0usize, 1, 8184, 65536, 100_000, 5 << 20])
    {
        assert!(
            o == t,
            "size {s}: outputs differ ({} vs {} bytes)",
            o.stdout.len(),
            t.stdout.len()
        );
        let body_at = o.stdout.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        common::check_large_output(&o.stdout[body_at..], s).unwrap();
    }
}

#[test]
fn filter_and_authorizer() {
    let data = common::pseudo_random_bytes(150_000, 3);
    let filter_steps = vec![
        step(
            "filter",
            vec![Request::http("POST", "/f")
                .role(Role::Filter)
                .stdin(b"in".to_vec())
                .data(data.clone())],
        ),
        step(
            "filter, small records",
            vec![Request::http("POST", "/f")
                .role(Role::Filter)
                .stdin(vec![b'q'; 3000])
                .stdin_chunk(7)
                .data(data[..9000].to_vec())
                .data_chunk(13)],
        ),
        step(
            "filter called as responder",
            vec![Request::http("GET", "/f")],
        ),
    ];
    compare("filter", &[], &filter_steps, &[]);

    let auth = || Request::http("GET", "/a").role(Role::Authorizer);
    let auth_steps = vec![
        step(
            "granted",
            vec![auth()
                .param("REMOTE_USER", "alice")
                .param("REMOTE_PASSWD", "wonderland")],
        ),
        step(
            "basic granted",
            vec![auth().param("HTTP_AUTHORIZATION", "Basic YWxpY2U6d29uZGVybGFuZA==")],
        ),
        step(
            "denied",
            vec![auth()
                .param("REMOTE_USER", "alice")
                .param("REMOTE_PASSWD", "x")],
        ),
        step(
            "wrong role",
            vec![Request::http("GET", "/a").role(Role::Filter)],
        ),
    ];
    compare("authorizer", &[], &auth_steps, &[]);
}

#[test]
fn threaded_single_worker() {
    // One worker thread keeps the output deterministic (it names the thread).
    let steps = vec![
        step("plain", vec![Request::http("GET", "/t?x=1")]),
        step(
            "body",
            vec![Request::http("POST", "/t").stdin(vec![7u8; 20_000])],
        ),
        step(
            "kept alive",
            vec![
                Request::http("GET", "/t?k=1").keep_conn(true),
                Request::http("GET", "/t?k=2").keep_conn(true),
            ],
        ),
        step("status", vec![Request::http("GET", "/t?status=9")]),
    ];
    compare("threaded", &["-t", "1"], &steps, &[]);
}
