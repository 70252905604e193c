"""The Pythonic API never silently stops protecting (issue 12, items 5-9,
13, 14): nested calls inside a probe, generators, awaitables returned from
sync call paths, timeouts, listeners under concurrency, and the smaller
argument and exception details."""

from __future__ import annotations

import asyncio
import gc
import inspect
import threading
import time
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

import pytest

import tripbit
from tripbit import CircuitBreaker, CircuitBreakerOpenError, CircuitState, Transition

from conftest import AFTER_SHORT, SHORT, Boom, boom, fail_n, ok


def half_open(**kwargs: Any) -> tuple[CircuitBreaker, list[tuple[str, str]]]:
    """A breaker tripped by one failure, waited out so that its next call is
    a probe, and the list its transitions go to."""
    kwargs.setdefault("failure_threshold", 1)
    # A long probe deadline unless a test is about it: probes that hold
    # their slot on purpose must not be abandoned on a slow machine.
    kwargs.setdefault("probe_timeout", 30)
    cb = CircuitBreaker("acme.probe", open_timeout=SHORT, **kwargs)
    fail_n(cb, 1)
    time.sleep(AFTER_SHORT)
    events: list[tuple[str, str]] = []
    cb.add_listener(lambda t: events.append((t.old_state, t.new_state)))
    return cb, events


# ----------------------------------------------------- 5. nested calls in a probe


def test_a_nested_call_inside_a_probe_is_part_of_it() -> None:
    cb, events = half_open()

    @cb
    def inner() -> str:
        return "inner"

    @cb
    def outer() -> str:
        # The outer call holds the only probe slot: before, this was
        # refused, the refusal failed the probe and it reopened.
        return inner() + "+" + cb.call(ok)

    assert outer() == "inner+ok"
    assert events == [("open", "half_open"), ("half_open", "closed")]
    assert cb.get_state() is CircuitState.CLOSED
    assert cb.snapshot()["probes_in_flight"] == 0


def test_a_recursive_failure_during_a_probe_counts_once() -> None:
    # The close bar allows 2 failures among 2 successes: one failure
    # counted leaves the trial going, five (one per frame) would reopen it.
    cb, events = half_open(success_threshold=2, close_failure_rate=50)
    depth = []

    @cb
    def walk(n: int) -> int:
        depth.append(n)
        if n == 0:
            raise Boom("leaf")
        return walk(n - 1)

    with pytest.raises(Boom):
        walk(4)
    assert depth == [4, 3, 2, 1, 0]  # every frame ran, none was refused
    assert events == [("open", "half_open")]
    snap = cb.snapshot()
    assert snap["probes_in_flight"] == 0
    assert snap["probe_failures"] == 1  # one failed probe, not five


def test_a_recursive_success_during_a_probe_counts_once() -> None:
    cb, events = half_open(success_threshold=2, probes=2)

    @cb
    def walk(n: int) -> int:
        return 0 if n == 0 else 1 + walk(n - 1)

    assert walk(3) == 3
    # One probe success of the two needed: still half-open.
    assert cb.get_state() is CircuitState.HALF_OPEN
    assert cb.success_count == 1
    assert walk(3) == 3
    assert cb.get_state() is CircuitState.CLOSED
    assert events == [("open", "half_open"), ("half_open", "closed")]


def test_the_inner_failure_the_outer_handles_does_not_fail_the_probe() -> None:
    cb, events = half_open()

    @cb
    def outer() -> str:
        try:
            cb.call(boom)
        except Boom:
            return "recovered"
        return "no error"

    assert outer() == "recovered"
    assert events[-1] == ("half_open", "closed")


def test_guard_inside_a_probe_is_nested() -> None:
    cb, events = half_open()
    with cb.guard() as outer:
        assert outer.is_probe and not outer.nested
        with cb.guard() as inner:
            assert inner.nested and not inner.is_probe
            inner.failure()  # reports nothing: the enclosing probe decides
    assert events[-1] == ("half_open", "closed")


