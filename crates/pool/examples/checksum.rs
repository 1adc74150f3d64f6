//! Checksums every file under a directory on a pool: the walk submits one job per file, the
//! workers read and hash, a collector sums the results. With lido-pool the queue is bounded,
//! so a walk that outruns the workers waits (backpressure) instead of queueing the whole tree
//! in memory; with rayon and the book's pool the queue grows without bound.
//!
//! ```text
//! cargo run --release -p lido-pool --example checksum -- DIR [lido|rayon|book|serial] [THREADS]
//! ```
//!
//! It prints the files, the bytes, an order-independent digest of the tree (the same for every
//! pool), the time, and the most jobs ever queued at once. crates/pool/README.md has figures.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Instant;

/// How many jobs lido-pool's queue holds: a walk that gets this far ahead waits.
const QUEUE: usize = 256;

/// FNV-1a over the file's bytes, mixed with its path: one file's contribution to the digest.
fn checksum(path: &Path) -> std::io::Result<(u64, u64)> {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(path.as_os_str().as_encoded_bytes());
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        feed(&buf[..n]);
    }
    Ok((hash, bytes))
}

/// Calls `each` for every regular file under `dir` (symlinks are not followed).
fn walk(dir: &Path, each: &mut dyn FnMut(PathBuf)) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&entry.path(), each)?;
        } else if kind.is_file() {
            each(entry.path());
        }
    }
    Ok(())
}

/// What one file gave: its hash and size, or an error to report.
type Outcome = Result<(u64, u64), String>;

/// Runs `job` for one file, counting it as queued until it starts.
fn job(path: PathBuf, tx: mpsc::Sender<Outcome>, queued: Arc<Gauge>) -> impl FnOnce() + Send {
    queued.up();
    move || {
        queued.down();
        let outcome = checksum(&path).map_err(|e| format!("{}: {e}", path.display()));
        let _ = tx.send(outcome);
    }
}

/// Jobs submitted and not started, and the most there ever were.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl Gauge {
    fn up(&self) {
        let now = self.now.fetch_add(1, Ordering::Relaxed) + 1;
        self.most.fetch_max(now, Ordering::Relaxed);
    }

    fn down(&self) {
        self.now.fetch_sub(1, Ordering::Relaxed);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or("usage: checksum DIR [lido|rayon|book|serial] [THREADS]")?,
    );
    let which = args.next().unwrap_or_else(|| "lido".to_owned());
    let threads = match args.next() {
        Some(n) => n.parse()?,
        None => std::thread::available_parallelism().map_or(1, usize::from),
    };
    let started = Instant::now();
    let (tx, rx) = mpsc::channel::<Outcome>();
    let queued = Arc::new(Gauge::default());
    let collector = std::thread::spawn(move || {
        let (mut files, mut bytes, mut digest, mut errors) = (0u64, 0u64, 0u64, 0u64);
        for outcome in rx {
            match outcome {
                Ok((hash, size)) => {
                    files += 1;
                    bytes += size;
                    digest = digest.wrapping_add(hash);
                }
                Err(why) => {
                    errors += 1;
                    eprintln!("checksum: {why}");
                }
            }
        }
        (files, bytes, digest, errors)
    });
    match which.as_str() {
        "lido" => {
            let pool = lido_pool::ThreadPool::builder()
                .threads(threads)
                .queue_capacity(QUEUE)
                .build()?;
            let mut failed = None;
            walk(&dir, &mut |path| {
                if failed.is_none()
                    && let Err(e) = pool.execute(job(path, tx.clone(), Arc::clone(&queued)))
                {
                    failed = Some(e);
                }
            })?;
            if let Some(e) = failed {
                return Err(e.into());
            }
            pool.shutdown();
        }
        "rayon" => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()?;
            pool.scope(|scope| {
                walk(&dir, &mut |path| {
                    let run = job(path, tx.clone(), Arc::clone(&queued));
                    scope.spawn(move |_| run());
                })
            })?;
        }
        "book" => {
            let pool = book::ThreadPool::new(threads);
            walk(&dir, &mut |path| {
                pool.execute(job(path, tx.clone(), Arc::clone(&queued)))
            })?;
            drop(pool);
        }
        "serial" => walk(&dir, &mut |path| {
            job(path, tx.clone(), Arc::clone(&queued))()
        })?,
        other => return Err(format!("unknown pool {other:?}: lido, rayon, book or serial").into()),
    }
    drop(tx);
    let (files, bytes, digest, errors) = collector.join().map_err(|_| "the collector panicked")?;
    println!(
        "{which}: {files} files, {bytes} bytes, digest {digest:016x}, {errors} errors, {:.1} ms, at most {} jobs queued",
        started.elapsed().as_secs_f64() * 1e3,
        queued.most.load(Ordering::Relaxed)
    );
    Ok(())
}

/// The book's pool (chapter 21): one `Mutex<mpsc::Receiver>`, an unbounded channel.
mod book {
    use std::sync::{Arc, Mutex, mpsc};
    use std::thread;

    type Job = Box<dyn FnOnce() + Send + 'static>;

    pub(crate) struct ThreadPool {
        workers: Vec<thread::JoinHandle<()>>,
        sender: Option<mpsc::Sender<Job>>,
    }

    impl ThreadPool {
        pub(crate) fn new(size: usize) -> ThreadPool {
            let (sender, receiver) = mpsc::channel::<Job>();
            let receiver = Arc::new(Mutex::new(receiver));
            let workers = (0..size)
                .map(|_| {
                    let receiver = Arc::clone(&receiver);
                    thread::spawn(move || {
                        loop {
                            let message = receiver.lock().map(|r| r.recv());
                            match message {
                                Ok(Ok(job)) => job(),
                                _ => break,
                            }
                        }
                    })
                })
                .collect();
            ThreadPool {
                workers,
                sender: Some(sender),
            }
        }

        pub(crate) fn execute<F: FnOnce() + Send + 'static>(&self, f: F) {
            if let Some(sender) = &self.sender {
                let _ = sender.send(Box::new(f));
            }
        }
    }

    impl Drop for ThreadPool {
        fn drop(&mut self) {
            drop(self.sender.take());
            for worker in self.workers.drain(..) {
                let _ = worker.join();
            }
        }
    }
}
