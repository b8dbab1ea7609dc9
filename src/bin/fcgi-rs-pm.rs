//! `fcgi-rs-pm`: runs any FastCGI program in a supervised pre-forked pool.
//!
//! spawn-fcgi (bind the socket, hand it to the program on fd 0), multiwatch (keep N copies
//! running) and php-fpm's process manager (dynamic/ondemand sizing, recycling, graceful reload
//! and stop, timeouts, status pages) in one command.

use std::process::ExitCode;

use fcgi_rs::pm::config::{self, Config, Global, ListenAddr, PmMode, PoolConfig};
use fcgi_rs::pm::{self, Mode};

const USAGE: &str = "\
usage: fcgi-rs-pm -c POOL.CONF [-F] [-t] [-- PROGRAM ARGS...]
       fcgi-rs-pm [-s PATH | -a HOST:PORT] [options] -- PROGRAM ARGS...

  -c, --config FILE        php-fpm style pool file ([global] and [pool] sections)
  -t, --test               check the configuration and exit
  -F, --foreground         do not daemonize (the command line form never does)
  -s, --socket PATH        unix socket to bind
  -a, --address HOST:PORT  TCP address to bind (or just a port)
                           (neither: use the inherited socket, fd 0 or systemd LISTEN_FDS)
  -n, --children N         pm.max_children (default 1)
      --pm MODE            static (default), dynamic or ondemand
      --start N            pm.start_servers (dynamic)
      --min-spare N        pm.min_spare_servers (dynamic; default 1)
      --max-spare N        pm.max_spare_servers (dynamic; default max(1, N/2))
      --idle-timeout T     pm.process_idle_timeout (ondemand; default 10s)
      --max-requests N     pm.max_requests (0 = no limit)
      --jitter PERCENT     pm.max_requests_jitter (default 10)
  -b, --backlog N          listen.backlog (default 511)
      --allowed-clients LIST  listen.allowed_clients: the only client addresses accepted
                           on a TCP socket (comma-separated IPv4/IPv6)
  -M, --mode OCTAL         listen.mode for a unix socket (default 0660)
  -u, --user USER          run workers as USER (when started as root)
  -g, --group GROUP        run workers with GROUP
  -d, --chdir DIR          workers' working directory
      --status-path PATH   pm.status_path
      --status-listen ADDR pm.status_listen (the master answers status/ping there)
      --ping-path PATH     ping.path
      --terminate-timeout T  request_terminate_timeout
      --slowlog-timeout T  request_slowlog_timeout (needs --slowlog)
      --slowlog FILE       slowlog
      --control-timeout T  process_control_timeout (default 30s)
      --error-log FILE     error_log (default: stderr)
      --pid FILE           pid file
      --clear-env          start workers with an empty environment (plus --env)
      --catch-output       catch_workers_output: log each line workers write to stdout or
                           stderr (otherwise those go to /dev/null)
      --raw-output         decorate_workers_output = no: log those lines as they are
  -e, --env NAME=VALUE     env[NAME] for the workers (repeatable)
  -h, --help               this text

signals: TERM/INT stop now, QUIT drain and stop, USR2/HUP reload, USR1 reopen logs";

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fcgi-rs-pm: {e}");
            ExitCode::from(78)
        }
    }
}

