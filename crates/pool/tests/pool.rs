//! Integration tests for lido-pool. Every wait is bounded by a deadline; nothing sleeps to
//! "wait for" an event.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use lido_pool::{ExecuteError, ThreadPool, TryExecuteError};

mod common;

use common::{DEADLINE, Gate, wait_until};

/// Occupies every worker of `pool` with a job blocked on the returned gate.
fn occupy_all(pool: &ThreadPool, threads: usize) -> Gate {
    let gate = Gate::default();
    for _ in 0..threads {
        let gate = gate.clone();
        pool.execute(move || gate.wait()).unwrap();
    }
    wait_until("workers busy", || pool.active() == threads);
    gate
}

#[test]
fn pool_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<ThreadPool>();
}

#[test]
#[should_panic(expected = "at least one thread")]
fn new_panics_on_zero() {
    let _ = ThreadPool::new(0);
}

#[test]
fn build_reports_zero_threads_and_spawn_failure() {
    assert!(ThreadPool::builder().threads(0).build().is_err());
    // No OS can give a thread a stack of (nearly) the whole address space.
    let err = ThreadPool::builder()
        .threads(2)
        .stack_size(usize::MAX / 2)
        .build()
        .unwrap_err();
    assert_eq!(err.to_string(), "failed to spawn a worker thread");
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn panicking_jobs_do_not_shrink_the_pool() {
    const N: usize = 4;
    let seen = Arc::new(AtomicUsize::new(0));
    let handler_seen = Arc::clone(&seen);
    let pool = ThreadPool::builder()
        .threads(N)
        .panic_handler(move |payload| {
            assert_eq!(
                payload.downcast_ref::<&str>(),
                Some(&"job panicked on purpose")
            );
            handler_seen.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    for _ in 0..4 * N {
        pool.execute(|| panic!("job panicked on purpose")).unwrap();
    }
    pool.join();
    assert_eq!(pool.panicked(), (4 * N) as u64);
    assert_eq!(seen.load(Ordering::SeqCst), 4 * N);
    assert_eq!(pool.threads(), N);

    // N jobs that each wait until all N are running at once: only possible with N live workers.
    let running = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    for _ in 0..N {
        let running = Arc::clone(&running);
        let tx = tx.clone();
        pool.execute(move || {
            running.fetch_add(1, Ordering::SeqCst);
            let deadline = Instant::now() + DEADLINE;
            while running.load(Ordering::SeqCst) < N && Instant::now() < deadline {
                thread::yield_now();
            }
            tx.send(running.load(Ordering::SeqCst)).unwrap();
        })
        .unwrap();
    }
    for _ in 0..N {
        assert_eq!(rx.recv_timeout(DEADLINE).unwrap(), N);
    }
    pool.join();
    assert_eq!(pool.completed(), N as u64);
}

#[test]
fn drop_runs_every_queued_job() {
    let pool = ThreadPool::builder()
        .threads(2)
        .queue_capacity(1000)
        .build()
        .unwrap();
    let gate = occupy_all(&pool, 2);
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..1000 {
        let ran = Arc::clone(&ran);
        pool.execute(move || {
            ran.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    assert_eq!(pool.queued(), 1000);
    gate.open();
    drop(pool);
    assert_eq!(ran.load(Ordering::SeqCst), 1000);
}

#[test]
fn full_queue_hands_the_job_back() {
    let pool = ThreadPool::builder()
        .threads(1)
        .queue_capacity(2)
        .build()
        .unwrap();
    let gate = occupy_all(&pool, 1);
    pool.try_execute(|| ()).unwrap();
    pool.try_execute(|| ()).unwrap();
    let owned = String::from("the connection");
    match pool.try_execute(move || drop(owned)) {
        Err(err @ TryExecuteError::Full(_)) => {
            assert!(err.is_full());
            let job = err.into_inner();
            job(); // still ours to run or drop
        }
        other => panic!("expected Full, got {other:?}"),
    }
    assert_eq!(pool.rejected(), 1);
    assert_eq!(pool.queued(), 2);
    gate.open();
    pool.join();
    assert_eq!(pool.completed(), 3);
}

#[test]
fn zero_capacity_is_a_build_error() {
    let err = ThreadPool::builder().queue_capacity(0).build().unwrap_err();
    assert_eq!(
        err.to_string(),
        "a thread pool queue needs room for at least one job"
    );
}

#[test]
fn a_one_slot_queue_still_works() {
    let pool = ThreadPool::builder()
        .threads(2)
        .queue_capacity(1)
        .build()
        .unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..1000 {
        let ran = Arc::clone(&ran);
        pool.execute(move || {
            ran.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    pool.shutdown();
    assert_eq!(ran.load(Ordering::SeqCst), 1000);
}

#[test]
fn execute_waits_for_room() {
    let pool = Arc::new(
        ThreadPool::builder()
            .threads(1)
            .queue_capacity(1)
            .build()
            .unwrap(),
    );
    let gate = occupy_all(&pool, 1);
    pool.execute(|| ()).unwrap(); // fills the queue
    let (tx, rx) = mpsc::channel();
    let submitter = {
        let pool = Arc::clone(&pool);
        thread::spawn(move || {
            let result = pool.execute(|| ());
            tx.send(result).unwrap();
        })
    };
    // Negative check: the submitter must still be blocked (the queue stays full until the gate
    // opens). 100 ms is how long we look, not something we wait for.
    assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
    gate.open();
    assert_eq!(rx.recv_timeout(DEADLINE).unwrap(), Ok(()));
    submitter.join().unwrap();
    pool.join();
    assert_eq!(pool.completed(), 3);
}

#[test]
fn shutdown_with_jobs_racing_in_runs_every_accepted_job() {
    let pool = Arc::new(
        ThreadPool::builder()
            .threads(2)
            .queue_capacity(8)
            .build()
            .unwrap(),
    );
    let ran = Arc::new(AtomicU64::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let submitters: Vec<_> = (0..4)
        .map(|i| {
            let pool = Arc::clone(&pool);
            let ran = Arc::clone(&ran);
            let started = Arc::clone(&started);
            thread::spawn(move || {
                started.fetch_add(1, Ordering::SeqCst);
                let mut accepted = 0u64;
                // Until shutdown reaches the submitter, however fast or slow the machine is; the
                // deadline only turns a hang into a failure.
                let deadline = Instant::now() + DEADLINE;
                for n in 0u64.. {
                    assert!(
                        Instant::now() < deadline,
                        "shutdown never reached the submitter"
                    );
                    let ran = Arc::clone(&ran);
                    let job = move || {
                        ran.fetch_add(1, Ordering::SeqCst);
                    };
                    let accepted_now = if (n + i) % 2 == 0 {
                        match pool.execute(job) {
                            Ok(()) => true,
                            Err(ExecuteError::ShutDown) => return accepted,
                            Err(e) => panic!("unexpected {e}"),
                        }
                    } else {
                        match pool.try_execute(job) {
                            Ok(()) => true,
                            Err(e) if e.is_shut_down() => return accepted,
                            Err(_) => false, // Full: shed, not accepted
                        }
                    };
                    accepted += u64::from(accepted_now);
                }
                unreachable!("the loop above only ends by returning or failing")
            })
        })
        .collect();
    wait_until("submitters running", || started.load(Ordering::SeqCst) == 4);
    wait_until("some jobs done", || pool.completed() > 1000);
    pool.shutdown();
    let accepted: u64 = submitters.into_iter().map(|s| s.join().unwrap()).sum();
    assert_eq!(ran.load(Ordering::SeqCst), accepted);
    assert_eq!(pool.completed(), accepted);
    assert_eq!(pool.threads(), 0);
    assert_eq!(pool.queued(), 0);
}

#[test]
fn counters_are_exact_after_a_burst() {
    let pool = Arc::new(
        ThreadPool::builder()
            .threads(4)
            .queue_capacity(64)
            .build()
            .unwrap(),
    );
    let full = Arc::new(AtomicU64::new(0));
    let submitters: Vec<_> = (0..4)
        .map(|i| {
            let pool = Arc::clone(&pool);
            let full = Arc::clone(&full);
            thread::spawn(move || {
                for n in 0..25_000u32 {
                    if n % 10 == 9 {
                        pool.execute(|| panic!("counted")).unwrap();
                    } else if (n + i) % 2 == 0 {
                        pool.execute(|| ()).unwrap();
                    } else if pool.try_execute(|| ()).is_err() {
                        full.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for s in submitters {
        s.join().unwrap();
    }
    pool.join();
    let stats = pool.stats();
    let shed = full.load(Ordering::SeqCst);
    assert_eq!(stats.panicked, 10_000);
    assert_eq!(stats.rejected, shed);
    assert_eq!(stats.completed + stats.panicked + stats.rejected, 100_000);
    assert_eq!((stats.active, stats.queued, stats.threads), (0, 0, 4));
}

#[test]
fn join_keeps_the_pool_usable_and_works_inside_a_job() {
    let pool = Arc::new(ThreadPool::new(2));
    for _ in 0..10 {
        pool.execute(|| ()).unwrap();
    }
    pool.join();
    assert_eq!(pool.completed(), 10);
    let (tx, rx) = mpsc::channel();
    let inner = Arc::clone(&pool);
    pool.execute(move || {
        inner.execute(|| ()).unwrap();
        inner.join(); // must not wait for itself
        tx.send(()).unwrap();
    })
    .unwrap();
    rx.recv_timeout(DEADLINE).unwrap();
    pool.join();
    assert_eq!(pool.completed(), 12);
}

#[test]
fn dropping_the_last_handle_inside_a_job_does_not_deadlock() {
    let pool = Arc::new(ThreadPool::new(2));
    let (tx, rx) = mpsc::channel();
    let gate = Gate::default();
    let job_gate = gate.clone();
    let last = Arc::clone(&pool);
    pool.execute(move || {
        job_gate.wait();
        drop(last); // the last handle: Drop runs on this worker
        tx.send(()).unwrap();
    })
    .unwrap();
    drop(pool);
    // `drop(pool)` above was not the last handle, so it returned at once; now let the job drop it.
    gate.open();
    rx.recv_timeout(DEADLINE).unwrap();
}

#[test]
fn shutdown_timeout_reports_stragglers() {
    let pool = ThreadPool::new(1);
    let gate = occupy_all(&pool, 1);
    assert!(!pool.shutdown_timeout(Duration::from_millis(20)));
    assert!(pool.is_shut_down());
    assert!(pool.try_execute(|| ()).unwrap_err().is_shut_down());
    gate.open();
    assert!(pool.shutdown_timeout(DEADLINE));
    assert_eq!(pool.threads(), 0);
}

#[test]
fn shutdown_from_inside_a_job_returns() {
    let pool = Arc::new(ThreadPool::new(2));
    let (tx, rx) = mpsc::channel();
    let inner = Arc::clone(&pool);
    pool.execute(move || {
        tx.send(inner.shutdown_timeout(DEADLINE)).unwrap();
    })
    .unwrap();
    assert!(!rx.recv_timeout(DEADLINE).unwrap());
    pool.shutdown();
    assert_eq!(pool.threads(), 0);
}

#[test]
fn a_panicking_panic_handler_is_survived() {
    let pool = ThreadPool::builder()
        .threads(1)
        .panic_handler(|_| panic!("handler panics too"))
        .build()
        .unwrap();
    pool.execute(|| panic!("job")).unwrap();
    pool.execute(|| ()).unwrap();
    pool.join();
    assert_eq!(
        (pool.panicked(), pool.completed(), pool.threads()),
        (1, 1, 1)
    );
}

#[test]
fn workers_are_named() {
    let pool = ThreadPool::builder()
        .threads(2)
        .thread_name("lido-w")
        .build()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    pool.execute(move || {
        tx.send(thread::current().name().unwrap().to_owned())
            .unwrap()
    })
    .unwrap();
    assert!(rx.recv_timeout(DEADLINE).unwrap().starts_with("lido-w-"));
}

/// Every job submitted to a pool whose workers all sleep wakes one of them: a lost wake-up would
/// leave the job queued and this test waiting until its deadline.
#[test]
fn r8_a_job_always_wakes_a_sleeping_worker() {
    let pool = Arc::new(ThreadPool::new(2));
    let (tx, rx) = mpsc::channel();
    for round in 0..2_000u32 {
        // Let the workers fall asleep now and then (the queue empty for longer than their spin).
        if round % 100 == 0 {
            wait_until("workers idle", || pool.active() == 0 && pool.queued() == 0);
            thread::sleep(Duration::from_millis(2));
        }
        let tx = tx.clone();
        pool.execute(move || tx.send(round).unwrap()).unwrap();
        assert_eq!(
            rx.recv_timeout(DEADLINE),
            Ok(round),
            "job {round} never ran"
        );
    }
    // From several submitters at once, into a pool that keeps going idle.
    let submitters: Vec<_> = (0..4)
        .map(|_| {
            let pool = Arc::clone(&pool);
            let tx = tx.clone();
            thread::spawn(move || {
                for _ in 0..2_000 {
                    let (done_tx, done) = mpsc::channel();
                    pool.execute(move || done_tx.send(()).unwrap()).unwrap();
                    done.recv_timeout(DEADLINE).expect("a job never ran");
                }
                tx.send(u32::MAX).unwrap();
            })
        })
        .collect();
    for s in submitters {
        s.join().unwrap();
    }
    assert_eq!(rx.try_iter().filter(|&r| r == u32::MAX).count(), 4);
}

#[test]
fn new_uses_the_default_capacity() {
    let pool = ThreadPool::new(1);
    assert_eq!(pool.queue_capacity(), lido_pool::DEFAULT_QUEUE_CAPACITY);
}
