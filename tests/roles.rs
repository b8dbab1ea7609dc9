//! The three FastCGI roles, management records, split params and pipelining, driven by the
//! Rust client against the C examples (both builds; see `common::paths::Flavor`).

#[macro_use]
mod common;

use std::time::Duration;

use common::client::{record, Conn, RecordType, Request, Role};
use common::paths::Flavor;
use common::procs::{App, ListenKind, SpawnOpts};

fn authorizer_request() -> Request {
    Request::http("GET", "/private").role(Role::Authorizer)
}

fn authorizer(flavor: Flavor) {
    let app = App::spawn(flavor, "authorizer", &[], ListenKind::Unix);
    let ask = |req: Request| Conn::connect(app.addr()).unwrap().request(&req).unwrap();

    let ok = ask(authorizer_request()
        .param("REMOTE_USER", "alice")
        .param("REMOTE_PASSWD", "wonderland"));
    assert_eq!(
        ok.header("Status").as_deref(),
        Some("200"),
        "{}",
        ok.stdout_str()
    );
    assert_eq!(ok.header("Variable-AUTH_USER").as_deref(), Some("alice"));
    assert_eq!(ok.app_status, 0);
    assert_eq!(ok.protocol_status, 0);

    // "alice:wonderland" in base64.
    let basic =
        ask(authorizer_request().param("HTTP_AUTHORIZATION", "Basic YWxpY2U6d29uZGVybGFuZA=="));
    assert_eq!(
        basic.header("Status").as_deref(),
        Some("200"),
        "{}",
        basic.stdout_str()
    );

    // "alice:rabbit"
    let wrong = ask(authorizer_request().param("HTTP_AUTHORIZATION", "Basic YWxpY2U6cmFiYml0"));
    assert_eq!(
        wrong.header("Status").as_deref(),
        Some("401"),
        "{}",
        wrong.stdout_str()
    );
    assert!(wrong
        .header("WWW-Authenticate")
        .is_some_and(|v| v.starts_with("Basic")));
    assert_eq!(wrong.header("Variable-AUTH_USER"), None);

    let nobody = ask(authorizer_request());
    assert_eq!(nobody.header("Status").as_deref(), Some("401"));

    // The same credentials in the wrong role: the program sees FCGI_ROLE=RESPONDER.
    let as_responder = ask(Request::http("GET", "/private")
        .param("REMOTE_USER", "alice")
        .param("REMOTE_PASSWD", "wonderland"));
    assert_eq!(as_responder.header("Status").as_deref(), Some("500"));
    assert!(
        as_responder.body().ends_with(b"role RESPONDER\n"),
        "{}",
        as_responder.stdout_str()
    );
}

fn filter(flavor: Flavor) {
    let app = App::spawn(flavor, "filter", &[], ListenKind::Tcp);
    let lower: Vec<u8> = common::pseudo_random_bytes(200_000, 7)
        .into_iter()
        .map(|b| b"abcdefghij klmnopqrstuvwxyz\n"[b as usize % 28])
        .collect();
    for (stdin, data, chunk) in [
        (b"form=1".to_vec(), b"hello, filter".to_vec(), 0xffff),
        (Vec::new(), Vec::new(), 0xffff),
        (vec![b'x'; 70_000], lower.clone(), 1000),
        (b"s".to_vec(), lower[..5000].to_vec(), 1),
    ] {
        let req = Request::http("POST", "/doc.txt")
            .role(Role::Filter)
            .stdin(stdin.clone())
            .data(data.clone())
            .stdin_chunk(chunk)
            .data_chunk(chunk);
        let resp = Conn::connect(app.addr()).unwrap().request(&req).unwrap();
        assert_eq!(
            resp.header("Status").as_deref(),
            Some("200 OK"),
            "{}",
            resp.stdout_str()
        );
        let mut expect = format!(
            "stdin={} data={} hint={}\n",
            stdin.len(),
            data.len(),
            data.len()
        )
        .into_bytes();
        expect.extend(data.iter().map(|b| b.to_ascii_uppercase()));
        assert!(
            resp.body() == expect.as_slice(),
            "filter output differs (data {} bytes)",
            data.len()
        );
    }

    // A responder has no data stream: FCGX_StartFilterData must refuse.
    let resp = Conn::connect(app.addr())
        .unwrap()
        .request(&Request::http("GET", "/").stdin(b"abc".to_vec()))
        .unwrap();
    assert_eq!(
        resp.header("Status").as_deref(),
        Some("500"),
        "{}",
        resp.stdout_str()
    );
}