fn real_main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (opts, program) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], args[i + 1..].to_vec()),
        None => (&args[..], Vec::new()),
    };
    let mut config_file = None;
    let mut test_only = false;
    let mut foreground = false;
    let mut g = Global {
        daemonize: false,
        ..Global::default()
    };
    let mut p = PoolConfig::new("www");
    p.clear_env = false;
    p.max_children = 1;
    let mut set = Vec::<(String, String)>::new();
    let mut it = opts.iter();
    while let Some(a) = it.next() {
        let mut val = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            "-c" | "--config" => config_file = Some(val(a)?),
            "-t" | "--test" => test_only = true,
            "-F" | "--foreground" => foreground = true,
            "-s" | "--socket" => p.listen = ListenAddr::Unix(val(a)?.into()),
            "-a" | "--address" => p.listen = config::parse_listen(&val(a)?)?,
            "-n" | "--children" => set.push(("pm.max_children".into(), val(a)?)),
            "--pm" => set.push(("pm".into(), val(a)?)),
            "--start" => set.push(("pm.start_servers".into(), val(a)?)),
            "--min-spare" => set.push(("pm.min_spare_servers".into(), val(a)?)),
            "--max-spare" => set.push(("pm.max_spare_servers".into(), val(a)?)),
            "--idle-timeout" => set.push(("pm.process_idle_timeout".into(), val(a)?)),
            "--max-requests" => set.push(("pm.max_requests".into(), val(a)?)),
            "--jitter" => set.push(("pm.max_requests_jitter".into(), val(a)?)),
            "-b" | "--backlog" => set.push(("listen.backlog".into(), val(a)?)),
            "-M" | "--mode" => set.push(("listen.mode".into(), val(a)?)),
            "-u" | "--user" => set.push(("user".into(), val(a)?)),
            "-g" | "--group" => set.push(("group".into(), val(a)?)),
            "-d" | "--chdir" => set.push(("chdir".into(), val(a)?)),
            "--status-path" => set.push(("pm.status_path".into(), val(a)?)),
            "--status-listen" => set.push(("pm.status_listen".into(), val(a)?)),
            "--ping-path" => set.push(("ping.path".into(), val(a)?)),
            "--terminate-timeout" => set.push(("request_terminate_timeout".into(), val(a)?)),
            "--slowlog-timeout" => set.push(("request_slowlog_timeout".into(), val(a)?)),
            "--slowlog" => set.push(("slowlog".into(), val(a)?)),
            "--clear-env" => set.push(("clear_env".into(), "yes".into())),
            "--allowed-clients" => set.push(("listen.allowed_clients".into(), val(a)?)),
            "--catch-output" => set.push(("catch_workers_output".into(), "yes".into())),
            "--raw-output" => set.push(("decorate_workers_output".into(), "no".into())),
            "-e" | "--env" => {
                let v = val(a)?;
                let (k, v) = v.split_once('=').ok_or("--env needs NAME=VALUE")?;
                set.push((format!("env[{k}]"), v.to_string()));
            }
            "--control-timeout" => {
                g.process_control_timeout = config::parse_duration(&val(a)?)
                    .map_err(|e| format!("--control-timeout: {e}"))?
            }
            "--error-log" => g.error_log = Some(val(a)?.into()),
            "--pid" => g.pid = Some(val(a)?.into()),
            other => return Err(format!("unknown option '{other}'\n{USAGE}")),
        }
    }
    let cfg = match config_file {
        Some(path) => {
            if !set.is_empty() || p.listen != ListenAddr::Inherited {
                return Err("with -c, pool settings belong in the file".into());
            }
            let mut c = Config::from_file(path.as_ref()).map_err(|e| e.to_string())?;
            if foreground {
                c.global.daemonize = false;
            }
            for pool in &mut c.pools {
                if pool.command.is_empty() {
                    pool.command = program.clone();
                }
            }
            c
        }
        None => {
            let mut saw_pm = None;
            for (k, v) in &set {
                if k == "pm" {
                    saw_pm = Some(v.clone());
                }
            }
            // Sensible dynamic defaults for the command line.
            if saw_pm.as_deref() == Some("dynamic") {
                p.min_spare_servers = 1;
            }
            for (k, v) in &set {
                config::set_pool(&mut p, k, v).map_err(|e| format!("{k}: {e}"))?;
            }
            if p.pm == PmMode::Dynamic && p.max_spare_servers == 0 {
                p.max_spare_servers = (p.max_children / 2).max(p.min_spare_servers).max(1);
            }
            p.command = program;
            config::validate_pool(&mut p, false).map_err(|e| e.to_string())?;
            Config {
                global: g,
                pools: vec![p],
                source: None,
            }
        }
    };
    for pool in &cfg.pools {
        if pool.command.is_empty() {
            return Err(format!(
                "[pool {}] no program: set 'command' or give it after --",
                pool.name
            ));
        }
    }
    if test_only {
        println!("configuration is valid: {} pool(s)", cfg.pools.len());
        for pool in &cfg.pools {
            println!(
                "[{}] listen {} pm {} max_children {} command {:?}",
                pool.name,
                pool.listen,
                pool.pm.name(),
                pool.max_children,
                pool.command
            );
        }
        return Ok(());
    }
    match pm::run(cfg, Mode::Command) {
        Ok(_) => Err("internal error: a worker returned in command mode".into()),
        Err(e) => Err(e.to_string()),
    }
}
