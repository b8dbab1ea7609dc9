//! Pool configuration: php-fpm's ini-like file format (`[global]` plus one section per pool),
//! and the short environment form `FCGI_RS_PM=static:4`.
//!
//! Every refusal names its place as `file:line: reason`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A configuration error, with its location when it comes from a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PmMode {
    Static,
    Dynamic,
    Ondemand,
}

impl PmMode {
    pub fn name(self) -> &'static str {
        match self {
            PmMode::Static => "static",
            PmMode::Dynamic => "dynamic",
            PmMode::Ondemand => "ondemand",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Notice,
    Warning,
    Error,
    Alert,
}

/// Where a pool listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenAddr {
    /// `host:port`, `[v6]:port` or a bare port (all IPv4 addresses).
    Tcp(std::net::SocketAddr),
    /// A unix socket path.
    Unix(PathBuf),
    /// No address given: use an inherited socket (systemd `LISTEN_FDS`, or fd 0 as spawn-fcgi
    /// and web servers pass it). Only the environment form and the command allow this.
    Inherited,
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Tcp(a) => write!(f, "{a}"),
            ListenAddr::Unix(p) => write!(f, "{}", p.display()),
            ListenAddr::Inherited => f.write_str("(inherited)"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Global {
    pub pid: Option<PathBuf>,
    pub error_log: Option<PathBuf>,
    pub log_level: LogLevel,
    pub daemonize: bool,
    pub emergency_restart_threshold: u32,
    pub emergency_restart_interval: Duration,
    pub process_control_timeout: Duration,
}

impl Default for Global {
    fn default() -> Self {
        Global {
            pid: None,
            error_log: None,
            log_level: LogLevel::Notice,
            daemonize: true,
            emergency_restart_threshold: 0,
            emergency_restart_interval: Duration::ZERO,
            // php-fpm's default is 0 (escalate at once), which kills in-flight requests on
            // every reload and graceful stop; ours drains.
            process_control_timeout: Duration::from_secs(30),
        }
    }
}

/// `env[NAME] = value` or `env[NAME] = $OTHER` (copied from the master's environment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvValue {
    Literal(String),
    FromMaster(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    pub name: String,
    pub listen: ListenAddr,
    pub listen_backlog: i32,
    pub listen_owner: Option<String>,
    pub listen_group: Option<String>,
    pub listen_mode: u32,
    pub listen_allowed_clients: Vec<String>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub chdir: Option<PathBuf>,
    pub pm: PmMode,
    pub max_children: u32,
    pub start_servers: u32,
    pub min_spare_servers: u32,
    pub max_spare_servers: u32,
    pub max_spawn_rate: u32,
    pub process_idle_timeout: Duration,
    pub max_requests: u64,
    /// Percent of `max_requests` each worker's limit is randomised by (ours; default 10).
    pub max_requests_jitter: u32,
    pub status_path: Option<String>,
    pub status_listen: Option<ListenAddr>,
    pub ping_path: Option<String>,
    pub ping_response: String,
    pub request_terminate_timeout: Duration,
    pub request_slowlog_timeout: Duration,
    pub slowlog: Option<PathBuf>,
    pub rlimit_files: Option<u64>,
    /// `u64::MAX` = unlimited.
    pub rlimit_core: Option<u64>,
    pub catch_workers_output: bool,
    pub decorate_workers_output: bool,
    pub clear_env: bool,
    pub env: Vec<(String, EnvValue)>,
    /// The program and arguments the supervising command runs in each worker (ours).
    pub command: Vec<String>,
}

impl PoolConfig {
    /// A pool with php-fpm's defaults (`pm = dynamic` with nothing else set is invalid until
    /// the spare-server counts are given, as in php-fpm).
    pub fn new(name: &str) -> PoolConfig {
        PoolConfig {
            name: name.to_string(),
            listen: ListenAddr::Inherited,
            listen_backlog: 511,
            listen_owner: None,
            listen_group: None,
            listen_mode: 0o660,
            listen_allowed_clients: Vec::new(),
            user: None,
            group: None,
            chdir: None,
            pm: PmMode::Static,
            max_children: 0,
            start_servers: 0,
            min_spare_servers: 0,
            max_spare_servers: 0,
            max_spawn_rate: 32,
            process_idle_timeout: Duration::from_secs(10),
            max_requests: 0,
            max_requests_jitter: 10,
            status_path: None,
            status_listen: None,
            ping_path: None,
            ping_response: "pong".to_string(),
            request_terminate_timeout: Duration::ZERO,
            request_slowlog_timeout: Duration::ZERO,
            slowlog: None,
            rlimit_files: None,
            rlimit_core: None,
            catch_workers_output: false,
            decorate_workers_output: true,
            clear_env: true,
            env: Vec::new(),
            command: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub global: Global,
    pub pools: Vec<PoolConfig>,
    /// The file it was read from, for reloads.
    pub source: Option<PathBuf>,
}

// ---------------------------------------------------------------------------------------------
// value parsers

/// A duration with php-fpm's suffixes: `s` (default), `m`, `h`, `d`.
pub fn parse_duration(v: &str) -> Result<Duration, String> {
    let v = v.trim();
    let (num, mult) = match v.as_bytes().last() {
        Some(b's') => (&v[..v.len() - 1], 1),
        Some(b'm') => (&v[..v.len() - 1], 60),
        Some(b'h') => (&v[..v.len() - 1], 3600),
        Some(b'd') => (&v[..v.len() - 1], 86400),
        _ => (v, 1),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{v}' is not a duration (a number with optional s, m, h or d)"))?;
    n.checked_mul(mult)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("'{v}' is too large"))
}

pub fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "on" | "true" | "1" => Ok(true),
        "no" | "off" | "false" | "0" | "" | "none" => Ok(false),
        _ => Err(format!(
            "'{v}' is not a boolean (yes/no, on/off, true/false, 1/0)"
        )),
    }
}

fn parse_uint<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.parse::<T>()
        .map_err(|_| format!("'{v}' is not a valid non-negative integer"))
}

/// `listen` values: `/path`, `ip:port`, `[v6]:port`, `port`.
pub fn parse_listen(v: &str) -> Result<ListenAddr, String> {
    if v.is_empty() {
        return Err("empty address".into());
    }
    if v.starts_with('/') || v.starts_with("./") {
        return Ok(ListenAddr::Unix(PathBuf::from(v)));
    }
    if let Ok(port) = v.parse::<u16>() {
        return Ok(ListenAddr::Tcp(std::net::SocketAddr::from((
            [0, 0, 0, 0],
            port,
        ))));
    }
    if let Ok(a) = v.parse::<std::net::SocketAddr>() {
        return Ok(ListenAddr::Tcp(a));
    }
    if let Some(port) = v.strip_prefix("*:").or_else(|| v.strip_prefix("0.0.0.0:")) {
        if let Ok(p) = port.parse::<u16>() {
            return Ok(ListenAddr::Tcp(std::net::SocketAddr::from((
                [0, 0, 0, 0],
                p,
            ))));
        }
    }
    if let Some((host, port)) = v.rsplit_once(':') {
        if let Ok(p) = port.parse::<u16>() {
            use std::net::ToSocketAddrs;
            if let Some(a) = (host, p)
                .to_socket_addrs()
                .ok()
                .and_then(|mut it| it.next())
            {
                return Ok(ListenAddr::Tcp(a));
            }
        }
    }
    Err(format!(
        "'{v}' is not a socket path, ip:port, [ipv6]:port or port"
    ))
}

fn unquote(v: &str) -> &str {
    let v = v.trim();
    if v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
    {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

/// Splits a command line on whitespace, honouring single and double quotes.
pub fn split_command(v: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut have = false;
    let mut quote: Option<char> = None;
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n)
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '"') | (None, '\'') => {
                quote = Some(c);
                have = true
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                    have = true
                }
            }
            (None, c) if c.is_whitespace() => {
                if have || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    have = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if quote.is_some() {
        return Err("unterminated quote in command".into());
    }
    if have || !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// directives

fn set_global(g: &mut Global, key: &str, v: &str) -> Result<(), String> {
    match key {
        "pid" => g.pid = Some(PathBuf::from(v)),
        "error_log" => g.error_log = Some(PathBuf::from(v)),
        "log_level" => {
            g.log_level = match v.to_ascii_lowercase().as_str() {
                "debug" => LogLevel::Debug,
                "notice" => LogLevel::Notice,
                "warning" => LogLevel::Warning,
                "error" => LogLevel::Error,
                "alert" => LogLevel::Alert,
                _ => {
                    return Err(format!(
                        "'{v}' is not a log level (alert, error, warning, notice, debug)"
                    ))
                }
            }
        }
        "daemonize" => g.daemonize = parse_bool(v)?,
        "emergency_restart_threshold" => g.emergency_restart_threshold = parse_uint(v)?,
        "emergency_restart_interval" => g.emergency_restart_interval = parse_duration(v)?,
        "process_control_timeout" => g.process_control_timeout = parse_duration(v)?,
        _ => return Err(format!("unknown directive '{key}' in [global]")),
    }
    Ok(())
}

/// Applies one pool directive. Shared by the file parser and the environment form.
pub fn set_pool(p: &mut PoolConfig, key: &str, v: &str) -> Result<(), String> {
    if let Some(rest) = key.strip_prefix("env[") {
        let name = rest
            .strip_suffix(']')
            .filter(|n| !n.is_empty() && !n.contains('='))
            .ok_or_else(|| format!("malformed '{key}' (expected env[NAME])"))?;
        let value = match v.strip_prefix('$') {
            Some(from) if !from.is_empty() => EnvValue::FromMaster(from.to_string()),
            _ => EnvValue::Literal(v.to_string()),
        };
        p.env.retain(|(n, _)| n != name);
        p.env.push((name.to_string(), value));
        return Ok(());
    }
    let opt = |v: &str| {
        if v.is_empty() {
            None
        } else {
            Some(v.to_string())
        }
    };
    match key {
        "listen" => p.listen = parse_listen(v)?,
        "listen.backlog" => {
            p.listen_backlog = v
                .parse::<i32>()
                .map_err(|_| format!("'{v}' is not an integer"))?;
            if p.listen_backlog < -1 {
                return Err("listen.backlog must be -1 or more".into());
            }
        }
        "listen.owner" => p.listen_owner = opt(v),
        "listen.group" => p.listen_group = opt(v),
        "listen.mode" => {
            p.listen_mode = u32::from_str_radix(v, 8)
                .ok()
                .filter(|m| *m <= 0o7777)
                .ok_or_else(|| format!("'{v}' is not an octal file mode"))?
        }
        "listen.allowed_clients" => {
            p.listen_allowed_clients = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<std::net::IpAddr>()
                        .map(|_| s.to_string())
                        .map_err(|_| format!("'{s}' is not an IP address"))
                })
                .collect::<Result<_, _>>()?
        }
        "user" => p.user = opt(v),
        "group" => p.group = opt(v),
        "chdir" => p.chdir = opt(v).map(PathBuf::from),
        "pm" => {
            p.pm = match v {
                "static" => PmMode::Static,
                "dynamic" => PmMode::Dynamic,
                "ondemand" => PmMode::Ondemand,
                _ => {
                    return Err(format!(
                        "'{v}' is not a process manager (static, dynamic, ondemand)"
                    ))
                }
            }
        }
        "pm.max_children" => p.max_children = parse_uint(v)?,
        "pm.start_servers" => p.start_servers = parse_uint(v)?,
        "pm.min_spare_servers" => p.min_spare_servers = parse_uint(v)?,
        "pm.max_spare_servers" => p.max_spare_servers = parse_uint(v)?,
        "pm.max_spawn_rate" => p.max_spawn_rate = parse_uint(v)?,
        "pm.process_idle_timeout" => p.process_idle_timeout = parse_duration(v)?,
        "pm.max_requests" => p.max_requests = parse_uint(v)?,
        "pm.max_requests_jitter" => {
            p.max_requests_jitter = parse_uint(v)?;
            if p.max_requests_jitter > 50 {
                return Err("pm.max_requests_jitter is a percentage from 0 to 50".into());
            }
        }
        "pm.status_path" => p.status_path = opt(v),
        "pm.status_listen" => p.status_listen = Some(parse_listen(v)?),
        "ping.path" => p.ping_path = opt(v),
        "ping.response" => p.ping_response = v.to_string(),
        "request_terminate_timeout" => p.request_terminate_timeout = parse_duration(v)?,
        "request_slowlog_timeout" => p.request_slowlog_timeout = parse_duration(v)?,
        "slowlog" => p.slowlog = opt(v).map(PathBuf::from),
        "rlimit_files" => p.rlimit_files = Some(parse_uint(v)?),
        "rlimit_core" => {
            p.rlimit_core = Some(if v == "unlimited" {
                u64::MAX
            } else {
                parse_uint(v)?
            })
        }
        "catch_workers_output" => p.catch_workers_output = parse_bool(v)?,
        "decorate_workers_output" => p.decorate_workers_output = parse_bool(v)?,
        "clear_env" => p.clear_env = parse_bool(v)?,
        "command" => {
            p.command = split_command(v)?;
            if p.command.is_empty() {
                return Err("command is empty".into());
            }
        }
        _ => return Err(format!("unknown directive '{key}'")),
    }
    Ok(())
}

