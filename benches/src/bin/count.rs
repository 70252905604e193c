//! Instructions per guarded call, counted by callgrind: stable where
//! nanoseconds are not (a shared, noisy machine).
//!
//! `count` (no arguments) runs itself under `valgrind --tool=callgrind` once
//! per single-threaded case of `tripbit_benches::visit_all`, counting only
//! the instructions executed inside [`tripbit_bench_measured`] (the timed
//! loop, after a warm-up), and prints one JSON object: instructions per
//! iteration for every case. The callgrind files are kept in
//! `$TRIPBIT_BENCH_OUT/callgrind/` (or a temporary directory) for
//! `callgrind_annotate` and for `benches/rmw.py`, which counts the atomic
//! read-modify-write instructions among the executed ones.
//!
//! `count SCENARIO LIB ITERS` runs one case, `ITERS` iterations, and is what
//! valgrind runs. Kernel time (a syscall such as `clock_gettime`, which
//! valgrind runs natively instead of through the vDSO) is not counted.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use tripbit_benches::{Guard, Scenario, Visitor, build, run_loop, visit_all};

/// The one function whose instructions callgrind counts
/// (`--toggle-collect=tripbit_bench_measured`).
#[inline(never)]
#[unsafe(no_mangle)]
fn tripbit_bench_measured(f: &mut dyn FnMut() -> u64) -> u64 {
    f()
}

/// Runs the one case named on the command line.
struct One {
    scenario: String,
    lib: String,
    iters: u64,
    wrong: Option<u64>,
}

impl Visitor for One {
    fn visit<S: Scenario, G: Guard>(&mut self, lib: &'static str) {
        if S::ID != self.scenario || lib != self.lib {
            return;
        }
        let g: G = build::<S, G>();
        // Warm up: lazy statics, thread registration, caches.
        let mut wrong = run_loop::<S, G>(&g, 1_000);
        let iters = self.iters;
        wrong += tripbit_bench_measured(&mut || run_loop::<S, G>(&g, iters));
        self.wrong = Some(wrong);
    }
}

/// Lists every case.
struct List(Vec<(&'static str, &'static str)>);

impl Visitor for List {
    fn visit<S: Scenario, G: Guard>(&mut self, lib: &'static str) {
        self.0.push((S::ID, lib));
    }
}

/// The `totals:` (or `summary:`) line of a callgrind output file.
fn total_ir(path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .filter_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .max()
}

fn run_all() -> ExitCode {
    let quick = std::env::var_os("TRIPBIT_BENCH_QUICK").is_some();
    let iters: u64 = if quick { 20_000 } else { 200_000 };
    let exe = std::env::current_exe().expect("own path");
    let dir: PathBuf = match std::env::var_os("TRIPBIT_BENCH_OUT") {
        Some(d) => Path::new(&d).join("callgrind"),
        None => std::env::temp_dir().join("tripbit-callgrind"),
    };
    std::fs::create_dir_all(&dir).expect("create the callgrind directory");
    let vg = Command::new("valgrind").arg("--version").output();
    let version = match vg {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        _ => {
            eprintln!("count: valgrind not found; no instruction counts");
            println!("{{\"valgrind\": null, \"iters\": {iters}, \"cases\": []}}");
            return ExitCode::SUCCESS;
        }
    };
    let mut list = List(Vec::new());
    visit_all(&mut list);
    let mut rows = Vec::new();
    let mut failed = false;
    for (scenario, lib) in list.0 {
        let out = dir.join(format!("{scenario}.{lib}.out"));
        let status = Command::new("valgrind")
            .args([
                "--tool=callgrind",
                "--collect-atstart=no",
                "--toggle-collect=tripbit_bench_measured",
                // Every executed address, uncompressed: `benches/rmw.py`
                // looks each one up in the disassembly.
                "--dump-instr=yes",
                "--compress-pos=no",
                "--compress-strings=no",
                "--quiet",
            ])
            .arg(format!("--callgrind-out-file={}", out.display()))
            .arg(&exe)
            .args([scenario, lib, &iters.to_string()])
            .status()
            .expect("run valgrind");
        let ir = total_ir(&out);
        match (status.success(), ir) {
            (true, Some(ir)) => {
                let per = ir as f64 / iters as f64;
                eprintln!("count: {scenario:<20} {lib:<18} {per:>9.1} instructions/iteration");
                rows.push(format!(
                    "    {{\"scenario\": \"{scenario}\", \"lib\": \"{lib}\", \"instructions\": {per:.2}}}"
                ));
            }
            _ => {
                eprintln!("count: {scenario}/{lib} failed ({status})");
                failed = true;
            }
        }
    }
    println!(
        "{{\"valgrind\": \"{version}\", \"iters\": {iters}, \"cases\": [\n{}\n]}}",
        rows.join(",\n")
    );
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => run_all(),
        [scenario, lib, iters] => {
            let mut one = One {
                scenario: scenario.clone(),
                lib: lib.clone(),
                iters: iters.parse().expect("ITERS is a number"),
                wrong: None,
            };
            visit_all(&mut one);
            match one.wrong {
                Some(0) => ExitCode::SUCCESS,
                Some(w) => {
                    eprintln!("count: {scenario}/{lib}: {w} unexpected results");
                    ExitCode::FAILURE
                }
                None => {
                    eprintln!("count: no case {scenario}/{lib}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!("usage: count [SCENARIO LIB ITERS]");
            ExitCode::FAILURE
        }
    }
}
