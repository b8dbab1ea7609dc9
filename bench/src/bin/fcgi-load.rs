//! fcgi-load: a direct FastCGI load generator.
//!
//! One thread and one blocking socket per client connection. Every response is checked
//! (END_REQUEST seen with status 0, STDOUT non-empty or equal to an expected body). Reports
//! requests/s, latency percentiles, errors, and requests per connection (to expose starvation).

use std::process::ExitCode;
use std::time::Duration;

use fcgi_bench::client::{Target, DEFAULT_PARAMS};
use fcgi_bench::load::{run, Amount, Expect, LoadConfig};

const USAGE: &str = "usage: fcgi-load (-u PATH | -t HOST:PORT) [options]
  -u PATH          unix socket to connect to
  -t HOST:PORT     TCP address to connect to
  -c N             client connections (threads), default 1
  -k               keep connections alive (FCGI_KEEP_CONN), the default
  -n               a new connection per request
  -d SECS          measure for SECS seconds (default 5)
  -r N             measure exactly N requests instead of a duration
  -w SECS          warmup before measuring (default 0.5)
  -p N             PARAMS pairs per request (default: the nginx-like set)
  -b BYTES         request body (STDIN) size, default 0
  -e STRING        expected STDOUT, exactly (\\r and \\n escapes allowed)
  -T SECS          per-request timeout (default 10)
  -a CPU           run the client threads on this CPU only
  --json           print one JSON line
  --kv             print one key=value line";

fn main() -> ExitCode {
    match parse(std::env::args().skip(1).collect()) {
        Ok((cfg, fmt)) => {
            let r = run(&cfg);
            match fmt {
                Format::Json => println!("{}", r.to_json()),
                Format::Kv => println!("{}", r.to_kv()),
                Format::Human => {
                    println!(
                        "{} requests in {:.3} s: {:.0} req/s",
                        r.requests,
                        r.elapsed.as_secs_f64(),
                        r.rps
                    );
                    println!(
                        "latency p50 {:.1} us, p99 {:.1} us, max {:.1} us",
                        r.p50_us, r.p99_us, r.max_us
                    );
                    println!(
                        "errors {}, unanswered at end {}, per-connection requests min {} max {}",
                        r.errors,
                        r.unanswered,
                        r.per_conn_min(),
                        r.per_conn_max()
                    );
                    for s in &r.error_samples {
                        println!("  error: {s}");
                    }
                }
            }
            if r.errors > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(msg) => {
            eprintln!("fcgi-load: {msg}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

enum Format {
    Human,
    Json,
    Kv,
}

fn unescape(s: &str) -> Vec<u8> {
    s.replace("\\r", "\r").replace("\\n", "\n").into_bytes()
}

fn parse(args: Vec<String>) -> Result<(LoadConfig, Format), String> {
    let mut target = None;
    let mut cfg = LoadConfig {
        target: Target::Unix(Default::default()),
        conns: 1,
        keep_alive: true,
        params: DEFAULT_PARAMS,
        body: 0,
        amount: Amount::Duration(Duration::from_secs(5)),
        warmup: Duration::from_millis(500),
        expect: Expect::NonEmpty,
        timeout: Duration::from_secs(10),
        cpu: None,
    };
    let mut fmt = Format::Human;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut val = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        let secs = |v: String| -> Result<Duration, String> {
            v.parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("bad number of seconds: {v}"))
        };
        let num = |v: String| v.parse::<u64>().map_err(|_| format!("bad number: {v}"));
        match a.as_str() {
            "-u" => target = Some(Target::Unix(val("-u")?.into())),
            "-t" => target = Some(Target::Tcp(val("-t")?)),
            "-c" => cfg.conns = num(val("-c")?)?.max(1) as usize,
            "-k" => cfg.keep_alive = true,
            "-n" => cfg.keep_alive = false,
            "-d" => cfg.amount = Amount::Duration(secs(val("-d")?)?),
            "-r" => cfg.amount = Amount::Requests(num(val("-r")?)?),
            "-w" => cfg.warmup = secs(val("-w")?)?,
            "-p" => cfg.params = num(val("-p")?)? as usize,
            "-b" => cfg.body = num(val("-b")?)? as usize,
            "-e" => cfg.expect = Expect::Exact(unescape(&val("-e")?)),
            "-T" => cfg.timeout = secs(val("-T")?)?,
            "-a" => cfg.cpu = Some(num(val("-a")?)? as usize),
            "--json" => fmt = Format::Json,
            "--kv" => fmt = Format::Kv,
            "-h" | "--help" => return Err("help".into()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    cfg.target = target.ok_or("one of -u or -t is required")?;
    Ok((cfg, fmt))
}