def test_another_thread_during_a_probe_is_still_refused() -> None:
    cb, events = half_open()
    seen: list[str] = []
    started, release = threading.Event(), threading.Event()

    @cb
    def slow_probe() -> str:
        started.set()
        release.wait(10)
        return "probe"

    t = threading.Thread(target=lambda: seen.append(slow_probe()))
    t.start()
    assert started.wait(10)
    with pytest.raises(CircuitBreakerOpenError) as info:
        cb.call(ok)  # not inside the probe: the slot is busy
    assert info.value.state == "half_open"
    release.set()
    t.join()
    assert seen == ["probe"]
    assert events[-1] == ("half_open", "closed")


def test_a_nested_async_call_in_the_same_task_is_part_of_the_probe() -> None:
    cb, events = half_open()

    @cb
    async def inner() -> str:
        await asyncio.sleep(0)
        return "inner"

    @cb
    async def outer() -> str:
        return await inner() + "+" + await cb.call_async(inner)

    assert asyncio.run(outer()) == "inner+inner"
    assert events[-1] == ("half_open", "closed")


def test_another_task_during_an_async_probe_is_refused() -> None:
    cb, _ = half_open()

    async def main() -> list[str]:
        gate = asyncio.Event()

        @cb
        async def probe() -> str:
            await gate.wait()
            return "probe"

        @cb
        async def other() -> str:
            return "other"

        task = asyncio.ensure_future(probe())
        await asyncio.sleep(0.01)
        out = []
        try:
            out.append(await other())
        except CircuitBreakerOpenError:
            out.append("refused")
        gate.set()
        out.append(await task)
        return out

    assert asyncio.run(main()) == ["refused", "probe"]


def test_nested_calls_while_closed_still_count_each() -> None:
    # The context is only looked at on the half-open path: while closed,
    # every guarded call is a call of its own.
    cb = CircuitBreaker("acme.closed", failure_threshold=3)

    @cb
    def walk(n: int) -> int:
        if n == 0:
            raise Boom("leaf")
        return walk(n - 1)

    with pytest.raises(Boom):
        walk(1)
    assert cb.failure_count == 2


# ---------------------------------------------------------------- 6. generators


def test_a_generator_function_is_refused_at_decoration() -> None:
    cb = CircuitBreaker("acme.gen")

    def rows() -> Iterator[int]:
        yield 1

    with pytest.raises(TypeError, match=r"cannot guard .*rows, a generator function") as info:
        cb(rows)
    assert "with breaker.guard(): for item in" in str(info.value)


def test_an_async_generator_function_is_refused_at_decoration() -> None:
    cb = CircuitBreaker("acme.gen")

    async def rows() -> AsyncIterator[int]:
        yield 1

    with pytest.raises(TypeError, match="an async generator function") as info:
        cb(rows)
    assert "async for item in" in str(info.value)


def test_guarding_the_iteration_counts_its_failure() -> None:
    # What the error message tells users to do.
    cb = CircuitBreaker("acme.gen", failure_threshold=1)

    def rows() -> Iterator[int]:
        yield 1
        raise Boom("mid-stream")

    got = []
    with pytest.raises(Boom):
        with cb.guard():
            for r in rows():
                got.append(r)
    assert got == [1]
    assert cb.get_state() is CircuitState.OPEN


# ------------------------------------------------- 7. awaitables from sync calls


async def failing_async() -> None:
    await asyncio.sleep(0)
    raise Boom("async")


async def ok_async() -> str:
    await asyncio.sleep(0)
    return "ok"


def test_await_cb_call_of_an_async_function_counts_its_failure() -> None:
    cb = CircuitBreaker("acme.aw", failure_threshold=1)

    async def main() -> None:
        with pytest.raises(Boom):
            await cb.call(failing_async)

    asyncio.run(main())
    assert cb.get_state() is CircuitState.OPEN


