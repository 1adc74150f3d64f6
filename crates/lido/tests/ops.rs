//! Operating the `lido` binary: the admin endpoints, the shutdown delay, the config file and
//! its precedence, completions and the man page, `lido healthcheck`, the access log file and
//! SIGUSR1, systemd socket activation and notifications.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::binary::{DEADLINE, Running, get, lido, run, socket_activated, temp_dir, wait_for};

/// Starts lido on a temporary root with `--admin`, on free ports; the server, its site's
/// address and its admin address.
fn start_with_admin(name: &str, extra: &[&str]) -> (Running, String, String) {
    let root = temp_dir(name);
    let mut command = lido();
    command
        .arg(&root)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--quiet",
        ])
        .args(extra);
    let server = Running::start(command);
    let site = server.addr("lido: serving");
    let admin = server.addr("lido: admin");
    (server, site, admin)
}

#[test]
fn admin_serves_health_readiness_and_metrics() {
    let (_server, site, admin) = start_with_admin("admin", &[]);
    assert_eq!(get(&site, "/").expect("GET /").0, 200);
    assert_eq!(get(&site, "/missing").expect("GET /missing").0, 404);
    for path in ["/healthz", "/readyz"] {
        let (status, head, body) = get(&admin, path).expect("a health answer");
        assert_eq!((status, body.as_str()), (200, "ok\n"), "{path}");
        assert!(head.contains("cache-control: no-store"), "{head}");
    }
    let (status, head, metrics) = get(&admin, "/metrics").expect("metrics");
    assert_eq!(status, 200);
    assert!(
        head.contains("content-type: application/openmetrics-text"),
        "{head}"
    );
    for line in [
        "lido_http_requests_total{code=\"200\",method=\"GET\"} 1",
        "lido_http_requests_total{code=\"404\",method=\"GET\"} 1",
        "lido_http_request_duration_seconds_count 2",
        "lido_http_request_duration_seconds_bucket{le=\"+Inf\"} 2",
        "lido_connections_accepted_total 2",
        "lido_shed_total 0",
        "lido_timeouts_total{kind=\"head\"} 0",
        "lido_accept_errors_total 0",
        "lido_draining 0",
        "# EOF",
    ] {
        assert!(metrics.contains(line), "no {line:?} in\n{metrics}");
    }
    for family in [
        "lido_http_response_bytes_total ",
        "lido_connections{state=\"idle\"} ",
        "lido_connections{state=\"busy\"} ",
        "lido_pool_threads ",
        "lido_pool_completed_total ",
        "lido_pool_panicked_total ",
        "lido_pool_rejected_total ",
        "lido_pool_active ",
        "lido_pool_queued ",
        "lido_build_info{version=",
    ] {
        assert!(metrics.contains(family), "no {family:?} in\n{metrics}");
    }
    // The admin endpoints are not on the site, and the site is not on the admin address.
    assert_eq!(get(&site, "/healthz").expect("GET").0, 404);
    assert_eq!(get(&admin, "/").expect("GET").0, 404);
    let mut stream = TcpStream::connect(&admin).expect("connect");
    stream
        .write_all(
            b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .expect("send");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("read");
    assert!(reply.starts_with("HTTP/1.1 405 "), "{reply}");
}

#[test]
fn sigterm_makes_health_fail_first_and_stops_listening_after_the_delay() {
    let (server, site, admin) = start_with_admin("delay", &["--shutdown-delay", "3"]);
    assert_eq!(get(&admin, "/healthz").expect("health").0, 200);
    server.signal("TERM");
    let signalled = Instant::now();
    wait_for("/healthz to fail", || {
        get(&admin, "/healthz").is_ok_and(|(status, _, _)| status == 503)
    });
    assert_eq!(get(&admin, "/readyz").expect("ready").0, 503);
    let (_, _, metrics) = get(&admin, "/metrics").expect("metrics");
    assert!(metrics.contains("\nlido_draining 1\n"), "{metrics}");
    // Still serving, on new connections, during the delay.
    let (status, head, _) = get(&site, "/").expect("served during the delay");
    assert_eq!(status, 200);
    assert!(
        signalled.elapsed() < Duration::from_secs(3),
        "the checks took the whole delay; nothing was tested"
    );
    // After it, the listener is closed and the process exits cleanly.
    wait_for("the listener to close", || {
        TcpStream::connect(&site).is_err()
    });
    assert!(
        signalled.elapsed() >= Duration::from_secs(2),
        "closed before the delay"
    );
    let _ = head;
    assert_eq!(server.wait(DEADLINE), Some(0));
}

/// `text`, written as a config file and printed again with `--print-config`, is the same.
fn assert_reads_back(dir: &Path, text: &str) {
    let config = write_config(dir, text);
    let again = run(lido().arg("--config").arg(&config).arg("--print-config"));
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&again.stdout), text);
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("lido.toml");
    std::fs::write(&path, text).expect("write the config");
    path
}