/// The `params:` section of the echo example, as lines.
fn echoed_params(stdout: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(stdout);
    let start = text.find("\nparams:\n").expect("params section") + "\nparams:\n".len();
    let end = text[start..].find("lookups:\n").expect("lookups section") + start;
    text[start..end].lines().map(str::to_string).collect()
}

fn split_params(flavor: Flavor) {
    let app = App::spawn(flavor, "echo", &[], ListenKind::Unix);
    let mut req = Request::http("GET", "/split?a=1");
    for i in 0..60 {
        // Values of varied lengths, some above 127 so both length encodings are crossed.
        req = req.param(format!("X_PARAM_{i}"), "v".repeat(i * 7 % 300));
    }
    // Duplicates are kept in order.
    req = req.param("DUP", "first").param("DUP", "second");
    let mut expected = vec!["FCGI_ROLE=RESPONDER".to_string()];
    expected.extend(req.params.iter().map(|(n, v)| {
        format!(
            "{}={}",
            String::from_utf8_lossy(n),
            String::from_utf8_lossy(v)
        )
    }));
    for max in [1usize, 3, 7, 100, 0xffff] {
        let resp = Conn::connect(app.addr())
            .unwrap()
            .request(&req.clone().params_record_max(max))
            .unwrap();
        assert_eq!(
            echoed_params(&resp.stdout),
            expected,
            "PARAMS records of {max} bytes"
        );
        let lookups = resp.stdout_str();
        assert!(lookups.contains("QUERY_STRING -> [a=1]\n"), "{lookups}");
    }
}

fn keep_alive_reuse(flavor: Flavor) {
    let app = App::spawn(flavor, "echo", &[], ListenKind::Tcp);
    let mut conn = Conn::connect(app.addr()).unwrap();
    for i in 0..20u16 {
        let body = format!("request number {i}").into_bytes();
        let req = Request::http("POST", &format!("/k?n={i}"))
            .id(1 + i % 3)
            .keep_conn(true)
            .stdin(body.clone());
        let resp = conn.request(&req).unwrap();
        assert!(
            resp.stdout.ends_with(&body),
            "request {i}: {}",
            resp.stdout_str()
        );
        assert_eq!(resp.records.last().unwrap().request_id, 1 + i % 3);
    }
    // Without keep_conn the application closes after answering.
    let resp = conn.request(&Request::http("GET", "/last")).unwrap();
    assert!(resp.stdout_str().contains("QUERY_STRING -> []"));
    assert!(
        conn.wait_closed(Duration::from_secs(5)),
        "connection not closed without keep_conn"
    );
}

/// Two requests written back to back on one kept-alive connection before reading.
/// libfcgi loses the second one (reference §5, defect 6: read-ahead freed in Finish); we
/// must answer both. For libfcgi the outcome is only printed.
fn pipelined(flavor: Flavor) {
    let app = App::spawn(flavor, "echo", &[], ListenKind::Unix);
    let mut conn = Conn::connect(app.addr()).unwrap();
    conn.set_timeout(Duration::from_secs(3));
    let a = Request::http("POST", "/a?which=a")
        .keep_conn(true)
        .stdin(b"first body".to_vec());
    let b = Request::http("POST", "/b?which=b")
        .keep_conn(true)
        .stdin(b"second body".to_vec());
    let mut both = a.encode();
    both.extend_from_slice(&b.encode());
    conn.write_raw(&both).unwrap();
    let first = conn.recv(1);
    let second = conn.recv(1);
    match flavor {
        Flavor::Ours => {
            let first = first.expect("first pipelined request answered");
            let second = second.expect("second pipelined request answered");
            assert!(first.stdout_str().contains("QUERY_STRING -> [which=a]"));
            assert!(first.stdout.ends_with(b"first body"));
            assert!(second.stdout_str().contains("QUERY_STRING -> [which=b]"));
            assert!(second.stdout.ends_with(b"second body"));
            // And the connection is still usable.
            let third = conn
                .request(&Request::http("GET", "/c?which=c").keep_conn(true))
                .unwrap();
            assert!(third.stdout_str().contains("QUERY_STRING -> [which=c]"));
        }
        Flavor::Libfcgi => {
            println!(
                "libfcgi pipelining: first answered: {}, second answered: {} ({})",
                first.is_ok(),
                second.is_ok(),
                second
                    .as_ref()
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default()
            );
        }
    }
}

