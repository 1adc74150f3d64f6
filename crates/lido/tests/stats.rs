//! The counters a server keeps for its operators (`Server::stats`): requests by method and
//! status, durations, bytes, connections by state, timeouts, and the drain.

mod support;

use std::io::Write;
use std::time::Duration;

use lido::http::{Request, Response, StatusCode};
use lido::{StatsSnapshot, TimeoutKind};
use support::{TestServer, connect, raw, read_response, wait_until};

fn handler(request: &Request) -> Response {
    match request.path() {
        "/missing" => Response::text(StatusCode::NOT_FOUND, "no"),
        _ => Response::text(StatusCode::OK, "hello"),
    }
}

fn count(stats: &StatsSnapshot, method: &str, status: u16) -> u64 {
    stats
        .requests
        .iter()
        .filter(|r| r.method == method && r.status.as_u16() == status)
        .map(|r| r.count)
        .sum()
}

fn timeouts(stats: &StatsSnapshot, kind: TimeoutKind) -> u64 {
    stats
        .timeouts
        .iter()
        .filter(|(k, _)| *k == kind)
        .map(|(_, n)| n)
        .sum()
}

#[test]
fn requests_are_counted_by_method_and_status_with_their_bytes_and_durations() {
    let server = TestServer::start(|b| b, handler);
    for _ in 0..3 {
        raw(
            server.addr,
            b"GET / HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n",
        );
    }
    raw(
        server.addr,
        b"HEAD / HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n",
    );
    raw(
        server.addr,
        b"GET /missing HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n",
    );
    raw(server.addr, b"GET / HTTP/1.1\r\n\r\n"); // no Host: 400
    raw(server.addr, b"BREW / HTTP/1.1\r\nHost: s\r\n\r\n"); // unknown method: 501
    // The counters are written before the response goes out; the duration once it went.
    wait_until(Duration::from_secs(5), "7 durations", || {
        server.stats.snapshot().duration.count == 7
    });
    let stats = server.stats.snapshot();
    assert_eq!(count(&stats, "GET", 200), 3, "{stats:?}");
    assert_eq!(count(&stats, "HEAD", 200), 1, "{stats:?}");
    assert_eq!(count(&stats, "GET", 404), 1, "{stats:?}");
    assert_eq!(count(&stats, lido::UNKNOWN_METHOD, 400), 1, "{stats:?}");
    assert_eq!(count(&stats, lido::UNKNOWN_METHOD, 501), 1, "{stats:?}");
    assert_eq!(stats.requests_total(), 7);
    // 3 x "hello" and "no"; HEAD sends no body; the refusals are not counted as bytes.
    assert_eq!(stats.response_bytes, 3 * 5 + 2);
    assert_eq!(stats.connections_total, 7);
    let histogram = &stats.duration;
    assert_eq!(histogram.buckets.len(), lido::DURATION_BUCKETS.len());
    assert!(
        histogram.buckets.windows(2).all(|w| w[0].1 <= w[1].1),
        "not cumulative: {histogram:?}"
    );
    assert!(histogram.buckets.last().is_some_and(|b| b.1 <= 7));
    assert!(histogram.sum > Duration::ZERO);
    assert_eq!((stats.shed, stats.accept_errors), (0, 0));
    assert!(stats.pool.threads >= 1);
    assert!(!stats.draining);
}

#[test]
fn connections_are_counted_by_state() {
    let server = TestServer::start(|b| b, handler);
    // One idle between requests, one with half a head.
    let mut idle = connect(server.addr);
    idle.write_all(b"GET / HTTP/1.1\r\nHost: s\r\n\r\n")
        .expect("send");
    assert_eq!(read_response(&mut idle).status, 200);
    let mut reading = connect(server.addr);
    reading.write_all(b"GET / HT").expect("send");
    wait_until(Duration::from_secs(5), "one idle, one reading", || {
        let c = server.stats.snapshot().connections;
        c.idle == 1 && c.reading == 1 && c.total() == 2
    });
    drop((idle, reading));
    wait_until(Duration::from_secs(5), "no connection", || {
        server.stats.snapshot().connections.total() == 0
    });
}

#[test]
fn timeouts_are_counted_by_kind() {
    let server = TestServer::start(
        |b| {
            b.head_timeout(Duration::from_millis(300))
                .keep_alive_timeout(Duration::from_millis(300))
        },
        handler,
    );
    let mut slow = connect(server.addr);
    slow.write_all(b"GET / HT").expect("send");
    let mut idle = connect(server.addr);
    idle.write_all(b"GET / HTTP/1.1\r\nHost: s\r\n\r\n")
        .expect("send");
    assert_eq!(read_response(&mut idle).status, 200);
    let (answer, _) = support::read_until_closed(&mut slow, Duration::from_secs(5));
    assert!(answer.starts_with(b"HTTP/1.1 408 "));
    support::assert_closed_within(&mut idle, Duration::from_secs(5));
    let stats = server.stats.snapshot();
    assert_eq!(timeouts(&stats, TimeoutKind::Head), 1, "{stats:?}");
    assert_eq!(timeouts(&stats, TimeoutKind::KeepAlive), 1, "{stats:?}");
    assert_eq!(count(&stats, lido::UNKNOWN_METHOD, 408), 1, "{stats:?}");
}

#[test]
fn the_snapshot_says_when_a_drain_began_and_outlives_the_server() {
    let server = TestServer::start(|b| b, handler);
    let stats = server.stats.clone();
    raw(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n",
    );
    server
        .stop_within(Duration::from_secs(10))
        .expect("a clean stop");
    let after = stats.snapshot();
    assert!(after.draining);
    assert_eq!(count(&after, "GET", 200), 1);
}
