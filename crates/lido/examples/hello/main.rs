//! The final project of *The Rust Programming Language*, rebuilt on lido: `/` serves
//! hello.html, `/sleep` sleeps five seconds, anything else gets 404.html; 4 workers on
//! 127.0.0.1:7878.
//!
//! Unlike the book's server, four `/sleep` requests do not freeze it for idle or half-sent
//! connections: those wait in the reactor, not on a worker.
//!
//! ```text
//! cargo run --example hello [ADDR] [SLEEP_MS]
//! ```
//! `ADDR` defaults to 127.0.0.1:7878 (port 0 picks one; the address is printed), `SLEEP_MS`
//! to 5000.

use std::time::Duration;

mod app;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args
        .next()
        .unwrap_or_else(|| lido::DEFAULT_LISTEN.to_owned());
    let sleep = match args.next() {
        Some(ms) => Duration::from_millis(ms.parse().map_err(|_| format!("bad SLEEP_MS: {ms}"))?),
        None => Duration::from_secs(5),
    };
    let server = lido::Server::builder()
        .listen(addr)
        .threads(4)
        .bind(app::app(sleep))?;
    println!("listening on http://{}", server.local_addr());
    server.run()?;
    Ok(())
}
