"""Python benchmarks: tripbit vs pybreaker, circuitbreaker and the first
seed's lock-based breaker (``seed_breaker.py``), one breaker each, consecutive
policy (3 failures trip it, open 30 s).

Measured, in nanoseconds per call (median over repetitions, with min/max):

- ``direct``: calling the function unguarded (the baseline);
- ``call``: ``breaker.call(f)`` (circuitbreaker's ``call()`` skips its open
  check, so its idiomatic API is the decorator; both are measured);
- ``decorator``: a function wrapped by ``@breaker`` (the seed has none);
- ``rejected``: a call rejected while open, exception caught;
- ``raise``: raising and catching an exception, the floor of ``rejected``;
- ``threads``: throughput of 8 threads sharing one breaker over 1 thread
  making as many calls (under the GIL, 1.0 is ideal; below it the breaker's
  lock makes threads queue).

Usage: ``python bench.py OUT.json`` (``TRIPBIT_BENCH_QUICK=1``: short runs).
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import operator
import os
import platform
import statistics
import sys
import threading
import time
from importlib import metadata
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import circuitbreaker  # noqa: E402
import pybreaker  # noqa: E402
import seed_breaker  # noqa: E402
import tripbit  # noqa: E402

QUICK = bool(os.environ.get("TRIPBIT_BENCH_QUICK"))
REPS = 5 if QUICK else 11
REP_SECONDS = 0.01 if QUICK else 0.06
THREAD_REPS = 3 if QUICK else 7
THREADS = 8
THREAD_CALLS = 2_000 if QUICK else 25_000  # per thread


def op() -> int:
    """The guarded operation: as cheap as a Python call gets."""
    return 1


def failing() -> None:
    raise ValueError("upstream failed")


class Rejected(Exception):
    """Stands for a breaker's rejection in the ``raise`` baseline."""


def raiser() -> None:
    raise Rejected("Circuit breaker OPEN for bench")


# -- timed loops (locals only: the loop costs the same for every library) ----


def loop_direct(n: int, f: Callable[[], Any]) -> None:
    for _ in range(n):
        f()


def loop_call(n: int, call: Callable[..., Any], f: Callable[[], Any]) -> None:
    for _ in range(n):
        call(f)


def loop_rejected(n: int, call: Callable[..., Any], f: Callable[[], Any], exc: type) -> None:
    for _ in range(n):
        try:
            call(f)
        except exc:
            pass


def loop_raise(n: int, f: Callable[[], Any], exc: type) -> None:
    for _ in range(n):
        try:
            f()
        except exc:
            pass


def measure(run: Callable[[int], None]) -> dict[str, float]:
    """ns per iteration of ``run(n)``: median, min and max over REPS."""
    n = 1_000
    while True:  # calibrate: one repetition takes about REP_SECONDS
        t0 = time.perf_counter()
        run(n)
        dt = time.perf_counter() - t0
        if dt >= REP_SECONDS / 4:
            break
        n *= 4
    n = max(1_000, int(n * REP_SECONDS / dt))
    samples = []
    gc.disable()
    try:
        for _ in range(REPS):
            t0 = time.perf_counter_ns()
            run(n)
            samples.append((time.perf_counter_ns() - t0) / n)
    finally:
        gc.enable()
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "reps": REPS,
        "n": n,
    }


def throughput(call: Callable[..., Any], f: Callable[[], Any], threads: int, per_thread: int) -> float:
    """Calls per second of ``threads`` threads, ``per_thread`` calls each."""
    barrier = threading.Barrier(threads + 1)

    def work() -> None:
        barrier.wait()
        loop_call(per_thread, call, f)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    return threads * per_thread / (time.perf_counter() - t0)


def scaling(call: Callable[..., Any], f: Callable[[], Any]) -> dict[str, float]:
    """8 threads vs 1 thread, same number of calls in total."""
    one, many, ratios = [], [], []
    for _ in range(THREAD_REPS):
        a = throughput(call, f, 1, THREADS * THREAD_CALLS)
        b = throughput(call, f, THREADS, THREAD_CALLS)
        one.append(a)
        many.append(b)
        ratios.append(b / a)
    return {
        "one_thread_calls_per_s": statistics.median(one),
        "threads_calls_per_s": statistics.median(many),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "threads": THREADS,
        "reps": THREAD_REPS,
    }


