#!/usr/bin/env python3
"""Run the original system's circuit-breaker tests against a live tree.

    python scenarios.py

Starts the six servers (gateway A, leaders B and E, workers C, D, F) as
subprocesses of this interpreter on free loopback ports, runs the tests of
the original presentation with assertions, prints the results table and
always stops every server it started, by PID. Exit status 0 when every
check passed, 1 otherwise.

The breaker under test is whatever `tripbit` this interpreter imports
(common/circuit_breaker.py is one import line).

    python scenarios.py --breaker original

runs the same checks against a copy of the servers whose
common/circuit_breaker.py holds the original pure-Python breaker instead
(benches/python/seed_breaker.py): the scenarios are the original system's,
not tailored to tripbit, and the servers are the same code either way.
"""

import argparse
import atexit
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parent
# The server tree the processes run from: ROOT, or a copy with the original
# breaker (--breaker original).
TREE = ROOT
SEED_BREAKER = ROOT.parent.parent / "benches" / "python" / "seed_breaker.py"
sys.path.insert(0, str(ROOT))

IDS = ("A", "B", "C", "D", "E", "F")
START_ORDER = ("C", "D", "F", "B", "E", "A")  # children first
BREAKERS = ("A->B", "A->E", "B->C", "E->D", "E->F")
BASELINE_TOTAL = 300_056  # the original system's numbers
C_DOWN_TOTAL = 238_688
QUERY_TIMEOUT = 15.0
SHOW = ("CircuitBreaker-", "❌", "⏭️", "🩺", "⚠️")  # server log lines worth echoing


class ScenarioFailure(Exception):
    pass


def check(cond: bool, what: str) -> None:
    if not cond:
        raise ScenarioFailure(what)
    print(f"   ✅ {what}")


def header(title: str) -> None:
    print(f"\n{'═' * 72}\n{title}\n{'═' * 72}")


# --------------------------------------------------------------------- setup

def preflight() -> None:
    missing = []
    for mod, pkg in (("grpc", "grpcio"), ("grpc_tools", "grpcio-tools"), ("google.protobuf", "protobuf")):
        try:
            __import__(mod)
        except ImportError:
            missing.append(pkg)
    if missing:
        sys.exit(f"missing packages: {' '.join(missing)} (pip install -r {ROOT / 'requirements.txt'})")
    try:
        import tripbit
    except ImportError as e:
        sys.exit(f"cannot import tripbit ({e}): install the wheel in this interpreter "
                 "(pip install tripbit, or build py/ with maturin)")
    print(f"Breaker under test: tripbit {getattr(tripbit, '__version__', '?')} "
          f"from {Path(tripbit.__file__).parent}")
    print(f"Python: {sys.executable}")


