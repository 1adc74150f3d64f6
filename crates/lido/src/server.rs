//! `ServerBuilder` -> `Server`: bind, serve a [`Handler`] until shut down.

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};

use socket2::{Domain, Protocol, Socket, Type};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use lido_pool::ThreadPool;

use crate::stats::Stats;

use crate::config::Config;
use crate::conn::Ctx;
use crate::engine::{Engine, Running, Stopper};
use crate::error::ServerError;
use crate::exchange::{Exchange, ResponseHook};
use crate::handler::Handler;

/// How long `run` waits for workers still busy after the drain, before returning anyway.
const POOL_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Configures a [`Server`]. Every limit and timeout has a documented default.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use lido::http::{Response, StatusCode};
///
/// let server = lido::Server::builder()
///     .listen("127.0.0.1:0")
///     .threads(2)
///     .queue_capacity(64)
///     .keep_alive_timeout(Duration::from_secs(2))
///     .bind(|_req: &lido::http::Request| Response::text(StatusCode::OK, "hi"))?;
/// assert_ne!(server.local_addr().port(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default)]
#[must_use = "a builder does nothing until bind() is called"]
pub struct ServerBuilder {
    /// The address to bind; `None`: the default, unless listeners were given.
    listen: Option<String>,
    listeners: Vec<TcpListener>,
    reuse_port: bool,
    threads: Option<usize>,
    queue_capacity: Option<usize>,
    engine: Engine,
    config: Config,
    on_response: Option<Arc<ResponseHook>>,
    wrap: crate::transport::Wrap,
}

impl Clone for ServerBuilder {
    /// Clones the configuration; sockets given with [`ServerBuilder::listener`] are duplicated
    /// (`dup`), and left out if that fails.
    fn clone(&self) -> Self {
        Self {
            listen: self.listen.clone(),
            listeners: self
                .listeners
                .iter()
                .filter_map(|l| l.try_clone().ok())
                .collect(),
            reuse_port: self.reuse_port,
            threads: self.threads,
            queue_capacity: self.queue_capacity,
            engine: self.engine,
            config: self.config.clone(),
            on_response: self.on_response.clone(),
            wrap: self.wrap.clone(),
        }
    }
}

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("listen", &self.listen)
            .field("listeners", &self.listeners.len())
            .field("reuse_port", &self.reuse_port)
            .field("threads", &self.threads)
            .field("queue_capacity", &self.queue_capacity)
            .field("engine", &self.engine)
            .field("config", &self.config)
            .field("on_response", &self.on_response.is_some())
            .field("wrap", &self.wrap)
            .finish()
    }
}

/// The longest timeout or deadline: `Instant + Duration` must not overflow.
const MAX_TIMEOUT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