fn get_values(flavor: Flavor) {
    let app = App::spawn(flavor, "echo", &[], ListenKind::Unix);
    let mut conn = Conn::connect(app.addr()).unwrap();
    let values = conn
        .get_values(&[
            "FCGI_MAX_CONNS",
            "FCGI_MAX_REQS",
            "FCGI_MPXS_CONNS",
            "NO_SUCH_VALUE",
        ])
        .unwrap();
    let get = |k: &str| values.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    for k in ["FCGI_MAX_CONNS", "FCGI_MAX_REQS"] {
        let v = get(k).unwrap_or_else(|| panic!("{k} missing from {values:?}"));
        assert!(v.parse::<u32>().is_ok_and(|n| n >= 1), "{k}={v}");
    }
    assert_eq!(get("FCGI_MPXS_CONNS").as_deref(), Some("0"));
    assert_eq!(get("NO_SUCH_VALUE"), None, "unknown names are left out");
    // The connection still serves a request afterwards.
    let resp = conn.request(&Request::http("GET", "/after?x=1")).unwrap();
    assert!(resp.stdout_str().contains("QUERY_STRING -> [x=1]"));
}

/// An unknown management record type is answered with UNKNOWN_TYPE naming it, and the
/// connection keeps serving (raw mode of the client).
fn unknown_management_record(flavor: Flavor) {
    let app = App::spawn(flavor, "echo", &[], ListenKind::Tcp);
    let mut conn = Conn::connect(app.addr()).unwrap();
    conn.write_raw(&record(77, 0, b"")).unwrap();
    let rec = conn.read_record().unwrap();
    assert_eq!(rec.header.record_type, RecordType::UNKNOWN_TYPE);
    assert_eq!(rec.header.request_id, 0);
    assert_eq!(rec.content.len(), 8);
    assert_eq!(rec.content[0], 77);
    let resp = conn.request(&Request::http("GET", "/x?after=1")).unwrap();
    assert!(resp.stdout_str().contains("QUERY_STRING -> [after=1]"));
    let raw = conn.read_raw(Duration::from_secs(5));
    assert!(raw.closed, "no keep_conn: the application closes");
    assert!(
        raw.bytes.is_empty(),
        "nothing after END_REQUEST: {:?}",
        raw.records()
    );
}

/// The examples' `-s ADDR` mode: the program opens the socket with FCGX_OpenSocket.
fn self_bound_socket(flavor: Flavor) {
    for kind in [ListenKind::Unix, ListenKind::Tcp] {
        let opts = SpawnOpts {
            self_bound: true,
            ..SpawnOpts::default()
        };
        let app = App::spawn_with(flavor, "echo", kind, &opts);
        let resp = Conn::connect(app.addr())
            .unwrap()
            .request(&Request::http("POST", "/s?k=v").stdin(b"xyz".to_vec()))
            .unwrap();
        assert!(
            resp.stdout.ends_with(b"stdin: 3 bytes\nxyz"),
            "{kind:?}: {}",
            resp.stdout_str()
        );
    }
}

both_flavors!(
    authorizer,
    filter,
    split_params,
    keep_alive_reuse,
    pipelined,
    get_values,
    unknown_management_record,
    self_bound_socket,
);