def free_ports(n: int) -> List[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def write_configs(run_dir: Path) -> Dict[str, dict]:
    """Copies of configs/process_X.json with every port replaced by a free one."""
    ports = {sid: port for sid, port in zip(IDS, free_ports(len(IDS)))}  # noqa: B905 (3.9)
    configs = {}
    for sid in IDS:
        cfg = json.loads((ROOT / "configs" / f"process_{sid.lower()}.json").read_text())
        cfg["port"] = ports[sid]
        for n in cfg.get("neighbors", []):
            n["port"] = ports[n["id"]]
        (run_dir / f"process_{sid.lower()}.json").write_text(json.dumps(cfg, indent=2))
        configs[sid] = cfg
    return configs


# ------------------------------------------------------------------ cluster

@dataclass
class QueryResult:
    total: int
    rows_by_server: Dict[str, int]
    calls: Dict[str, object]  # "B->C" -> ChildCall
    seconds: float

    def latency(self, edge: str) -> Optional[float]:
        c = self.calls.get(edge)
        return c.seconds if c is not None else None


class Cluster:
    def __init__(self, run_dir: Path, configs: Dict[str, dict], show_logs: bool):
        from client import query, stats, tree_pb2, tree_pb2_grpc  # generates the stubs once
        self._query, self._stats = query, stats
        self._pb, self._pb_grpc = tree_pb2, tree_pb2_grpc
        self.run_dir = run_dir
        self.configs = configs
        self.show_logs = show_logs
        self.procs: Dict[str, subprocess.Popen] = {}
        self.stopped = set()  # SIGSTOPped
        self.offsets = {sid: 0 for sid in IDS}
        self.env = dict(os.environ, PYTHONUNBUFFERED="1", TREE_DIE_WITH_PARENT=str(os.getpid()))
        self.query_count = 0

    def addr(self, sid: str) -> str:
        return f"127.0.0.1:{self.configs[sid]['port']}"

    def config_path(self, sid: str) -> Path:
        return self.run_dir / f"process_{sid.lower()}.json"

    def log_path(self, sid: str) -> Path:
        return self.run_dir / f"{sid}.log"

    def start(self, sid: str) -> None:
        with open(self.log_path(sid), "ab") as log:
            self.procs[sid] = subprocess.Popen(
                [sys.executable, str(TREE / "server.py"), str(self.config_path(sid))],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=TREE, env=self.env)
        print(f"   started {sid} (pid {self.procs[sid].pid}) on {self.addr(sid)}")

    def wait_ready(self, ids, timeout: float = 30.0) -> None:
        import grpc
        deadline = time.monotonic() + timeout
        pending = list(ids)
        while pending:
            sid = pending[0]
            rc = self.procs[sid].poll()
            if rc is not None:
                raise ScenarioFailure(f"server {sid} exited with status {rc}:\n{self.tail(sid)}")
            try:
                with grpc.insecure_channel(self.addr(sid)) as ch:
                    self._pb_grpc.TreeServiceStub(ch).Health(
                        self._pb.HealthRequest(from_id="scenarios"), timeout=0.5)
                pending.pop(0)
                continue
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                raise ScenarioFailure(f"server {sid} did not answer within {timeout:.0f}s:\n{self.tail(sid)}")
            time.sleep(0.1)

    def send(self, sid: str, sig: int) -> None:
        p = self.procs[sid]
        os.kill(p.pid, sig)
        if sig == signal.SIGSTOP:
            self.stopped.add(sid)
        elif sig == signal.SIGCONT:
            self.stopped.discard(sid)
        print(f"   sent {signal.Signals(sig).name} to {sid} (pid {p.pid})")

    def kill(self, sid: str) -> None:
        self.send(sid, signal.SIGKILL)
        self.procs[sid].wait(timeout=10)

    def stop_all(self) -> None:
        """Stop every server this script started, by PID; idempotent."""
        live = {sid: p for sid, p in self.procs.items() if p.poll() is None}
        for sid, p in live.items():
            try:
                if sid in self.stopped:
                    os.kill(p.pid, signal.SIGCONT)
                p.terminate()
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5.0
        for p in live.values():
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.stopped.clear()

    # -------------------------------------------------------------- queries

    def query(self) -> QueryResult:
        self.query_count += 1
        rows, summary, seconds = self._query(self.addr("A"), timeout=QUERY_TIMEOUT,
                                             query_id=f"q{self.query_count}")
        if summary is None:
            raise ScenarioFailure("A's stream ended without a summary")
        by_server = dict(summary.rows_by_server)
        if sum(by_server.values()) != rows:
            raise ScenarioFailure(f"rows received ({rows:,}) differ from A's summary ({sum(by_server.values()):,})")
        calls = {f"{c.caller}->{c.callee}": c for c in summary.calls}
        return QueryResult(rows, by_server, calls, seconds)

    def breakers(self) -> Dict[str, dict]:
        out = {}
        for sid in ("A", "B", "E"):
            out.update(self._stats(self.addr(sid))["breakers"])
        return out

    # ----------------------------------------------------------------- logs

    def log_text(self, sid: str) -> str:
        try:
            return self.log_path(sid).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, sid: str, n: int = 15) -> str:
        return "\n".join("      | " + line for line in self.log_text(sid).splitlines()[-n:])

    def echo_logs(self) -> None:
        """Print the interesting server log lines written since the last call."""
        time.sleep(0.05)  # let the servers' last lines land
        for sid in IDS:
            data = self.log_path(sid).read_bytes() if self.log_path(sid).exists() else b""
            new, self.offsets[sid] = data[self.offsets[sid]:], len(data)
            if not self.show_logs:
                continue
            for line in new.decode("utf-8", errors="replace").splitlines():
                if any(mark in line for mark in SHOW):
                    print(f"      | {line}")


