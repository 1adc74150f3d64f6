//! Serving: settings -> static files, the server, the admin server, the access log, signals,
//! systemd, and the graceful stop.

use std::error::Error;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use lido::{Server, StaticFiles};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::Signals;

use crate::access_log;
use crate::admin::{Admin, Lifecycle};
use crate::cli::Serve;
use crate::systemd::Activated;

fn seconds(name: &str, secs: f64) -> Result<Duration, Box<dyn Error>> {
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("--{name} must be a positive number of seconds, not {secs}").into())
}

fn zero_or_seconds(name: &str, secs: f64) -> Result<Duration, Box<dyn Error>> {
    Duration::try_from_secs_f64(secs).map_err(|_| {
        format!("--{name} must be zero or a positive number of seconds, not {secs}").into()
    })
}

fn files(cli: &Serve) -> Result<StaticFiles, Box<dyn Error>> {
    let mut files = StaticFiles::new(&cli.root)
        .map_err(|e| format!("cannot serve {}: {e}", cli.root.display()))?
        .show_hidden(cli.hidden)
        .follow_symlinks(cli.follow_symlinks)
        .listing(!cli.no_listing)
        .archives(!cli.no_archive)
        .cache_control(cli.cache_control.clone())
        .recheck_files_after(zero_or_seconds("recheck-files", cli.recheck_files)?)
        .spa(cli.spa)
        .cors(cli.cors)
        .security_headers(cli.security_headers)
        .compression(!cli.no_compress, cli.compress_cache);
    if let Some(page) = &cli.not_found {
        files = files
            .not_found_page(page)
            .map_err(|e| format!("cannot use --404 {}: {e}", page.display()))?;
    }
    #[cfg(feature = "tls")]
    if let Some(hsts) = crate::https::hsts(cli) {
        files = files.header(lido::http::header::STRICT_TRANSPORT_SECURITY, hsts);
    }
    for (name, value) in &cli.headers {
        files = files.header(name.clone(), value.clone());
    }
    for (pattern, value) in &cli.cache_control_for {
        files = files.cache_control_for(pattern.clone(), value.clone());
    }
    Ok(files)
}

fn bind_error(e: lido::ServerError) -> String {
    match std::error::Error::source(&e) {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    }
}

