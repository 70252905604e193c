"""One breaker shared by many threads: counts and transitions stay exact,
and half-open admits exactly the configured number of probes."""

from __future__ import annotations

import collections
import random
import sys
import threading
import time
from types import ModuleType
from typing import Any, Callable, Iterator

import pytest

from tripbit import CircuitBreaker, CircuitBreakerOpenError, CircuitState, Transition

from conftest import Boom, wait_until

THREADS = 16


@pytest.fixture(autouse=True)
def fast_switching() -> Iterator[None]:
    """Switch threads as often as CPython allows, to interleave the calls."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def run_threads(n: int, target: Callable[[int], None]) -> None:
    """Starts n threads together (barrier) and joins them; re-raises the
    first error a thread hit."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            barrier.wait()
            target(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
        assert not t.is_alive(), "thread hung"
    if errors:
        raise errors[0]


def failing() -> None:
    time.sleep(0)  # let another thread in between admission and outcome
    raise Boom("x")


def recorder(cb: CircuitBreaker) -> list[tuple[str, str]]:
    events: list[tuple[str, str]] = []
    lock = threading.Lock()

    def listener(t: Transition) -> None:
        with lock:
            events.append((t.old_state, t.new_state))

    cb.add_listener(listener)
    return events


# --------------------------------------------------------------- closed state


def test_16_threads_of_failures_reach_the_threshold_exactly_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    per_thread = 200
    threshold = THREADS * per_thread  # the very last failure trips it
    cb = CircuitBreaker(threshold, 30.0, 1, "hammer")
    events = recorder(cb)
    capsys.readouterr()
    raised = collections.Counter[str]()
    lock = threading.Lock()

    def work(_: int) -> None:
        for _ in range(per_thread):
            try:
                cb.call(failing)
            except Boom:
                with lock:
                    raised["boom"] += 1

    run_threads(THREADS, work)
    assert raised == {"boom": threshold}  # every call admitted and re-raised
    assert events == [("closed", "open")]
    assert cb.get_state() is CircuitState.OPEN
    assert cb.failure_count == threshold
    assert capsys.readouterr().out.splitlines() == [
        f"[CircuitBreaker-hammer] 🔴 State transition: closed -> open (failure_count={threshold})",
        "[CircuitBreaker-hammer] ⚠️ Circuit OPENED - will block calls for 30.0s",
    ]


def test_failures_below_the_threshold_are_all_counted() -> None:
    per_thread = 150
    cb = CircuitBreaker(THREADS * per_thread + 1, stdout=False)
    run_threads(THREADS, lambda _: [_fail(cb) for _ in range(per_thread)])
    assert cb.failure_count == THREADS * per_thread
    assert cb.get_state() is CircuitState.CLOSED


def _fail(cb: CircuitBreaker) -> None:
    with pytest.raises(Boom):
        cb.call(failing)


def test_trip_in_the_middle_of_the_hammering() -> None:
    per_thread = 100
    threshold = 500
    cb = CircuitBreaker(threshold, 30.0, stdout=False)
    events = recorder(cb)
    outcome = collections.Counter[str]()
    lock = threading.Lock()

    def work(_: int) -> None:
        for _ in range(per_thread):
            try:
                cb.call(failing)
            except Boom:
                key = "failed"
            except CircuitBreakerOpenError:
                key = "rejected"
            with lock:
                outcome[key] += 1

    run_threads(THREADS, work)
    assert outcome["failed"] + outcome["rejected"] == THREADS * per_thread
    # At least `threshold` calls ran; the ones admitted before the trip and
    # finished after it are discarded, never counted twice.
    assert outcome["failed"] >= threshold
    assert outcome["rejected"] > 0
    assert events == [("closed", "open")]
    assert cb.failure_count == threshold


def test_successes_from_16_threads_return_their_own_results() -> None:
    cb = CircuitBreaker(stdout=False)
    events = recorder(cb)
    results: dict[int, list[Any]] = {}

    def work(i: int) -> None:
        got = []
        for j in range(300):
            token = (i, j)
            got.append(cb.call(lambda: token))
        results[i] = got

    run_threads(THREADS, work)
    for i in range(THREADS):
        assert results[i] == [(i, j) for j in range(300)]
    assert events == []
    assert cb.failure_count == 0


def test_window_counts_are_exact_under_threads() -> None:
    per_thread = 400
    cb = CircuitBreaker(
        "acme.win", failure_rate=100, window=80_000, min_calls=80_000, stdout=False
    )

    def work(i: int) -> None:
        for j in range(per_thread):
            if j % 4 == 0:
                _fail(cb)
            else:
                cb.call(time.sleep, 0)

    run_threads(THREADS, work)
    snap = cb.snapshot()
    assert snap["window_calls"] == THREADS * per_thread
    assert snap["window_failures"] == THREADS * per_thread // 4
    assert cb.get_state() is CircuitState.CLOSED


def test_guards_reported_from_other_threads() -> None:
    cb = CircuitBreaker(THREADS * 50 + 1, stdout=False)
    guards = [cb.guard() for _ in range(THREADS * 50)]

    def work(i: int) -> None:
        for g in guards[i::THREADS]:
            g.failure()

    run_threads(THREADS, work)
    assert cb.failure_count == THREADS * 50


def test_a_guard_reported_from_two_threads_counts_once() -> None:
    cb = CircuitBreaker(10, stdout=False)
    for _ in range(50):
        g = cb.guard()
        wins: list[bool] = []

        def report(_: int) -> None:
            try:
                g.failure()
                wins.append(True)
            except RuntimeError:
                wins.append(False)

        run_threads(4, report)
        assert sorted(wins) == [False, False, False, True]
        assert cb.failure_count == 1
        cb.reset()


# ----------------------------------------------------------- half-open probes


def probe_storm(module: Any, cb: Any, succeed: bool) -> tuple[int, list[str]]:
    """THREADS threads call ``cb`` at once while it is due for half-open;
    the admitted calls block until every thread was admitted or rejected.
    Returns (admitted, rejection states)."""
    release = threading.Event()
    lock = threading.Lock()
    admitted = 0
    rejected: list[str] = []

    def probe() -> str:
        nonlocal admitted
        with lock:
            admitted += 1
        assert release.wait(30)
        if not succeed:
            raise Boom("probe")
        return "ok"

    def work(_: int) -> None:
        try:
            cb.call(probe)
        except module.CircuitBreakerOpenError as e:
            with lock:
                rejected.append(getattr(e, "state", "open"))
        except Boom:
            pass

    threads_done = threading.Thread(target=run_threads, args=(THREADS, work))
    threads_done.start()
    wait_until(lambda: admitted + len(rejected) == THREADS)
    counts = admitted
    release.set()
    threads_done.join(60)
    return counts, rejected


@pytest.mark.parametrize("probes", [1, 3, 5])
def test_half_open_admits_exactly_success_threshold_concurrent_probes(
    probes: int, capsys: pytest.CaptureFixture[str]
) -> None:
    import tripbit

    cb = CircuitBreaker(1, 0.05, probes, "B->C", probe_timeout=30)
    with pytest.raises(Boom):
        cb.call(failing)
    time.sleep(0.08)
    events = recorder(cb)
    capsys.readouterr()
    admitted, rejected = probe_storm(tripbit, cb, succeed=True)
    assert admitted == probes
    assert rejected == ["half_open"] * (THREADS - probes)
    assert cb.get_state() is CircuitState.CLOSED
    assert events == [("open", "half_open"), ("half_open", "closed")]
    assert capsys.readouterr().out.splitlines() == [
        "[CircuitBreaker-B->C] 🟢 State transition: half_open -> closed",
        "[CircuitBreaker-B->C] ✅ Circuit CLOSED - normal operation resumed",
    ]


def test_probes_in_flight_while_the_storm_waits() -> None:
    cb = CircuitBreaker(1, 0.05, 2, stdout=False, probe_timeout=30)
    with pytest.raises(Boom):
        cb.call(failing)
    time.sleep(0.08)
    release = threading.Event()
    inside = threading.Semaphore(0)

    def probe() -> None:
        inside.release()
        release.wait(30)

    threads = [threading.Thread(target=cb.call, args=(probe,)) for _ in range(2)]
    for t in threads:
        t.start()
    for _ in range(2):
        assert inside.acquire(timeout=30)
    snap = cb.snapshot()
    assert (snap["state"], snap["probes_in_flight"]) == ("half_open", 2)
    with pytest.raises(CircuitBreakerOpenError):
        cb.call(lambda: None)
    release.set()
    for t in threads:
        t.join(30)
    assert cb.get_state() is CircuitState.CLOSED


def test_failed_concurrent_probes_reopen_it_once(capsys: pytest.CaptureFixture[str]) -> None:
    import tripbit

    cb = CircuitBreaker(1, 0.05, 3, "B->C", probe_timeout=30)
    with pytest.raises(Boom):
        cb.call(failing)
    time.sleep(0.08)
    events = recorder(cb)
    capsys.readouterr()
    admitted, _ = probe_storm(tripbit, cb, succeed=False)
    assert admitted == 3
    # The first failed probe reopens it; the other two results are stale.
    assert events == [("open", "half_open"), ("half_open", "open")]
    assert cb.state is CircuitState.OPEN
    assert cb.failure_count == 0
    assert capsys.readouterr().out.splitlines() == [
        "[CircuitBreaker-B->C] 🔴 State transition: half_open -> open (failure_count=0)",
        "[CircuitBreaker-B->C] ⚠️ Circuit OPENED - will block calls for 0.05s",
    ]


def test_the_original_admitted_every_concurrent_probe(seed: ModuleType) -> None:
    # The documented difference: the original let every caller through once
    # half-open; tripbit admits exactly success_threshold.
    cb = seed.CircuitBreaker(1, 0.05, 3, "B->C")
    with pytest.raises(Boom):
        cb.call(failing)
    time.sleep(0.08)
    admitted, rejected = probe_storm(seed, cb, succeed=True)
    assert (admitted, rejected) == (THREADS, [])


def test_the_lazy_move_from_many_threads_happens_once() -> None:
    cb = CircuitBreaker(1, 0.05, stdout=False)
    with pytest.raises(Boom):
        cb.call(failing)
    time.sleep(0.08)
    events = recorder(cb)
    states: list[CircuitState] = []
    run_threads(THREADS, lambda _: states.append(cb.get_state()))
    assert states == [CircuitState.HALF_OPEN] * THREADS
    assert events == [("open", "half_open")]
    assert cb.snapshot()["probes_in_flight"] == 0
    cb.call(lambda: None)
    assert cb.get_state() is CircuitState.CLOSED


# --------------------------------------------------------------------- chaos


def test_every_transition_is_reported_exactly_once_under_chaos() -> None:
    cb = CircuitBreaker(3, 0.002, 2, stdout=False)
    events = recorder(cb)
    stop = time.monotonic() + 1.5

    def work(i: int) -> None:
        rnd = random.Random(i)
        while time.monotonic() < stop:
            r = rnd.random()
            try:
                if r < 0.45:
                    cb.call(failing)
                elif r < 0.9:
                    cb.call(time.sleep, 0)
                elif r < 0.98:
                    cb.get_state()
                else:
                    cb.get_stats()
            except (Boom, CircuitBreakerOpenError):
                pass

    run_threads(THREADS, work)
    final = cb.snapshot()["stored_state"]
    into = collections.Counter(new for _, new in events)
    out_of = collections.Counter(old for old, _ in events)
    for state in ("closed", "open", "half_open"):
        assert into[state] - out_of[state] == (state == final) - (state == "closed"), (
            state,
            into,
            out_of,
            final,
        )
    assert len(events) > 3  # the storm did move it around
    # Only legal moves.
    assert set(events) <= {
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "open"),
        ("half_open", "closed"),
    }
    cb.reset()
    assert cb.get_stats()["failure_count"] == 0


def test_reset_and_force_while_calls_run() -> None:
    cb = CircuitBreaker(2, 0.001, stdout=False)
    stop = time.monotonic() + 1.0

    def work(i: int) -> None:
        rnd = random.Random(i)
        while time.monotonic() < stop:
            if i == 0:
                rnd.choice([cb.reset, cb.force_open, cb.force_closed, cb.disable])()
                continue
            try:
                if rnd.random() < 0.5:
                    cb.call(failing)
                else:
                    with cb.guard() as g:
                        if rnd.random() < 0.3:
                            g.ignore()
            except (Boom, CircuitBreakerOpenError):
                pass

    run_threads(THREADS, work)
    cb.reset()
    snap = cb.snapshot()
    assert (snap["state"], snap["consecutive_failures"], snap["probes_in_flight"]) == (
        "closed",
        0,
        0,
    )
    assert cb.call(lambda: 1) == 1
