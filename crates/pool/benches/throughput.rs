//! Throughput: 1M empty jobs on 2 workers, lido-pool against the Rust book's
//! `Arc<Mutex<mpsc::Receiver>>` pool (rebuilt below) and the `threadpool` crate, with the bare
//! crossbeam channel (no pool: no counters, no panic catching, no shutdown protocol) as the floor.
//!
//! Each iteration builds a 2-worker pool, submits 1,000,000 empty jobs from one thread and
//! waits for all of them (graceful drop / join). After the criterion group, a short summary
//! times the same loop a few times per design and prints medians and ratios.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};

const JOBS: usize = 1_000_000;
const WORKERS: usize = 2;
/// lido-pool's default queue for 2 workers, used for the raw channel too.
const CAP: usize = WORKERS * lido_pool::DEFAULT_QUEUE_PER_THREAD;

/// The final listing of the book's chapter 21, minus its `println!`s.
mod book {
    use std::sync::{Arc, Mutex, mpsc};
    use std::thread;

    type Job = Box<dyn FnOnce() + Send + 'static>;

    pub(crate) struct ThreadPool {
        workers: Vec<Worker>,
        sender: Option<mpsc::Sender<Job>>,
    }

    impl ThreadPool {
        pub(crate) fn new(size: usize) -> ThreadPool {
            assert!(size > 0);
            let (sender, receiver) = mpsc::channel();
            let receiver = Arc::new(Mutex::new(receiver));
            let workers = (0..size)
                .map(|_| Worker::new(Arc::clone(&receiver)))
                .collect();
            ThreadPool {
                workers,
                sender: Some(sender),
            }
        }

        pub(crate) fn execute<F: FnOnce() + Send + 'static>(&self, f: F) {
            self.sender.as_ref().unwrap().send(Box::new(f)).unwrap();
        }
    }

    impl Drop for ThreadPool {
        fn drop(&mut self) {
            drop(self.sender.take());
            for worker in self.workers.drain(..) {
                worker.thread.join().unwrap();
            }
        }
    }

    struct Worker {
        thread: thread::JoinHandle<()>,
    }

    impl Worker {
        fn new(receiver: Arc<Mutex<mpsc::Receiver<Job>>>) -> Worker {
            let thread = thread::spawn(move || {
                loop {
                    let message = receiver.lock().unwrap().recv();
                    match message {
                        Ok(job) => job(),
                        Err(_) => break,
                    }
                }
            });
            Worker { thread }
        }
    }
}

fn run_lido() {
    let pool = lido_pool::ThreadPool::builder()
        .threads(WORKERS)
        .queue_capacity(CAP)
        .build()
        .unwrap();
    for _ in 0..JOBS {
        pool.execute(|| black_box(())).unwrap();
    }
    pool.shutdown();
}

fn run_book() {
    let pool = book::ThreadPool::new(WORKERS);
    for _ in 0..JOBS {
        pool.execute(|| black_box(()));
    }
    drop(pool);
}

fn run_threadpool() {
    let pool = threadpool::ThreadPool::new(WORKERS);
    for _ in 0..JOBS {
        pool.execute(|| black_box(()));
    }
    pool.join();
}

/// The bare channel lido-pool is built on, with no pool around it: the floor.
fn run_raw() {
    let (tx, rx) = crossbeam_channel::bounded::<Box<dyn FnOnce() + Send>>(CAP);
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let rx = rx.clone();
            std::thread::spawn(move || {
                while let Ok(job) = rx.recv() {
                    job()
                }
            })
        })
        .collect();
    for _ in 0..JOBS {
        tx.send(Box::new(|| black_box(()))).unwrap();
    }
    drop(tx);
    for w in workers {
        w.join().unwrap();
    }
}

const DESIGNS: [(&str, fn()); 4] = [
    ("lido-pool", run_lido),
    ("book Mutex<Receiver>", run_book),
    ("threadpool crate", run_threadpool),
    ("bare crossbeam channel", run_raw),
];

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("1M empty jobs, 2 workers");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    for (name, run) in DESIGNS {
        group.bench_function(name, |b| b.iter(run));
    }
    group.finish();
}

fn median_secs(run: fn(), rounds: usize) -> f64 {
    let mut times: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[rounds / 2]
}

fn summary() {
    let rounds = 7;
    let medians: Vec<(&str, f64)> = DESIGNS
        .iter()
        .map(|(name, run)| (*name, median_secs(*run, rounds)))
        .collect();
    let lido = medians[0].1;
    println!("\nsummary: {JOBS} empty jobs on {WORKERS} workers, median of {rounds} runs");
    for (name, secs) in &medians {
        println!(
            "  {name:<22} {:>8.1} ms  {:>6.2} M jobs/s  lido-pool speed-up: {:.2}x",
            secs * 1e3,
            JOBS as f64 / secs / 1e6,
            secs / lido
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
    // `cargo test --benches` runs this binary with --bench absent: keep that run short.
    if std::env::args().any(|a| a == "--bench") {
        summary();
    }
}
