//! Outcome counters that a guarded call bumps without an atomic
//! read-modify-write: each thread owns a shard (a cache line per key) and
//! is its only writer, so a count is a plain load and store. Threads beyond
//! [`SHARDS`] share one line with `fetch_add`.
//!
//! Every counter only grows. The flusher never resets them: it remembers
//! what it already took and takes the difference, so a count is moved to a
//! batch exactly once whatever the interleaving.

use std::sync::atomic::{AtomicU64, Ordering};

/// Outcomes counted per key.
pub(crate) const KINDS: usize = 5;

/// Threads that get a shard of their own.
pub(crate) const SHARDS: usize = 32;

/// Which shards are owned: bit `i` set while a live thread owns shard `i`.
static TAKEN: AtomicU64 = AtomicU64::new(0);

/// This thread's shard, claimed on first use and given back when it exits.
struct Slot(Option<usize>);

impl Slot {
    fn claim() -> Slot {
        // Ordering: Relaxed load, then an AcqRel CAS that pairs with the
        // Release `fetch_and` of the thread that gave the shard back: its
        // last stores to the shard's counters happen-before this thread's
        // first load of them, so the counts continue from its final values.
        let mut cur = TAKEN.load(Ordering::Relaxed);
        loop {
            let free = !cur & ((1u64 << SHARDS) - 1);
            if free == 0 {
                return Slot(None);
            }
            let i = free.trailing_zeros() as usize;
            match TAKEN.compare_exchange_weak(
                cur,
                cur | (1 << i),
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Slot(Some(i)),
                Err(actual) => cur = actual,
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(i) = self.0 {
            // Ordering: Release, pairs with the AcqRel CAS in `claim`.
            TAKEN.fetch_and(!(1 << i), Ordering::Release);
        }
    }
}

thread_local! {
    static SLOT: Slot = Slot::claim();
}

#[repr(align(64))]
#[derive(Default)]
struct Line([AtomicU64; KINDS]);

/// One key's counters.
pub(crate) struct Counters {
    shards: Box<[Line]>,
    shared: Line,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            shards: (0..SHARDS).map(|_| Line::default()).collect(),
            shared: Line::default(),
        }
    }
}

impl Counters {
    /// Counts one outcome of kind `k` (< [`KINDS`]).
    #[inline]
    pub(crate) fn add(&self, k: usize) {
        let slot = SLOT.try_with(|s| s.0).ok().flatten();
        match slot.and_then(|i| self.shards.get(i)) {
            Some(line) => {
                let c = &line.0[k];
                // Ordering: this thread is the shard's only writer, so a
                // load and a store cannot lose a count. Release pairs with
                // the Acquire load in `totals`: the flusher sees every count
                // made before whatever it synchronized with (a close).
                c.store(c.load(Ordering::Relaxed) + 1, Ordering::Release);
            }
            // Ordering: Release, as above; an RMW because several threads
            // share this line.
            None => {
                self.shared.0[k].fetch_add(1, Ordering::Release);
            }
        }
    }

    /// Everything counted so far, per kind.
    pub(crate) fn totals(&self) -> [u64; KINDS] {
        let mut t = [0u64; KINDS];
        for line in self.shards.iter().chain(std::iter::once(&self.shared)) {
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
