//! `size_of` each library's breaker, and the heap it holds once built.
//!
//! Prints one JSON object. `size` is `size_of` the value you embed (a
//! `static`, a struct field); `heap` is the bytes it still holds on the heap
//! after construction (counted by a global allocator that wraps `System`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::mem::size_of;
use std::sync::atomic::{AtomicIsize, Ordering};

use circuitbreaker_rs::DefaultPolicy;
use failsafe::backoff::Constant;
use failsafe::failure_policy::{ConsecutiveFailures, SuccessRateOverTimeWindow};
use tripbit_benches::{
    CircuitbreakerRs, Failsafe, FailsafeWindow, Guard, OpError, Policy, Recloser, Setup,
    TripbitTickConsecutive, TripbitTickWindow,
};

/// Counts live heap bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged; the counter has no effect on the allocations.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's (valid) layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's (valid) layout.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Heap bytes a closed `G` built for `policy` holds.
fn heap<G: Guard>(policy: Policy) -> isize {
    let before = LIVE.load(Ordering::Relaxed);
    let g = G::build(policy, Setup::Closed);
    let held = LIVE.load(Ordering::Relaxed) - before;
    drop(std::hint::black_box(g));
    held
}

fn main() {
    let rows = [
        (
            "tripbit_tick",
            "consecutive",
            "tripbit::Breaker",
            size_of::<tripbit::Breaker>(),
            heap::<TripbitTickConsecutive>(Policy::Consecutive),
        ),
        (
            "tripbit_tick",
            "window",
            "tripbit::Breaker<Window<10>>",
            size_of::<tripbit::Breaker<tripbit::Window<10>>>(),
            heap::<TripbitTickWindow>(Policy::Window),
        ),
        (
            "recloser",
            "consecutive",
            "recloser::Recloser (closed_len 3)",
            size_of::<recloser::Recloser>(),
            heap::<Recloser>(Policy::Consecutive),
        ),
        (
            "recloser",
            "window",
            "recloser::Recloser (closed_len 100)",
            size_of::<recloser::Recloser>(),
            heap::<Recloser>(Policy::Window),
        ),
        (
            "failsafe",
            "consecutive",
            "failsafe::StateMachine<ConsecutiveFailures<Constant>, ()>",
            size_of::<failsafe::StateMachine<ConsecutiveFailures<Constant>, ()>>(),
            heap::<Failsafe>(Policy::Consecutive),
        ),
        (
            "failsafe",
            "window",
            "failsafe::StateMachine<SuccessRateOverTimeWindow<Constant>, ()>",
            size_of::<failsafe::StateMachine<SuccessRateOverTimeWindow<Constant>, ()>>(),
            heap::<FailsafeWindow>(Policy::Window),
        ),
        (
            "circuitbreaker_rs",
            "consecutive",
            "circuitbreaker_rs::CircuitBreaker<DefaultPolicy, E>",
            size_of::<circuitbreaker_rs::CircuitBreaker<DefaultPolicy, OpError>>(),
            heap::<CircuitbreakerRs>(Policy::Consecutive),
        ),
        (
            "circuitbreaker_rs",
            "window",
            "circuitbreaker_rs::CircuitBreaker<DefaultPolicy, E>",
            size_of::<circuitbreaker_rs::CircuitBreaker<DefaultPolicy, OpError>>(),
            heap::<CircuitbreakerRs>(Policy::Window),
        ),
    ];
    let body: Vec<String> = rows
        .iter()
        .map(|(lib, policy, ty, size, heap)| {
            format!(
                "  {{\"lib\": \"{lib}\", \"policy\": \"{policy}\", \"type\": \"{ty}\", \"size\": {size}, \"heap\": {heap}}}"
            )
        })
        .collect();
    println!("[\n{}\n]", body.join(",\n"));
}
