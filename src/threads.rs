//! What the worker threads share besides the flows: how far each has read, so that
//! engines on different threads see the shared expectations as one engine would, and
//! a lock that survives a panicking thread.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::timestamp::Timestamp;

/// How long a worker waits for the others before it reads the expectations anyway:
/// only a worker that died (a bug) can hold it up this long, and the run must end.
const GIVE_UP_WAITING: Duration = Duration::from_secs(10);
/// How long a waiting worker yields before it sleeps. A sleep lasts at least the
/// timer slack (50 µs), far longer than another worker usually needs to catch up,
/// and yielding is nearly free when there is a core per worker; past this, the
/// worker waited for may need this core.
const YIELD_BEFORE_SLEEPING: Duration = Duration::from_millis(1);

/// How far each worker of an offline run has read, by input position (every packet
/// of the input numbered in file order, by the one reader or by each worker reading
/// the whole input). A call's media may be on another
/// worker than the SDP that announced it, so whether a media flow counts as
/// signalled would depend on thread timing; instead, a worker that reads the shared
/// expectations at position p first waits until every other worker has read all its
/// packets before p, and takes only announcements made before p. The expectations it
/// sees are then exactly those one engine would see there (DESIGN §9: the same
/// alerts for any number of workers).
///
/// No two workers can wait for each other: each waits only for positions below its
/// own, and the one with the lower position never waits for the other.
pub struct Progress {
    workers: Vec<WorkerProgress>,
    /// A worker waits for packets still in the reader's unsent batches (when one
    /// thread reads for all).
    flush_requested: AtomicBool,
}

/// One worker's marks, on a cache line of its own: a worker writes them at every
/// packet of its own, and sharing a line with another worker's marks made each of
/// those writes take the line from the other core.
#[derive(Default)]
#[repr(align(128))]
struct WorkerProgress {
    /// Every packet of that worker before this position has been read.
    floor: AtomicU64,
    /// The capture time (ns) of the packet it is on, for ageing the shared
    /// expectations by the clock of the worker furthest behind.
    clock: AtomicU64,
}

impl Progress {
    pub(crate) fn new(workers: usize) -> Self {
        Progress {
            workers: (0..workers).map(|_| WorkerProgress::default()).collect(),
            flush_requested: AtomicBool::new(false),
        }
    }

    /// Worker `me` has read every one of its packets before `position`.
    pub fn reached(&self, me: usize, position: u64) {
        if let Some(worker) = self.workers.get(me) {
            worker.floor.store(position, Ordering::Release);
        }
    }

    /// Worker `me` reads no more: nobody waits for it (also when it panicked).
    pub fn done(&self, me: usize) {
        self.reached(me, u64::MAX);
        self.clock(me, Timestamp(u64::MAX));
    }

    /// Worker `me` reads a packet captured at `now`.
    pub fn clock(&self, me: usize, now: Timestamp) {
        if let Some(worker) = self.workers.get(me) {
            worker.clock.store(now.0, Ordering::Relaxed);
        }
    }

    /// The capture time of the worker furthest behind: what no worker's read of the
    /// expectations can come before (within one capture file).
    pub fn earliest_clock(&self) -> Timestamp {
        Timestamp(
            self.workers
                .iter()
                .map(|worker| worker.clock.load(Ordering::Relaxed))
                .min()
                .unwrap_or(0),
        )
    }

    /// Returns once every other worker has read all its packets before `position`.
    pub fn wait_for_earlier(&self, me: usize, position: u64) {
        let behind = || {
            self.workers
                .iter()
                .enumerate()
                .any(|(w, worker)| w != me && worker.floor.load(Ordering::Acquire) < position)
        };
        if !behind() {
            return;
        }
        // The reader (one reading thread for all workers) may hold that packet.
        self.flush_requested.store(true, Ordering::Relaxed);
        let started = Instant::now();
        let mut rounds = 0u32;
        while behind() {
            rounds = rounds.saturating_add(1);
            // Spin briefly (the other worker is usually a few packets behind), then
            // yield, then sleep: with more workers than cores a waiting thread must
            // leave the core to the one it waits for.
            if rounds < 64 {
                std::hint::spin_loop();
            } else if started.elapsed() < YIELD_BEFORE_SLEEPING {
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(20));
                if started.elapsed() > GIVE_UP_WAITING {
                    return;
                }
            }
        }
    }

    /// A position every worker has reached: none reads the expectations before it.
    pub fn horizon(&self) -> u64 {
        self.workers
            .iter()
            .map(|worker| worker.floor.load(Ordering::Acquire))
            .min()
            .unwrap_or(0)
    }

    pub(crate) fn take_flush_request(&self) -> bool {
        self.flush_requested.load(Ordering::Relaxed)
            && self.flush_requested.swap(false, Ordering::Relaxed)
    }
}

/// Locks a mutex, also after another thread panicked holding it: counters and writers
/// stay usable, and losing a whole run to one poisoned lock would be worse.
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