# -- the libraries -------------------------------------------------------------


def make_tripbit() -> Any:
    return tripbit.CircuitBreaker(failure_threshold=3, open_timeout=30.0, name="bench", stdout=False)


def make_pybreaker() -> Any:
    return pybreaker.CircuitBreaker(fail_max=3, reset_timeout=30)


def make_circuitbreaker() -> Any:
    return circuitbreaker.CircuitBreaker(failure_threshold=3, recovery_timeout=30, name="bench")


def make_seed() -> Any:
    with contextlib.redirect_stdout(io.StringIO()):
        return seed_breaker.CircuitBreaker(failure_threshold=3, open_timeout=30.0, name="bench")


def deco(lib: str, b: Any, f: Callable[[], Any]) -> Callable[[], Any] | None:
    if lib == "seed":
        return None
    return b(f)


def trip(call: Callable[..., Any]) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        for _ in range(3):
            try:
                call(failing)
            except Exception:
                pass


LIBS: list[tuple[str, str, Callable[[], Any], type]] = [
    ("tripbit", f"tripbit {metadata.version('tripbit')}", make_tripbit, tripbit.CircuitBreakerOpenError),
    ("seed", "seed lock-based breaker", make_seed, seed_breaker.CircuitBreakerOpenError),
    ("pybreaker", f"pybreaker {metadata.version('pybreaker')}", make_pybreaker, pybreaker.CircuitBreakerError),
    (
        "circuitbreaker",
        f"circuitbreaker {metadata.version('circuitbreaker')}",
        make_circuitbreaker,
        circuitbreaker.CircuitBreakerError,
    ),
]


def guarded_call(lib: str, b: Any) -> Callable[..., Any]:
    """The call path threads and rejections go through: ``call()``, or for
    circuitbreaker (whose ``call()`` never rejects) a call of the decorated
    function."""
    if lib != "circuitbreaker":
        return b.call

    def via_decorator(f: Callable[[], Any], _cache: dict[Any, Any] = {}) -> Any:  # noqa: B006
        g = _cache.get(f)
        if g is None:
            g = _cache[f] = b(f)
        return g()

    return via_decorator


def check(lib: str, b: Any, exc: type) -> None:
    """The breaker does what the benchmark claims: closed passes, 3 failures
    trip it, open rejects without calling."""
    call = guarded_call(lib, b)
    assert call(op) == 1, lib
    trip(call)
    ran = []
    try:
        call(lambda: ran.append(1))
    except exc:
        pass
    else:
        raise AssertionError(f"{lib}: not open after 3 failures")
    assert not ran, f"{lib}: an open breaker ran the call"


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else None
    results: dict[str, Any] = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "quick": QUICK,
        "libs": {},
    }
    direct = measure(lambda n: loop_direct(n, op))
    raise_cost = measure(lambda n: loop_raise(n, raiser, Rejected))
    results["direct"] = direct
    results["raise"] = raise_cost
    results["direct_threads"] = scaling(operator.call, op)
    print(f"direct call      {direct['median']:8.1f} ns", file=sys.stderr)
    print(f"raise + except   {raise_cost['median']:8.1f} ns", file=sys.stderr)
    for lib, title, make, exc in LIBS:
        check(lib, make(), exc)
        r: dict[str, Any] = {"title": title}
        b = make()
        r["call"] = measure(lambda n: loop_call(n, b.call, op))
        g = deco(lib, make(), op)
        r["decorator"] = measure(lambda n: loop_direct(n, g)) if g is not None else None
        b = make()
        call = guarded_call(lib, b)
        trip(call)
        r["rejected"] = measure(lambda n: loop_rejected(n, call, op, exc))
        b = make()
        r["threads"] = scaling(guarded_call(lib, b), op)
        results["libs"][lib] = r
        dec = r["decorator"]["median"] if r["decorator"] else float("nan")
        print(
            f"{lib:<15} call {r['call']['median']:8.1f} ns  decorator {dec:8.1f} ns  "
            f"rejected {r['rejected']['median']:8.1f} ns  8 threads {r['threads']['ratio']:.2f}x",
            file=sys.stderr,
        )
    text = json.dumps(results, indent=1)
    if out:
        with open(out, "w") as fh:
            fh.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