#[test]
fn the_config_file_sets_flags_under_the_environment_and_the_command_line() {
    let root = temp_dir("config");
    let config = write_config(
        &root,
        &format!(
            "root = {:?}\nlisten = \"127.0.0.1:0\"\nquiet = true\nheader = [\"X-From: file\"]\n\
             cache-control = \"max-age=60\"\n",
            root.display().to_string()
        ),
    );
    // The file alone.
    let mut command = lido();
    command.arg("--config").arg(&config);
    let server = Running::start(command);
    let (status, head, _) = get(&server.addr("lido: serving"), "/").expect("GET");
    assert_eq!(status, 200);
    assert!(head.contains("x-from: file"), "{head}");
    assert!(head.contains("cache-control: max-age=60"), "{head}");
    drop(server);
    // The environment over the file, the command line over both.
    let mut command = lido();
    command
        .arg("--config")
        .arg(&config)
        .env("LIDO_HEADER", "X-From: env")
        .env("LIDO_CACHE_CONTROL", "max-age=1")
        .args(["--cache-control", "no-store"]);
    let server = Running::start(command);
    let (_, head, _) = get(&server.addr("lido: serving"), "/").expect("GET");
    assert!(head.contains("x-from: env"), "{head}");
    assert!(!head.contains("x-from: file"), "{head}");
    assert!(head.contains("cache-control: no-store"), "{head}");
}

