//! Working on a batch of photos on several threads, reporting each result
//! in input order.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

/// Fewer worker threads than asked for could be started (the process may
/// start no more: a low RLIMIT_NPROC, no memory for stacks); the work went
/// on with those that started, or on the calling thread alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadShortfall {
    /// Threads asked for.
    pub wanted: usize,
    /// Threads started.
    pub started: usize,
    /// Why no more could be started.
    pub reason: String,
}

impl fmt::Display for ThreadShortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.started == 0 {
            write!(
                f,
                "could not start worker threads ({}); worked on one thread",
                self.reason
            )
        } else {
            write!(
                f,
                "could start only {} of {} worker threads ({}); worked with {}",
                self.started, self.wanted, self.reason, self.started
            )
        }
    }
}

static SHORTFALL: OnceLock<ThreadShortfall> = OnceLock::new();

/// The first time in this process that fewer threads than asked for could
/// be started, if it happened: for the tool to say so, once.
pub fn thread_shortfall() -> Option<&'static ThreadShortfall> {
    SHORTFALL.get()
}

/// Runs `work` on every item with up to `jobs` threads and hands each result
/// to `done` in the items' order, on the calling thread, as soon as it and
/// all earlier results are in.
///
/// Where fewer threads can be started than asked for, the work goes on
/// with those that started, or, when none did, on the calling thread (see
/// [`thread_shortfall`]); it never panics for want of threads.
///
/// When `stop` becomes true, no new item is started; items already started
/// finish and are reported. Returns how many items were reported.
pub fn for_each_in_order<T, R, W, D>(
    items: &[T],
    jobs: usize,
    stop: &AtomicBool,
    work: W,
    mut done: D,
) -> usize
where
    T: Sync,
    R: Send,
    W: Fn(usize, &T) -> R + Sync,
    D: FnMut(usize, &T, R),
{
    let jobs = jobs.clamp(1, items.len().max(1));
    let next = AtomicUsize::new(0);
    let (send, receive) = mpsc::channel::<(usize, R)>();
    let mut reported = 0;
    std::thread::scope(|scope| {
        let mut started = 0;
        for _ in 0..jobs {
            let send = send.clone();
            let (next, work) = (&next, &work);
            let spawned = std::thread::Builder::new().spawn_scoped(scope, move || {
                loop {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(i) else { break };
                    if send.send((i, work(i, item))).is_err() {
                        break;
                    }
                }
            });
            match spawned {
                Ok(_) => started += 1,
                Err(e) => {
                    let _ = SHORTFALL.set(ThreadShortfall {
                        wanted: jobs,
                        started,
                        reason: crate::io_reason(&e),
                    });
                    break;
                }
            }
        }
        drop(send);
        if started == 0 {
            // No worker: the calling thread does the work, in order.
            for (i, item) in items.iter().enumerate() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                done(i, item, work(i, item));
                reported += 1;
            }
            return;
        }
        let mut pending = BTreeMap::new();
        for (i, result) in receive {
            pending.insert(i, result);
            while let Some(result) = pending.remove(&reported) {
                done(reported, &items[reported], result);
                reported += 1;
            }
        }
    });
    reported
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_order() {
        let items: Vec<u64> = (0..200).collect();
        let mut seen = Vec::new();
        let n = for_each_in_order(
            &items,
            4,
            &AtomicBool::new(false),
            |_, &x| {
                // Later items finish first.
                std::thread::sleep(std::time::Duration::from_micros(200 - x));
                x * 2
            },
            |i, &x, r| {
                assert_eq!(r, x * 2);
                seen.push(i);
            },
        );
        assert_eq!(n, 200);
        assert_eq!(seen, (0..200).collect::<Vec<_>>());
    }

    #[test]
    fn stop_prevents_new_work() {
        let items: Vec<usize> = (0..1000).collect();
        let stop = AtomicBool::new(false);
        let n = for_each_in_order(
            &items,
            2,
            &stop,
            |i, _| {
                if i == 10 {
                    stop.store(true, Ordering::SeqCst);
                }
            },
            |_, _, ()| {},
        );
        assert!((11..=13).contains(&n), "{n}");
    }

    #[test]
    fn empty_batch() {
        let items: Vec<u8> = Vec::new();
        assert_eq!(
            for_each_in_order(&items, 8, &AtomicBool::new(false), |_, _| (), |_, _, ()| {}),
            0
        );
    }
}
