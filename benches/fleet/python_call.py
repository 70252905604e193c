"""Python guarded-call cost: ``cb.call(f)`` and ``@cb`` on a fleet breaker
(``tripbit.fleet``, monitor flushing every 250 ms to a live redis-server of
its own) against a plain ``tripbit.CircuitBreaker`` of the same settings, in
the same run, interleaved (plain, fleet, plain, fleet ...), so a loaded
machine slows both alike.

Reports ns per call: the minimum and the median over the repetitions, and
the fleet/plain ratio of each.

Usage: ``python benches/fleet/python_call.py`` (``TRIPBIT_BENCH_QUICK=1``:
shorter). Needs ``redis-server`` in PATH and the tripbit wheel installed.
"""

from __future__ import annotations

import gc
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List

import tripbit
import tripbit.fleet

QUICK = bool(os.environ.get("TRIPBIT_BENCH_QUICK"))
REPS = 7 if QUICK else 41
N = 20_000 if QUICK else 100_000


def op() -> int:
    return 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def per_call_ns(run: Callable[[int], None]) -> float:
    gc.disable()
    try:
        t0 = time.perf_counter_ns()
        run(N)
        return (time.perf_counter_ns() - t0) / N
    finally:
        gc.enable()


def loop_call(cb: Any) -> Callable[[int], None]:
    call = cb.call

    def run(n: int) -> None:
        for _ in range(n):
            call(op)

    return run


def loop_decorated(cb: Any) -> Callable[[int], None]:
    f = cb(op)

    def run(n: int) -> None:
        for _ in range(n):
            f()

    return run


def main() -> None:
    exe = shutil.which("redis-server")
    if exe is None:
        sys.exit("redis-server must be installed (scripts/setup.sh installs it)")
    port = free_port()
    redis = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.2)
        monitor = tripbit.fleet.connect(f"redis://127.0.0.1:{port}/0", app="bench")
        plain = tripbit.CircuitBreaker("bench.plain.call", failure_threshold=5, open_timeout=5)
        fleet = monitor.breaker("bench.fleet.call", failure_threshold=5, open_timeout=5)
        loops: Dict[str, Callable[[Any], Callable[[int], None]]] = {
            "cb.call(f)": loop_call,
            "@cb f()": loop_decorated,
        }
        print(f"Python {sys.version.split()[0]}, tripbit {tripbit.__version__}, {REPS} x {N} calls")
        print(f"{'path':<12} {'plain min':>10} {'fleet min':>10} {'ratio':>6}   {'plain med':>10} {'fleet med':>10} {'ratio':>6}")
        for name, make in loops.items():
            runs: Dict[str, List[float]] = {"plain": [], "fleet": []}
            p, f = make(plain), make(fleet)
            p(N // 10)
            f(N // 10)
            for _ in range(REPS):
                runs["plain"].append(per_call_ns(p))
                runs["fleet"].append(per_call_ns(f))
            pm, fm = min(runs["plain"]), min(runs["fleet"])
            pd, fd = statistics.median(runs["plain"]), statistics.median(runs["fleet"])
            print(f"{name:<12} {pm:>8.1f}ns {fm:>8.1f}ns {fm / pm:>6.2f}   {pd:>8.1f}ns {fd:>8.1f}ns {fd / pd:>6.2f}")
        acked = monitor.close()
        counted = acked["bench.fleet.call"]["success"]
        print(f"monitor: {counted} fleet calls acknowledged by Redis ({monitor.stats()['batches_sent']} batches)")
    finally:
        redis.kill()
        redis.wait()


if __name__ == "__main__":
    main()
