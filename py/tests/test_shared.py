"""``shared=``: one breaker for every process of the host, in a region file.

Real processes, started with ``multiprocessing`` under both the ``fork``
and the ``spawn`` start methods, hammer one shared breaker.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tripbit import CircuitBreaker, CircuitBreakerOpenError, CircuitState

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="regions are Linux-only")

WORKERS = 4
METHODS = ["fork", "spawn"]


@pytest.fixture
def region(tmp_path: Path) -> Iterator[str]:
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else tmp_path
    path = base / f"tripbit-pytest-{os.getpid()}-{time.monotonic_ns()}"
    yield str(path)
    if path.exists():
        path.unlink()


class Down(Exception):
    pass


def _fail() -> Any:
    raise Down("upstream down")


def _hammer(path: str, threshold: int, barrier: Any, out: Any) -> None:
    """Fails through the shared breaker until it rejects; reports the calls
    that ran and whether the very next call was rejected too."""
    cb = CircuitBreaker("acme.shared.hammer", shared=path, failure_threshold=threshold, open_timeout=60)
    barrier.wait(timeout=60)  # every worker started: go together
    ran = 0
    while True:
        try:
            cb.call(_fail)
        except Down:
            ran += 1
            time.sleep(0.0005)
        except CircuitBreakerOpenError:
            break
    try:
        cb.call(_fail)
        next_rejected = False
    except CircuitBreakerOpenError:
        next_rejected = True
    except Down:
        next_rejected = False
    out.put((ran, next_rejected, cb.get_state().value))


@pytest.mark.parametrize("method", METHODS)
def test_trips_after_exactly_threshold_failures_across_processes(region: str, method: str) -> None:
    threshold = 40
    parent = CircuitBreaker("acme.shared.hammer", shared=region, failure_threshold=threshold, open_timeout=60)
    ctx: Any = mp.get_context(method)
    out = ctx.Queue()
    barrier = ctx.Barrier(WORKERS)
    procs = [ctx.Process(target=_hammer, args=(region, threshold, barrier, out)) for _ in range(WORKERS)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    ran = sum(r[0] for r in results)
    # Exactly `threshold` failures counted; a call still in flight when the
    # breaker tripped also ran (its result was discarded as stale).
    assert threshold <= ran <= threshold + WORKERS - 1, results
    assert all(r[1] for r in results), "every process sees the trip on its next call"
    assert all(r[2] == "open" for r in results)
    assert parent.get_state() is CircuitState.OPEN
    with pytest.raises(CircuitBreakerOpenError):
        parent.call(_fail)


def _probe(path: str, not_before: float, barrier: Any, out: Any) -> None:
    cb = CircuitBreaker(
        "acme.shared.probes", shared=path, failure_threshold=1, open_timeout=0.2, success_threshold=2, probes=2, probe_timeout=5.0
    )
    barrier.wait(timeout=60)
    while time.time() < not_before:  # the open period is over
        time.sleep(0.001)
    ran = rejected = 0
    deadline = time.time() + 0.3
    while time.time() < deadline:
        try:
            cb.call(time.sleep, 0.35)  # a probe held past the window
            ran += 1
            break
        except CircuitBreakerOpenError:
            rejected += 1
            time.sleep(0.002)
    out.put((ran, rejected))


@pytest.mark.parametrize("method", METHODS)
def test_exactly_probes_probes_host_wide(region: str, method: str) -> None:
    cb = CircuitBreaker(
        "acme.shared.probes", shared=region, failure_threshold=1, open_timeout=0.2, success_threshold=2, probes=2, probe_timeout=5.0
    )
    with pytest.raises(Down):
        cb.call(_fail)
    assert cb.get_state() is CircuitState.OPEN
    ctx: Any = mp.get_context(method)
    out = ctx.Queue()
    n = WORKERS + 2
    barrier = ctx.Barrier(n)
    not_before = time.time() + 0.25
    procs = [ctx.Process(target=_probe, args=(region, not_before, barrier, out)) for _ in range(n)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sum(r[0] for r in results) == 2, results
    assert sum(r[1] for r in results) > 0
    assert cb.get_state() is CircuitState.CLOSED


def test_bad_shared_arguments(region: str) -> None:
    with pytest.raises(TypeError, match="shared"):
        CircuitBreaker("acme.x", shared=42)  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="tripbit-no-such-dir"):
        CircuitBreaker("acme.x", shared="/dev/shm/tripbit-no-such-dir/region")
    CircuitBreaker("acme.bound", shared=region, failure_threshold=3)
    with pytest.raises(ValueError, match="acme.bound"):
        CircuitBreaker("acme.bound", shared=region, failure_threshold=4)
    with pytest.raises(ValueError, match="shared"):
        CircuitBreaker("acme.window", shared=region, failure_rate=50)
    foreign = region + ".foreign"
    Path(foreign).write_bytes(b"not a region" * 20)
    try:
        with pytest.raises(ValueError, match="not a tripbit region"):
            CircuitBreaker("acme.x", shared=foreign)
    finally:
        os.unlink(foreign)


def test_drop_in_constructor_takes_shared(region: str, capsys: pytest.CaptureFixture[str]) -> None:
    a = CircuitBreaker(3, 30.0, 1, "B->C", shared=region)
    b = CircuitBreaker(failure_threshold=3, open_timeout=30.0, success_threshold=1, name="B->C", shared=region)
    for _ in range(3):
        with pytest.raises(Down):
            a.call(_fail)
    assert b.get_state() is CircuitState.OPEN
    assert b.get_stats()["state"] == "open"
    assert "State transition: closed -> open" in capsys.readouterr().out


def _hold_probe(path: str, taken: Any) -> None:
    cb = CircuitBreaker("acme.shared.kill", shared=path, failure_threshold=1, open_timeout=0.1, probe_timeout=0.3)

    def hold() -> None:
        taken.set()
        time.sleep(60)  # killed long before

    while True:
        try:
            cb.call(hold)
        except CircuitBreakerOpenError:
            time.sleep(0.002)


@pytest.mark.parametrize("method", METHODS)
def test_a_process_killed_mid_probe_never_wedges_the_breaker(region: str, method: str) -> None:
    cb = CircuitBreaker("acme.shared.kill", shared=region, failure_threshold=1, open_timeout=0.1, probe_timeout=0.3)
    ctx: Any = mp.get_context(method)
    for _ in range(3):
        with pytest.raises(Down):
            cb.call(_fail)
        taken = ctx.Event()
        p = ctx.Process(target=_hold_probe, args=(region, taken))
        p.start()
        assert taken.wait(timeout=60), "the child took the probe"
        p.kill()  # SIGKILL while it holds the only probe slot
        p.join(timeout=60)
        # Survivors are rejected at once (never blocked) until the probe
        # deadline passes; then the next call is a probe and closes it.
        t0 = time.monotonic()
        while True:
            c0 = time.monotonic()
            try:
                cb.call(lambda: "ok")
                break
            except CircuitBreakerOpenError:
                assert time.monotonic() - c0 < 0.05, "a rejected call returns at once"
                assert time.monotonic() - t0 < 10, "no recovery after the probe deadline"
                time.sleep(0.005)
        assert cb.get_state() is CircuitState.CLOSED


def test_decorators_async_listeners_and_stats_work_as_on_a_private_breaker(region: str) -> None:
    import asyncio

    cb = CircuitBreaker("acme.shared.api", shared=region, failure_threshold=2, open_timeout=60)
    seen: list[tuple[str, str]] = []
    cb.add_listener(lambda t: seen.append((t.old_state, t.new_state)))

    @cb
    def lookup(city: str) -> str:
        raise Down(city)

    @lookup.fallback
    def cached(city: str) -> str:
        return f"cached {city}"

    @cb
    async def alookup(city: str) -> str:
        raise Down(city)

    with pytest.raises(Down):
        lookup("paris")
    assert cb.get_stats()["failure_count"] == 1
    with pytest.raises(Down):
        asyncio.run(alookup("rome"))
    assert seen == [("closed", "open")]
    assert lookup("oslo") == "cached oslo"  # open: the fallback answers
    stats = cb.get_stats()
    assert stats["state"] == "open" and stats["failure_count"] == 2
    # Another handle on the same name (another process would do the same).
    other = CircuitBreaker("acme.shared.api", shared=region, failure_threshold=2, open_timeout=60)
    assert other.get_state() is CircuitState.OPEN
    other.reset()
    assert cb.get_state() is CircuitState.CLOSED


def _trip_and_recover(path: str, out: Any) -> None:
    """Another process: trips the shared breaker, then (after the open
    period) closes it with a successful probe."""
    cb = CircuitBreaker("acme.shared.watch", shared=path, failure_threshold=2, open_timeout=0.2, stdout=False)
    for _ in range(2):
        try:
            cb.call(_fail)
        except Down:
            pass
    out.put("tripped")
    time.sleep(0.3)
    cb.call(lambda: "ok")
    out.put(cb.get_state().value)


@pytest.mark.parametrize("method", METHODS)
def test_listeners_see_another_processes_transitions_once(region: str, method: str) -> None:
    cb = CircuitBreaker("acme.shared.watch", shared=region, failure_threshold=2, open_timeout=0.2, stdout=False)
    events: list[tuple[str, str]] = []
    cb.add_listener(lambda t: events.append((t.old_state, t.new_state)))
    ctx: Any = mp.get_context(method)
    out = ctx.Queue()
    p = ctx.Process(target=_trip_and_recover, args=(region, out))
    p.start()
    assert out.get(timeout=60) == "tripped"
    # The next call here is rejected, and the listener hears of the trip
    # (made by the other process) once, however many calls follow.
    for _ in range(3):
        with pytest.raises(CircuitBreakerOpenError):
            cb.call(lambda: "ok")
    assert events == [("closed", "open")]
    assert out.get(timeout=60) == "closed"
    p.join(timeout=60)
    assert p.exitcode == 0
    # The other process's probe closed it: the next call here hears it
    # once, as one change from what this process saw last (open).
    assert cb.call(lambda: "ok") == "ok"
    assert cb.call(lambda: "ok") == "ok"
    assert events == [("closed", "open"), ("open", "closed")]


def test_get_state_also_catches_up(region: str) -> None:
    cb = CircuitBreaker("acme.shared.poll", shared=region, failure_threshold=1, open_timeout=60, stdout=False)
    events: list[tuple[str, str]] = []
    cb.add_listener(lambda t: events.append((t.old_state, t.new_state)))
    ctx: Any = mp.get_context("spawn")
    p = ctx.Process(target=_force_open_elsewhere, args=(region,))
    p.start()
    p.join(timeout=60)
    assert p.exitcode == 0
    assert events == []  # nothing called here yet
    assert cb.get_state() is CircuitState.OPEN  # an idle process polling
    assert cb.get_state() is CircuitState.OPEN
    assert events == [("closed", "forced_open")]


def _force_open_elsewhere(path: str) -> None:
    CircuitBreaker("acme.shared.poll", shared=path, failure_threshold=1, open_timeout=60, stdout=False).force_open()
