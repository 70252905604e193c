//! `tripbit-shm`: list, inspect and remove tripbit region files.
//!
//! ```text
//! tripbit-shm ls PATH             every slot in use: name, state, counts
//! tripbit-shm ls --all PATH       every slot, unused ones too
//! tripbit-shm inspect PATH NAME   one breaker in full
//! tripbit-shm rm PATH             remove the region file
//! ```
//!
//! Exit status: 0 done, 1 the region could not be read (the message names
//! the path), 2 bad usage or no such name.

use std::process::ExitCode;

use tripbit_shm::{Region, SlotInfo, SlotState};

const USAGE: &str = "usage: tripbit-shm ls [--all] PATH | inspect PATH NAME | rm PATH";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["ls", path] => ls(path, false),
        ["ls", "--all", path] | ["ls", path, "--all"] => ls(path, true),
        ["inspect", path, name] => inspect(path, name),
        ["rm", path] => match Region::remove(path) {
            Ok(()) => {
                println!("removed {path}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn fail(e: &tripbit_shm::Error) -> ExitCode {
    eprintln!("tripbit-shm: {e}");
    ExitCode::from(1)
}

fn secs(ns_from_now: i128) -> String {
    format!("{:.1}s", ns_from_now as f64 / 1e9)
}

/// One line of counts for a slot.
fn counts(s: &SlotInfo, now: u64) -> String {
    match &s.snapshot {
        Some(snap) => {
            let mut out = format!(
                "failures={} gen={} level={} probes={}/{}ok/{}fail",
                snap.consecutive_failures,
                snap.generation,
                snap.backoff_level,
                snap.probes_in_flight,
                snap.probe_successes,
                snap.probe_failures
            );
            if let Some(until) = snap.open_until {
                out.push_str(&format!(
                    " reopens_in={}",
                    secs(i128::from(until) - i128::from(now))
                ));
            }
            out
        }
        None => String::from("-"),
    }
}

fn ls(path: &str, all: bool) -> ExitCode {
    let region = match Region::inspect(path) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let info = region.info();
    let slots = region.slots();
    let now = tripbit_shm::now();
    let used = slots
        .iter()
        .filter(|s| s.state != Some(SlotState::Unused))
        .count();
    println!(
        "region {path}: layout v{}, {used} of {} slots in use, {} B, created by pid {}",
        info.version, info.capacity, info.file_size, info.creator_pid
    );
    println!(
        "{:>5}  {:<32}  {:<9}  {:<13}  COUNTS",
        "SLOT", "NAME", "CLAIM", "STATE"
    );
    for s in &slots {
        let (slot_state, name, state) = match s.state {
            None => ("corrupt", String::from("?"), String::from("-")),
            Some(SlotState::Unused) if !all => continue,
            Some(SlotState::Unused) => ("unused", String::new(), String::from("-")),
            Some(SlotState::Claiming) => {
                let left = i128::from(s.since_ms) * 1_000_000 - i128::from(now);
                (
                    "claiming",
                    format!("(pid {}, deadline in {})", s.pid, secs(left)),
                    String::from("-"),
                )
            }
            Some(SlotState::Live) => (
                "live",
                s.name.clone().unwrap_or_default(),
                s.snapshot
                    .map_or_else(|| String::from("invalid"), |snap| snap.state.to_string()),
            ),
        };
        println!(
            "{:>5}  {:<32}  {:<9}  {:<13}  {}",
            s.index,
            name,
            slot_state,
            state,
            counts(s, now)
        );
    }
    ExitCode::SUCCESS
}

fn inspect(path: &str, name: &str) -> ExitCode {
    let region = match Region::inspect(path) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let Some(s) = region
        .slots()
        .into_iter()
        .find(|s| s.name.as_deref() == Some(name))
    else {
        eprintln!("tripbit-shm: region {path} has no breaker named {name:?}");
        return ExitCode::from(2);
    };
    println!("name:        {name}");
    println!("slot:        {}", s.index);
    println!("claimed by:  pid {} ({} claim(s))", s.pid, s.claims);
    println!("fingerprint: {:016x}", s.fingerprint);
    match (&s.snapshot, &s.settings) {
        (Some(snap), Some(settings)) => {
            println!("state:       {}", snap.state);
            println!("counts:      {}", counts(&s, tripbit_shm::now()));
            println!("snapshot:    {snap:?}");
            println!("breaker:     {settings}");
        }
        _ => println!("state:       invalid (out-of-range settings)"),
    }
    ExitCode::SUCCESS
}