def test_await_cb_call_in_half_open_closes_only_once_awaited() -> None:
    cb, events = half_open()

    async def main() -> str:
        pending = cb.call(ok_async)
        # Not awaited yet: the probe is still running.
        assert cb.get_state() is CircuitState.HALF_OPEN
        assert cb.snapshot()["probes_in_flight"] == 1
        return await pending

    assert asyncio.run(main()) == "ok"
    assert events[-1] == ("half_open", "closed")


def test_a_sync_function_returning_a_coroutine_is_guarded_to_the_await() -> None:
    cb = CircuitBreaker("acme.aw", failure_threshold=1)

    @cb
    def start() -> Awaitable[None]:
        return failing_async()

    async def main() -> None:
        with pytest.raises(Boom):
            await start()

    asyncio.run(main())
    assert cb.get_state() is CircuitState.OPEN


def test_an_object_with_an_async_call_is_guarded_as_async() -> None:
    cb = CircuitBreaker("acme.aw", failure_threshold=1)

    class Client:
        async def __call__(self, x: int) -> int:
            await asyncio.sleep(0)
            raise Boom(str(x))

    guarded = cb(Client())
    assert inspect.iscoroutinefunction(guarded)

    async def main() -> None:
        with pytest.raises(Boom):
            await guarded(3)

    asyncio.run(main())
    assert cb.get_state() is CircuitState.OPEN


def test_a_coroutine_never_awaited_frees_its_probe_slot(
    unraisable: list[Any],
) -> None:
    cb, events = half_open()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "never awaited"
        pending = cb.call(ok_async)
        assert cb.snapshot()["probes_in_flight"] == 1
        del pending
        gc.collect()
    assert cb.snapshot()["probes_in_flight"] == 0
    assert cb.call(ok) == "ok"  # the slot is free again: this is the probe
    assert events[-1] == ("half_open", "closed")


def test_call_async_of_a_sync_function_is_a_type_error_that_counts_nothing() -> None:
    cb = CircuitBreaker("acme.aw", failure_threshold=1)

    def sync_fn() -> int:
        return 3

    async def main() -> None:
        with pytest.raises(TypeError, match=r"call_async\(\) needs an async function.*use call\(\)"):
            await cb.call_async(sync_fn)  # type: ignore[arg-type]

    asyncio.run(main())
    assert cb.get_state() is CircuitState.CLOSED
    assert cb.failure_count == 0
    assert cb.snapshot()["probes_in_flight"] == 0


# ------------------------------------------------------------------ 9. timeouts


def test_timeout_counts_a_slow_async_call_as_a_failure() -> None:
    cb = CircuitBreaker("acme.slow", failure_threshold=1, timeout=0.05)
    assert cb.timeout == 0.05 and cb.settings["timeout"] == 0.05

    @cb
    async def hang() -> None:
        await asyncio.sleep(10)

    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await hang()

    t0 = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - t0 < 5
    assert cb.get_state() is CircuitState.OPEN


def test_timeout_applies_to_call_async_too() -> None:
    cb = CircuitBreaker("acme.slow", failure_threshold=1, timeout=0.05)

    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await cb.call_async(asyncio.sleep, 10)
        # A fast call is untouched.
        assert await CircuitBreaker("acme.fast", timeout=5).call_async(ok_async) == "ok"

    asyncio.run(main())
    assert cb.get_state() is CircuitState.OPEN


def test_a_wait_for_outside_the_guard_only_cancels() -> None:
    # Why timeout= exists: cancellation is (rightly) never a failure.
    cb = CircuitBreaker("acme.slow", failure_threshold=1)

    @cb
    async def hang() -> None:
        await asyncio.sleep(10)

    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(hang(), 0.05)

    asyncio.run(main())
    assert cb.get_state() is CircuitState.CLOSED
    assert cb.failure_count == 0


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), 1e300])
def test_timeout_must_be_a_positive_finite_number(bad: float) -> None:
    with pytest.raises(ValueError, match="timeout"):
        CircuitBreaker("acme.slow", timeout=bad)