pub(crate) fn run(cli: Serve, activated: Activated) -> Result<(), Box<dyn Error>> {
    let level = if cli.quiet { "warn" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if cli.quiet && cli.access_log_file.is_some() {
        return Err("--quiet turns the access log off; it cannot go with --access-log-file".into());
    }
    let shutdown_delay = zero_or_seconds("shutdown-delay", cli.shutdown_delay)?;

    let mut builder = Server::builder()
        .reuse_port(cli.reuse_port)
        .max_connections(cli.max_connections)
        .max_requests_per_connection(cli.max_requests)
        .max_body(cli.max_body)
        .max_body_memory(cli.max_body_memory)
        .spool_bodies_over(cli.spool_bodies_over)
        .head_timeout(seconds("head-timeout", cli.head_timeout)?)
        .keep_alive_timeout(seconds("keep-alive-timeout", cli.keep_alive_timeout)?)
        .body_timeout(seconds("io-timeout", cli.io_timeout)?)
        .body_deadline(seconds("body-deadline", cli.body_deadline)?)
        .min_data_rate(cli.min_data_rate)
        .write_timeout(seconds("io-timeout", cli.io_timeout)?)
        .drain_timeout(seconds("drain-timeout", cli.drain_timeout)?);
    // With sockets from systemd, --listen binds one more only if it was given.
    if !cli.listen_given && activated.site.is_empty() && activated.admin.is_some() {
        return Err(
            "the service manager passed an admin socket but none for the site: pass one more \
             socket, or give --listen"
                .into(),
        );
    }
    if cli.listen_given || activated.site.is_empty() {
        builder = builder.listen(cli.listen.clone());
    }
    for listener in activated.site {
        builder = builder.listener(listener);
    }
    if let Some(per_ip) = cli.max_connections_per_ip {
        builder = builder.max_connections_per_ip(per_ip as usize);
    }
    if let Some(threads) = cli.threads {
        builder = builder.threads(threads as usize);
    }
    if let Some(queue) = cli.queue {
        builder = builder.queue_capacity(queue);
    }
    let engine = cli.engine.unwrap_or_default();
    if !engine.is_available() {
        return Err(format!("--engine {engine} is not available on this system").into());
    }
    builder = builder.engine(engine);
    let (logger, reopen) = if cli.quiet {
        (None, None)
    } else {
        let (hook, logger, reopen) = access_log::start(
            cli.access_log,
            cli.access_log_file.clone(),
            cli.trusted_proxy.clone(),
        )
        .map_err(|e| match &cli.access_log_file {
            Some(path) => format!("cannot write the access log to {}: {e}", path.display()),
            None => format!("cannot start the access log: {e}"),
        })?;
        builder = builder.on_response(hook);
        (Some(logger), Some(reopen))
    };
    let files = files(&cli)?;
    #[cfg(feature = "tls")]
    let tls = crate::https::config(&cli)?;
    #[cfg(feature = "tls")]
    if let Some(tls) = &tls {
        builder = builder.tls(tls.clone());
    }
    #[cfg(feature = "tls")]
    let secure = tls.is_some();
    #[cfg(not(feature = "tls"))]
    let secure = false;
    let scheme = if secure { "https" } else { "http" };
    let server = match &cli.auth_file {
        Some(path) => {
            let auth = lido::BasicAuth::from_htpasswd(path)
                .map_err(|e| format!("--auth-file: {e}"))?
                .realm(&cli.auth_realm);
            if !secure
                && !cli.listen.starts_with("127.")
                && !cli.listen.starts_with("[::1]")
                && !cli.listen.starts_with("localhost")
            {
                tracing::warn!(
                    listen = %cli.listen,
                    "passwords cross the network in clear text: serve HTTPS (--tls-cert), put \
                     lido behind a TLS proxy, or listen on loopback only"
                );
            }
            builder.bind(auth.protect(files))
        }
        None => builder.bind(files),
    }
    .map_err(bind_error)?;

    let lifecycle = Arc::new(Lifecycle::default());
    let admin = match (&cli.admin, activated.admin) {
        (None, None) => None,
        (addr, socket) => {
            let mut admin = Server::builder()
                .engine(engine)
                .threads(2)
                .queue_capacity(64);
            if let Some(addr) = addr {
                admin = admin.listen(addr.clone());
            }
            if let Some(socket) = socket {
                admin = admin.listener(socket);
            }
            let admin = admin
                .bind(Admin {
                    stats: server.stats(),
                    lifecycle: Arc::clone(&lifecycle),
                })
                .map_err(|e| format!("--admin: {}", bind_error(e)))?;
            Some(admin)
        }
    };

    #[cfg(feature = "tls")]
    let redirect = match &cli.redirect_http {
        Some(addr) => {
            let port = server.local_addrs().first().map_or(443, |a| a.port());
            let redirect = Server::builder()
                .engine(engine)
                .threads(2)
                .listen(addr.clone())
                .bind(crate::https::RedirectHttps { port })
                .map_err(|e| format!("--redirect-http: {}", bind_error(e)))?;
            Some(redirect)
        }
        None => None,
    };
    #[cfg(not(feature = "tls"))]
    let redirect: Option<Server> = None;

    let handle = server.shutdown_handle();
    #[cfg(feature = "tls")]
    let reload_tls = tls.clone();
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGUSR1, SIGHUP])?;
    let stop_lifecycle = Arc::clone(&lifecycle);
    std::thread::Builder::new()
        .name("lido-signals".into())
        .spawn(move || {
            let mut stopping = false;
            for signal in signals.forever() {
                if signal == SIGUSR1 || signal == SIGHUP {
                    // SIGUSR1 (logrotate) and SIGHUP (`systemctl reload`) reopen the access
                    // log; neither stops the server.
                    tracing::info!(signal, "signal received; reopening the access log");
                    if let Some(reopen) = &reopen {
                        reopen.reopen();
                    }
                    // SIGHUP also reloads the certificate: new handshakes get the new one,
                    // open connections keep theirs; a bad pair leaves the old one in use.
                    #[cfg(feature = "tls")]
                    if signal == SIGHUP
                        && let Some(tls) = &reload_tls
                    {
                        match tls.reload() {
                            Ok(()) => tracing::info!("reloaded the TLS certificate and key"),
                            Err(e) => tracing::error!(
                                error = %e,
                                "cannot reload the TLS certificate; keeping the one in use"
                            ),
                        }
                    }
                    continue;
                }
                if stopping || shutdown_delay.is_zero() {
                    // A second signal skips the rest of the delay.
                    tracing::info!(signal, "signal received; shutting down");
                    stop_lifecycle.stop();
                    crate::systemd::stopping();
                    handle.shutdown();
                    continue;
                }
                stopping = true;
                tracing::info!(
                    signal,
                    delay = ?shutdown_delay,
                    "signal received; unhealthy now, shutting down after the delay"
                );
                stop_lifecycle.stop();
                crate::systemd::stopping();
                let later = handle.clone();
                let _ = std::thread::Builder::new()
                    .name("lido-shutdown-delay".into())
                    .spawn(move || {
                        std::thread::sleep(shutdown_delay);
                        later.shutdown();
                    });
            }
        })?;

    let mut stdout = std::io::stdout();
    // A closed stdout must not stop the server; the addresses are also logged.
    let mut addrs = server.local_addrs().iter();
    if let Some(first) = addrs.next() {
        let _ = writeln!(
            stdout,
            "lido: serving {} on {scheme}://{first}",
            cli.root.display()
        );
    }
    for addr in addrs {
        let _ = writeln!(stdout, "lido: also on {scheme}://{addr}");
    }
    let redirect_thread = match redirect {
        Some(redirect) => {
            for addr in redirect.local_addrs() {
                let _ = writeln!(stdout, "lido: redirecting http://{addr} to https");
            }
            let redirect_handle = redirect.shutdown_handle();
            let thread = std::thread::Builder::new()
                .name("lido-redirect".into())
                .spawn(move || redirect.run())?;
            Some((redirect_handle, thread))
        }
        None => None,
    };
    let admin_thread = match admin {
        Some(admin) => {
            for addr in admin.local_addrs() {
                let _ = writeln!(
                    stdout,
                    "lido: admin on http://{addr} (/healthz, /readyz, /metrics)"
                );
            }
            let admin_handle = admin.shutdown_handle();
            let thread = std::thread::Builder::new()
                .name("lido-admin".into())
                .spawn(move || admin.run())?;
            Some((admin_handle, thread))
        }
        None => None,
    };
    let _ = writeln!(
        stdout,
        "lido: Ctrl-C stops (requests in flight finish first)"
    );
    let _ = stdout.flush();
    crate::systemd::ready();
    let result = server.run();
    for (name, side) in [("admin", admin_thread), ("redirect", redirect_thread)] {
        if let Some((side_handle, thread)) = side {
            side_handle.shutdown();
            match thread.join() {
                Ok(Err(e)) => tracing::warn!(error = %e, "the {name} server failed"),
                Err(_) => tracing::warn!("the {name} server panicked"),
                Ok(Ok(())) => {}
            }
        }
    }
    // `run` consumed the server and its hook: the logger drains and stops.
    if let Some(logger) = logger {
        logger.finish();
    }
    result?;
    Ok(())
}
