//! Static files and an API on one server: `/api/...` is answered by code, everything else
//! comes from a directory (with its listing, ranges, caching and `304`s).
//!
//! ```text
//! cargo run --example site [DIR] [ADDR]
//! curl localhost:7878/api/time
//! curl localhost:7878/index.html
//! ```

use std::time::SystemTime;

use lido::http::{Method, Request, Response, StatusCode};
use lido::{Handler, StaticFiles};

/// Routes `/api/` to the API and the rest to the files.
#[derive(Debug)]
pub(crate) struct Site {
    /// The directory served at `/`.
    pub(crate) files: StaticFiles,
}

impl Handler for Site {
    fn handle(&self, request: &Request) -> Response {
        match (request.method(), request.path()) {
            (&Method::GET, "/api/time") => {
                let secs = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                Response::bytes(
                    StatusCode::OK,
                    "application/json",
                    format!("{{\"unix\":{secs}}}\n").into_bytes(),
                )
                .with_header("Cache-Control", "no-store")
            }
            (_, path) if path.starts_with("/api/") => {
                Response::text(StatusCode::NOT_FOUND, "no such API\n")
            }
            _ => self.files.handle(request),
        }
    }

    /// The files answer from the request's head alone (a `POST` to a file gets its `405`
    /// without waiting for the body); the API waits for whole requests.
    fn handle_head(&self, head: &Request) -> Option<Response> {
        if head.path().starts_with("/api/") {
            None
        } else {
            self.files.handle_head(head)
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| ".".to_owned());
    let addr = args
        .next()
        .unwrap_or_else(|| lido::DEFAULT_LISTEN.to_owned());
    let files = StaticFiles::new(&dir).map_err(|e| format!("cannot serve {dir}: {e}"))?;
    let server = lido::Server::builder().listen(addr).bind(Site { files })?;
    println!("serving {dir} and /api/ on http://{}", server.local_addr());
    server.run()?;
    Ok(())
}