# -------------------------------------------------------------------- tests

@dataclass
class Row:
    test: str
    rows: int
    b_latency: Optional[float]
    e_latency: Optional[float]
    open_breakers: List[str]


@dataclass
class Context:
    cluster: Cluster
    counts: Dict[str, int]
    threshold: int
    open_timeout: float
    rows: List[Row] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    baseline_b: float = 0.0


def median(values) -> Optional[float]:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def open_breakers(states: Dict[str, dict]) -> List[str]:
    out = []
    for name in BREAKERS:
        state = states.get(name, {}).get("state")
        if state == "open":
            out.append(name)
        elif state != "closed":
            out.append(f"{name} ({state})")
    return out


def expect_states(states: Dict[str, dict], want_open: List[str], ignore=()) -> None:
    for name in BREAKERS:
        if name in ignore:
            print(f"   ·  breaker {name} is {states.get(name, {}).get('state')} (not checked here)")
            continue
        want = "open" if name in want_open else "closed"
        got = states.get(name, {}).get("state")
        check(got == want, f"breaker {name} is {want.upper()} (get_stats: {got})")


def show_query(i: int, r: QueryResult, edge: str) -> None:
    c = r.calls.get(edge)
    what = f"{edge} {c.outcome} ({c.detail}), breaker {c.breaker_state}" if c else f"{edge} not reached"
    print(f"   query {i}: {r.total:,} rows in {r.seconds:.3f}s; {what}; "
          f"B {r.latency('A->B') or 0:.3f}s, E {r.latency('A->E') or 0:.3f}s as seen by A")


def test0_config(ctx: Context) -> None:
    header("TEST 0: Bad breaker config (missing/malformed -> defaults, invalid -> refuse to start)")
    base = json.loads(ctx.cluster.config_path("B").read_text())
    cases = [
        ("missing circuit_breakers", None, True, 0,
         ["no 'circuit_breakers' section", "failure_threshold=3, open_timeout_seconds=30.0, success_threshold=1",
          "[CircuitBreaker-B->C] Initialized: threshold=3, timeout=30.0s"]),
        ("malformed circuit_breakers (a list)", [3, 30.0, 1], True, 0,
         ["'circuit_breakers' is malformed", "failure_threshold=3, open_timeout_seconds=30.0, success_threshold=1"]),
        ("failure_threshold 0", {"failure_threshold": 0, "open_timeout_seconds": 3.0, "success_threshold": 1},
         True, 2, ["'circuit_breakers.failure_threshold' must be an integer >= 1, got 0"]),
        ("negative open_timeout_seconds", {"failure_threshold": 3, "open_timeout_seconds": -5.0,
                                           "success_threshold": 1},
         True, 2, ["'circuit_breakers.open_timeout_seconds' must be a positive number of seconds, got -5.0"]),
        ("failure_threshold 0, real start-up", {"failure_threshold": 0, "open_timeout_seconds": 3.0,
                                                "success_threshold": 1},
         False, 2, ["Invalid config"]),
    ]
    for i, (label, section, check_only, want_rc, want_text) in enumerate(cases):
        cfg = dict(base)
        if section is None:
            cfg.pop("circuit_breakers", None)
        else:
            cfg["circuit_breakers"] = section
        path = ctx.cluster.run_dir / f"bad_{i}.json"
        path.write_text(json.dumps(cfg))
        cmd = [sys.executable, str(TREE / "server.py")] + (["--check-config"] if check_only else []) + [str(path)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=TREE, env=ctx.cluster.env)
        out = proc.stdout + proc.stderr
        shown = next((line for line in out.splitlines() if "⚠️" in line or "❌" in line), out.strip()[:120])
        print(f"   {label}: exit {proc.returncode}: {shown}")
        missing = [t for t in want_text if t not in out]
        check(proc.returncode == want_rc and not missing,
              f"{label}: exit status {want_rc} (got {proc.returncode}) and the expected message"
              + (f"; missing from the output: {missing}" if missing else ""))


