//! A handler with a small router: match on the method and the path, take path parameters by
//! hand, read the body and the client's address, set headers per response.
//!
//! ```text
//! cargo run --example router [ADDR]
//! curl -i localhost:7878/users/7
//! curl -i -X POST --data 'ada' localhost:7878/users
//! ```

use std::sync::Mutex;

use lido::http::{Method, Request, Response, StatusCode};

/// The users, by id: the state a handler shares between workers sits behind a lock.
#[derive(Debug, Default)]
pub(crate) struct Users(Mutex<Vec<String>>);

impl lido::Handler for Users {
    fn handle(&self, request: &Request) -> Response {
        let segments: Vec<&str> = request.path().trim_matches('/').split('/').collect();
        let response = match (request.method(), segments.as_slice()) {
            (&Method::GET, [""]) => Response::text(StatusCode::OK, "try /users/0\n"),
            (&Method::GET, ["users"]) => {
                let users = self.0.lock().unwrap_or_else(|e| e.into_inner());
                Response::text(StatusCode::OK, format!("{} users\n", users.len()))
            }
            (&Method::GET, ["users", id]) => match id.parse::<usize>() {
                Ok(id) => {
                    let users = self.0.lock().unwrap_or_else(|e| e.into_inner());
                    match users.get(id) {
                        Some(name) => Response::text(StatusCode::OK, format!("{name}\n")),
                        None => Response::text(StatusCode::NOT_FOUND, "no such user\n"),
                    }
                }
                Err(_) => Response::text(StatusCode::BAD_REQUEST, "the id is a number\n"),
            },
            (&Method::POST, ["users"]) => match std::str::from_utf8(request.body()) {
                Ok(name) if !name.trim().is_empty() => {
                    let mut users = self.0.lock().unwrap_or_else(|e| e.into_inner());
                    users.push(name.trim().to_owned());
                    let id = users.len() - 1;
                    Response::text(StatusCode::CREATED, format!("{id}\n"))
                        .with_header("Location", format!("/users/{id}"))
                }
                _ => Response::text(StatusCode::BAD_REQUEST, "send a name as the body\n"),
            },
            (_, ["users"]) => lido::method_not_allowed(&[Method::GET, Method::POST]),
            (_, ["users", _]) => lido::method_not_allowed(&[Method::GET]),
            _ => Response::text(StatusCode::NOT_FOUND, "not found\n"),
        };
        // Per-response headers: who asked, and how long the answer took.
        let client = request
            .remote_addr()
            .map_or_else(|| "-".to_owned(), |a| a.ip().to_string());
        let took = request.received_at().elapsed().as_secs_f64() * 1e3;
        response
            .with_header("X-Client", client)
            .with_header("Server-Timing", format!("app;dur={took:.3}"))
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| lido::DEFAULT_LISTEN.to_owned());
    let server = lido::Server::builder()
        .listen(addr)
        .bind(Users::default())?;
    println!("listening on http://{}", server.local_addr());
    server.run()?;
    Ok(())
}
