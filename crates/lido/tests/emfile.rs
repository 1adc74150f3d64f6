//! Running out of file descriptors (EMFILE on accept) is survived: the server backs off,
//! keeps its existing connections, and serves again once descriptors free up.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);
/// The server's descriptor limit: its own few plus room for some clients.
const FD_LIMIT: u32 = 48;
/// More clients than fit.
const CLIENTS: usize = 100;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(addr: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    Ok(reply)
}

#[test]
fn accept_survives_emfile() {
    let root = std::env::temp_dir().join(format!("lido-emfile-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("index.html"), "ok\n").unwrap();
    let log = root.join("stderr.log");
    let script = format!(
        "ulimit -n {FD_LIMIT} && exec \"$0\" \"$1\" --listen 127.0.0.1:0 --quiet --threads 2"
    );
    let mut child = Command::new("sh")
        .args(["-c", &script, env!("CARGO_BIN_EXE_lido")])
        .arg(&root)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line.trim().rsplit("http://").next().unwrap().to_owned();

    // Hold more idle connections than the server has descriptors for: the kernel completes
    // the handshakes (backlog), the server's accept fails with EMFILE.
    let clients: Vec<TcpStream> = (0..CLIENTS)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    // Wait until the server has run out: accept failed and it backed off.
    let deadline = Instant::now() + DEADLINE;
    while !std::fs::read_to_string(&log)
        .unwrap()
        .contains("accept failed; backing off")
    {
        assert!(
            Instant::now() < deadline,
            "accept never failed with {CLIENTS} clients and {FD_LIMIT} descriptors"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // The server is still alive while out of descriptors...
    assert!(
        running.0.try_wait().unwrap().is_none(),
        "lido died on EMFILE"
    );
    drop(clients);
    // ...and serves again once they are closed (poll: it backs off between accept attempts).
    let deadline = Instant::now() + DEADLINE;
    loop {
        match get(&addr) {
            Ok(reply) if reply.starts_with("HTTP/1.1 200 OK") => break,
            other => assert!(Instant::now() < deadline, "never served again: {other:?}"),
        }
    }
    assert!(running.0.try_wait().unwrap().is_none(), "lido died");
}
