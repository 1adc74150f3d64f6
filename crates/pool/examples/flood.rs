//! Submits JOBS empty jobs from one thread to a pool of WORKERS and prints the time per job:
//! a small program to profile the submission path (`perf record`, `valgrind --tool=callgrind`).
//!
//! ```text
//! cargo run --release -p lido-pool --example flood -- [JOBS] [WORKERS] [QUEUE]
//! ```

use std::hint::black_box;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let jobs = args.next().transpose()?.unwrap_or(1_000_000);
    let workers = args.next().transpose()?.unwrap_or(2);
    let queue = args.next().transpose()?;
    for _ in 0..5 {
        let mut builder = lido_pool::ThreadPool::builder().threads(workers);
        if let Some(queue) = queue {
            builder = builder.queue_capacity(queue);
        }
        let pool = builder.build()?;
        let start = Instant::now();
        for _ in 0..jobs {
            pool.execute(|| black_box(()))?;
        }
        pool.shutdown();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{jobs} jobs, {workers} workers: {:.1} ms, {:.1} ns/job",
            secs * 1e3,
            secs * 1e9 / jobs as f64
        );
    }
    Ok(())
}
