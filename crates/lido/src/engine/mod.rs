//! Connection engines: how connections meet threads. See docs/DESIGN.md for the models that
//! were measured and why the default won.

#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) mod lf;
pub(crate) mod peers;
pub(crate) mod reactor;

use std::sync::Arc;

/// How connections meet worker threads. Every engine serves the same
/// [`Handler`](crate::Handler) with the same limits, deadlines, `503` shedding and graceful drain; they
/// differ in how a ready connection reaches a worker. docs/DESIGN.md has the measurements.
///
/// # Examples
///
/// ```
/// use lido::Engine;
///
/// let builder = lido::Server::builder().engine(Engine::Reactor);
/// assert!(Engine::default().is_available());
/// assert_eq!("reactor".parse::<Engine>()?, Engine::Reactor);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Engine {
    /// Leader/followers (Linux; the default there): every worker waits on one shared epoll set
    /// (connections registered once, edge-triggered) and serves the connection whose event it
    /// took, start to finish. No hand-off per request; a slow handler holds only its own
    /// thread.
    #[cfg_attr(any(target_os = "linux", target_os = "android"), default)]
    LeaderFollowers,
    /// One reactor thread (mio: epoll, kqueue) owns every waiting connection and hands
    /// complete requests to the pool's workers, which hand the connection back when it would
    /// block. Portable: the default where leader/followers is not available.
    #[cfg_attr(not(any(target_os = "linux", target_os = "android")), default)]
    Reactor,
}

/// Most listening sockets one server takes (several addresses, or systemd's sockets).
pub(crate) const MAX_LISTENERS: usize = 64;

/// Starts a graceful shutdown of whichever engine made it.
#[derive(Clone)]
pub(crate) struct Stopper(Arc<dyn Fn() + Send + Sync>);

impl Stopper {
    pub(crate) fn new(stop: impl Fn() + Send + Sync + 'static) -> Self {
        Self(Arc::new(stop))
    }

    pub(crate) fn stop(&self) {
        (self.0)();
    }
}

impl std::fmt::Debug for Stopper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stopper")
    }
}

impl Engine {
    /// Every engine, in order of preference.
    pub const ALL: [Engine; 2] = [Engine::LeaderFollowers, Engine::Reactor];

    /// The engine's name, as [`FromStr`](std::str::FromStr) reads it.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(lido::Engine::LeaderFollowers.name(), "leader-followers");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Engine::LeaderFollowers => "leader-followers",
            Engine::Reactor => "reactor",
        }
    }

    /// Whether this build can run the engine on this operating system.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(lido::Engine::Reactor.is_available());
    /// ```
    pub fn is_available(self) -> bool {
        match self {
            Engine::LeaderFollowers => cfg!(any(target_os = "linux", target_os = "android")),
            Engine::Reactor => true,
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An engine name that is not one of [`Engine::ALL`].
///
/// # Examples
///
/// ```
/// let err = "threads".parse::<lido::Engine>().unwrap_err();
/// assert_eq!(err.to_string(), "unknown engine 'threads' (leader-followers, reactor)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown engine '{0}' (leader-followers, reactor)")]
pub struct UnknownEngine(String);

impl std::str::FromStr for Engine {
    type Err = UnknownEngine;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Engine::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| UnknownEngine(s.to_owned()))
    }
}

/// The engine a server runs, built.
#[derive(Debug)]
pub(crate) enum Running {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    LeaderFollowers(lf::Engine),
    Reactor(Box<reactor::Reactor>),
}

impl Running {
    pub(crate) fn start(
        engine: Engine,
        listeners: Vec<std::net::TcpListener>,
        pool: Arc<lido_pool::ThreadPool>,
        ctx: Arc<crate::conn::Ctx>,
        queue_capacity: usize,
    ) -> std::io::Result<Self> {
        match engine {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Engine::LeaderFollowers => Ok(Running::LeaderFollowers(lf::Engine::new(
                listeners,
                pool,
                ctx,
                queue_capacity,
            )?)),
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            Engine::LeaderFollowers => Err({
                let _ = queue_capacity; // the reactor's queue is the pool's
                std::io::Error::new(
                    std::io::ErrorKind::Unsupported,
                    "the leader-followers engine needs Linux",
                )
            }),
            Engine::Reactor => Ok(Running::Reactor(Box::new(reactor::Reactor::new(
                listeners, pool, ctx,
            )?))),
        }
    }

    pub(crate) fn local_addrs(&self) -> &[std::net::SocketAddr] {
        match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Running::LeaderFollowers(e) => e.local_addrs(),
            Running::Reactor(r) => r.local_addrs(),
        }
    }

    pub(crate) fn stopper(&self) -> Stopper {
        match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Running::LeaderFollowers(e) => e.stopper(),
            Running::Reactor(r) => r.stopper(),
        }
    }

    pub(crate) fn run(self) -> std::io::Result<()> {
        match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Running::LeaderFollowers(e) => e.run(),
            Running::Reactor(r) => (*r).run(),
        }
    }
}