macro_rules! duration_setter {
    ($(#[$doc:meta])* $name:ident, $default:ident) => {
        $(#[$doc])*
        #[doc = concat!("By default, [`", stringify!($default), "`](crate::", stringify!($default), ").")]
        /// Longer than 100 years counts as 100 years (a deadline must stay a time the clock
        /// can reach).
        ///
        /// # Examples
        ///
        /// ```
        /// use std::time::Duration;
        #[doc = concat!("let builder = lido::Server::builder().", stringify!($name), "(Duration::from_secs(3));")]
        /// ```
        pub fn $name(mut self, timeout: Duration) -> Self {
            self.config.$name = timeout.min(MAX_TIMEOUT);
            self
        }
    };
}

impl ServerBuilder {
    /// Sets the address to listen on (`host:port`; port 0 picks a free port). By default,
    /// [`DEFAULT_LISTEN`](crate::DEFAULT_LISTEN).
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = lido::Server::builder().listen("[::1]:0");
    /// ```
    pub fn listen(mut self, addr: impl Into<String>) -> Self {
        self.listen = Some(addr.into());
        self
    }

    /// Serves on a socket that is already bound and listening (from systemd's socket
    /// activation, say); may be called several times, for several sockets. With listeners
    /// given, the default address is not bound (an address set with
    /// [`ServerBuilder::listen`] still is).
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = socket.local_addr()?;
    /// let server = lido::Server::builder()
    ///     .listener(socket)
    ///     .bind(|_: &lido::http::Request| lido::http::Response::new(lido::http::StatusCode::OK))?;
    /// assert_eq!(server.local_addr(), addr);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn listener(mut self, listener: TcpListener) -> Self {
        self.listeners.push(listener);
        self
    }

    /// Binds with `SO_REUSEPORT` (Linux, BSDs): a second server can bind the same address
    /// while this one runs, and the kernel spreads new connections between them. A new
    /// version starts beside the old one, the old one gets a graceful shutdown (which serves
    /// the clients already in its backlog, then closes its socket), and no connection is
    /// refused in between. On Linux that needs `net.ipv4.tcp_migrate_req = 1` too (else the
    /// kernel resets the connections that reach the old socket in the instant it closes; a
    /// warning says so at bind). By default, off.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = lido::Server::builder().reuse_port(true);
    /// ```
    pub fn reuse_port(mut self, yes: bool) -> Self {
        self.reuse_port = yes;
        self
    }

    /// Sets the number of worker threads. By default, the number of CPUs.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = lido::Server::builder().threads(4);
    /// ```
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Sets how many ready connections may wait for a worker; past it, new work gets `503`.
    /// By default, [`DEFAULT_QUEUE_PER_THREAD`](crate::DEFAULT_QUEUE_PER_THREAD) × threads.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = lido::Server::builder().queue_capacity(128);
    /// ```
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = Some(capacity);
        self
    }

    /// Sets the connection engine. By default, [`Engine::default`]: leader/followers on
    /// Linux, the reactor elsewhere.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = lido::Server::builder().engine(lido::Engine::Reactor);
    /// ```
    pub fn engine(mut self, engine: Engine) -> Self {
        self.engine = engine;
        self
    }

    duration_setter!(
        /// Sets how long a whole request head may take to arrive.
        head_timeout, DEFAULT_HEAD_TIMEOUT
    );
    duration_setter!(
        /// Sets how long an idle keep-alive connection is kept.
        keep_alive_timeout, DEFAULT_KEEP_ALIVE_TIMEOUT
    );
    duration_setter!(
        /// Sets how long a request body may go without progress.
        body_timeout, DEFAULT_BODY_TIMEOUT
    );
    duration_setter!(
        /// Sets how long a whole request body may take to arrive after its head.
        body_deadline, DEFAULT_BODY_DEADLINE
    );
    duration_setter!(
        /// Sets how long a request body or a response may stay below the minimum data rate
        /// at its start.
        min_rate_grace, DEFAULT_MIN_RATE_GRACE
    );

    /// Sets the minimum average rate, in bytes a second, of request bodies and of responses
    /// once their grace period has passed; slower ones are cut (`408` for a body). 0 turns
    /// it off. By default, [`DEFAULT_MIN_DATA_RATE`](crate::DEFAULT_MIN_DATA_RATE).
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = lido::Server::builder().min_data_rate(1024);
    /// ```
    pub fn min_data_rate(mut self, bytes_per_second: u64) -> Self {
        self.config.min_data_rate = bytes_per_second;
        self
    }

    duration_setter!(
        /// Sets how long a response may go without the client reading any of it.
        write_timeout, DEFAULT_WRITE_TIMEOUT
    );
    duration_setter!(
        /// Sets how long a graceful shutdown lets in-flight exchanges finish.
        drain_timeout, DEFAULT_DRAIN_TIMEOUT
    );
    duration_setter!(
        /// Sets how long unread input is discarded after an error response before closing.
        linger_timeout, DEFAULT_LINGER_TIMEOUT
    );

    /// Sets the largest request body accepted, in bytes (larger gets `413`). By default,
    /// [`DEFAULT_MAX_BODY`](crate::DEFAULT_MAX_BODY).
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = lido::Server::builder().max_body(64 * 1024);
    /// ```
    pub fn max_body(mut self, bytes: u64) -> Self {
        self.config.max_body = bytes;
        self
    }

    /// Sets the size past which a request body waits for its handler in a temporary file
    /// instead of memory, in bytes. By default,
    /// [`DEFAULT_SPOOL_THRESHOLD`](crate::DEFAULT_SPOOL_THRESHOLD).
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = lido::Server::builder().spool_bodies_over(1024 * 1024);
    /// ```
    pub fn spool_bodies_over(mut self, bytes: usize) -> Self {
        self.config.body_spool_threshold = bytes;
        self
    }

    /// Sets how many bytes of request bodies may be held in memory across every connection;
    /// a body that would pass it gets `503` and its connection is closed. By default,
    /// [`DEFAULT_MAX_BODY_MEMORY`](crate::DEFAULT_MAX_BODY_MEMORY).
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = lido::Server::builder().max_body_memory(16 * 1024 * 1024);
    /// ```
    pub fn max_body_memory(mut self, bytes: usize) -> Self {
        self.config.max_body_memory = bytes;
        self
    }

    /// Sets how many requests one connection may make before it is closed. By default,
    /// [`DEFAULT_MAX_REQUESTS_PER_CONNECTION`](crate::DEFAULT_MAX_REQUESTS_PER_CONNECTION).
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = lido::Server::builder().max_requests_per_connection(100);
    /// ```
    pub fn max_requests_per_connection(mut self, requests: u32) -> Self {
        self.config.max_requests_per_connection = requests.max(1);
        self
    }

    /// Sets how many connections may be open at once. At the limit a new client still gets
    /// in when an idle keep-alive connection, or else the oldest one whose request head is not
    /// complete, gives up its place; only when every connection has a request in progress
    /// does the server stop accepting (clients wait in the listen backlog) until one closes.
    /// By default, [`DEFAULT_MAX_CONNECTIONS`](crate::DEFAULT_MAX_CONNECTIONS).
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = lido::Server::builder().max_connections(1000);
    /// ```
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.config.max_connections = connections.max(1);
        self
    }

    /// Sets how many connections one client address may have open at once; a connection
    /// past it is closed as soon as it is accepted. By default there is no such limit: many
    /// legitimate clients share one address (a proxy, a load balancer, a NAT), and the
    /// connection limit with eviction already keeps one client from locking others out.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = lido::Server::builder().max_connections_per_ip(64);
    /// ```
    pub fn max_connections_per_ip(mut self, connections: usize) -> Self {
        self.config.max_connections_per_ip = Some(connections.max(1));
        self
    }

    /// Sets a function called for every response, with what an access log needs (see
    /// [`Exchange`]). By default there is none. It runs before the response is written: on the
    /// worker for a handler's response, and for a response the engine makes itself (a `400`,
    /// a `408`, a `503` while every worker is busy) possibly on the engine's own event thread.
    /// So it must be quick and must never block: queue the line and write it elsewhere, as the
    /// `lido` binary's access log does.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = lido::Server::builder()
    ///     .on_response(|x: &lido::Exchange<'_>| eprintln!("{} {}", x.status, x.body_bytes));
    /// ```
    pub fn on_response<F>(mut self, hook: F) -> Self
    where
        F: Fn(&Exchange<'_>) + Send + Sync + 'static,
    {
        self.on_response = Some(Arc::new(hook));
        self
    }

    /// Serves HTTPS: every connection of this server speaks TLS with `tls`'s certificate.
    /// The handshake runs in the engine under the head timeout (like a request head), never
    /// waiting on the network on a worker; every limit, deadline and the drain apply as over
    /// plain TCP. A client speaking plain HTTP to the port gets a clear-text `400`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let tls = lido::TlsConfig::from_pem_files("cert.pem", "key.pem")?;
    /// let builder = lido::Server::builder().listen("0.0.0.0:8443").tls(tls);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, tls: crate::TlsConfig) -> Self {
        self.wrap.tls = Some(tls);
        self
    }

    /// Binds the listener and starts the worker pool; [`Server::run`] then serves.
    ///
    /// # Errors
    ///
    /// [`ServerError`] if the address does not resolve, cannot be bound, or the pool cannot
    /// start.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Request, Response, StatusCode};
    ///
    /// let server = lido::Server::builder()
    ///     .listen("127.0.0.1:0")
    ///     .bind(|_: &Request| Response::new(StatusCode::NO_CONTENT))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bind<H: Handler>(self, handler: H) -> Result<Server, ServerError> {
        let mut listeners = self.listeners;
        let listen = match self.listen {
            Some(addr) => Some(addr),
            None if listeners.is_empty() => Some(crate::DEFAULT_LISTEN.to_owned()),
            None => None,
        };
        if let Some(listen) = listen {
            let addrs: Vec<SocketAddr> = listen
                .to_socket_addrs()
                .map_err(|source| ServerError::Resolve {
                    addr: listen.clone(),
                    source,
                })?
                .collect();
            let listener =
                bind_listener(&addrs, self.reuse_port).map_err(|source| ServerError::Bind {
                    addr: listen.clone(),
                    source,
                })?;
            listeners.insert(0, listener);
            if self.reuse_port {
                warn_if_requests_are_not_migrated();
            }
        }
        // Accepted sockets inherit TCP_NODELAY from their listener (see `bind_listener`);
        // sockets handed over ready-made get it too.
        for listener in &listeners {
            let _ = socket2::SockRef::from(listener).set_nodelay(true);
        }
        if listeners.len() > crate::engine::MAX_LISTENERS {
            return Err(ServerError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} listening sockets, more than the {} a server takes",
                    listeners.len(),
                    crate::engine::MAX_LISTENERS
                ),
            )));
        }
        let threads = self.threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        let capacity = self
            .queue_capacity
            .unwrap_or_else(|| threads.saturating_mul(crate::DEFAULT_QUEUE_PER_THREAD));
        let pool = ThreadPool::builder()
            .thread_name("lido-worker")
            .threads(threads);
        // The reactor queues complete requests in the pool; leader/followers runs one loop per
        // worker there and queues them in its own overflow queue of the same capacity.
        let pool = match self.engine {
            Engine::Reactor => pool.queue_capacity(capacity),
            _ => pool.queue_capacity(threads),
        };
        let pool = Arc::new(pool.build().map_err(ServerError::Pool)?);
        let max_body_memory = self.config.max_body_memory;
        let recorder = Arc::new(crate::stats::Recorder::new(threads));
        let body_budget = Arc::new(crate::conn::spool::BodyBudget::new(max_body_memory));
        let stats = Stats::new(
            Arc::clone(&recorder),
            Arc::clone(&pool),
            Arc::clone(&body_budget),
        );
        let ctx = Arc::new(Ctx {
            handler: Box::new(handler),
            on_response: self.on_response,
            config: self.config,
            draining: AtomicBool::new(false),
            body_budget,
            park_when_drained: self.engine == Engine::LeaderFollowers,
            stats: recorder,
            wrap: self.wrap,
        });
        let engine = Running::start(self.engine, listeners, Arc::clone(&pool), ctx, capacity)
            .map_err(ServerError::Io)?;
        let local_addrs = engine.local_addrs().to_vec();
        Ok(Server {
            engine,
            pool,
            local_addrs,
            stats,
        })
    }
}