# ------------------------------------------------- 13. listeners and generation


def latest_state_gauge() -> tuple[dict[str, str], Callable[[Transition], None]]:
    """The README's gauge listener, verbatim in spirit: keep the transition
    with the newest generation per breaker (24-bit wrapping counter)."""
    gauge: dict[str, str] = {}
    newest: dict[str, int] = {}
    lock = threading.Lock()

    def on_change(t: Transition) -> None:
        with lock:
            last = newest.get(t.name)
            # Newer when ahead by less than half the 24-bit range.
            if last is None or 0 < (t.generation - last) % 2**24 < 2**23:
                newest[t.name] = t.generation
                gauge[t.name] = t.new_state

    return gauge, on_change


def test_the_generation_gauge_ends_on_the_final_state_under_concurrency() -> None:
    for _ in range(5):
        cb = CircuitBreaker("acme.gauge", failure_threshold=2, open_timeout=0.0005,
                            success_threshold=1)
        gauge, on_change = latest_state_gauge()
        cb.add_listener(on_change)
        stop = time.monotonic() + 0.3

        def worker(i: int) -> None:
            n = 0
            while time.monotonic() < stop:
                n += 1
                try:
                    cb.call(boom if (n + i) % 3 else ok)
                except (Boom, CircuitBreakerOpenError):
                    pass

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert gauge["acme.gauge"] == cb.snapshot()["stored_state"]


def test_each_transition_has_the_next_generation() -> None:
    cb = CircuitBreaker("acme.gen", failure_threshold=1, open_timeout=SHORT)
    got: list[Transition] = []
    cb.add_listener(got.append)
    fail_n(cb, 1)
    time.sleep(AFTER_SHORT)
    cb.call(ok)
    cb.force_open()
    cb.reset()
    gens = [t.generation for t in got]
    assert len(gens) == 5
    assert all((b - a) % 2**24 >= 1 for a, b in zip(gens, gens[1:]))  # noqa: B905


# -------------------------------------------------------------- 14. the details


def test_a_rejection_inside_an_except_block_keeps_its_context() -> None:
    cb = CircuitBreaker("acme.ctx", failure_threshold=1)

    @cb
    def guarded() -> str:
        return "ok"

    fail_n(cb, 1)
    for attempt in (lambda: cb.call(ok), guarded, cb.guard):
        try:
            raise KeyError("handling this")
        except KeyError as handled:
            with pytest.raises(CircuitBreakerOpenError) as info:
                attempt()
            assert info.value.__context__ is handled
    # Outside an except block: no context.
    with pytest.raises(CircuitBreakerOpenError) as info:
        cb.call(ok)
    assert info.value.__context__ is None


def test_an_async_rejection_inside_an_except_block_keeps_its_context() -> None:
    cb = CircuitBreaker("acme.ctx", failure_threshold=1)
    fail_n(cb, 1)

    @cb
    async def guarded() -> str:
        return "ok"

    async def main() -> None:
        try:
            raise KeyError("handling this")
        except KeyError as handled:
            with pytest.raises(CircuitBreakerOpenError) as info:
                await guarded()
            assert info.value.__context__ is handled

    asyncio.run(main())


@pytest.mark.parametrize("order", ["breaker above", "breaker below"])
def test_classmethod_and_staticmethod_in_either_order(order: str) -> None:
    cb = CircuitBreaker("acme.cls", failure_threshold=2)

    if order == "breaker above":

        class Client:
            scale = 10

            @cb
            @classmethod
            def build(cls, x: int) -> int:
                return cls.scale * x

            @cb
            @staticmethod
            def half(x: int) -> float:
                if x < 0:
                    raise Boom("negative")
                return x / 2

            @cb
            @classmethod
            async def abuild(cls, x: int) -> int:
                return cls.scale * x

    else:

        class Client:  # type: ignore[no-redef]
            scale = 10

            @classmethod
            @cb
            def build(cls, x: int) -> int:
                return cls.scale * x

            @staticmethod
            @cb
            def half(x: int) -> float:
                if x < 0:
                    raise Boom("negative")
                return x / 2

            @classmethod
            @cb
            async def abuild(cls, x: int) -> int:
                return cls.scale * x

    assert Client.build(2) == 20
    assert Client().build(3) == 30
    assert Client.half(3) == 1.5
    assert Client().half(4) == 2.0
    assert asyncio.run(Client.abuild(4)) == 40
    with pytest.raises(Boom):
        Client.half(-1)
    assert cb.failure_count == 1  # the guard is really there


