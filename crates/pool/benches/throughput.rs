//! Throughput: 1M empty jobs on 2 workers, submitted from one thread the way a user calls each
//! API (`ThreadPool::new(2)`, `execute` per job, then wait for all of them), for lido-pool, the
//! Rust book's `Arc<Mutex<mpsc::Receiver>>` pool (rebuilt below), the `threadpool` crate and
//! rayon's `ThreadPool::spawn`.
//!
//! Two scenarios: a quiet machine, and a busy one (two `yes > /dev/null` processes running
//! beside the benchmark, as on a server that does other work). After the criterion groups, a
//! summary runs each design 7 times per scenario, interleaved, and prints min / median / max,
//! the ratio of medians to the book's design, and max / median (how steady a design is).
#![allow(missing_docs)]

use std::hint::black_box;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::Criterion;

const JOBS: usize = 1_000_000;
const WORKERS: usize = 2;

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
    let pool = lido_pool::ThreadPool::new(WORKERS);
    for _ in 0..JOBS {
        pool.execute(|| black_box(())).unwrap();
    }
    pool.join();
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

/// rayon has no "wait for everything spawned": the last job to finish signals the submitter.
fn run_rayon() {
    static LEFT: AtomicUsize = AtomicUsize::new(0);
    LEFT.store(JOBS, Ordering::SeqCst);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .build()
        .unwrap();
    let (done, finished) = std::sync::mpsc::sync_channel::<()>(1);
    for _ in 0..JOBS {
        let done = done.clone();
        pool.spawn(move || {
            black_box(());
            if LEFT.fetch_sub(1, Ordering::AcqRel) == 1 {
                let _ = done.send(());
            }
        });
    }
    finished.recv().unwrap();
}

const DESIGNS: [(&str, fn()); 4] = [
    ("lido-pool", run_lido),
    ("book Mutex<Receiver>", run_book),
    ("threadpool crate", run_threadpool),
    ("rayon spawn", run_rayon),
];

/// Two CPU-bound processes (`yes > /dev/null`), killed on drop.
struct Hogs(Vec<Child>);

impl Hogs {
    fn start() -> Self {
        let hogs = (0..2)
            .map(|_| {
                Command::new("yes")
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("bench: cannot start `yes` for the busy-machine scenario")
            })
            .collect();
        // Let the scheduler see them as CPU-bound before measuring.
        std::thread::sleep(Duration::from_millis(200));
        Self(hogs)
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        for hog in &mut self.0 {
            let _ = hog.kill();
            let _ = hog.wait();
        }
    }
}

const SCENARIOS: [&str; 2] = ["quiet machine", "two CPU hogs beside it"];

fn with_scenario<T>(scenario: &str, f: impl FnOnce() -> T) -> T {
    let _hogs = (scenario != SCENARIOS[0]).then(Hogs::start);
    f()
}

fn bench(c: &mut Criterion) {
    for scenario in SCENARIOS {
        with_scenario(scenario, || {
            let mut group = c.benchmark_group(format!("1M empty jobs, 2 workers, {scenario}"));
            group.sample_size(10);
            group.measurement_time(Duration::from_secs(5));
            for (name, run) in DESIGNS {
                group.bench_function(name, |b| b.iter(run));
            }
            group.finish();
        });
    }
}

/// Child-process mode: run design `POOL_BENCH_ONE` once and print its seconds.
const ONE: &str = "POOL_BENCH_ONE";

/// Times one run of design `index` in a fresh process (this bench binary, in child mode), so
/// that no design inherits another's threads, allocator state or caches, as a user's program
/// would not.
fn secs_in_child(index: usize) -> f64 {
    let out = Command::new(std::env::current_exe().expect("bench: own path"))
        .env(ONE, index.to_string())
        .output()
        .expect("bench: cannot run itself");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("bench: child printed no time")
}

fn summary() {
    let rounds = 7;
    println!(
        "\nsummary: {JOBS} empty jobs on {WORKERS} workers; {rounds} runs of each design, \
         interleaved, each in a fresh process"
    );
    for scenario in SCENARIOS {
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); DESIGNS.len()];
        with_scenario(scenario, || {
            for _ in 0..rounds {
                for (i, t) in times.iter_mut().enumerate() {
                    t.push(secs_in_child(i));
                }
            }
        });
        for t in &mut times {
            t.sort_by(f64::total_cmp);
        }
        let median = |t: &Vec<f64>| t[rounds / 2];
        let book = median(&times[1]);
        println!("  {scenario}:");
        for ((name, _), t) in DESIGNS.iter().zip(&times) {
            println!(
                "    {name:<22} min {:>7.1} ms  median {:>7.1} ms  max {:>7.1} ms  \
                 speed vs book {:>5.2}x  max/median {:.2}",
                t[0] * 1e3,
                median(t) * 1e3,
                t[rounds - 1] * 1e3,
                book / median(t),
                t[rounds - 1] / median(t),
            );
        }
    }
}

fn main() {
    if let Ok(index) = std::env::var(ONE) {
        let (_, run) = DESIGNS[index.parse::<usize>().expect("bench: design index")];
        let start = Instant::now();
        run();
        println!("{}", start.elapsed().as_secs_f64());
        return;
    }
    // `cargo test --benches` runs this binary without --bench: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
    summary();
}
