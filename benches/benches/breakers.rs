//! Criterion benchmarks: every case of `tripbit_benches::visit_all`, one
//! thread, then the threaded scenarios with 1 and 2 threads sharing one
//! breaker. `benches/run.sh` runs this and turns criterion's samples into
//! the tables of `benches/README.md`.
//!
//! `TRIPBIT_BENCH_QUICK=1` shortens every measurement (for development).
//! Unexpected results of the threaded runs (a breaker that tripped under
//! contention, say) are written to `$TRIPBIT_BENCH_OUT/threads.json`.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion};
use tripbit_benches::{Guard, Scenario, Visitor, build, run_threads, visit_all};

/// The guard of scenario `S` on the heap, where programs keep a shared
/// breaker (a static or an `Arc`). On the loop's stack, a 16-byte load of
/// tripbit's stamp made a rejected `call()` 11.6-13.8 ns instead of 7.0 in
/// one build (benches/notes.md).
fn shared<S: Scenario, G: Guard>() -> Box<G> {
    Box::new(build::<S, G>())
}

struct Single<'a>(&'a mut Criterion);

impl Visitor for Single<'_> {
    fn visit<S: Scenario, G: Guard>(&mut self, lib: &'static str) {
        let g = shared::<S, G>();
        let g = &*g;
        let mut group = self.0.benchmark_group(S::ID);
        group.bench_function(lib, |b| {
            let mut i = 0u64;
            b.iter(|| {
                i = i.wrapping_add(1);
                S::call(g, black_box(i))
            })
        });
        group.finish();
    }
}

struct Threads<'a> {
    c: &'a mut Criterion,
    wrong: Vec<(String, u64, u64)>,
}

impl Visitor for Threads<'_> {
    fn visit<S: Scenario, G: Guard>(&mut self, lib: &'static str) {
        if !S::THREADED {
            return;
        }
        let mut group = self.c.benchmark_group(format!("threads_{}", S::ID));
        for threads in [1usize, 2] {
            // One breaker per thread count, shared by every sample.
            let g = shared::<S, G>();
            let g = &*g;
            let mut wrong = 0u64;
            let mut calls = 0u64;
            group.bench_with_input(BenchmarkId::new(lib, threads), &threads, |b, &t| {
                b.iter_custom(|iters| {
                    let (elapsed, w) = run_threads::<S, G>(g, t, iters);
                    wrong += w;
                    calls += iters * t as u64;
                    elapsed
                })
            });
            self.wrong
                .push((format!("{}/{lib}/{threads}", S::ID), wrong, calls));
        }
        group.finish();
    }
}

fn criterion() -> Criterion {
    let quick = std::env::var_os("TRIPBIT_BENCH_QUICK").is_some();
    let c = Criterion::default().sample_size(if quick { 10 } else { 40 });
    let c = if quick {
        c.warm_up_time(Duration::from_millis(100))
            .measurement_time(Duration::from_millis(300))
    } else {
        c.warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2))
    };
    c.configure_from_args()
}

fn main() {
    let mut c = criterion();
    visit_all(&mut Single(&mut c));
    let mut t = Threads {
        c: &mut c,
        wrong: Vec::new(),
    };
    visit_all(&mut t);
    let mut json = String::from("{\n");
    for (i, (id, wrong, calls)) in t.wrong.iter().enumerate() {
        let sep = if i + 1 == t.wrong.len() { "" } else { "," };
        writeln!(
            json,
            "  \"{id}\": {{\"unexpected\": {wrong}, \"calls\": {calls}}}{sep}"
        )
        .expect("write to a String");
    }
    json.push_str("}\n");
    if let Some(dir) = std::env::var_os("TRIPBIT_BENCH_OUT") {
        let path = std::path::Path::new(&dir).join("threads.json");
        std::fs::write(&path, json).expect("write threads.json");
    }
    c.final_summary();
}