#[test]
fn a_bad_config_file_is_one_line_naming_file_line_and_key() {
    let dir = temp_dir("bad-config");
    for (text, expected) in [
        ("threads = 2\nthreds = 3\n", ":2: unknown key `threds`"),
        (
            "cors = 1\n",
            ":1: key `cors`: expected true or false, not integer",
        ),
        (
            "\n\nmax-body = \"lots\"\n",
            ":3: key `max-body`: invalid value 'lots'",
        ),
        ("listen = \n", ":1: "),
    ] {
        let config = write_config(&dir, text);
        let out = run(lido().arg("--config").arg(&config));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{text:?}: {stderr}");
        assert!(
            stderr.starts_with(&format!("lido: {}", config.display())),
            "{stderr}"
        );
        assert!(stderr.contains(expected), "{text:?}: {stderr}");
    }
    let out = run(lido().args(["--config", "/nonexistent/lido.toml"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("lido: /nonexistent/lido.toml: "));
}

#[test]
fn print_config_writes_a_file_that_reads_back_the_same() {
    let dir = temp_dir("print");
    let out = run(lido().args([
        "--print-config",
        "--threads",
        "3",
        "--header",
        "X-A: b",
        "--cors",
    ]));
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    for line in [
        "threads = 3\n",
        "header = [\"X-A: b\"]\n",
        "cors = true\n",
        "max-body = 1048576\n",
    ] {
        assert!(text.contains(line), "no {line:?} in\n{text}");
    }
    assert_reads_back(&dir, &text);
}

#[test]
fn completions_and_the_man_page() {
    let out = run(lido().args(["completions", "bash"]));
    assert!(out.status.success());
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(
        script.contains("_lido()") && script.contains("--max-connections"),
        "{script}"
    );
    let out = run(lido().args(["completions", "nosuchshell"]));
    assert_eq!(out.status.code(), Some(2));
    let out = run(lido().arg("man"));
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH lido"),
        "{page}"
    );
    assert!(
        page.contains("LIDO_MAX_BODY"),
        "the man page names the environment variables"
    );
}

#[test]
fn healthcheck_exits_zero_only_for_a_healthy_server() {
    let (server, site, admin) = start_with_admin("healthcheck", &[]);
    let out = run(lido().args(["healthcheck", &admin]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Something else on the port: not healthy.
    let out = run(lido().args(["healthcheck", &site]));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("404"));
    drop(server);
    // Nothing listening.
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("addr").to_string();
    drop(closed);
    let out = run(lido().args(["healthcheck", &addr, "--timeout", "2"]));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}

#[test]
fn the_access_log_file_is_reopened_on_sigusr1() {
    let root = temp_dir("logfile");
    let log = root.join("access.log");
    let mut command = lido();
    command
        .arg(&root)
        .args(["--listen", "127.0.0.1:0"])
        .arg("--access-log-file")
        .arg(&log);
    let server = Running::start(command);
    let site = server.addr("lido: serving");
    let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
    get(&site, "/first").expect("GET");
    wait_for("the first line", || read(&log).contains("GET /first "));
    // logrotate: move the file, then SIGUSR1.
    let rotated = root.join("access.log.1");
    std::fs::rename(&log, &rotated).expect("rotate");
    server.signal("USR1");
    wait_for("a new file", || log.exists());
    get(&site, "/second").expect("GET");
    wait_for("the second line in the new file", || {
        read(&log).contains("GET /second ")
    });
    assert!(!read(&rotated).contains("/second"));
    // SIGHUP (systemctl reload) reopens too, and does not stop the server.
    std::fs::rename(&log, &rotated).expect("rotate");
    server.signal("HUP");
    wait_for("a new file after SIGHUP", || log.exists());
    get(&site, "/third").expect("GET after SIGHUP");
    wait_for("the third line in the new file", || {
        read(&log).contains("GET /third ")
    });
    // A log file that cannot be written: an error at start, not a silent loss.
    let out = run(lido().arg(&root).args([
        "--listen",
        "127.0.0.1:0",
        "--access-log-file",
        "/nonexistent/dir/log",
    ]));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write the access log"));
}

#[test]
fn systemd_socket_activation_serves_the_sockets_it_is_given() {
    let root = temp_dir("activation");
    let site_a = TcpListener::bind("127.0.0.1:0").expect("bind");
    let site_b = TcpListener::bind("127.0.0.1:0").expect("bind");
    let admin = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addrs: Vec<String> = [&site_a, &site_b, &admin]
        .iter()
        .map(|s| s.local_addr().expect("addr").to_string())
        .collect();
    let root_arg = root.display().to_string();
    let server = socket_activated(
        vec![site_a, site_b, admin],
        "http:http:admin",
        &[&root_arg, "--quiet"],
    );
    assert_eq!(server.addr("lido: serving"), addrs[0]);
    assert_eq!(server.addr("lido: also"), addrs[1]);
    assert_eq!(server.addr("lido: admin"), addrs[2]);
    assert_eq!(get(&addrs[0], "/").expect("GET").0, 200);
    assert_eq!(get(&addrs[1], "/").expect("GET").0, 200);
    assert_eq!(get(&addrs[2], "/healthz").expect("GET").0, 200);
    // The default --listen address is not bound beside them.
    assert!(
        !server
            .lines
            .iter()
            .any(|l| l.contains(lido::DEFAULT_LISTEN))
    );
    server.signal("TERM");
    assert_eq!(server.wait(DEADLINE), Some(0));
}

#[test]
fn a_passed_socket_that_is_not_a_tcp_listener_is_refused() {
    use command_fds::{CommandFdExt, FdMapping};
    let file = std::fs::File::open(env!("CARGO_BIN_EXE_lido")).expect("open a file");
    let mut command = lido();
    command
        .env("LISTEN_FDS", "1")
        .args(["--listen", "127.0.0.1:0"]);
    command
        .fd_mappings(vec![FdMapping {
            parent_fd: file.into(),
            child_fd: 3,
        }])
        .expect("map");
    let out = command.output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("socket 3"), "{stderr}");
}

#[test]
fn systemd_is_told_ready_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let root = temp_dir("notify");
    let path = root.join("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
    socket.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut command = lido();
    command
        .arg(&root)
        .args(["--listen", "127.0.0.1:0", "--quiet"])
        .env("NOTIFY_SOCKET", &path);
    let server = Running::start(command);
    let mut buf = [0u8; 256];
    let n = socket.recv(&mut buf).expect("READY=1");
    assert_eq!(&buf[..n], b"READY=1\n");
    server.signal("TERM");
    let n = socket.recv(&mut buf).expect("STOPPING=1");
    assert_eq!(&buf[..n], b"STOPPING=1\n");
    assert_eq!(server.wait(DEADLINE), Some(0));
}

#[cfg(target_os = "linux")]
#[test]
fn with_reuse_port_a_new_lido_takes_over_from_one_stopped_by_sigterm() {
    let _migrate = support::handover::MigrateRequests::on();
    let start = |name: &str, listen: &str| {
        let root = temp_dir(&format!("reuse-{name}"));
        std::fs::write(root.join("index.html"), name).expect("write index.html");
        let mut command = lido();
        command
            .arg(&root)
            .args(["--listen", listen, "--reuse-port", "--quiet"]);
        Running::start(command)
    };
    let old = start("old", "127.0.0.1:0");
    let addr = old.addr("lido: serving");
    let new = start("new", &addr);
    assert_eq!(new.addr("lido: serving"), addr);
    support::handover::across_a_restart(addr.parse().expect("an address"), || {
        old.signal("TERM");
        assert_eq!(old.wait(DEADLINE), Some(0));
    });
}

#[test]
fn subcommands_ignore_the_servers_settings() {
    let dir = temp_dir("subcommands");
    let config = write_config(&dir, "threads = 2\n");
    for args in [&["completions", "bash"][..], &["man"][..]] {
        let out = run(lido()
            .args(args)
            .env("LIDO_CONFIG", &config)
            .env("LIDO_THREADS", "not a number"));
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (_server, _site, admin) = start_with_admin("subcommands-admin", &[]);
    let out = run(lido()
        .args(["healthcheck", &admin])
        .env("LIDO_CONFIG", &config));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_root_from_the_file_is_never_a_flag_or_a_subcommand() {
    let dir = temp_dir("root-flag");
    for name in ["-q", "man"] {
        let root = dir.join(name);
        std::fs::create_dir_all(&root).expect("mkdir");
        std::fs::write(root.join("index.html"), name).expect("write");
        let config = write_config(
            &dir,
            &format!("root = {name:?}\nlisten = \"127.0.0.1:0\"\n"),
        );
        let mut command = lido();
        command.current_dir(&dir).arg("--config").arg(&config);
        let server = Running::start(command);
        let (status, _, body) = get(&server.addr("lido: serving"), "/").expect("GET");
        assert_eq!((status, body.as_str()), (200, name));
    }
}

#[test]
fn print_config_normalises_numbers_and_leaves_a_default_address_out() {
    let dir = temp_dir("print-numbers");
    let out = run(lido().args([
        "--print-config",
        "--head-timeout",
        ".5",
        "--max-body",
        "007",
    ]));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("head-timeout = 0.5\n"), "{text}");
    assert!(text.contains("max-body = 7\n"), "{text}");
    assert!(text.contains("# listen = \"127.0.0.1:7878\"\n"), "{text}");
    assert_reads_back(&dir, &text);
}

#[test]
fn absurd_timeouts_do_not_crash_the_server() {
    let root = temp_dir("absurd");
    let mut command = lido();
    command.arg(&root).args([
        "--listen",
        "127.0.0.1:0",
        "--quiet",
        "--head-timeout",
        "1e19",
        "--keep-alive-timeout",
        "1.8e19",
        "--drain-timeout",
        "1e19",
    ]);
    let server = Running::start(command);
    let site = server.addr("lido: serving");
    for _ in 0..2 {
        assert_eq!(get(&site, "/").expect("GET").0, 200);
    }
    server.signal("TERM");
    assert_eq!(server.wait(DEADLINE), Some(0));
}

#[test]
fn timeouts_are_in_the_access_log() {
    let root = temp_dir("timeout-log");
    let log = root.join("access.log");
    let mut command = lido();
    command
        .arg(&root)
        .args(["--listen", "127.0.0.1:0", "--head-timeout", "0.5"])
        .arg("--access-log-file")
        .arg(&log);
    let server = Running::start(command);
    let mut slow = TcpStream::connect(server.addr("lido: serving")).expect("connect");
    slow.write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n")
        .expect("send half a head");
    let mut reply = String::new();
    slow.read_to_string(&mut reply).expect("read until closed");
    assert!(reply.starts_with("HTTP/1.1 408 "), "{reply}");
    wait_for("the 408 in the log", || {
        std::fs::read_to_string(&log).is_ok_and(|text| text.contains("\"GET /slow HTTP/1.1\" 408 "))
    });
}

#[test]
fn healthcheck_bounds_the_whole_check_and_checks_its_input() {
    // A listener that never answers (the kernel accepts, nobody reads).
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = silent.local_addr().expect("addr").to_string();
    let started = Instant::now();
    let out = run(lido().args(["healthcheck", &addr, "--timeout", "1"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no answer within"), "{stderr}");
    for bad in [&["--timeout", "0"][..], &["--path", "healthz"][..]] {
        let out = run(lido().args(["healthcheck", &addr]).args(bad));
        assert_ne!(out.status.code(), Some(0), "{bad:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    }
    drop(silent);
}

#[test]
fn an_admin_socket_alone_is_refused() {
    let root = temp_dir("admin-only");
    let admin = TcpListener::bind("127.0.0.1:0").expect("bind");
    let root_arg = root.display().to_string();
    use command_fds::{CommandFdExt, FdMapping};
    use std::os::fd::OwnedFd;
    let mut command = lido();
    command
        .arg(&root_arg)
        .env("LISTEN_FDS", "1")
        .env("LISTEN_FDNAMES", "admin");
    command
        .fd_mappings(vec![FdMapping {
            parent_fd: OwnedFd::from(admin),
            child_fd: 3,
        }])
        .expect("map");
    let out = command.output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("none for the site"));
}

#[test]
fn auth_file_from_the_command_line() {
    let root = temp_dir("auth");
    let hash = bcrypt::hash("pw", 4).expect("hash");
    let users = root.join("users");
    std::fs::write(&users, format!("ada:{hash}\n")).expect("write");
    let mut command = lido();
    command
        .arg(&root)
        .args(["--listen", "127.0.0.1:0", "--quiet", "--auth-realm", "team"])
        .arg("--auth-file")
        .arg(&users);
    let server = Running::start(command);
    let (status, head, _) = get(&server.addr("lido: serving"), "/").expect("GET");
    assert_eq!(status, 401);
    assert!(head.contains("realm=\"team\""), "{head}");
    // A plain-text password file: one line, naming the line, and no server.
    let plain = root.join("plain");
    std::fs::write(&plain, "ada:pw\n").expect("write");
    let out = run(lido().arg(&root).arg("--auth-file").arg(&plain));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(":1: user ada: only bcrypt"), "{stderr}");
}
