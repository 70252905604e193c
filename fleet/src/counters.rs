//! Outcome counters that a guarded call bumps without an atomic
//! read-modify-write: each thread owns a shard (a cache line per key) and
//! is its only writer, so a count is a plain load and store. Threads beyond
//! [`SHARDS`] share one line with `fetch_add`.
//!
//! Every counter only grows. The flusher never resets them: it remembers
//! what it already took and takes the difference, so a count is moved to a
//! batch exactly once whatever the interleaving.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Outcomes counted per key.
pub(crate) const KINDS: usize = 5;

/// Threads that get a shard of their own.
pub(crate) const SHARDS: usize = 32;

/// The index of the line shared (with `fetch_add`) by the threads that
/// found no free shard, and by a thread whose shard was given back at exit.
const OVERFLOW: usize = SHARDS;

/// A thread that has not counted yet.
const UNCLAIMED: usize = usize::MAX;

/// Which shards are owned: bit `i` set while a live thread owns shard `i`.
static TAKEN: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's shard (`UNCLAIMED`, a shard below [`SHARDS`], or
    /// `OVERFLOW`). Const-initialized and without a destructor, so reading
    /// it on the call path is one thread-local load: no lazy-init or
    /// destructor-state check.
    static INDEX: Cell<usize> = const { Cell::new(UNCLAIMED) };
    /// Gives the shard back when the thread exits (touched once per thread,
    /// when it claims its shard).
    static GUARD: Slot = const { Slot(Cell::new(None)) };
}

/// Owns this thread's shard, and gives it back on drop (thread exit).
struct Slot(Cell<Option<usize>>);

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(i) = self.0.take() {
            // A count made later in this thread's exit (another
            // thread-local's destructor) goes to the shared line: once the
            // bit is clear another thread may own the shard.
            let _ = INDEX.try_with(|c| c.set(OVERFLOW));
            // Ordering: Release, pairs with the AcqRel CAS in `claim`: this
            // thread's last stores to the shard's counters happen-before
            // the next owner's first load of them, so its counts continue
            // from the final values.
            TAKEN.fetch_and(!(1 << i), Ordering::Release);
        }
    }
}

/// Claims a free shard for this thread (or `OVERFLOW` if none is free or
/// the thread is already exiting) and remembers it in `INDEX`.
#[cold]
fn claim() -> usize {
    // Ordering: Relaxed load, then an AcqRel CAS that pairs with the
    // Release `fetch_and` in `Slot::drop` (see there).
    let mut cur = TAKEN.load(Ordering::Relaxed);
    let i = loop {
        let free = !cur & ((1u64 << SHARDS) - 1);
        if free == 0 {
            break OVERFLOW;
        }
        let i = free.trailing_zeros() as usize;
        match TAKEN.compare_exchange_weak(cur, cur | (1 << i), Ordering::AcqRel, Ordering::Relaxed)
        {
            Ok(_) => break i,
            Err(actual) => cur = actual,
        }
    };
    let i = if i == OVERFLOW || GUARD.try_with(|g| g.0.set(Some(i))).is_ok() {
        i
    } else {
        // The thread is exiting (its guard is gone): nobody would give the
        // shard back, so do it now and use the shared line.
        // Ordering: Release, as in `Slot::drop`.
        TAKEN.fetch_and(!(1 << i), Ordering::Release);
        OVERFLOW
    };
    let _ = INDEX.try_with(|c| c.set(i));
    i
}

#[repr(align(64))]
#[derive(Default)]
struct Line([AtomicU64; KINDS]);

/// One key's counters: a line per shard, and the shared line last.
pub(crate) struct Counters {
    lines: [Line; SHARDS + 1],
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            lines: std::array::from_fn(|_| Line::default()),
        }
    }
}

impl Counters {
    /// Counts one outcome of kind `k` (< [`KINDS`]).
    #[inline(always)]
    pub(crate) fn add(&self, k: usize) {
        let i = INDEX.try_with(Cell::get).unwrap_or(OVERFLOW);
        if i < SHARDS {
            let c = &self.lines[i].0[k];
            // Ordering: this thread is the shard's only writer (it owns
            // the shard's bit in `TAKEN`), so a load and a store cannot
            // lose a count. Release pairs with the Acquire load in
            // `totals`: the flusher sees every count made before whatever
            // it synchronized with (a close).
            c.store(c.load(Ordering::Relaxed) + 1, Ordering::Release);
        } else {
            self.add_slow(i, k);
        }
    }

    /// The first count of a thread, and every count on the shared line.
    #[cold]
    #[inline(never)]
    fn add_slow(&self, i: usize, k: usize) {
        let i = if i == UNCLAIMED { claim() } else { i };
        if i < SHARDS {
            let c = &self.lines[i].0[k];
            // Ordering: as in `add`.
            c.store(c.load(Ordering::Relaxed) + 1, Ordering::Release);
        } else {
            // Ordering: Release, as in `add`; an RMW because several
            // threads share this line.
            self.lines[OVERFLOW].0[k].fetch_add(1, Ordering::Release);
        }
    }

    /// Everything counted so far, per kind.
    pub(crate) fn totals(&self) -> [u64; KINDS] {
        let mut t = [0u64; KINDS];
        for line in &self.lines {
            for (sum, c) in t.iter_mut().zip(line.0.iter()) {
                // Ordering: Acquire, pairs with the Release stores in `add`.
                *sum += c.load(Ordering::Acquire);
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn many_threads_count_exactly() {
        // More threads than shards, some exiting and handing their shard on.
        let c = Arc::new(Counters::default());
        let handles: Vec<_> = (0..SHARDS * 2 + 3)
            .map(|t| {
                let c = Arc::clone(&c);
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        c.add((t + i) % KINDS);
                    }
                })
            })
            .collect();
        let mut seen = 0;
        for h in handles {
            h.join().unwrap();
            let now: u64 = c.totals().iter().sum();
            assert!(now >= seen, "monotonic");
            seen = now;
        }
        assert_eq!(
            c.totals().iter().sum::<u64>(),
            (SHARDS as u64 * 2 + 3) * 1000
        );
    }
}
