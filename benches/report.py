"""Turns one run of benches/run.sh into benches/README.md and benches/chart.png.

Reads $OUT (the run's result directory): criterion/ (criterion's samples),
counts.json (instructions per call, callgrind), rmw.json (atomic
read-modify-write instructions per call), sizes.json, python.json,
embedded/*.txt, machine.json. Writes the README from scratch; the
hand-written analysis in benches/notes.md is included verbatim.

Usage: python report.py OUT_DIR BENCHES_DIR
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LIBS = [
    ("raw", "direct call (no breaker)"),
    ("tripbit_tick", "**tripbit**, cached tick"),
    ("tripbit_clock", "**tripbit**, `call()` on `clock::now()`"),
    ("recloser", "recloser 1.4"),
    ("failsafe", "failsafe 1.3"),
    ("circuitbreaker_rs", "circuitbreaker-rs 0.1"),
]
PEERS = ["recloser", "failsafe", "circuitbreaker_rs"]
# Not a library: the rejected case's floor for a breaker that reads a clock
# to reject (`CoarseClockOnly` in src/lib.rs).
FLOOR = "floor: `tripbit::clock::coarse()` alone, then reject"
SHORT = {
    "raw": "raw",
    "tripbit_tick": "tripbit (tick)",
    "tripbit_clock": "tripbit (clock)",
    "recloser": "recloser",
    "failsafe": "failsafe",
    "circuitbreaker_rs": "circuitbreaker-rs",
}
SCENARIOS = [
    ("success_consecutive", "Closed-state success, consecutive policy (3 failures trip)"),
    ("success_window", "Closed-state success, rate-window policy (50 % of ~100 calls, ≥ 20 calls)"),
    ("failure_pair", "Closed-state failure, consecutive policy (a failure + a success, per pair)"),
    ("rejected", "Rejected call while open"),
    ("probe", "Half-open probe (admitted after the open period, fails, reopens)"),
]
BASELINE = {
    "rejected": "loop only: the operation not called",
}
PY_LIBS = ["tripbit", "seed", "pybreaker", "circuitbreaker"]


def load(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def criterion(out: Path) -> dict[str, dict[str, Any]]:
    """{full_id: {median, min, max, samples}} in ns per iteration."""
    res: dict[str, dict[str, Any]] = {}
    for bench in (out / "criterion").glob("**/new/benchmark.json"):
        meta = load(bench)
        sample = load(bench.parent / "sample.json")
        if not meta or not sample:
            continue
        per = [t / i for t, i in zip(sample["times"], sample["iters"])]
        res[meta["full_id"]] = {
            "median": statistics.median(per),
            "min": min(per),
            "max": max(per),
            "samples": len(per),
        }
    return res


def fmt_ns(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def ratio(peer: float | None, ours: float | None, floor: float) -> str:
    """peer / ours; ours clamped at `floor` (below it the difference is noise)."""
    if peer is None or ours is None:
        return "–"
    if ours < floor:
        return f"≥ {peer / floor:.0f}×" if peer / floor >= 10 else f"≥ {peer / floor:.1f}×"
    r = peer / ours
    return f"{r:.0f}×" if r >= 10 else f"{r:.1f}×"


def verdict(ok: bool | None, miss: str = "") -> str:
    if ok is None:
        return "not measured"
    return "**met**" if ok else f"**missed** {miss}".rstrip()


class Report:
    def __init__(self, out: Path, benches: Path) -> None:
        self.out = out
        self.benches = benches
        self.crit = criterion(out)
        counts = load(out / "counts.json") or {}
        self.counts = {(c["scenario"], c["lib"]): c["instructions"] for c in counts.get("cases", [])}
        self.valgrind = counts.get("valgrind")
        rmw = load(out / "rmw.json") or {}
        self.rmw = {(c["scenario"], c["lib"]): c for c in rmw.get("cases", [])}
        self.sizes = load(out / "sizes.json") or []
        self.py = load(out / "python.json")
        self.machine = load(out / "machine.json") or {}
        self.threads_check = load(out / "threads.json") or {}
        self.lines: list[str] = []
        self.targets: list[tuple[str, str, str]] = []
        self.goals: list[tuple[str, str, str]] = []

    # -- data -------------------------------------------------------------

    def ns(self, scenario: str, lib: str) -> dict[str, Any] | None:
        return self.crit.get(f"{scenario}/{lib}")

    def added_ns(self, scenario: str, lib: str) -> float | None:
        m, base = self.ns(scenario, lib), self.ns(scenario, "raw")
        if m is None or base is None:
            return None
        return m["median"] - base["median"]

    def ir(self, scenario: str, lib: str) -> float | None:
        return self.counts.get((scenario, lib))

    def added_ir(self, scenario: str, lib: str) -> float | None:
        a, b = self.ir(scenario, lib), self.ir(scenario, "raw")
        if a is None or b is None:
            return None
        return a - b

    def thread(self, scenario: str, lib: str, n: int) -> dict[str, Any] | None:
        return self.crit.get(f"threads_{scenario}/{lib}/{n}")

    def scaling(self, scenario: str, lib: str) -> float | None:
        one, two = self.thread(scenario, lib, 1), self.thread(scenario, lib, 2)
        if one is None or two is None:
            return None
        # Per thread-iteration times: 2 threads make twice the calls.
        return 2 * one["median"] / two["median"]

    # -- output -----------------------------------------------------------

    def w(self, line: str = "") -> None:
        self.lines.append(line)

    def rust_tables(self) -> None:
        self.w("## Rust: one guarded call, one thread")
        self.w()
        self.w(
            "Median ns per call over criterion's samples [min – max], and instructions per "
            "call counted by callgrind. *Added* is the cost over the `raw` row (the same "
            "operation called unguarded), so it is what the breaker costs. *Peer ÷ tripbit* "
            "divides each peer's added cost by tripbit's (cached tick) — how many times less "
            "tripbit adds; where tripbit's added ns is below 0.1 ns (timer noise) the ratio is "
            "taken against 0.1 ns and shown as ≥. *RMW* is the number of atomic "
            "read-modify-write instructions (`lock`-prefixed or `xchg`) executed per call."
        )
        self.w()
        for sid, title in SCENARIOS:
            self.w(f"### {title}")
            self.w()
            if sid in BASELINE:
                self.w(f"`raw` here: {BASELINE[sid]}.")
                self.w()
            self.w(
                "| library | ns/call [min – max] | added ns | instructions | added instr. | RMW "
                "| peer ÷ tripbit (ns) | peer ÷ tripbit (instr.) |"
            )
            self.w("|---|---:|---:|---:|---:|---:|---:|---:|")
            t_ns = self.added_ns(sid, "tripbit_tick")
            t_ir = self.added_ir(sid, "tripbit_tick")
            for lib, name in [*LIBS, ("coarse_clock", FLOOR)]:
                m = self.ns(sid, lib)
                ir = self.ir(sid, lib)
                if m is None and ir is None:
                    continue
                cell = f"{fmt_ns(m['median'])} [{fmt_ns(m['min'])} – {fmt_ns(m['max'])}]" if m else "–"
                rmw = self.rmw.get((sid, lib))
                rmw_s = f"{rmw['rmw']:.2f}" if rmw else "–"
                if lib in PEERS:
                    r_ns = ratio(self.added_ns(sid, lib), t_ns, 0.1)
                    r_ir = ratio(self.added_ir(sid, lib), t_ir, 1.0)
                else:
                    r_ns = r_ir = ""
                added = "" if lib == "raw" else fmt_ns(self.added_ns(sid, lib))
                added_ir = "" if lib == "raw" else fmt_ns(self.added_ir(sid, lib))
                self.w(
                    f"| {name} | {cell} | {added} | {fmt_ns(ir)} | {added_ir} | {rmw_s} | {r_ns} | {r_ir} |"
                )
            self.w()

    def thread_tables(self) -> None:
        self.w("## Rust: 2 threads sharing one breaker")
        self.w()
        self.w(
            "Throughput in million calls per second (all threads together; median over "
            "criterion's samples) with 1 thread and with 2 threads calling the same breaker, "
            "and the scaling factor (2-thread throughput ÷ 1-thread throughput; 2.0 is perfect "
            "on 2 cores). The machine is shared: the other core was not idle, so read the "
            "factor of the raw row as the ceiling this run could show."
        )
        self.w()
        scen = [s for s in SCENARIOS if s[0] != "probe"]
        self.w("| library | " + " | ".join(f"{s[0]}: 1 thr → 2 thr (×)" for s in scen) + " |")
        self.w("|---|" + "---:|" * len(scen))
        for lib, name in LIBS:
            cells = []
            for sid, _ in scen:
                one, two = self.thread(sid, lib, 1), self.thread(sid, lib, 2)
                if one is None or two is None:
                    cells.append("–")
                    continue
                t1 = 1e3 / one["median"]
                t2 = 2e3 / two["median"]
                cells.append(f"{t1:.0f} → {t2:.0f} ({t2 / t1:.2f}×)")
            self.w(f"| {name} | " + " | ".join(cells) + " |")
        self.w()
        bad = {k: v for k, v in self.threads_check.items() if v.get("unexpected")}
        if bad:
            self.w(
                "Unexpected results in the threaded runs (calls that did not return what the "
                "scenario expects, e.g. a breaker that tripped under contention): "
                + ", ".join(f"`{k}` {v['unexpected']} of {v['calls']}" for k, v in sorted(bad.items()))
                + "."
            )
        elif self.threads_check:
            self.w("Every call of the threaded runs returned what its scenario expects.")
        self.w()

    def size_table(self) -> None:
        self.w("## Size of each breaker")
        self.w()
        self.w(
            "`size_of` the value you embed, and the heap it holds once built (counted by a "
            "wrapping global allocator), on x86_64."
        )
        self.w()
        self.w("| library | policy | type | size_of (bytes) | heap (bytes) |")
        self.w("|---|---|---|---:|---:|")
        for row in self.sizes:
            self.w(
                f"| {SHORT.get(row['lib'], row['lib'])} | {row['policy']} | `{row['type']}` | "
                f"{row['size']} | {row['heap']} |"
            )
        self.w()

    def python_tables(self) -> None:
        py = self.py
        self.w("## Python")
        self.w()
        if not py:
            self.w("Not measured in this run (python.json missing).")
            self.w()
            return
        d, rz = py["direct"], py["raise"]
        self.w(
            f"{py['implementation']} {py['python']}, one breaker per library (3 consecutive "
            f"failures trip it, open 30 s). Median ns per call over {d['reps']} repetitions "
            f"[min – max]. A direct call of the same function costs **{fmt_ns(d['median'])} ns** "
            f"[{fmt_ns(d['min'])} – {fmt_ns(d['max'])}]; raising and catching an exception "
            f"costs **{fmt_ns(rz['median'])} ns** [{fmt_ns(rz['min'])} – {fmt_ns(rz['max'])}]. "
            "*Overhead* is the cost over the direct call. circuitbreaker's `call()` skips its "
            "open check (only its decorator rejects), so its decorator is its API: the ratios "
            "against it use the decorator, and its rejected and threaded rows go through it."
        )
        self.w()
        libs = py["libs"]
        tb = libs.get("tripbit")
        tb_call = tb["call"]["median"] - d["median"] if tb else None
        tb_deco = tb["decorator"]["median"] - d["median"] if tb and tb["decorator"] else None
        self.w(
            "| library | `call(f)` [min – max] | overhead | ÷ tripbit | decorator [min – max] | "
            "overhead | ÷ tripbit | rejected [min – max] | rejected ÷ raise |"
        )
        self.w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for lib in PY_LIBS:
            r = libs.get(lib)
            if not r:
                continue
            c = r["call"]
            over = c["median"] - d["median"]
            dec = r["decorator"]
            if dec:
                dover = dec["median"] - d["median"]
                dcell = f"{fmt_ns(dec['median'])} [{fmt_ns(dec['min'])} – {fmt_ns(dec['max'])}]"
                dover_s = fmt_ns(dover)
                dr = "" if lib == "tripbit" else ratio(dover, tb_deco, 1.0)
            else:
                dcell, dover_s, dr = "n/a (none)", "", ""
            cr = "" if lib == "tripbit" else ratio(over, tb_call, 1.0)
            rj = r["rejected"]
            self.w(
                f"| {r['title']} | {fmt_ns(c['median'])} [{fmt_ns(c['min'])} – {fmt_ns(c['max'])}] | "
                f"{fmt_ns(over)} | {cr} | {dcell} | {dover_s} | {dr} | "
                f"{fmt_ns(rj['median'])} [{fmt_ns(rj['min'])} – {fmt_ns(rj['max'])}] | "
                f"{rj['median'] / rz['median']:.2f}× |"
            )
        self.w()
        t = next(iter(libs.values()))["threads"]
        self.w(
            f"### {t['threads']} threads on one breaker vs 1 thread (same number of calls, "
            f"median of {t['reps']} repetitions)"
        )
        self.w()
        self.w("| library | 1 thread (calls/s) | 8 threads (calls/s) | ratio [min – max] |")
        self.w("|---|---:|---:|---:|")
        t = py.get("direct_threads")
        if t:
            self.w(
                f"| direct call (no breaker): the GIL's own cost | {t['one_thread_calls_per_s'] / 1e6:.2f} M | "
                f"{t['threads_calls_per_s'] / 1e6:.2f} M | {t['ratio']:.2f}× "
                f"[{t['ratio_min']:.2f} – {t['ratio_max']:.2f}] |"
            )
        for lib in PY_LIBS:
            r = libs.get(lib)
            if not r:
                continue
            t = r["threads"]
            self.w(
                f"| {r['title']} | {t['one_thread_calls_per_s'] / 1e6:.2f} M | "
                f"{t['threads_calls_per_s'] / 1e6:.2f} M | {t['ratio']:.2f}× "
                f"[{t['ratio_min']:.2f} – {t['ratio_max']:.2f}] |"
            )
        self.w()

    def embedded(self) -> None:
        self.w("## Embedded")
        self.w()
        edir = self.out / "embedded"
        for name, what in [
            ("firmware-c", "C firmware with the FFI static library (`examples/firmware-c/run-qemu.sh`)"),
            ("hal-sensor", "Rust embedded-hal example (`examples/hal-sensor/run-qemu.sh`)"),
        ]:
            self.w(f"### {what}")
            self.w()
            status = (edir / f"{name}.status").read_text().strip() if (edir / f"{name}.status").exists() else "missing"
            if status == "ok":
                lines = (edir / f"{name}.txt").read_text().rstrip().splitlines()
                # The script's closing summary (from its last "== summary" or
                # "== sizes" header on); the whole output is in the run's
                # results directory.
                starts = [i for i, l in enumerate(lines) if l.startswith(("== summary", "== sizes"))]
                lines = lines[starts[-1]:] if starts else lines[-15:]
                self.w(
                    "Its summary in this run, as it prints it (whole output: "
                    f"`embedded/{name}.txt` in the run's results directory):"
                )
                self.w()
                self.w("```")
                self.extend_raw(lines)
                self.w("```")
            elif status == "missing":
                self.w(
                    "**Not measured in this run**: the script does not exist yet. `.text`/`.data` "
                    "per policy on thumbv6m and thumbv7m come from it once it does."
                )
            else:
                text = (edir / f"{name}.txt").read_text().rstrip().splitlines()[-20:]
                self.w(f"**Not measured in this run**: the script failed ({status}). Its last lines:")
                self.w()
                self.w("```")
                self.extend_raw(text)
                self.w("```")
            self.w()
        self.embedded_instructions(edir)
        self.w(
            "**Not measured in this run**: `.text` per policy: both firmwares build the "
            "consecutive policy only, so the window policy's share is not in these figures."
        )
        self.w()

    def embedded_instructions(self, edir: Path) -> None:
        """Instructions per guarded call on thumbv7m/thumbv6m (count-insns.sh)."""
        self.w(
            "### Instructions per guarded call on thumbv7m and thumbv6m "
            "(`examples/firmware-c/count-insns.sh`)"
        )
        self.w()
        status_file = edir / "count-insns.status"
        status = status_file.read_text().strip() if status_file.exists() else "missing"
        text = (edir / "count-insns.txt").read_text() if (edir / "count-insns.txt").exists() else ""
        summary = next((l for l in reversed(text.splitlines()) if l.startswith("count-insns: ")), "")
        if status != "ok" or not summary.startswith("count-insns: PASS"):
            if status == "missing":
                self.w("**Not measured in this run**: the script does not exist.")
            else:
                self.w(f"**Not measured in this run**: the script failed ({status}). Its last lines:")
                self.w()
                self.w("```")
                self.extend_raw(text.rstrip().splitlines()[-20:])
                self.w("```")
            self.w()
            return
        cores: dict[str, dict[str, str]] = {}
        for part in summary.split(" | ")[1:]:
            words = part.split()
            if words and words[0] in ("v7m", "v6m"):
                cores[words[0]] = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        self.w(
            "Instructions executed per call through the C API, on the target core (`count.c`, "
            "built `-Os` like the firmware, linked against the same `libtripbit.a`). The "
            "baseline is a loop calling a trivial out-of-line operation (a volatile increment). "
            "*Closed success*: `tripbit_breaker_acquire` → the operation → "
            "`tripbit_breaker_record(SUCCESS)` on a closed breaker (consecutive policy). "
            "*Rejected*: the same loop on a breaker tripped open by 3 failures, where `acquire` "
            "returns `TRIPBIT_E_REJECTED` and the operation is not called. Added = guarded − "
            "baseline; for the rejected call the baseline still calls the operation, so its "
            "figure is the net extra over calling the operation unguarded. Every result is "
            "checked. The counts include the caller's code around the calls and the firmware's "
            "critical-section hooks (`mrs`/`cpsid`, `msr`: 5 instructions per section)."
        )
        self.w()
        self.w(
            "| core (QEMU board) | baseline (operation alone) | closed success | added "
            "| rejected while open | added | critical sections per success / rejection |"
        )
        self.w("|---|---:|---:|---:|---:|---:|---:|")
        labels = {"v7m": "thumbv7m, Cortex-M3 (`lm3s6965evb`)", "v6m": "thumbv6m, Cortex-M0 (`microbit`)"}
        for core, label in labels.items():
            c = cores.get(core)
            if not c:
                self.w(f"| {label} | – | – | – | – | – | – |")
                continue
            self.w(
                f"| {label} | {c['baseline']} | {c['success']} | **+{c['added_success']}** | "
                f"{c['rejected']} | **+{c['added_rejected']}** | {c['cs_success']} / {c['cs_rejected']} |"
            )
            if "added_success_with" in c:
                base = int(c["baseline"])
                sw, rw = int(c["added_success_with"]), int(c["added_rejected_with"])
                self.w(
                    f"| … through `tripbit_breaker_acquire_with` / `_record_with` (a clock "
                    f"function, read only when needed) | {base} | {base + sw} | **+{sw}** | "
                    f"{base + rw} | +{rw} | {c['cs_success_with']} / {c['cs_rejected_with']} |"
                )
        self.w()
        mhz = {}
        for l in text.splitlines():
            m = re.match(r"(v7m|v6m) \(.*\(SysTick ([0-9.]+) MHz\)", l)
            if m:
                mhz[m.group(1)] = float(m.group(2))
        clock = "SysTick runs at " + " and ".join(
            f"{mhz[c]:g} MHz of virtual time on `{b}`" for c, b in (("v7m", "lm3s6965evb"), ("v6m", "microbit")) if c in mhz
        )
        self.w(
            "**Method** (exact): QEMU runs the firmware with one guest instruction per "
            "translation block (`-singlestep`; `-accel tcg,one-insn-per-tb=on` on QEMU ≥ 8.1) and "
            "`-d exec,nochain`, which logs every block it executes, so each executed instruction "
            "is one log line with its PC. The script counts the lines between two marker "
            "functions around loops of 10, 40 and 70 calls and divides the 70 − 10 difference by "
            "60, so the markers and the loop set-up cancel out. It checks that every counted "
            "block holds one instruction (its cflags), that the counts are exactly linear in "
            "the number of calls, that a hand-written `subs`/`bne` loop counts exactly 2 per "
            "iteration, and that the baseline equals the count read off `objdump -d` of its "
            "loop. **Cross-check** (independent): the same image under `-icount shift=0` (the "
            "virtual clock advances 1 ns per guest instruction) times 10 000 and 110 000 calls "
            "with SysTick on the processor clock, converted to instructions with the "
            f"`subs`/`bne` loop as calibration ({clock}); the script requires "
            "agreement within the timer's resolution (a few thousandths of an instruction per "
            "call). The script prints where the instructions go, per function."
        )
        self.w()
        lines = text.rstrip().splitlines()
        starts = [i for i, l in enumerate(lines) if l.startswith("== instructions per guarded call")]
        if starts:
            self.w(
                "Its table in this run, as it prints it (whole output, with the per-function "
                "breakdown: `embedded/count-insns.txt` in the run's results directory):"
            )
            self.w()
            self.w("```")
            self.extend_raw(lines[starts[-1]:])
            self.w("```")
            self.w()

    def extend_raw(self, lines: list[str]) -> None:
        self.lines.extend(lines)

    # -- targets ------------------------------------------------------------

    def compute_targets(self) -> None:
        T = self.targets
        s = "success_consecutive"
        a_ns, a_ir = self.added_ns(s, "tripbit_tick"), self.added_ir(s, "tripbit_tick")
        T.append((
            "Rust closed success, consecutive: added ≤ 0.6 ns",
            f"{fmt_ns(a_ns)} ns",
            verdict(None if a_ns is None else a_ns <= 0.6, f"by {fmt_ns((a_ns or 0) - 0.6)} ns"),
        ))
        T.append((
            "… and ≤ 11 instructions",
            f"{fmt_ns(a_ir)}",
            verdict(None if a_ir is None else a_ir <= 11, f"by {fmt_ns((a_ir or 0) - 11)}"),
        ))
        rmw = self.rmw.get((s, "tripbit_tick"))
        T.append((
            "… no atomic read-modify-write on that path",
            "–" if not rmw else f"{rmw['rmw']:.2f} RMW/call",
            verdict(None if not rmw else rmw["rmw"] == 0, ""),
        ))
        for peer in ["recloser", "failsafe"]:
            for kind, ours, theirs, floor in [
                ("ns", a_ns, self.added_ns(s, peer), 0.1),
                ("instructions", a_ir, self.added_ir(s, peer), 1.0),
            ]:
                ok = None if ours is None or theirs is None else theirs >= 10 * max(ours, floor)
                T.append((
                    f"… ≥ 10× less added {kind} than {peer}",
                    ratio(theirs, ours, floor),
                    verdict(ok, "" if ok is None else f"(needs 10×)"),
                ))
        s = "success_window"
        w_ns, w_ir = self.added_ns(s, "tripbit_tick"), self.added_ir(s, "tripbit_tick")
        for peer in ["recloser", "failsafe"]:
            for kind, ours, theirs, floor in [
                ("ns", w_ns, self.added_ns(s, peer), 0.1),
                ("instructions", w_ir, self.added_ir(s, peer), 1.0),
            ]:
                ok = None if ours is None or theirs is None else theirs >= 4 * max(ours, floor)
                T.append((
                    f"Rust rate-window success: ≥ 4× less added {kind} than {peer}",
                    ratio(theirs, ours, floor),
                    verdict(ok, "(needs 4×)"),
                ))
        for sid, label in [("success_consecutive", "consecutive"), ("success_window", "rate window, for information")]:
            f = self.scaling(sid, "tripbit_tick")
            raw = self.scaling(sid, "raw")
            T.append((
                f"Rust 2 threads on one breaker scale ≥ 1.8× ({label})",
                "–" if f is None else f"{f:.2f}× (unguarded calls: {raw:.2f}×)" if raw else f"{f:.2f}×",
                verdict(None if f is None else f >= 1.8, f"by {1.8 - (f or 0):.2f}"),
            ))
        rj = self.ns("rejected", "tripbit_tick")
        T.append((
            "Rust rejected call ≤ 3 ns",
            "–" if not rj else f"{fmt_ns(rj['median'])} ns",
            verdict(None if not rj else rj["median"] <= 3, f"by {fmt_ns((rj or {}).get('median', 0) - 3)} ns"),
        ))
        py = self.py
        if py:
            d = py["direct"]["median"]
            libs = py["libs"]
            tb = libs["tripbit"]["call"]["median"] - d
            T.append(("Python `call()` overhead ≤ 170 ns", f"{fmt_ns(tb)} ns", verdict(tb <= 170, f"by {fmt_ns(tb - 170)} ns")))
            for lib, need, path in [("seed", 5, "call"), ("pybreaker", 7, "call"), ("circuitbreaker", 3, "decorator")]:
                r = libs.get(lib)
                if not r or not r.get(path):
                    continue
                theirs = r[path]["median"] - d
                T.append((
                    f"… ≥ {need}× below {r['title']} ({path})",
                    ratio(theirs, tb, 1.0),
                    verdict(theirs >= need * tb, f"(needs {need}×)"),
                ))
            t8 = libs["tripbit"]["threads"]["ratio"]
            dt = py.get("direct_threads", {}).get("ratio")
            T.append((
                "Python 8 threads keep ≥ 0.95× of 1-thread throughput",
                f"{t8:.2f}×" + (f" (unguarded calls: {dt:.2f}×)" if dt else ""),
                verdict(t8 >= 0.95, f"by {0.95 - t8:.2f}"),
            ))
            rj = libs["tripbit"]["rejected"]["median"]
            rz = py["raise"]["median"]
            T.append((
                "Python rejected call close to raising an exception",
                f"{fmt_ns(rj)} ns vs {fmt_ns(rz)} ns ({rj / rz:.2f}×)",
                verdict(rj <= 1.5 * rz, "(more than 1.5× the raise)"),
            ))

    def speed_goals(self) -> None:
        """Issue 18's goals, each met or missed, from this run."""
        G = self.goals
        rj = self.added_ns("rejected", "tripbit_clock")
        floor = self.added_ns("rejected", "coarse_clock")
        G.append((
            "rejected `call()` costs ≤ 5 ns added",
            f"{fmt_ns(rj)} ns"
            + ("" if floor is None or rj is None else
               f" (of which the coarse clock read alone: {fmt_ns(floor)} ns, the breaker: {fmt_ns(rj - floor)} ns)"),
            verdict(None if rj is None else rj <= 5, f"by {fmt_ns((rj or 0) - 5)} ns"),
        ))
        for peer in PEERS:
            theirs = self.added_ns("rejected", peer)
            ok = None if rj is None or theirs is None else theirs >= 5 * max(rj, 0.1)
            G.append((f"… ≥ 5× below {peer}'s rejection", ratio(theirs, rj, 0.1), verdict(ok, "(needs 5×)")))
        for lib, label in [("tripbit_tick", "tick"), ("tripbit_clock", "`call()`")]:
            f = self.scaling("success_window", lib)
            raw = self.scaling("success_window", "raw")
            G.append((
                f"rate window, 2 threads ≥ 1.5× one thread ({label})",
                "–" if f is None else f"{f:.2f}×" + (f" (unguarded: {raw:.2f}×)" if raw else ""),
                verdict(None if f is None else f >= 1.5, f"by {1.5 - (f or 0):.2f}"),
            ))
        w = self.added_ns("success_window", "tripbit_clock")
        G.append((
            "rate window closed success through `call()` ≤ 3 ns added",
            f"{fmt_ns(w)} ns",
            verdict(None if w is None else w <= 3, f"by {fmt_ns((w or 0) - 3)} ns"),
        ))
        rc = self.added_ns("success_window", "recloser")
        ok = None if w is None or rc is None else rc >= 4 * max(w, 0.1)
        G.append(("… ≥ 4× below recloser", ratio(rc, w, 0.1), verdict(ok, "(needs 4×)")))
        py = self.py
        if py:
            tb = py["libs"]["tripbit"]
            rjp, rz = tb["rejected"]["median"], py["raise"]["median"]
            G.append((
                "Python rejected `cb.call(f)` ≤ 1.3× raising and catching",
                f"{fmt_ns(rjp)} ns vs {fmt_ns(rz)} ns ({rjp / rz:.2f}×)",
                verdict(rjp <= 1.3 * rz, "(more than 1.3×)"),
            ))
            t8 = tb["threads"]["ratio"]
            dt = py.get("direct_threads", {}).get("ratio")
            G.append((
                "Python 8 threads ≥ 0.95× one thread (GIL baseline in brackets)",
                f"{t8:.2f}×" + (f" ({dt:.2f}×)" if dt else ""),
                verdict(t8 >= 0.95, f"by {0.95 - t8:.2f}"),
            ))

    # -- headline -------------------------------------------------------------

    def headline(self) -> None:
        self.w("## Headline")
        self.w()
        self.w(
            "Rust: added cost per call over the unguarded call, as ns / instructions / atomic "
            "RMWs (callgrind), on both paths users take: **tick** is `try_acquire(now)` / "
            "`record(now)` with a tick the caller already has (embedded, or a cached clock); "
            "**`call()`** is `breaker.call(|| ...)`, which reads `tripbit::clock` itself (the "
            "coarse clock for a rejection, the precise one only where a tick is needed). "
            "In brackets for each peer: how many times tripbit's added ns the peer's is, "
            "against tripbit's tick path, then against its `call()` path. Threads: throughput "
            "with 2 threads on one breaker ÷ with 1."
        )
        self.w()
        libs = ["tripbit_tick", "tripbit_clock", *PEERS]
        heads = {"tripbit_tick": "tripbit (tick)", "tripbit_clock": "tripbit `call()`"}
        self.w("| case | " + " | ".join(heads.get(lib, SHORT[lib]) for lib in libs) + " |")
        self.w("|---|" + "---:|" * len(libs))
        for sid, label in [
            ("success_consecutive", "closed success, consecutive"),
            ("success_window", "closed success, rate window"),
            ("failure_pair", "failure + success (pair)"),
            ("rejected", "rejected while open"),
            ("probe", "half-open probe"),
        ]:
            t_ns = self.added_ns(sid, "tripbit_tick")
            c_ns = self.added_ns(sid, "tripbit_clock")
            cells = []
            for lib in libs:
                a_ns, a_ir = self.added_ns(sid, lib), self.added_ir(sid, lib)
                rmw = self.rmw.get((sid, lib))
                cell = f"{fmt_ns(a_ns)} / {fmt_ns(a_ir)} / {rmw['rmw']:.0f}" if rmw else f"{fmt_ns(a_ns)} / {fmt_ns(a_ir)}"
                if lib in PEERS:
                    cell += f" ({ratio(a_ns, t_ns, 0.1)}, {ratio(a_ns, c_ns, 0.1)})"
                cells.append(cell)
            self.w(f"| {label} | " + " | ".join(cells) + " |")
        for sid, label in [
            ("success_consecutive", "2 threads ÷ 1, closed success, consecutive"),
            ("success_window", "2 threads ÷ 1, closed success, rate window"),
            ("rejected", "2 threads ÷ 1, rejected"),
        ]:
            cells = []
            for lib in libs:
                f = self.scaling(sid, lib)
                cells.append("–" if f is None else f"{f:.2f}×")
            self.w(f"| {label} | " + " | ".join(cells) + " |")
        self.w()
        py = self.py
        if py:
            d = py["direct"]["median"]
            libs_p = [lib for lib in PY_LIBS if lib in py["libs"]]
            self.w(
                f"Python ({py['python']}): overhead over a direct call ({fmt_ns(d)} ns) in ns, and "
                "how many times tripbit's the peer's is (circuitbreaker: its decorator, its API); "
                f"rejected call in ns (raising an exception: {fmt_ns(py['raise']['median'])} ns); "
                "8-thread ÷ 1-thread throughput."
            )
            self.w()
            self.w("| case | " + " | ".join(py["libs"][lib]["title"] for lib in libs_p) + " |")
            self.w("|---|" + "---:|" * len(libs_p))
            tb = py["libs"]["tripbit"]
            tb_call = tb["call"]["median"] - d
            tb_deco = tb["decorator"]["median"] - d
            row_call, row_deco, row_rej, row_thr = [], [], [], []
            for lib in libs_p:
                r = py["libs"][lib]
                c = r["call"]["median"] - d
                path = "decorator" if lib == "circuitbreaker" else "call"
                main = r[path]["median"] - d
                if lib == "tripbit":
                    row_call.append(fmt_ns(c))
                elif path == "decorator":
                    row_call.append(
                        f"{fmt_ns(main)} via its decorator ({ratio(main, tb_call, 1.0)}); its `call()`, "
                        f"which never rejects: {fmt_ns(c)}"
                    )
                else:
                    row_call.append(f"{fmt_ns(c)} ({ratio(c, tb_call, 1.0)})")
                if r["decorator"]:
                    o = r["decorator"]["median"] - d
                    row_deco.append(fmt_ns(o) + ("" if lib == "tripbit" else f" ({ratio(o, tb_deco, 1.0)})"))
                else:
                    row_deco.append("n/a")
                row_rej.append(fmt_ns(r["rejected"]["median"]))
                row_thr.append(f"{r['threads']['ratio']:.2f}×")
            self.w("| `call()` overhead | " + " | ".join(row_call) + " |")
            self.w("| decorator overhead | " + " | ".join(row_deco) + " |")
            self.w("| rejected call | " + " | ".join(row_rej) + " |")
            self.w("| 8 threads ÷ 1 | " + " | ".join(row_thr) + " |")
            self.w()

    # -- chart --------------------------------------------------------------

    def chart(self) -> str:
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 6), gridspec_kw={"width_ratios": [3, 2]})
        libs = [lib for lib, _ in LIBS]
        colors = {
            "raw": "#9e9e9e",
            "tripbit_tick": "#1b7837",
            "tripbit_clock": "#7fbf7b",
            "recloser": "#2166ac",
            "failsafe": "#b2182b",
            "circuitbreaker_rs": "#e08214",
        }
        scen = [s for s, _ in SCENARIOS]
        width = 0.8 / len(libs)
        for i, lib in enumerate(libs):
            xs, ys = [], []
            for j, sid in enumerate(scen):
                m = self.ns(sid, lib)
                if m:
                    xs.append(j + (i - (len(libs) - 1) / 2) * width)
                    ys.append(m["median"])
            ax1.bar(xs, ys, width, label=SHORT[lib], color=colors[lib])
        ax1.set_xticks(range(len(scen)))
        ax1.set_xticklabels(["success\nconsecutive", "success\nrate window", "failure+success\n(pair)", "rejected", "half-open\nprobe"])
        ax1.set_yscale("log")
        ax1.set_ylabel("ns per call (median, log scale)")
        ax1.set_title("Rust: one guarded call, one thread")
        ax1.legend(fontsize=8, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.14))
        ax1.grid(axis="y", which="both", alpha=0.3)
        if self.py:
            py = self.py
            paths = [("direct", "direct"), ("call", "call()"), ("decorator", "decorator"), ("rejected", "rejected")]
            pcolors = {"tripbit": "#1b7837", "seed": "#762a83", "pybreaker": "#2166ac", "circuitbreaker": "#e08214"}
            pl = [lib for lib in PY_LIBS if lib in py["libs"]]
            width = 0.8 / len(pl)
            for i, lib in enumerate(pl):
                r = py["libs"][lib]
                xs, ys = [], []
                for j, (key, _) in enumerate(paths):
                    v = py["direct"] if key == "direct" else r.get(key)
                    if v:
                        xs.append(j + (i - (len(pl) - 1) / 2) * width)
                        ys.append(v["median"])
                ax2.bar(xs, ys, width, label=r["title"], color=pcolors[lib])
            ax2.set_xticks(range(len(paths)))
            ax2.set_xticklabels([p[1] for p in paths])
            ax2.set_ylabel("ns per call (median)")
            ax2.set_title(f"Python {py['python']}")
            ax2.legend(fontsize=8, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.14))
            ax2.grid(axis="y", alpha=0.3)
        fig.suptitle(f"tripbit vs peers — {self.machine.get('date', '')}, {self.machine.get('cpu', '')}", fontsize=10)
        fig.tight_layout()
        path = self.benches / "chart.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        return path.name

    # -- whole README -----------------------------------------------------------

    def render(self) -> str:
        m = self.machine
        chart = self.chart()
        self.compute_targets()
        self.w("# Benchmarks: tripbit vs the other circuit breakers")
        self.w()
        self.w(
            "*Generated by `benches/run.sh` — do not edit by hand (the analysis comes from "
            "`benches/notes.md`). Every figure below is from one run of that command, on "
            "the machine described here.*"
        )
        self.w()
        self.w("```sh")
        self.w("benches/run.sh                      # everything, rewrites this file (~10 min on 2 cores)")
        self.w("TRIPBIT_BENCH_QUICK=1 benches/run.sh  # short measurements, for development")
        self.w("cargo test -p tripbit-benches       # the smoke test: each guard does what its case claims")
        self.w("```")
        self.w()
        self.w("## This run")
        self.w()
        self.w(f"- date: {m.get('date', '?')}{' (QUICK mode: short measurements)' if m.get('quick') else ''}")
        self.w(f"- CPU: {m.get('cpu', '?')}, {m.get('cores', '?')} cores; load average before / after: {m.get('load_before', '?')} / {m.get('load_after', '?')} (a shared machine: other builds ran beside this one)")
        self.w(f"- {m.get('rustc', '?')}; release profile with fat LTO and 1 codegen unit; criterion 0.8")
        self.w(f"- Python: {m.get('python', '?')}; {self.valgrind or 'valgrind: not available'} for instruction counts")
        self.w(f"- {m.get('kernel', '')}; the whole run took {m.get('elapsed_s', '?')} s")
        self.w()
        self.w(f"![ns per call per library]({chart})")
        self.w()
        self.headline()
        self.speed_goals()
        self.w("## Goals of issue 18 (speed where users call it)")
        self.w()
        self.w("| goal | measured | verdict |")
        self.w("|---|---|---|")
        for g in self.goals:
            self.w(f"| {g[0]} | {g[1]} | {g[2]} |")
        self.w()
        goals = Path(self.out) / "goals.txt"
        goals.write_text("".join(f"{g[2]:<10} {g[0]}: {g[1]}\n" for g in self.goals))
        self.w("## Targets of issue 8")
        self.w()
        self.w("| target | measured | verdict |")
        self.w("|---|---|---|")
        for t in self.targets:
            self.w(f"| {t[0]} | {t[1]} | {t[2]} |")
        self.w()
        self.w("## What is measured, and how")
        self.w()
        self.w(
            "Each case is a scenario (what the call does, which state the breaker is in) "
            "run through one library's documented call API: `tripbit::Breaker::try_acquire` / "
            "`Permit::record` with a cached tick (the embedded and hot-path use: the tick is "
            "read with one relaxed load from a clock something else keeps up to date) and "
            "`Breaker::call` (reads `tripbit::clock` only where it needs a tick: `CLOCK_MONOTONIC_COARSE` "
            "for a rejection while the open period runs, `CLOCK_MONOTONIC` for a trip, a probe or a "
            "time window; nothing for a closed success of either policy without a slow-call rule), "
            "`recloser::Recloser::call`, `failsafe::CircuitBreaker::call`, "
            "`circuitbreaker_rs::CircuitBreaker::call`. The guarded operation is the same "
            "`#[inline(never)]` function for all. The configurations (see `src/lib.rs`): "
            "consecutive = 3 failures in a row (recloser: `error_rate(1.0).closed_len(3)`, its "
            "closest equivalent; circuitbreaker-rs: `consecutive_failures(3)`); rate window = "
            "trip at ≥ 50 % failures over the last 100 calls once 20 are in (tripbit "
            "`Window<10>` (4 stripes) × `count_window(10)`, `failure_rate(50, 20)`; recloser "
            "`error_rate(0.5).closed_len(100)`, which needs its 100-call ring filled first; "
            "failsafe `success_rate_over_time_window(0.5, 20, 30 s)`, an EMA over 30 s; "
            "circuitbreaker-rs `failure_threshold(0.5).min_throughput(20)`, counts since the "
            "last reset). `tests/smoke.rs` checks that each guard passes, trips, rejects and "
            "probes as its case claims, and every loop checks every result."
        )
        self.w()
        self.w(
            "Time: criterion, "
            + (m.get("criterion_settings") or "")
            + "; the tables show the median of the per-sample means, and the fastest and "
            "slowest sample. Instructions: `src/bin/count.rs` runs each single-threaded case "
            "under `valgrind --tool=callgrind`, collecting only inside the timed loop, and "
            "divides by the iterations; the loop's own instructions are in the `raw` row. "
            "Syscalls (`clock_gettime` falls back to one under valgrind) count only their "
            "user-space side. RMW counts come from the same runs (`--dump-instr=yes`): every "
            "executed instruction (of the benchmark binary and of the shared libraries it ran in) "
            "is looked up in `objdump -d` of its object (`benches/rmw.py`)."
        )
        self.w()
        notes = self.benches / "notes.md"
        if notes.exists():
            self.w(notes.read_text().rstrip())
            self.w()
        self.rust_tables()
        self.thread_tables()
        self.size_table()
        self.python_tables()
        self.embedded()
        return "\n".join(self.lines) + "\n"


def main() -> None:
    out, benches = Path(sys.argv[1]), Path(sys.argv[2])
    text = Report(out, benches).render()
    (benches / "README.md").write_text(text)
    print(f"wrote {benches / 'README.md'} and {benches / 'chart.png'}", file=sys.stderr)


if __name__ == "__main__":
    main()