/// Pending connections the kernel may queue before `accept` (the kernel caps it at
/// `net.core.somaxconn`). std's default of 128 makes bursts of clients wait for SYN retries.
const LISTEN_BACKLOG: i32 = 4096;

/// Binds the first address that works, with `SO_REUSEADDR` (and `SO_REUSEPORT` if asked) and
/// a deep backlog.
/// With `SO_REUSEPORT`, Linux resets the connections still queued on a socket when it closes
/// (a server leaving the group), unless `net.ipv4.tcp_migrate_req` (Linux 5.14) moves them to
/// another socket of the group. Says so when it is off.
fn warn_if_requests_are_not_migrated() {
    #[cfg(target_os = "linux")]
    if std::fs::read_to_string("/proc/sys/net/ipv4/tcp_migrate_req")
        .is_ok_and(|value| value.trim() == "0")
    {
        tracing::warn!(
            "net.ipv4.tcp_migrate_req is 0: a server sharing this port resets the clients \
             still queued on its socket when it closes; set it to 1 for restarts that lose \
             no connection"
        );
    }
}

fn bind_listener(addrs: &[SocketAddr], reuse_port: bool) -> io::Result<TcpListener> {
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to listen on");
    for addr in addrs {
        let attempt = (|| {
            let socket = Socket::new(
                Domain::for_address(*addr),
                Type::STREAM,
                Some(Protocol::TCP),
            )?;
            if addr.is_ipv6() {
                socket.set_only_v6(true)?;
            }
            socket.set_reuse_address(true)?;
            #[cfg(unix)]
            if reuse_port {
                socket.set_reuse_port(true)?;
            }
            #[cfg(not(unix))]
            if reuse_port {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "SO_REUSEPORT is not available here",
                ));
            }
            // Accepted sockets inherit it (Linux, BSDs): no setsockopt per connection. A
            // response head and its file body are coalesced with MSG_MORE instead of Nagle.
            socket.set_nodelay(true)?;
            socket.bind(&(*addr).into())?;
            socket.listen(LISTEN_BACKLOG)?;
            Ok::<_, io::Error>(TcpListener::from(socket))
        })();
        match attempt {
            Ok(listener) => return Ok(listener),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A bound HTTP/1.1 server. [`Server::run`] serves until a [`ShutdownHandle`] (or a signal the
/// binary wires to one) stops it.
///
/// # Examples
///
/// ```
/// use lido::http::{Request, Response, StatusCode};
///
/// let server = lido::Server::builder()
///     .listen("127.0.0.1:0")
///     .bind(|_: &Request| Response::text(StatusCode::OK, "hello\n"))?;
/// let handle = server.shutdown_handle();
/// let addr = server.local_addr();
/// let thread = std::thread::spawn(move || server.run());
///
/// use std::io::{Read, Write};
/// let mut stream = std::net::TcpStream::connect(addr)?;
/// stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
/// let mut response = String::new();
/// stream.read_to_string(&mut response)?;
/// assert!(response.starts_with("HTTP/1.1 200 OK\r\n"));
/// assert!(response.ends_with("\r\n\r\nhello\n"));
///
/// handle.shutdown();
/// thread.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Server {
    engine: Running,
    pool: Arc<ThreadPool>,
    local_addrs: Vec<SocketAddr>,
    stats: Stats,
}

impl Server {
    /// Returns a builder.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = lido::Server::builder().listen("127.0.0.1:0");
    /// ```
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The server's counters (requests, durations, connections, refusals, timeouts, the
    /// pool's): a handle that stays valid after [`Server::run`] took the server, for a
    /// metrics endpoint or a test.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Request, Response, StatusCode};
    ///
    /// let server = lido::Server::builder()
    ///     .listen("127.0.0.1:0")
    ///     .bind(|_: &Request| Response::new(StatusCode::OK))?;
    /// let stats = server.stats();
    /// assert_eq!(stats.snapshot().connections_total, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stats(&self) -> Stats {
        self.stats.clone()
    }

    /// The address the server listens on (with the real port when bound to port 0).
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Request, Response, StatusCode};
    ///
    /// let server = lido::Server::builder()
    ///     .listen("127.0.0.1:0")
    ///     .bind(|_: &Request| Response::new(StatusCode::OK))?;
    /// assert!(server.local_addr().ip().is_loopback());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addrs[0]
    }

    /// Every address the server listens on: the bound one first, then those of the
    /// sockets given with [`ServerBuilder::listener`].
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Request, Response, StatusCode};
    ///
    /// let extra = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let server = lido::Server::builder()
    ///     .listen("127.0.0.1:0")
    ///     .listener(extra)
    ///     .bind(|_: &Request| Response::new(StatusCode::OK))?;
    /// assert_eq!(server.local_addrs().len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// A handle that stops the server gracefully from any thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Request, Response, StatusCode};
    ///
    /// let server = lido::Server::builder()
    ///     .listen("127.0.0.1:0")
    ///     .bind(|_: &Request| Response::new(StatusCode::OK))?;
    /// let handle = server.shutdown_handle();
    /// handle.shutdown(); // before run: run returns at once
    /// server.run()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            stopper: self.engine.stopper(),
        }
    }

    /// Serves until shut down: then stops accepting, closes idle connections, lets in-flight
    /// requests and responses finish (up to the drain timeout) and stops the workers.
    ///
    /// # Errors
    ///
    /// [`ServerError::Io`] if the poller fails.
    ///
    /// # Examples
    ///
    /// See [`Server`].
    pub fn run(self) -> Result<(), ServerError> {
        for addr in &self.local_addrs {
            tracing::info!(%addr, "listening");
        }
        let result = self.engine.run().map_err(ServerError::Io);
        if !self.pool.shutdown_timeout(POOL_STOP_TIMEOUT) {
            tracing::warn!("workers still busy after shutdown; leaving them behind");
        }
        result
    }
}

/// Stops a [`Server`] gracefully. Cheap to clone and `Send`.
///
/// # Examples
///
/// See [`Server::shutdown_handle`].
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    stopper: Stopper,
}

impl ShutdownHandle {
    /// Begins a graceful shutdown; [`Server::run`] returns when it is done.
    ///
    /// # Examples
    ///
    /// See [`Server::shutdown_handle`].
    pub fn shutdown(&self) {
        self.stopper.stop();
    }
}