def test1_baseline(ctx: Context) -> None:
    header("TEST 1: Normal operation (baseline)")
    c = ctx.cluster
    results = [c.query() for _ in range(6)]  # the first one warms up
    for i, r in enumerate(results[1:], 1):
        show_query(i, r, "B->C")
    c.echo_logs()
    check(all(r.total == BASELINE_TOTAL for r in results), f"every query returned {BASELINE_TOTAL:,} rows")
    check(results[-1].rows_by_server == ctx.counts,
          "rows per server: " + ", ".join(f"{k} {v:,}" for k, v in sorted(ctx.counts.items()) if v))
    check(all(call.outcome == "ok" for call in results[-1].calls.values()), "every child call succeeded")
    states = c.breakers()
    expect_states(states, [])
    ctx.baseline_b = median(r.latency("A->B") for r in results[1:])
    ctx.rows.append(Row("1 Baseline", results[-1].total, ctx.baseline_b,
                        median(r.latency("A->E") for r in results[1:]), open_breakers(states)))


def breaker_lines(ctx: Context, sid: str, edge: str) -> List[str]:
    """Every line breaker `edge` wrote to server `sid`'s stdout, in order."""
    mark = f"[CircuitBreaker-{edge}] "
    return [line for line in ctx.cluster.log_text(sid).splitlines() if line.startswith(mark)]


def expected_lines(ctx: Context, edge: str, *events: str) -> List[str]:
    """The original breaker's lines, byte for byte, for `events` (after the
    Initialized line): "trip" (closed -> open), "reopen" (a failed probe),
    "close" (half-open -> closed), "reset" (Manually reset from open)."""
    p, t = f"[CircuitBreaker-{edge}] ", ctx.open_timeout
    out = [f"{p}Initialized: threshold={ctx.threshold}, timeout={t}s"]
    for e in events:
        if e == "trip":
            out += [f"{p}🔴 State transition: closed -> open (failure_count={ctx.threshold})",
                    f"{p}⚠️ Circuit OPENED - will block calls for {t}s"]
        elif e == "reopen":
            out += [f"{p}🔴 State transition: half_open -> open (failure_count=0)",
                    f"{p}⚠️ Circuit OPENED - will block calls for {t}s"]
        elif e == "close":
            out += [f"{p}🟢 State transition: half_open -> closed",
                    f"{p}✅ Circuit CLOSED - normal operation resumed"]
        else:
            raise AssertionError(e)
    return out


def check_lines(ctx: Context, sid: str, edge: str, *events: str) -> None:
    """`events` as for expected_lines; "reopen*" stands for the failed
    probes a slow earlier test may have let happen (each one exact too)."""
    got = breaker_lines(ctx, sid, edge)
    reopens = sum("🔴 State transition: half_open -> open" in line for line in got)
    events = tuple(x for e in events for x in (["reopen"] * reopens if e == "reopen*" else [e]))
    want = expected_lines(ctx, edge, *events)
    if got != want:
        print("      expected:\n" + "\n".join(f"      | {x}" for x in want))
        print("      got:\n" + "\n".join(f"      | {x}" for x in got))
    check(got == want, f"{sid}'s {edge} lines match the original byte for byte, in order "
                       f"({len(want)} lines: {', '.join(('init',) + events)})")


def run_until_open(ctx: Context, edge: str, expect_total: int, expect_detail: str) -> List[QueryResult]:
    """Query until the breaker on `edge` opens; every answer must be the partial total."""
    failing = []
    for i in range(1, ctx.threshold + 3):
        r = ctx.cluster.query()
        show_query(i, r, edge)
        check(r.total == expect_total, f"query {i} returned partial results: {expect_total:,} rows")
        call = r.calls.get(edge)
        if call is not None and call.outcome == "failed":
            failing.append(r)
            check(call.detail == expect_detail, f"{edge} failed with {expect_detail}")
        if call is not None and call.breaker_state == "open":
            break
    check(len(failing) == ctx.threshold, f"{edge} opened after exactly {ctx.threshold} failures")
    return failing