/// php-fpm's consistency rules, plus ours. `need_listen` is false for the environment form.
pub fn validate_pool(p: &mut PoolConfig, need_listen: bool) -> Result<(), String> {
    let n = &p.name;
    if need_listen && p.listen == ListenAddr::Inherited {
        return Err(format!("[pool {n}] 'listen' is not set"));
    }
    if p.max_children < 1 {
        return Err(format!(
            "[pool {n}] pm.max_children must be a positive value"
        ));
    }
    match p.pm {
        PmMode::Static => {}
        PmMode::Dynamic => {
            if p.min_spare_servers < 1 {
                return Err(format!(
                    "[pool {n}] pm.min_spare_servers must be a positive value"
                ));
            }
            if p.max_spare_servers < 1 {
                return Err(format!(
                    "[pool {n}] pm.max_spare_servers must be a positive value"
                ));
            }
            if p.min_spare_servers > p.max_children || p.max_spare_servers > p.max_children {
                return Err(format!(
                    "[pool {n}] pm.min_spare_servers({}) and pm.max_spare_servers({}) cannot be greater than pm.max_children({})",
                    p.min_spare_servers, p.max_spare_servers, p.max_children
                ));
            }
            if p.max_spare_servers < p.min_spare_servers {
                return Err(format!(
                    "[pool {n}] pm.max_spare_servers({}) must not be less than pm.min_spare_servers({})",
                    p.max_spare_servers, p.min_spare_servers
                ));
            }
            if p.start_servers == 0 {
                p.start_servers =
                    p.min_spare_servers + (p.max_spare_servers - p.min_spare_servers) / 2;
            } else if p.start_servers < p.min_spare_servers || p.start_servers > p.max_spare_servers
            {
                return Err(format!(
                    "[pool {n}] pm.start_servers({}) must not be less than pm.min_spare_servers({}) and not greater than pm.max_spare_servers({})",
                    p.start_servers, p.min_spare_servers, p.max_spare_servers
                ));
            }
            if p.max_spawn_rate < 1 {
                return Err(format!(
                    "[pool {n}] pm.max_spawn_rate must be a positive value"
                ));
            }
        }
        PmMode::Ondemand => {
            if p.process_idle_timeout.is_zero() {
                return Err(format!(
                    "[pool {n}] pm.process_idle_timeout must be greater than 0s"
                ));
            }
        }
    }
    for (what, path) in [
        ("pm.status_path", &p.status_path),
        ("ping.path", &p.ping_path),
    ] {
        if let Some(path) = path {
            if !path.starts_with('/') || path.len() < 2 {
                return Err(format!(
                    "[pool {n}] {what} '{path}' must start with a '/' and name something"
                ));
            }
            if path
                .bytes()
                .any(|b| !(b.is_ascii_alphanumeric() || b"/.-_".contains(&b)))
            {
                return Err(format!(
                    "[pool {n}] {what} '{path}' may only contain letters, digits and . - _ /"
                ));
            }
        }
    }
    if p.ping_path.is_some() && p.ping_response.is_empty() {
        return Err(format!("[pool {n}] ping.response must not be empty"));
    }
    if p.status_listen.is_some() && p.status_path.is_none() {
        return Err(format!("[pool {n}] pm.status_listen needs pm.status_path"));
    }
    if !p.request_slowlog_timeout.is_zero() && p.slowlog.is_none() {
        return Err(format!(
            "[pool {n}] 'slowlog' must be set when request_slowlog_timeout is"
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// the file format

impl Config {
    /// Reads and validates a pool file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
        let mut c = Config::parse(&text, &path.display().to_string())?;
        c.source = Some(path.to_path_buf());
        Ok(c)
    }

    /// Parses pool-file text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        enum Section {
            None,
            Global,
            Pool(usize),
        }
        let mut global = Global::default();
        let mut pools: Vec<PoolConfig> = Vec::new();
        let mut pool_lines: Vec<usize> = Vec::new();
        let mut section = Section::None;
        let err = |line: usize, msg: String| ConfigError(format!("{origin}:{line}: {msg}"));
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
                continue;
            }
            if let Some(rest) = line.strip_prefix('[') {
                let name = rest
                    .strip_suffix(']')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| err(line_no, format!("malformed section header '{line}'")))?;
                if name == "global" {
                    section = Section::Global;
                    continue;
                }
                if name
                    .bytes()
                    .any(|b| !(b.is_ascii_alphanumeric() || b"-_.".contains(&b)))
                {
                    return Err(err(
                        line_no,
                        format!(
                            "pool name '{name}' may only contain letters, digits, '-', '_' and '.'"
                        ),
                    ));
                }
                if pools.iter().any(|p| p.name == name) {
                    return Err(err(line_no, format!("pool '{name}' is defined twice")));
                }
                pools.push(PoolConfig::new(name));
                pool_lines.push(line_no);
                section = Section::Pool(pools.len() - 1);
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| err(line_no, format!("expected 'name = value', found '{line}'")))?;
            let key = key.trim();
            let value = strip_comment(value.trim());
            let value = unquote(value);
            if key == "include" {
                return Err(err(
                    line_no,
                    "'include' is not supported; list the pools in one file".into(),
                ));
            }
            let r = match section {
                Section::None => Err(format!(
                    "'{key}' outside any section (add [global] or [pool])"
                )),
                Section::Global => set_global(&mut global, key, value),
                Section::Pool(ix) => set_pool(&mut pools[ix], key, value),
            };
            r.map_err(|m| err(line_no, m))?;
        }
        if pools.is_empty() {
            return Err(ConfigError(format!(
                "{origin}: no pool defined (add a [name] section)"
            )));
        }
        for (p, line) in pools.iter_mut().zip(&pool_lines) {
            validate_pool(p, true).map_err(|m| err(*line, m))?;
        }
        Ok(Config {
            global,
            pools,
            source: None,
        })
    }

    /// The environment form: `FCGI_RS_PM_CONFIG=/path/pool.conf` names a pool file;
    /// otherwise `FCGI_RS_PM=MODE:ARGS[,directive=value...]`. `Ok(None)` when neither is set.
    pub fn from_env() -> Result<Option<Config>, ConfigError> {
        if let Some(path) = std::env::var_os("FCGI_RS_PM_CONFIG").filter(|v| !v.is_empty()) {
            let mut c = Config::from_file(Path::new(&path))?;
            c.global.daemonize = false;
            return Ok(Some(c));
        }
        match std::env::var("FCGI_RS_PM") {
            Ok(v) if !v.is_empty() => Config::from_short(&v).map(Some),
            _ => Ok(None),
        }
    }

    /// Parses the short form:
    /// - `static:N` — N workers;
    /// - `dynamic:MIN_SPARE:MAX_CHILDREN[:MAX_SPARE]` — MAX_SPARE defaults to the midpoint;
    /// - `ondemand:MAX_CHILDREN[:IDLE_TIMEOUT]`;
    ///
    /// each optionally followed by `,directive=value` pool directives
    /// (e.g. `static:4,pm.max_requests=500,pm.status_path=/status`).
    pub fn from_short(v: &str) -> Result<Config, ConfigError> {
        let e = |m: String| ConfigError(format!("FCGI_RS_PM: {m}"));
        let mut parts = v.split(',');
        let head = parts.next().unwrap_or("");
        let f: Vec<&str> = head.split(':').map(str::trim).collect();
        let mut p = PoolConfig::new("www");
        p.clear_env = false;
        let num = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| e(format!("'{s}' is not a number")))
        };
        match f.as_slice() {
            ["static", n] => {
                p.pm = PmMode::Static;
                p.max_children = num(n)?;
            }
            ["dynamic", min, max, rest @ ..] if rest.len() <= 1 => {
                p.pm = PmMode::Dynamic;
                p.min_spare_servers = num(min)?;
                p.max_children = num(max)?;
                p.max_spare_servers = match rest.first() {
                    Some(s) => num(s)?,
                    None => (p.min_spare_servers + (p.max_children - p.min_spare_servers.min(p.max_children)) / 2)
                        .max(p.min_spare_servers),
                };
            }
            ["ondemand", max, rest @ ..] if rest.len() <= 1 => {
                p.pm = PmMode::Ondemand;
                p.max_children = num(max)?;
                if let Some(t) = rest.first() {
                    p.process_idle_timeout = parse_duration(t).map_err(e)?;
                }
            }
            _ => {
                return Err(e(format!(
                    "'{head}' is not static:N, dynamic:MIN_SPARE:MAX_CHILDREN[:MAX_SPARE] or ondemand:MAX_CHILDREN[:IDLE]"
                )))
            }
        }
        // `listen.allowed_clients` is itself a comma-separated list: the parts after it that
        // are not `directive=value` are more of its addresses.
        let mut directives: Vec<(&str, String)> = Vec::new();
        for d in parts {
            match d.split_once('=') {
                Some((k, val)) => directives.push((k.trim(), val.trim().to_string())),
                None => match directives.last_mut() {
                    Some(("listen.allowed_clients", list)) => {
                        list.push(',');
                        list.push_str(d.trim());
                    }
                    _ => return Err(e(format!("'{d}' is not directive=value"))),
                },
            }
        }
        for (k, val) in &directives {
            set_pool(&mut p, k, val).map_err(e)?;
        }
        validate_pool(&mut p, false).map_err(e)?;
        let global = Global {
            daemonize: false,
            ..Global::default()
        };
        Ok(Config {
            global,
            pools: vec![p],
            source: None,
        })
    }
}

