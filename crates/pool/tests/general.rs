//! lido-pool as a general pool: results with `spawn`, bounded waits with `execute_timeout`,
//! `shutdown_now`, and thread hooks. Every wait is bounded.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use lido_pool::{ExecuteTimeoutError, JoinError, ThreadPool};

mod common;

use common::{DEADLINE, Gate, wait_until};

#[test]
fn spawn_returns_values_and_panics() {
    let handled = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&handled);
    let pool = ThreadPool::builder()
        .threads(2)
        .panic_handler(move |_| {
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let handles: Vec<_> = (0..100u64)
        .map(|i| pool.spawn(move || i * i).unwrap())
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, (0..100u64).map(|i| i * i).sum());
    let failed = pool
        .spawn(|| -> String { panic!("spawned {}", "boom") })
        .unwrap();
    let err = failed.join().unwrap_err();
    assert_eq!(err.message(), Some("spawned boom"));
    assert!(matches!(err, JoinError::Panicked(_)));
    pool.join();
    let stats = pool.stats();
    assert_eq!((stats.completed, stats.panicked), (100, 1));
    // The payload went to the handle; the panic handler did not see a marker instead.
    assert_eq!(handled.load(Ordering::SeqCst), 0);
    // A plain `execute` that panics still reaches the handler.
    pool.execute(|| panic!("plain")).unwrap();
    pool.join();
    assert_eq!(handled.load(Ordering::SeqCst), 1);
}

#[test]
fn shutdown_now_drops_the_queue_and_says_how_many() {
    let pool = ThreadPool::builder()
        .threads(2)
        .queue_capacity(64)
        .build()
        .unwrap();
    let gate = Gate::default();
    let running: Vec<_> = (0..2)
        .map(|_| {
            let gate = gate.clone();
            pool.spawn(move || {
                gate.wait();
                "finished"
            })
            .unwrap()
        })
        .collect();
    wait_until("both workers busy", || pool.active() == 2);
    let ran = Arc::new(AtomicUsize::new(0));
    let queued: Vec<_> = (0..30)
        .map(|_| {
            let ran = Arc::clone(&ran);
            pool.spawn(move || ran.fetch_add(1, Ordering::SeqCst))
                .unwrap()
        })
        .collect();
    // Open the gate from another thread once shutdown_now has emptied the queue.
    let opener = {
        let gate = gate.clone();
        let stats_pool = &pool;
        thread::scope(|s| {
            s.spawn(move || {
                wait_until("the queue dropped", || stats_pool.queued() == 0);
                gate.open();
            });
            stats_pool.shutdown_now()
        })
    };
    assert_eq!(opener, 30);
    assert_eq!(ran.load(Ordering::SeqCst), 0, "a dropped job ran");
    for handle in running {
        assert_eq!(handle.join().unwrap(), "finished", "running jobs finish");
    }
    for handle in queued {
        assert!(matches!(handle.join(), Err(JoinError::Dropped)));
    }
    let stats = pool.stats();
    assert_eq!(
        (stats.discarded, stats.completed, stats.threads),
        (30, 2, 0)
    );
    assert!(pool.execute(|| ()).is_err());
    assert_eq!(pool.shutdown_now(), 0, "a second call finds nothing");
}

#[test]
fn execute_timeout_gives_up_then_succeeds_when_there_is_room() {
    let pool = ThreadPool::builder()
        .threads(1)
        .queue_capacity(2)
        .build()
        .unwrap();
    let gate = Gate::default();
    let g = gate.clone();
    pool.execute(move || g.wait()).unwrap();
    wait_until("the worker busy", || pool.active() == 1);
    pool.execute(|| ()).unwrap();
    pool.execute(|| ()).unwrap();
    let started = Instant::now();
    let err = pool
        .execute_timeout(|| (), Duration::from_millis(50))
        .unwrap_err();
    assert!(matches!(err, ExecuteTimeoutError::Timeout(_)));
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(pool.stats().rejected, 1);
    // Room comes while it waits: queued.
    let opener = thread::spawn(move || gate.open());
    let ran = Arc::new(AtomicUsize::new(0));
    let r = Arc::clone(&ran);
    pool.execute_timeout(
        move || {
            r.fetch_add(1, Ordering::SeqCst);
        },
        DEADLINE,
    )
    .unwrap();
    opener.join().unwrap();
    pool.join();
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    pool.shutdown();
    assert!(matches!(
        pool.execute_timeout(|| (), Duration::from_secs(1)),
        Err(ExecuteTimeoutError::ShutDown(_))
    ));
}

#[test]
fn thread_hooks_run_once_per_worker_and_a_panicking_hook_is_harmless() {
    let starts = Arc::new(Mutex::new(Vec::new()));
    let stops = Arc::new(AtomicUsize::new(0));
    let (s, t) = (Arc::clone(&starts), Arc::clone(&stops));
    let pool = ThreadPool::builder()
        .threads(3)
        .thread_name("hooked")
        .on_thread_start(move || {
            s.lock()
                .unwrap()
                .push(thread::current().name().map(str::to_owned));
            panic!("a start hook that panics");
        })
        .on_thread_stop(move || {
            t.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let answer = pool.spawn(|| 42).unwrap();
    assert_eq!(answer.join().unwrap(), 42);
    assert_eq!(pool.threads(), 3, "the hook's panic took no worker down");
    drop(pool);
    let mut names = starts.lock().unwrap().clone();
    names.sort();
    assert_eq!(
        names,
        ["hooked-0", "hooked-1", "hooked-2"].map(|n| Some(n.to_owned()))
    );
    assert_eq!(stops.load(Ordering::SeqCst), 3);
}