def test2_c_fails(ctx: Context) -> None:
    header("TEST 2: Isolated failure of worker C (SIGKILL)")
    c = ctx.cluster
    c.kill("C")
    expected = BASELINE_TOTAL - ctx.counts["C"]
    check(expected == C_DOWN_TOTAL, f"without C the tree holds {C_DOWN_TOTAL:,} rows")
    failing = run_until_open(ctx, "B->C", expected, "UNAVAILABLE")
    c.echo_logs()
    states = c.breakers()
    expect_states(states, ["B->C"])
    check(states["B->C"]["failure_count"] == ctx.threshold,
          f"B->C failure_count stays {ctx.threshold} while open")
    log = c.log_text("B")
    for k in range(1, ctx.threshold + 1):
        line = f"[B] ❌ Error contacting C: StatusCode.UNAVAILABLE (failure count: {k}/{ctx.threshold})"
        check(line in log, f"B logged: {line}")
    line = f"[CircuitBreaker-B->C] 🔴 State transition: closed -> open (failure_count={ctx.threshold})"
    check(line in log, f"B logged: {line}")
    check_lines(ctx, "B", "B->C", "trip")
    # Printed synchronously before call() re-raised: the server's own error
    # line for the failure that tripped it comes after both breaker lines.
    lines = log.splitlines()
    opened = lines.index(f"[CircuitBreaker-B->C] ⚠️ Circuit OPENED - will block calls for {ctx.open_timeout}s")
    last_error = lines.index(f"[B] ❌ Error contacting C: StatusCode.UNAVAILABLE "
                             f"(failure count: {ctx.threshold}/{ctx.threshold})")
    check(lines[opened - 1].startswith("[CircuitBreaker-B->C] 🔴") and opened < last_error,
          "the 🔴 and ⚠️ lines come right after each other, before B's own error line for that call")
    check(states["B->C"]["last_failure_time"] is not None, "B->C last_failure_time is set while open")
    ctx.rows.append(Row("2 C fails (B->C opens)", failing[-1].total,
                        median(r.latency("A->B") for r in failing),
                        median(r.latency("A->E") for r in failing), open_breakers(states)))


def test3_fail_fast(ctx: Context) -> None:
    header("TEST 3: Fail-fast while B->C is OPEN")
    c = ctx.cluster
    check(c.breakers()["B->C"]["state"] == "open", "B->C is OPEN before the test")
    measured = []
    for i in range(1, 9):
        r = c.query()
        show_query(i, r, "B->C")
        check(r.total == C_DOWN_TOTAL, f"query {i}: {C_DOWN_TOTAL:,} rows (B local + E + D + F)")
        if r.calls["B->C"].outcome == "skipped":
            measured.append(r)
        else:
            print("   (B->C had gone HALF_OPEN and probed C; not a fail-fast sample)")
        if len(measured) == 5:
            break
    c.echo_logs()
    check(len(measured) == 5, "5 queries answered with B->C skipped (no call to C)")
    check("[B] ⏭️ Circuit breaker OPEN for C, skipping call (fail-fast)" in c.log_text("B"),
          "B logged: [B] ⏭️ Circuit breaker OPEN for C, skipping call (fail-fast)")
    open_b = median(r.latency("A->B") for r in measured)
    check(open_b < ctx.baseline_b,
          f"B answers faster with B->C OPEN ({open_b:.3f}s) than with B->C CLOSED and C healthy "
          f"({ctx.baseline_b:.3f}s)")
    ctx.notes.append(f"B's latency as seen by A: {ctx.baseline_b:.3f}s (B->C closed, C healthy) -> "
                     f"{open_b:.3f}s (B->C open, fail-fast): {100 * (1 - open_b / ctx.baseline_b):.0f}% faster")
    states = c.breakers()
    ctx.rows.append(Row("3 Fail-fast (B->C open)", measured[-1].total, open_b,
                        median(r.latency("A->E") for r in measured), open_breakers(states)))


