//! systemd: sockets passed by socket activation (`LISTEN_FDS`, `LISTEN_FDNAMES`), and the
//! `Type=notify` protocol (`READY=1` once serving, `STOPPING=1` when the drain begins).
//!
//! Outside systemd (no `LISTEN_FDS`, no `NOTIFY_SOCKET`) both do nothing.

use std::net::TcpListener;

/// The name (`FileDescriptorName=` in the `.socket` unit) of a socket meant for the admin
/// endpoints rather than the site.
pub(crate) const ADMIN_SOCKET_NAME: &str = "admin";

/// Sockets passed by the service manager.
#[derive(Debug, Default)]
pub(crate) struct Activated {
    /// For the site.
    pub(crate) site: Vec<TcpListener>,
    /// Named `admin`: for `--admin`'s endpoints.
    pub(crate) admin: Option<TcpListener>,
}

/// Takes the sockets systemd passed, if any. Must run before any other thread starts (it
/// clears `LISTEN_FDS` and `LISTEN_PID`, so child processes do not see them).
pub(crate) fn activated_sockets() -> Result<Activated, String> {
    let names: Vec<String> = std::env::var("LISTEN_FDNAMES")
        .map(|names| names.split(':').map(str::to_owned).collect())
        .unwrap_or_default();
    let mut fds = listenfd::ListenFd::from_env();
    let mut activated = Activated::default();
    for index in 0..fds.len() {
        let name = names.get(index).map_or("", String::as_str);
        let listener = match fds.take_tcp_listener(index) {
            Ok(Some(listener)) => listener,
            Ok(None) => continue,
            Err(e) => {
                return Err(format!(
                    "socket {} passed by the service manager ({}): {e}; lido takes TCP \
                     listening sockets only",
                    index + 3,
                    if name.is_empty() { "unnamed" } else { name }
                ));
            }
        };
        if name == ADMIN_SOCKET_NAME {
            if activated.admin.is_some() {
                return Err(format!(
                    "the service manager passed more than one socket named {ADMIN_SOCKET_NAME:?}"
                ));
            }
            activated.admin = Some(listener);
        } else {
            activated.site.push(listener);
        }
    }
    Ok(activated)
}

/// Tells the service manager the server is ready (`Type=notify`).
pub(crate) fn ready() {
    if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
        tracing::warn!(error = %e, "could not tell systemd we are ready");
    }
}

/// Tells the service manager the server is stopping.
pub(crate) fn stopping() {
    if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Stopping]) {
        tracing::warn!(error = %e, "could not tell systemd we are stopping");
    }
}
