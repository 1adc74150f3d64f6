//! Several listening sockets per server, sockets handed over ready-made, and `SO_REUSEPORT`:
//! a new server starts beside the old one and the old one drains, with no failed request.

mod support;

use std::net::TcpListener;
use std::time::Duration;

use lido::http::{Request, Response, StatusCode};
use support::{TestServer, handover, wait_until};

/// Answers with `name`, so a client can tell which server answered.
fn named(name: &'static str) -> impl Fn(&Request) -> Response + Send + Sync + 'static {
    move |_: &Request| Response::new(StatusCode::OK).with_body(name.into())
}

#[test]
fn a_server_serves_every_socket_it_is_given() {
    let first = TcpListener::bind("127.0.0.1:0").expect("bind");
    let second = TcpListener::bind("127.0.0.1:0").expect("bind");
    let given = [
        first.local_addr().expect("addr"),
        second.local_addr().expect("addr"),
    ];
    let server = lido::Server::builder()
        .engine(support::engine())
        .threads(2)
        .listener(first)
        .listener(second)
        .bind(named("one"))
        .expect("bind");
    assert_eq!(server.local_addrs(), given);
    assert_eq!(server.local_addr(), given[0]);
    let handle = server.shutdown_handle();
    let thread = std::thread::spawn(move || server.run());
    for addr in given {
        assert_eq!(handover::get_once(addr), Ok("one".to_owned()), "on {addr}");
    }
    handle.shutdown();
    wait_until(Duration::from_secs(10), "the server to stop", || {
        thread.is_finished()
    });
    thread
        .join()
        .expect("the server thread")
        .expect("Server::run");
    // Both sockets were closed by the drain.
    for addr in given {
        assert!(handover::get_once(addr).is_err(), "{addr} still answers");
    }
}

#[test]
fn an_address_and_given_sockets_together() {
    let given = TcpListener::bind("127.0.0.1:0").expect("bind");
    let given_addr = given.local_addr().expect("addr");
    let server = TestServer::start(|b| b.listener(given), named("both"));
    assert_eq!(handover::get_once(server.addr), Ok("both".to_owned()));
    assert_eq!(handover::get_once(given_addr), Ok("both".to_owned()));
}

#[test]
fn without_reuse_port_a_second_server_cannot_bind_the_address() {
    let first = TestServer::start(|b| b, named("a"));
    let second = support::test_builder()
        .listen(first.addr.to_string())
        .bind(named("b"));
    assert!(
        matches!(second, Err(lido::ServerError::Bind { .. })),
        "{second:?}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn with_reuse_port_a_new_server_takes_over_and_no_request_fails() {
    let _migrate = handover::MigrateRequests::on();
    let old = TestServer::start(|b| b.reuse_port(true), named("old"));
    let addr = old.addr;
    let new = TestServer::start(
        |b| b.listen(addr.to_string()).reuse_port(true),
        named("new"),
    );
    assert_eq!(new.addr, addr);
    handover::across_a_restart(addr, || {
        old.stop_within(Duration::from_secs(20))
            .expect("the old server stops cleanly");
    });
}