def test3b_hung_peer(ctx: Context) -> None:
    header("TEST 3b: Hung worker D (SIGSTOP): a 2 s deadline per call until E->D opens")
    c = ctx.cluster
    deadline = c.configs["E"]["rpc_timeout_seconds"]
    expected = BASELINE_TOTAL - ctx.counts["C"] - ctx.counts["D"]
    c.send("D", signal.SIGSTOP)
    try:
        hung = run_until_open(ctx, "E->D", expected, "DEADLINE_EXCEEDED")
        hung_e = median(r.latency("A->E") for r in hung)
        check(all(r.calls["E->D"].seconds >= 0.9 * deadline for r in hung),
              f"each E->D call took the whole deadline (~{deadline}s)")
        states = c.breakers()
        ctx.rows.append(Row("3b Hung D, until E->D opens", hung[-1].total,
                            median(r.latency("A->B") for r in hung), hung_e, open_breakers(states)))
        fast = []
        for i in range(1, 3):
            r = c.query()
            show_query(i, r, "E->D")
            check(r.total == expected, f"query {i}: {expected:,} rows")
            check(r.calls["E->D"].outcome == "skipped", "E->D skipped at once (fail-fast)")
            fast.append(r)
        c.echo_logs()
        open_e = median(r.latency("A->E") for r in fast)
        check(open_e < hung_e / 4,
              f"E answers in {open_e:.3f}s with E->D OPEN instead of {hung_e:.3f}s while it was CLOSED")
        states = c.breakers()
        # C is still down: B->C may be OPEN or, past open_timeout, HALF_OPEN awaiting its probe.
        expect_states(states, ["E->D"], ignore=["B->C"])
        check(states["A->E"]["state"] == "closed", "the hung worker did not trip A->E (deadline propagation)")
        log = c.log_text("E")
        k = ctx.threshold
        line = f"[E] ❌ Error contacting D: StatusCode.DEADLINE_EXCEEDED (failure count: {k}/{k})"
        check(line in log, f"E logged: {line}")
        ctx.notes.append(f"E's latency as seen by A with D hung: {hung_e:.3f}s (E->D closed, {deadline}s deadline) "
                         f"-> {open_e:.3f}s (E->D open, fail-fast)")
        ctx.rows.append(Row("3c Hung D, E->D open", fast[-1].total,
                            median(r.latency("A->B") for r in fast), open_e, open_breakers(states)))
    finally:
        c.send("D", signal.SIGCONT)
    c.wait_ready(["D"])


def test4_recovery(ctx: Context) -> None:
    header("TEST 4: Recovery (restart C, wait open_timeout, one query probes)")
    c = ctx.cluster
    c.start("C")
    c.wait_ready(["C"])
    states = c.breakers()
    waits = [ctx.open_timeout - (s["time_since_last_failure"] or 0.0)
             for s in states.values() if s["state"] != "closed"]
    wait = max([0.0] + waits) + 0.3
    print(f"   waiting {wait:.1f}s so that open_timeout ({ctx.open_timeout}s) has passed for "
          f"{', '.join(open_breakers(states)) or 'no breaker'}")
    time.sleep(wait)
    r = c.query()
    show_query(1, r, "B->C")
    c.echo_logs()
    check(r.calls["B->C"].outcome == "ok", "the probe B->C succeeded")
    check(r.calls["B->C"].breaker_state == "closed", "one successful probe closed B->C (success_threshold=1)")
    check(r.total == BASELINE_TOTAL, f"full dataset again: {BASELINE_TOTAL:,} rows")
    states = c.breakers()
    expect_states(states, [])
    check_lines(ctx, "B", "B->C", "trip", "reopen*", "close")
    check(states["B->C"]["last_failure_time"] is None and states["B->C"]["time_since_last_failure"] is None,
          "closing B->C cleared last_failure_time and time_since_last_failure (None again)")
    ctx.rows.append(Row("4 Recovery (C back)", r.total, r.latency("A->B"), r.latency("A->E"),
                        open_breakers(states)))


def test5_f_fails(ctx: Context) -> None:
    header("TEST 5: Worker F fails (SIGKILL)")
    c = ctx.cluster
    c.kill("F")
    expected = BASELINE_TOTAL - ctx.counts["F"]
    failing = run_until_open(ctx, "E->F", expected, "UNAVAILABLE")
    r = c.query()
    show_query(len(failing) + 1, r, "E->F")
    c.echo_logs()
    check(r.total == expected, f"{expected:,} rows (B + C + E + D)")
    check(r.calls["E->F"].outcome == "skipped", "E skips F (fail-fast)")
    check("[E] ⏭️ Circuit breaker OPEN for F, skipping call (fail-fast)" in c.log_text("E"),
          "E logged: [E] ⏭️ Circuit breaker OPEN for F, skipping call (fail-fast)")
    states = c.breakers()
    expect_states(states, ["E->F"])
    check_lines(ctx, "E", "E->F", "trip")
    ctx.rows.append(Row("5 F fails (E->F opens)", r.total, median(x.latency("A->B") for x in failing + [r]),
                        median(x.latency("A->E") for x in failing + [r]), open_breakers(states)))


