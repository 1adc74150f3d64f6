//! The final web server of *The Rust Programming Language* (chapter 21), as the book leaves it:
//! a 4-thread pool behind an `Arc<Mutex<mpsc::Receiver>>`, one request per connection, a
//! blocking read of the request line. Kept as the baseline `bench/run` measures lido against.
//!
//! ```text
//! cargo run --release --example book -- ADDR FILE
//! ```
//! Serves FILE for `GET / HTTP/1.1`, 404 for anything else, until killed.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;

type Job = Box<dyn FnOnce() + Send + 'static>;

struct ThreadPool {
    _workers: Vec<thread::JoinHandle<()>>,
    sender: mpsc::Sender<Job>,
}

impl ThreadPool {
    fn new(size: usize) -> ThreadPool {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let workers = (0..size)
            .map(|_| {
                let receiver = Arc::clone(&receiver);
                thread::spawn(move || {
                    loop {
                        let message = receiver.lock().unwrap().recv();
                        match message {
                            Ok(job) => job(),
                            Err(_) => break,
                        }
                    }
                })
            })
            .collect();
        ThreadPool {
            _workers: workers,
            sender,
        }
    }

    fn execute<F: FnOnce() + Send + 'static>(&self, f: F) {
        self.sender.send(Box::new(f)).unwrap();
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:7879".to_owned());
    let contents: Arc<str> = std::fs::read_to_string(args.next().expect("usage: book ADDR FILE"))
        .expect("readable FILE")
        .into();
    let listener = TcpListener::bind(&addr).unwrap();
    println!("listening on http://{}", listener.local_addr().unwrap());
    let pool = ThreadPool::new(4);
    for stream in listener.incoming() {
        let stream = stream.unwrap();
        let contents = Arc::clone(&contents);
        pool.execute(move || handle_connection(stream, &contents));
    }
}

fn handle_connection(mut stream: TcpStream, contents: &str) {
    let buf_reader = BufReader::new(&stream);
    let request_line = buf_reader.lines().next().unwrap().unwrap();
    let (status_line, body) = if request_line == "GET / HTTP/1.1" {
        ("HTTP/1.1 200 OK", contents)
    } else {
        ("HTTP/1.1 404 NOT FOUND", "not found")
    };
    let length = body.len();
    let response = format!("{status_line}\r\nContent-Length: {length}\r\n\r\n{body}");
    stream.write_all(response.as_bytes()).unwrap();
}
