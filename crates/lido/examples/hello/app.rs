//! The handler of the `hello` example, shared with its integration test.

use std::time::Duration;

use lido::Handler;
use lido::http::{Method, Request, Response, StatusCode};

const HELLO: &str = include_str!("hello.html");
const NOT_FOUND: &str = include_str!("404.html");

/// `/` -> hello.html, `/sleep` -> hello.html after `sleep`, other GETs -> 404.html.
pub(crate) fn app(sleep: Duration) -> impl Handler {
    move |request: &Request| match (request.method(), request.path()) {
        (&Method::GET, "/") => Response::html(StatusCode::OK, HELLO),
        (&Method::GET, "/sleep") => {
            std::thread::sleep(sleep);
            Response::html(StatusCode::OK, HELLO)
        }
        (&Method::GET, _) => Response::html(StatusCode::NOT_FOUND, NOT_FOUND),
        _ => lido::method_not_allowed(&[Method::GET]),
    }
}