def print_table(rows: List[Row]) -> None:
    def sec(v):
        return f"{v:.3f}" if v is not None else "-"
    print(f"\n{'Test':<28} {'Rows':>9} {'Availability':>12} {'B latency (s)':>14} "
          f"{'E latency (s)':>14}  Open breakers")
    print("-" * 96)
    for r in rows:
        print(f"{r.test:<28} {r.rows:>9,} {100.0 * r.rows / BASELINE_TOTAL:>11.1f}% {sec(r.b_latency):>14} "
              f"{sec(r.e_latency):>14}  {', '.join(r.open_breakers) or '-'}")


def use_original_breaker(run_dir: Path) -> None:
    """Copy the servers to run_dir/original-tree and put the original breaker
    in that copy's common/circuit_breaker.py; run the tree from there."""
    global TREE
    tree = run_dir / "original-tree"
    if tree.exists():
        shutil.rmtree(tree)
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns("_run", "_gen", "__pycache__"))
    shutil.copyfile(SEED_BREAKER, tree / "common" / "circuit_breaker.py")
    TREE = tree
    print(f"   servers copied to {tree}; common/circuit_breaker.py = the original pure-Python breaker")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quiet-servers", action="store_true", help="do not echo server log lines")
    ap.add_argument("--time-limit", type=float, default=120.0, help="abort after this many seconds")
    ap.add_argument("--breaker", choices=("tripbit", "original"), default="tripbit",
                    help="the breaker behind common/circuit_breaker.py (default: tripbit)")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)

    t_start = time.monotonic()
    preflight()
    run_dir = ROOT / "_run"
    run_dir.mkdir(exist_ok=True)
    for old in list(run_dir.glob("*.log")) + list(run_dir.glob("*.json")):
        old.unlink()
    if args.breaker == "original":
        use_original_breaker(run_dir)
    configs = write_configs(run_dir)
    counts = {sid: configs[sid]["data"]["rows"] for sid in IDS}
    cb = configs["B"]["circuit_breakers"]
    cluster = Cluster(run_dir, configs, show_logs=not args.quiet_servers)
    atexit.register(cluster.stop_all)

    def on_signal(signum, _frame):
        raise ScenarioFailure(f"interrupted by {signal.Signals(signum).name}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGALRM, lambda *_: on_signal(signal.SIGALRM, None))
    signal.setitimer(signal.ITIMER_REAL, args.time_limit)

    ctx = Context(cluster, counts, cb["failure_threshold"], cb["open_timeout_seconds"])
    failure = None
    try:
        check(sum(counts.values()) == BASELINE_TOTAL,
              f"the configs hold {BASELINE_TOTAL:,} rows in all (logs and configs in {run_dir})")
        test0_config(ctx)
        header("Starting the tree: A -> (B -> C), (E -> D, F)")
        for sid in START_ORDER:
            cluster.start(sid)
        cluster.wait_ready(START_ORDER)
        print(f"   all six servers answer ({time.monotonic() - t_start:.1f}s since start)")
        cluster.echo_logs()
        for test in (test1_baseline, test2_c_fails, test3_fail_fast, test3b_hung_peer,
                     test4_recovery, test5_f_fails):
            test(ctx)
    except ScenarioFailure as e:
        failure = str(e)
    except Exception as e:  # a gRPC error to A, a timeout...: still a failed run, still cleaned up
        failure = f"{type(e).__name__}: {e}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        cluster.echo_logs()
        cluster.stop_all()

    header("RESULTS")
    print_table(ctx.rows)
    for note in ctx.notes:
        print(f"\n{note}")
    elapsed = time.monotonic() - t_start
    if failure:
        print(f"\n❌ FAILED: {failure}\n   server logs: {run_dir}/*.log\n   total time {elapsed:.1f}s")
        return 1
    print(f"\n✅ All checks passed in {elapsed:.1f}s (server logs: {run_dir}/*.log)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