def test_epoch_times_follow_a_stepped_wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    cb = CircuitBreaker("acme.clock", failure_threshold=1)
    fail_n(cb, 1)
    before = cb.get_stats()
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3600.0)  # the clock is stepped
    after = cb.get_stats()
    assert before["last_failure_time"] is not None and after["last_failure_time"] is not None
    assert after["last_failure_time"] - before["last_failure_time"] == pytest.approx(3600, abs=1)
    assert after["last_state_change_time"] - before["last_state_change_time"] == pytest.approx(
        3600, abs=1
    )
    assert cb.last_failure_time == pytest.approx(after["last_failure_time"], abs=1)
    # Durations are monotonic: the step is not a second of waiting.
    assert after["time_since_last_failure"] is not None
    assert after["time_since_last_failure"] < 60
    assert cb.get_state() is CircuitState.OPEN


def test_the_limits_come_from_the_core() -> None:
    limits = tripbit.LIMITS
    assert limits["failure_threshold"] >= 65535
    assert limits["success_threshold"] >= 1 and limits["probes"] >= 1
    top = CircuitBreaker("acme.lim", failure_threshold=limits["failure_threshold"],
                         success_threshold=limits["success_threshold"])
    assert top.failure_threshold == limits["failure_threshold"]
    assert top.success_threshold == limits["success_threshold"]
    CircuitBreaker("acme.lim.backoff", backoff=(limits["backoff_factor"], 1))
    with pytest.raises(ValueError, match="backoff factor"):
        CircuitBreaker("acme.lim.backoff2", backoff=(limits["backoff_factor"] + 1, 1))
    for arg in ("failure_threshold", "success_threshold"):
        with pytest.raises(ValueError, match=rf"{arg} must be an integer in 1\.\.{limits[arg]}"):
            CircuitBreaker("acme.lim", **{arg: limits[arg] + 1})


def test_a_server_configured_with_100000_starts() -> None:
    cb = CircuitBreaker(failure_threshold=100_000, name="A->B", stdout=False)
    assert cb.failure_threshold == 100_000
    fail_n(cb, 3)
    assert cb.failure_count == 3


# --------------------------------------------------------- 8. hung probes

# Long enough that the calls a test expects to be refused (made right after
# the probe started) come before it, even on a loaded machine.
PROBE_DEADLINE = 0.5


def test_probe_timeout_defaults_to_the_open_period() -> None:
    assert CircuitBreaker("acme.pt", open_timeout=12.5).settings["probe_timeout"] == 12.5
    assert CircuitBreaker(3, 30, 1, "B->C", stdout=False).settings["probe_timeout"] == 30.0
    assert CircuitBreaker("acme.pt", probe_timeout=2).settings["probe_timeout"] == 2.0
    assert CircuitBreaker("acme.pt", probe_timeout=float("inf")).settings["probe_timeout"] == float(
        "inf"
    )


@pytest.mark.parametrize("bad", [0, -1, float("nan"), -float("inf"), 1e300])
def test_probe_timeout_must_be_positive(bad: float) -> None:
    with pytest.raises(ValueError, match="probe_timeout"):
        CircuitBreaker("acme.pt", probe_timeout=bad)