/// Drops a trailing `; comment` outside quotes.
fn strip_comment(v: &str) -> &str {
    let mut quote = None;
    for (i, c) in v.char_indices() {
        match (quote, c) {
            (None, '"') | (None, '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ';') => return v[..i].trim_end(),
            _ => {}
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Config, ConfigError> {
        Config::parse(s, "t.conf")
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86400));
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn full_file() {
        let c = parse(
            "; comment\n[global]\npid = /run/x.pid\nerror_log = /tmp/e.log\nlog_level = warning\n\
             daemonize = no\nemergency_restart_threshold = 10\nemergency_restart_interval = 1m\n\
             process_control_timeout = 10s\n\n[www]\nlisten = 127.0.0.1:9000\nlisten.backlog = 128\n\
             pm = dynamic\npm.max_children = 8\npm.min_spare_servers = 2\npm.max_spare_servers = 4\n\
             pm.max_requests = 500 ; trailing comment\npm.status_path = /status\nping.path = /ping\n\
             env[PATH] = /usr/bin\nenv[HOME] = $HOME\ncommand = \"/usr/bin/app\" --flag 'a b'\n\
             request_slowlog_timeout = 5s\nslowlog = /tmp/slow.log\nrlimit_core = unlimited\n\
             [api]\nlisten = /run/api.sock\nlisten.mode = 0666\npm.max_children = 2\n",
        )
        .unwrap();
        assert_eq!(c.global.log_level, LogLevel::Warning);
        assert!(!c.global.daemonize);
        assert_eq!(c.global.emergency_restart_interval, Duration::from_secs(60));
        assert_eq!(c.global.process_control_timeout, Duration::from_secs(10));
        let w = &c.pools[0];
        assert_eq!(w.pm, PmMode::Dynamic);
        assert_eq!(w.start_servers, 3, "default start = min + (max - min) / 2");
        assert_eq!(w.max_requests, 500);
        assert_eq!(w.listen_backlog, 128);
        assert_eq!(w.command, vec!["/usr/bin/app", "--flag", "a b"]);
        assert_eq!(
            w.env[1],
            ("HOME".into(), EnvValue::FromMaster("HOME".into()))
        );
        assert_eq!(w.rlimit_core, Some(u64::MAX));
        let a = &c.pools[1];
        assert_eq!(a.listen, ListenAddr::Unix("/run/api.sock".into()));
        assert_eq!(a.listen_mode, 0o666);
        assert_eq!(a.pm, PmMode::Static);
    }

    #[test]
    fn defaults_follow_php_fpm_except_process_control_timeout() {
        let c = parse("[www]\nlisten = 9000\npm.max_children = 5\n").unwrap();
        let p = &c.pools[0];
        assert_eq!(p.listen, ListenAddr::Tcp("0.0.0.0:9000".parse().unwrap()));
        assert_eq!(
            (p.listen_backlog, p.listen_mode, p.max_spawn_rate),
            (511, 0o660, 32)
        );
        assert_eq!(p.process_idle_timeout, Duration::from_secs(10));
        assert_eq!(p.ping_response, "pong");
        assert!(p.clear_env && p.decorate_workers_output && !p.catch_workers_output);
        assert_eq!(p.max_requests_jitter, 10);
        assert_eq!(c.global.process_control_timeout, Duration::from_secs(30));
    }

    #[test]
    fn errors_name_file_and_line() {
        let cases: &[(&str, &str)] = &[
            ("[www]\nlisten = 9000\nbogus = 1\n", "t.conf:3: unknown directive 'bogus'"),
            ("[www]\nlisten = 9000\npm.max_children = -1\n", "t.conf:3: '-1' is not a valid"),
            ("[www]\nlisten = 9000\npm = sometimes\n", "t.conf:3: 'sometimes' is not a process manager"),
            ("[www]\nlisten = 9000\nrequest_terminate_timeout = 5x\n", "t.conf:3: '5x' is not a duration"),
            ("[global]\nfoo = 1\n", "t.conf:2: unknown directive 'foo' in [global]"),
            ("listen = 9000\n", "t.conf:1: 'listen' outside any section"),
            ("[www]\nlisten\n", "t.conf:2: expected 'name = value'"),
            ("[www]\npm.max_children = 1\n", "t.conf:1: [pool www] 'listen' is not set"),
            ("[www]\nlisten = 9000\n", "t.conf:1: [pool www] pm.max_children must be a positive value"),
            (
                "[www]\nlisten = 9000\npm = dynamic\npm.max_children = 5\n",
                "t.conf:1: [pool www] pm.min_spare_servers must be a positive value",
            ),
            (
                "[www]\nlisten = 9000\npm = dynamic\npm.max_children = 5\npm.min_spare_servers = 3\npm.max_spare_servers = 2\n",
                "must not be less than pm.min_spare_servers",
            ),
            (
                "[www]\nlisten = 9000\npm = dynamic\npm.max_children = 5\npm.min_spare_servers = 1\npm.max_spare_servers = 6\n",
                "cannot be greater than pm.max_children(5)",
            ),
            (
                "[www]\nlisten = 9000\npm = dynamic\npm.max_children = 5\npm.min_spare_servers = 2\npm.max_spare_servers = 3\npm.start_servers = 4\n",
                "pm.start_servers(4) must not be less than",
            ),
            (
                "[www]\nlisten = 9000\npm = ondemand\npm.max_children = 5\npm.process_idle_timeout = 0\n",
                "pm.process_idle_timeout must be greater than 0s",
            ),
            (
                "[www]\nlisten = 9000\npm.max_children = 5\nrequest_slowlog_timeout = 1\n",
                "'slowlog' must be set",
            ),
            ("[www]\nlisten = 9000\npm.max_children = 5\npm.status_path = status\n", "must start with a '/'"),
            ("[www]\nlisten = 9000\nlisten.mode = 999\n", "t.conf:3: '999' is not an octal file mode"),
            ("[www]\nlisten = nowhere\n", "t.conf:2: 'nowhere' is not a socket path"),
            ("[www]\nlisten = 9000\n[www]\n", "t.conf:3: pool 'www' is defined twice"),
            ("[global]\n", "t.conf: no pool defined"),
            ("[www]\nlisten = 9000\nenv[] = x\n", "t.conf:3: malformed 'env[]'"),
            ("[www]\nlisten = 9000\ncatch_workers_output = maybe\n", "t.conf:3: 'maybe' is not a boolean"),
            ("[www]\nlisten = 9000\ncommand = 'oops\n", "t.conf:3: unterminated quote"),
            ("[www]\nlisten = 9000\npm.max_requests_jitter = 80\n", "t.conf:3: pm.max_requests_jitter is a percentage"),
        ];
        for (text, want) in cases {
            let e = parse(text).expect_err(text).0;
            assert!(e.contains(want), "for {text:?}: got {e:?}, want {want:?}");
        }
    }

    #[test]
    fn short_form() {
        let c = Config::from_short("static:4").unwrap();
        assert_eq!(
            (c.pools[0].pm, c.pools[0].max_children),
            (PmMode::Static, 4)
        );
        assert_eq!(c.pools[0].listen, ListenAddr::Inherited);
        assert!(!c.global.daemonize && !c.pools[0].clear_env);
        let c = Config::from_short("dynamic:2:8").unwrap();
        let p = &c.pools[0];
        assert_eq!(
            (
                p.min_spare_servers,
                p.max_spare_servers,
                p.max_children,
                p.start_servers
            ),
            (2, 5, 8, 3)
        );
        let c = Config::from_short("dynamic:1:6:2,pm.max_requests=100,pm.status_path=/st").unwrap();
        let p = &c.pools[0];
        assert_eq!(
            (p.min_spare_servers, p.max_spare_servers, p.max_requests),
            (1, 2, 100)
        );
        assert_eq!(p.status_path.as_deref(), Some("/st"));
        let c = Config::from_short("ondemand:3:5s").unwrap();
        assert_eq!(c.pools[0].process_idle_timeout, Duration::from_secs(5));
        for bad in [
            "",
            "static",
            "static:x",
            "dynamic:3",
            "fast:1",
            "static:0",
            "static:2,bogus=1",
            "static:2,pm",
        ] {
            assert!(Config::from_short(bad).is_err(), "{bad}");
        }
        assert!(Config::from_short("static:2,bogus=1")
            .unwrap_err()
            .0
            .starts_with("FCGI_RS_PM: "));
    }

    #[test]
    fn short_form_allowed_clients_list() {
        let c = Config::from_short(
            "static:2,listen.allowed_clients=127.0.0.1, ::1,10.0.0.2,pm.max_requests=9",
        )
        .unwrap();
        assert_eq!(
            c.pools[0].listen_allowed_clients,
            vec!["127.0.0.1", "::1", "10.0.0.2"]
        );
        assert_eq!(c.pools[0].max_requests, 9);
        // Only the list directive continues over commas.
        assert!(Config::from_short("static:2,pm.max_requests=9,10").is_err());
        assert!(Config::from_short("static:2,127.0.0.1").is_err());
        assert!(Config::from_short("static:2,listen.allowed_clients=127.0.0.1,nohost").is_err());
    }

    #[test]
    fn listen_forms() {
        assert_eq!(
            parse_listen("[::1]:9000").unwrap(),
            ListenAddr::Tcp("[::1]:9000".parse().unwrap())
        );
        assert!(parse_listen("localhost:9000")
            .unwrap()
            .to_string()
            .ends_with(":9000"));
        assert_eq!(
            parse_listen("/run/a.sock").unwrap(),
            ListenAddr::Unix("/run/a.sock".into())
        );
    }
}