def test_a_hung_probe_is_reclaimed_after_probe_timeout() -> None:
    cb, events = half_open(probe_timeout=PROBE_DEADLINE)
    release = threading.Event()
    started = threading.Event()
    late: list[Any] = []

    @cb
    def hung() -> None:
        started.set()
        release.wait(10)
        raise Boom("late failure")

    def run() -> None:
        try:
            hung()
        except Boom as e:
            late.append(e)

    t = threading.Thread(target=run)
    t.start()
    assert started.wait(10)
    with pytest.raises(CircuitBreakerOpenError):
        cb.call(ok)  # the slot is still the hung probe's
    time.sleep(PROBE_DEADLINE * 1.3)  # past the deadline
    assert cb.call(ok) == "ok"  # this call is the new probe: it closes
    assert cb.get_state() is CircuitState.CLOSED
    release.set()
    t.join()
    assert len(late) == 1  # the late failure still reaches its caller...
    assert cb.get_state() is CircuitState.CLOSED  # ...but is stale: nothing reopens
    assert events == [("open", "half_open"), ("half_open", "closed")]


def test_a_lost_ticket_is_reclaimed_after_probe_timeout() -> None:
    cb, _ = half_open(probe_timeout=PROBE_DEADLINE)
    lost = cb.guard()  # a probe whose outcome is never reported
    assert lost.is_probe
    with pytest.raises(CircuitBreakerOpenError):
        cb.call(ok)
    time.sleep(PROBE_DEADLINE * 1.3)
    assert cb.call(ok) == "ok"
    assert cb.get_state() is CircuitState.CLOSED
    lost.failure()  # stale
    assert cb.get_state() is CircuitState.CLOSED


def test_without_a_probe_deadline_a_lost_ticket_wedges_half_open() -> None:
    # What probe_timeout protects from (inf turns it off).
    cb, _ = half_open(probe_timeout=float("inf"))
    lost = cb.guard()
    time.sleep(0.15)
    with pytest.raises(CircuitBreakerOpenError):
        cb.call(ok)
    lost.ignore()


def test_a_probe_held_by_a_thread_at_fork_is_reclaimed_in_the_child() -> None:
    import os
    import warnings

    cb, _ = half_open(probe_timeout=PROBE_DEADLINE)
    started, release = threading.Event(), threading.Event()

    @cb
    def probe() -> str:
        started.set()
        release.wait(10)
        return "parent probe"

    t = threading.Thread(target=probe)
    t.start()
    assert started.wait(10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() of a threaded process
        pid = os.fork()
    if pid == 0:  # the child: the probing thread does not exist here
        code = 1
        try:
            try:
                cb.call(ok)
                code = 2  # admitted at once: the slot was not held
            except CircuitBreakerOpenError:
                time.sleep(PROBE_DEADLINE * 1.3)
                code = 0 if cb.call(ok) == "ok" and cb.get_state() is CircuitState.CLOSED else 3
        finally:
            os._exit(code)
    release.set()
    t.join()
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0


def test_a_task_spawned_inside_a_probe_is_not_part_of_a_later_probe() -> None:
    # A task copies the context it was created in; once the probe that
    # spawned it is over, its calls are calls of their own again.
    cb, events = half_open(probe_timeout=30)

    async def main() -> list[str]:
        go, inner_done = asyncio.Event(), asyncio.Event()
        out: list[str] = []

        async def background() -> None:
            await go.wait()
            try:
                out.append(await cb.call_async(ok_async))
            except CircuitBreakerOpenError:
                out.append("refused")
            inner_done.set()

        @cb
        async def probe() -> str:
            asyncio.ensure_future(background())
            raise Boom("probe fails: open again")

        with pytest.raises(Boom):
            await probe()
        await asyncio.sleep(AFTER_SHORT)  # open period over: half-open again
        blocker = cb.guard()  # another caller holds the only probe slot
        assert blocker.is_probe
        go.set()
        await inner_done.wait()
        blocker.ignore()
        return out

    assert asyncio.run(main()) == ["refused"]
