"""The Pythonic API (the dotted-key API documented in py/README.md): dotted keys, ``@breaker``,
``.fallback``, asyncio, exception filters, ``guard()`` (reporting an outcome
without raising), listeners, the policy options and ``from_config``."""

from __future__ import annotations

import asyncio
import copy
import functools
import inspect
import threading
import time
from typing import Any

import pytest

import tripbit
from tripbit import CircuitBreaker, CircuitBreakerOpenError, CircuitState, Guard, Transition

from conftest import AFTER_SHORT, SHORT, Boom, boom, fail_n, ok


# ---------------------------------------------------------------- dotted keys


def test_a_str_first_argument_is_the_dotted_key(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="tripbit")
    cb = CircuitBreaker("acme.nlp.hotels", failure_threshold=1)
    assert cb.name == "acme.nlp.hotels"
    assert (cb.failure_threshold, cb.open_timeout, cb.success_threshold) == (1, 30.0, 1)
    fail_n(cb, 1)
    cb.reset()
    # The dotted-key style prints nothing by default: it logs.
    assert capsys.readouterr().out == ""
    assert cb.settings["stdout"] is False
    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        ("tripbit", "[CircuitBreaker-acme.nlp.hotels] Initialized: threshold=1, timeout=30.0s"),
        ("tripbit", "[CircuitBreaker-acme.nlp.hotels] 🔴 State transition: closed -> open (failure_count=1)"),
        ("tripbit", "[CircuitBreaker-acme.nlp.hotels] ⚠️ Circuit OPENED - will block calls for 30.0s"),
        ("tripbit", "[CircuitBreaker-acme.nlp.hotels] Manually reset: open -> CLOSED"),
    ]


def test_the_drop_in_constructor_keeps_its_stdout_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # name= as a keyword is the drop-in's constructor (the servers' call).
    CircuitBreaker(failure_threshold=3, open_timeout=30.0, success_threshold=1, name="acme.x")
    CircuitBreaker(3, 30.0, 1, "B->C")
    assert capsys.readouterr().out.splitlines() == [
        "[CircuitBreaker-acme.x] Initialized: threshold=3, timeout=30.0s",
        "[CircuitBreaker-B->C] Initialized: threshold=3, timeout=30.0s",
    ]


def test_an_explicit_stdout_wins_either_way(capsys: pytest.CaptureFixture[str]) -> None:
    CircuitBreaker("acme.loud", stdout=True)
    CircuitBreaker(3, 30.0, 1, "B->C", stdout=False)
    CircuitBreaker(name="E->F", stdout=False)
    assert capsys.readouterr().out.splitlines() == [
        "[CircuitBreaker-acme.loud] Initialized: threshold=3, timeout=30.0s",
    ]


def test_a_dotted_key_with_keyword_options() -> None:
    cb = CircuitBreaker("acme.nlp.hotels", failure_threshold=5, open_timeout=2, stdout=False)
    assert (cb.name, cb.failure_threshold, cb.open_timeout) == ("acme.nlp.hotels", 5, 2)


@pytest.mark.parametrize("args", [("acme.svc", 5), ("acme.svc", 2.5, 2)])
def test_after_a_dotted_key_every_argument_is_a_keyword(args: tuple[Any, ...]) -> None:
    # CircuitBreaker("svc", 5) used to mean open_timeout=5, silently.
    with pytest.raises(TypeError, match="only positional argument; give the others as keywords"):
        CircuitBreaker(*args)


def test_the_name_twice_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="name"):
        CircuitBreaker("a.b.c", name="d.e.f")


def test_the_dotted_key_is_in_the_open_error() -> None:
    cb = CircuitBreaker("acme.nlp.hotels", failure_threshold=1, stdout=False)
    fail_n(cb, 1)
    with pytest.raises(CircuitBreakerOpenError) as info:
        cb.call(ok)
    assert str(info.value) == "Circuit breaker OPEN for acme.nlp.hotels"
    assert info.value.name == "acme.nlp.hotels"
    assert info.value.state == "open"
    assert info.value.retry_after is not None and 0 < info.value.retry_after <= 30.0


def test_call_passes_extra_arguments() -> None:
    cb = CircuitBreaker("k", stdout=False)
    assert cb.call(lambda a, b=0: a + b, 1, b=2) == 3
    assert cb.call(divmod, 7, 2) == (3, 1)


def test_repr_names_the_key_and_state() -> None:
    cb = CircuitBreaker("acme.x", stdout=False)
    assert repr(cb) == "<CircuitBreaker 'acme.x' state=closed failure_count=0>"


def test_breakers_are_independent() -> None:
    a = CircuitBreaker("acme.a", failure_threshold=1, stdout=False)
    b = CircuitBreaker("acme.b", failure_threshold=1, stdout=False)
    fail_n(a, 1)
    assert a.get_state() is CircuitState.OPEN
    assert b.get_state() is CircuitState.CLOSED


def test_a_subclass_works() -> None:
    class Mine(CircuitBreaker):
        __slots__ = ()

        def describe(self) -> str:
            return f"{self.name}: {self.get_state().value}"

    cb = Mine("acme.sub", stdout=False)
    assert cb.describe() == "acme.sub: closed"
    assert isinstance(cb, CircuitBreaker)


# ------------------------------------------------------------------ @breaker


def test_the_decorator_guards_every_call() -> None:
    breaker = CircuitBreaker("acme.svc", failure_threshold=2, stdout=False)
    calls: list[Any] = []

    @breaker
    def lookup(city: str, *, country: str = "FR") -> str:
        calls.append((city, country))
        if city == "bad":
            raise Boom(city)
        return f"{city}/{country}"

    assert lookup("Paris") == "Paris/FR"
    assert lookup("Rome", country="IT") == "Rome/IT"
    for _ in range(2):
        with pytest.raises(Boom):
            lookup("bad")
    assert breaker.get_state() is CircuitState.OPEN
    with pytest.raises(CircuitBreakerOpenError):
        lookup("Paris")
    assert calls == [("Paris", "FR"), ("Rome", "IT"), ("bad", "FR"), ("bad", "FR")]


def test_the_decorator_keeps_the_function_metadata() -> None:
    breaker = CircuitBreaker("acme.svc", stdout=False)

    def lookup(city: str) -> str:
        """Looks a city up."""
        return city

    guarded = breaker(lookup)
    assert guarded.__name__ == "lookup"
    assert guarded.__doc__ == "Looks a city up."
    assert guarded.__wrapped__ is lookup
    assert inspect.signature(guarded) == inspect.signature(lookup)
    assert guarded.breaker is breaker


def test_the_decorator_on_methods() -> None:
    breaker = CircuitBreaker("acme.svc", stdout=False)

    class Client:
        def __init__(self) -> None:
            self.n = 0

        @breaker
        def fetch(self, x: int) -> int:
            self.n += 1
            return x * 2

    c = Client()
    assert c.fetch(21) == 42
    assert c.n == 1
    # Bound like a function: through the class it is the guarded function
    # itself, through an instance a bound method of it.
    assert Client.__dict__["fetch"].__get__(None, Client) is Client.__dict__["fetch"]
    assert c.fetch.__self__ is c
    assert Client.fetch(c, 1) == 2


def test_the_decorator_is_one_native_call() -> None:
    # No Python wrapper frame: the guarded function is the native callable,
    # with the wrapped function's attributes in its __dict__.
    breaker = CircuitBreaker("acme.native", stdout=False)

    def lookup(city: str) -> str:
        return city.upper()

    guarded = breaker(lookup)
    assert type(guarded).__name__ == "SyncGuarded"
    assert guarded("oslo") == "OSLO"
    assert guarded(city="rome") == "ROME"
    assert repr(guarded) == f"<tripbit guarded function {lookup.__qualname__}>"
    assert guarded.__dict__["__wrapped__"] is lookup


def test_one_breaker_guards_several_functions() -> None:
    breaker = CircuitBreaker("acme.svc", failure_threshold=1, stdout=False)

    @breaker
    def a() -> str:
        raise Boom("a")

    @breaker
    def b() -> str:
        return "b"

    with pytest.raises(Boom):
        a()
    with pytest.raises(CircuitBreakerOpenError):
        b()


def test_the_decorator_rejects_a_non_callable() -> None:
    breaker = CircuitBreaker("acme.svc", stdout=False)
    with pytest.raises(TypeError, match="callable"):
        breaker(42)  # type: ignore[call-overload]


# ----------------------------------------------------------------- .fallback


def test_the_fallback_answers_when_open_with_the_same_arguments() -> None:
    breaker = CircuitBreaker("acme.svc", failure_threshold=1, stdout=False)

    @breaker
    def lookup(city: str, *, country: str = "FR") -> dict[str, Any]:
        raise Boom(city)

    seen: list[Any] = []

    @lookup.fallback
    def lookup_fallback(city: str, *, country: str = "FR") -> dict[str, Any]:
        seen.append((city, country))
        return {"success": False, "city": city}

    with pytest.raises(Boom):  # closed: the function runs, its error propagates
        lookup("Paris")
    assert seen == []
    assert lookup("Rome", country="IT") == {"success": False, "city": "Rome"}
    assert seen == [("Rome", "IT")]


def test_the_fallback_is_not_used_while_closed() -> None:
    breaker = CircuitBreaker("acme.svc", stdout=False)

    @breaker
    def f() -> str:
        return "real"

    f.fallback(lambda: "fallback")
    assert f() == "real"


def test_fallback_registration_returns_the_fallback_unchanged() -> None:
    breaker = CircuitBreaker("acme.svc", stdout=False)

    @breaker
    def f() -> str:
        return "real"

    def fb() -> str:
        return "fb"

    assert f.fallback(fb) is fb


def test_the_fallback_s_errors_propagate_uncounted() -> None:
    breaker = CircuitBreaker("acme.svc", failure_threshold=1, stdout=False)

    @breaker
    def f() -> str:
        raise Boom("f")

    @f.fallback
    def fb() -> str:
        raise KeyError("fb")

    with pytest.raises(Boom):
        f()
    with pytest.raises(KeyError) as info:
        f()
    # The rejection does not leak in as the fallback error's context.
    assert info.value.__context__ is None
    assert breaker.snapshot()["backoff_level"] == 0  # still the first trip


def test_a_sync_function_cannot_take_an_async_fallback() -> None:
    breaker = CircuitBreaker("acme.svc", stdout=False)

    @breaker
    def f() -> str:
        return "x"

    async def afb() -> str:
        return "y"

    with pytest.raises(TypeError, match="async"):
        f.fallback(afb)


def test_a_non_callable_fallback_is_a_type_error() -> None:
    breaker = CircuitBreaker("acme.svc", stdout=False)

    @breaker
    def f() -> str:
        return "x"

    with pytest.raises(TypeError, match="callable"):
        f.fallback("nope")  # type: ignore[arg-type]


# -------------------------------------------------------------------- asyncio


def test_async_functions_are_guarded() -> None:
    breaker = CircuitBreaker("acme.async", failure_threshold=2, stdout=False)

    @breaker
    async def fetch(x: int) -> int:
        await asyncio.sleep(0)
        if x < 0:
            raise Boom(x)
        return x + 1

    assert inspect.iscoroutinefunction(fetch)
    assert fetch.__name__ == "fetch"

    async def main() -> None:
        assert await fetch(1) == 2
        for _ in range(2):
            with pytest.raises(Boom):
                await fetch(-1)
        assert breaker.get_state() is CircuitState.OPEN
        with pytest.raises(CircuitBreakerOpenError):
            await fetch(1)

    asyncio.run(main())


def test_async_fallback_is_awaited() -> None:
    breaker = CircuitBreaker("acme.async", failure_threshold=1, stdout=False)

    @breaker
    async def fetch(x: int) -> int:
        raise Boom(x)

    @fetch.fallback
    async def fetch_fallback(x: int) -> int:
        await asyncio.sleep(0)
        return -x

    async def main() -> None:
        with pytest.raises(Boom):
            await fetch(1)
        assert await fetch(5) == -5

    asyncio.run(main())


def test_async_function_with_a_sync_fallback() -> None:
    breaker = CircuitBreaker("acme.async", failure_threshold=1, stdout=False)

    @breaker
    async def fetch(x: int) -> int:
        raise Boom(x)

    fetch.fallback(lambda x: x * 10)

    async def main() -> None:
        with pytest.raises(Boom):
            await fetch(1)
        assert await fetch(5) == 50

    asyncio.run(main())


def test_async_calls_run_concurrently_through_one_breaker() -> None:
    breaker = CircuitBreaker("acme.async", stdout=False)

    @breaker
    async def fetch(x: int) -> int:
        await asyncio.sleep(0.01)
        return x

    async def main() -> list[int]:
        return list(await asyncio.gather(*(fetch(i) for i in range(50))))

    assert asyncio.run(main()) == list(range(50))
    assert breaker.failure_count == 0


def test_cancellation_counts_nothing() -> None:
    breaker = CircuitBreaker("acme.async", failure_threshold=1, stdout=False)

    @breaker
    async def slow() -> None:
        await asyncio.sleep(10)

    async def main() -> None:
        task = asyncio.ensure_future(slow())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert breaker.get_state() is CircuitState.CLOSED
    assert breaker.failure_count == 0


def test_a_cancelled_probe_frees_its_slot() -> None:
    breaker = CircuitBreaker("acme.async", failure_threshold=1, open_timeout=SHORT, stdout=False)
    fail_n(breaker, 1)
    time.sleep(AFTER_SHORT)

    @breaker
    async def slow() -> str:
        await asyncio.sleep(10)
        return "never"

    @breaker
    async def quick() -> str:
        return "ok"

    async def main() -> None:
        task = asyncio.ensure_future(slow())
        await asyncio.sleep(0.01)  # the probe is in flight
        with pytest.raises(CircuitBreakerOpenError):
            await quick()  # the only probe slot is taken
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await quick() == "ok"  # slot freed; this probe closes it

    asyncio.run(main())
    assert breaker.get_state() is CircuitState.CLOSED


def test_call_async() -> None:
    breaker = CircuitBreaker("acme.async", failure_threshold=1, stdout=False)

    async def fetch(x: int, *, y: int = 0) -> int:
        if x < 0:
            raise Boom(x)
        return x + y

    async def main() -> None:
        assert await breaker.call_async(fetch, 1, y=2) == 3
        with pytest.raises(Boom):
            await breaker.call_async(fetch, -1)
        with pytest.raises(CircuitBreakerOpenError):
            await breaker.call_async(fetch, 1)

    asyncio.run(main())


# ------------------------------------------------------------ exception filters


def test_exclude_a_type_reraises_without_counting() -> None:
    cb = CircuitBreaker("k", failure_threshold=1, exclude=KeyError, stdout=False)
    fail_n(cb, 3, KeyError)
    assert cb.get_state() is CircuitState.CLOSED
    assert cb.last_failure_time is None
    fail_n(cb, 1, Boom)
    assert cb.get_state() is CircuitState.OPEN


def test_exclude_matches_subclasses_and_tuples() -> None:
    cb = CircuitBreaker("k", failure_threshold=1, exclude=(LookupError, ValueError), stdout=False)
    fail_n(cb, 1, KeyError)
    fail_n(cb, 1, IndexError)
    fail_n(cb, 1, UnicodeError)
    assert cb.get_state() is CircuitState.CLOSED


def test_an_excluded_error_neither_counts_nor_resets_the_count() -> None:
    cb = CircuitBreaker("k", failure_threshold=3, exclude=KeyError, stdout=False)
    fail_n(cb, 2)
    fail_n(cb, 1, KeyError)
    assert cb.failure_count == 2


def test_include_counts_only_those_types() -> None:
    cb = CircuitBreaker("k", failure_threshold=1, include=(ConnectionError, TimeoutError),
                        stdout=False)
    fail_n(cb, 2, ValueError)
    assert cb.get_state() is CircuitState.CLOSED
    fail_n(cb, 1, ConnectionRefusedError)
    assert cb.get_state() is CircuitState.OPEN


def test_include_and_exclude_together() -> None:
    cb = CircuitBreaker("k", failure_threshold=1, include=OSError, exclude=FileNotFoundError,
                        stdout=False)
    fail_n(cb, 1, FileNotFoundError)
    fail_n(cb, 1, ValueError)
    assert cb.get_state() is CircuitState.CLOSED
    fail_n(cb, 1, ConnectionError)
    assert cb.get_state() is CircuitState.OPEN


def raiser(exc: BaseException) -> Any:
    def f() -> None:
        raise exc

    return f


class HttpError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def test_a_predicate_decides_which_errors_count() -> None:
    seen: list[BaseException] = []

    def server_error(e: BaseException) -> bool:
        seen.append(e)
        return isinstance(e, HttpError) and e.status >= 500

    cb = CircuitBreaker("k", failure_threshold=1, include=server_error, stdout=False)
    err = HttpError(404)
    with pytest.raises(HttpError):
        cb.call(raiser(err))
    assert seen == [err]  # called with the exception object itself
    assert cb.get_state() is CircuitState.CLOSED
    with pytest.raises(HttpError):
        cb.call(raiser(HttpError(503)))
    assert cb.get_state() is CircuitState.OPEN


def test_an_exclude_predicate() -> None:
    cb = CircuitBreaker(
        "k", failure_threshold=1, exclude=lambda e: "client" in str(e), stdout=False
    )
    with pytest.raises(ValueError):
        cb.call(raiser(ValueError("client error: bad request")))
    assert cb.get_state() is CircuitState.CLOSED
    fail_n(cb, 1, ValueError)  # "x": counts
    assert cb.get_state() is CircuitState.OPEN


def test_a_raising_predicate_goes_to_unraisablehook_and_the_call_error_propagates(
    unraisable: list[Any],
) -> None:
    def broken(e: BaseException) -> bool:
        raise RuntimeError("predicate bug")

    cb = CircuitBreaker("k", failure_threshold=1, exclude=broken, stdout=False)
    fail_n(cb, 1)
    assert len(unraisable) == 1
    assert isinstance(unraisable[0].exc_value, RuntimeError)
    # An exclude predicate that fails excludes nothing: the failure counted.
    assert cb.get_state() is CircuitState.OPEN


def test_filters_never_see_base_exceptions() -> None:
    seen: list[BaseException] = []
    cb = CircuitBreaker("k", failure_threshold=1, include=lambda e: seen.append(e) or True,
                        stdout=False)
    fail_n(cb, 1, KeyboardInterrupt)
    assert seen == []
    assert cb.get_state() is CircuitState.CLOSED


def test_filters_apply_to_the_decorator_and_async() -> None:
    breaker = CircuitBreaker("k", failure_threshold=1, exclude=KeyError, stdout=False)

    @breaker
    async def f() -> None:
        raise KeyError("k")

    async def main() -> None:
        for _ in range(3):
            with pytest.raises(KeyError):
                await f()

    asyncio.run(main())
    assert breaker.get_state() is CircuitState.CLOSED


def test_settings_show_the_filters() -> None:
    cb = CircuitBreaker("k", exclude=KeyError, include=(OSError, ValueError), stdout=False)
    assert cb.settings["exclude"] == (KeyError,)
    assert cb.settings["include"] == (OSError, ValueError)


# --------------------------------------------- guard(): report without raising


def test_guard_reports_success_and_failure_explicitly() -> None:
    cb = CircuitBreaker("k", failure_threshold=2, stdout=False)
    g = cb.guard()
    assert isinstance(g, Guard)
    assert not g.recorded
    g.failure()
    assert g.recorded
    assert cb.failure_count == 1
    cb.guard().success()
    assert cb.failure_count == 0
    cb.guard().failure()
    cb.guard().failure()
    assert cb.get_state() is CircuitState.OPEN
    with pytest.raises(CircuitBreakerOpenError):
        cb.guard()


def test_guard_ignore_counts_nothing() -> None:
    cb = CircuitBreaker("k", failure_threshold=2, stdout=False)
    cb.guard().failure()
    cb.guard().ignore()
    assert cb.failure_count == 1


def test_an_outcome_is_reported_once() -> None:
    cb = CircuitBreaker("k", stdout=False)
    g = cb.guard()
    g.failure()
    with pytest.raises(RuntimeError, match="already recorded"):
        g.success()
    with pytest.raises(RuntimeError):
        g.failure()
    assert cb.failure_count == 1


def test_guard_as_a_context_manager() -> None:
    cb = CircuitBreaker("k", failure_threshold=2, stdout=False)
    with cb.guard():
        pass
    assert cb.failure_count == 0
    with pytest.raises(Boom):
        with cb.guard():
            raise Boom("x")
    assert cb.failure_count == 1
    with pytest.raises(KeyboardInterrupt):
        with cb.guard():
            raise KeyboardInterrupt
    assert cb.failure_count == 1


def test_guard_context_manager_reports_an_http_status_without_raising() -> None:
    # The Outcome-style use: a call that returns an error instead of raising.
    cb = CircuitBreaker("k", failure_threshold=1, stdout=False)
    with cb.guard() as g:
        status = 503
        if status >= 500:
            g.failure()
    assert cb.get_state() is CircuitState.OPEN


def test_guard_context_manager_uses_the_filters() -> None:
    cb = CircuitBreaker("k", failure_threshold=1, exclude=KeyError, stdout=False)
    with pytest.raises(KeyError):
        with cb.guard():
            raise KeyError("x")
    assert cb.get_state() is CircuitState.CLOSED


def test_a_dropped_guard_counts_nothing_and_frees_its_probe_slot() -> None:
    cb = CircuitBreaker("k", failure_threshold=1, open_timeout=SHORT, probe_timeout=30)
    fail_n(cb, 1)
    time.sleep(AFTER_SHORT)
    g = cb.guard()
    assert g.is_probe
    with pytest.raises(CircuitBreakerOpenError):
        cb.guard()
    del g
    g2 = cb.guard()
    assert g2.is_probe
    g2.success()
    assert cb.get_state() is CircuitState.CLOSED


def test_a_guard_of_a_closed_breaker_is_no_probe() -> None:
    cb = CircuitBreaker("k", stdout=False)
    g = cb.guard()
    assert not g.is_probe
    g.success()


def test_a_result_from_before_a_reset_is_discarded() -> None:
    cb = CircuitBreaker("k", failure_threshold=1, stdout=False)
    g = cb.guard()
    cb.reset()
    g.failure()
    assert cb.get_state() is CircuitState.CLOSED


# ------------------------------------------------------------------ listeners


def test_listeners_get_every_transition_after_it_happened() -> None:
    cb = CircuitBreaker("acme.l", failure_threshold=2, open_timeout=SHORT, stdout=False)
    events: list[tuple[Any, ...]] = []

    def listener(t: Transition) -> None:
        # Called after the change: the breaker already shows the new state.
        events.append((t.old_state, t.new_state, t.failure_count, t.breaker.state.value))

    cb.add_listener(listener)
    fail_n(cb, 2)
    time.sleep(AFTER_SHORT)
    cb.call(ok)
    assert events == [
        ("closed", "open", 2, "open"),
        ("open", "half_open", 0, "half_open"),
        ("half_open", "closed", 0, "closed"),
    ]


def test_transition_fields() -> None:
    cb = CircuitBreaker("acme.l", failure_threshold=1, stdout=False)
    got: list[Transition] = []
    cb.add_listener(got.append)
    before = time.time()
    fail_n(cb, 1)
    (t,) = got
    assert isinstance(t, Transition)
    assert t.breaker is cb
    assert t.name == "acme.l"
    assert (t.old_state, t.new_state, t.failure_count, t.backoff_level) == ("closed", "open", 1, 0)
    assert isinstance(t.generation, int)
    assert before - 0.5 <= t.time <= time.time() + 0.5
    assert repr(t) == (
        "Transition(name=\"acme.l\", old_state=\"closed\", new_state=\"open\", failure_count=1)"
    )


def test_listeners_are_called_after_the_line_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    cb = CircuitBreaker("acme.l", failure_threshold=1, stdout=True)
    cb.add_listener(lambda t: print("listener"))
    capsys.readouterr()
    fail_n(cb, 1)
    assert capsys.readouterr().out.splitlines() == [
        "[CircuitBreaker-acme.l] 🔴 State transition: closed -> open (failure_count=1)",
        "[CircuitBreaker-acme.l] ⚠️ Circuit OPENED - will block calls for 30.0s",
        "listener",
    ]


def test_a_listener_may_call_back_into_the_breaker() -> None:
    cb = CircuitBreaker("acme.l", failure_threshold=1, stdout=False)
    seen: list[Any] = []

    def listener(t: Transition) -> None:
        seen.append((t.new_state, cb.get_state().value, cb.get_stats()["state"]))
        if t.new_state == "open":
            cb.reset()  # re-enters: announces open -> closed from in here
            seen.append(cb.call(ok))

    cb.add_listener(listener)
    fail_n(cb, 1)
    assert seen == [("open", "open", "open"), ("closed", "closed", "closed"), "ok"]
    assert cb.get_state() is CircuitState.CLOSED


def test_a_listener_may_add_and_remove_listeners() -> None:
    cb = CircuitBreaker("acme.l", failure_threshold=1, stdout=False)
    calls: list[str] = []

    def second(t: Transition) -> None:
        calls.append("second")

    def first(t: Transition) -> None:
        calls.append("first")
        cb.remove_listener(first)
        cb.add_listener(second)

    cb.add_listener(first)
    fail_n(cb, 1)  # first runs; second is added after this round
    assert calls == ["first"]
    cb.reset()
    assert calls == ["first", "second"]
    assert cb.listeners == (second,)


def test_a_listener_from_another_thread_does_not_deadlock() -> None:
    cb = CircuitBreaker("acme.l", failure_threshold=1, stdout=False)
    done = threading.Event()

    def listener(t: Transition) -> None:
        # Another thread uses the breaker while this listener runs.
        th = threading.Thread(target=lambda: (cb.get_stats(), cb.reset(), done.set()))
        th.start()
        th.join(10)

    cb.add_listener(listener)
    fail_n(cb, 1)
    assert done.wait(10)


def test_listener_errors_go_to_unraisablehook_and_do_not_break_the_call(
    unraisable: list[Any],
) -> None:
    cb = CircuitBreaker("acme.l", failure_threshold=1, stdout=False)
    after: list[str] = []

    def bad(t: Transition) -> None:
        raise ValueError("listener bug")

    cb.add_listener(bad)
    cb.add_listener(lambda t: after.append(t.new_state))
    with pytest.raises(Boom):  # the call's own error, not the listener's
        cb.call(boom)
    assert len(unraisable) == 1
    assert isinstance(unraisable[0].exc_value, ValueError)
    assert after == ["open"]  # later listeners still run


def test_remove_listener() -> None:
    cb = CircuitBreaker("acme.l", failure_threshold=1, stdout=False)
    got: list[Transition] = []
    cb.add_listener(got.append)
    assert cb.listeners == (got.append,)
    cb.remove_listener(got.append)  # bound methods compare equal
    assert cb.listeners == ()
    fail_n(cb, 1)
    assert got == []
    with pytest.raises(ValueError, match="not registered"):
        cb.remove_listener(got.append)


def test_a_non_callable_listener_is_a_type_error() -> None:
    cb = CircuitBreaker("acme.l", stdout=False)
    with pytest.raises(TypeError, match="callable"):
        cb.add_listener("nope")  # type: ignore[arg-type]
    assert cb.listeners == ()


# ----------------------------------------------------------- policy options


def test_failure_rate_window() -> None:
    cb = CircuitBreaker("acme.rate", failure_rate=50, window=10, min_calls=4, stdout=False)
    assert cb.settings["policy"] == "failure_rate"
    cb.call(ok)
    cb.call(ok)
    fail_n(cb, 1)
    assert cb.get_state() is CircuitState.CLOSED  # 3 calls < min_calls
    snap = cb.snapshot()
    assert (snap["window_calls"], snap["window_failures"]) == (3, 1)
    fail_n(cb, 1)
    assert cb.get_state() is CircuitState.OPEN  # 2/4 = 50 %
    # The trip starts a fresh window; the failures that tripped it stay
    # reported while open.
    assert cb.failure_count == 2


def test_failure_rate_below_the_bar_stays_closed() -> None:
    cb = CircuitBreaker("acme.rate", failure_rate=50, window=10, min_calls=4, stdout=False)
    for _ in range(3):
        cb.call(ok)
    fail_n(cb, 1)  # 1/4 = 25 %
    cb.call(ok)
    fail_n(cb, 1)  # 2/6
    assert cb.get_state() is CircuitState.CLOSED


def test_failure_rate_init_line(capsys: pytest.CaptureFixture[str]) -> None:
    CircuitBreaker("acme.rate", failure_rate=25, window=20, min_calls=5, stdout=True)
    assert capsys.readouterr().out == (
        "[CircuitBreaker-acme.rate] Initialized: failure_rate=25%, min_calls=5, "
        "window=20 calls, timeout=30.0s\n"
    )


def test_time_window() -> None:
    cb = CircuitBreaker("acme.rate", failure_rate=50, window_seconds=60, min_calls=2,
                        stdout=False)
    assert cb.settings["window_seconds"] == 60.0
    cb.call(ok)
    fail_n(cb, 1)
    assert cb.get_state() is CircuitState.OPEN  # 1/2 = 50 %


def test_a_fast_success_never_trips_a_rate_breaker() -> None:
    # Ratios are checked on failures and slow calls only: a success that
    # brings the window up to min_calls with the ratio at the bar leaves it
    # closed; the next failure trips it.
    cb = CircuitBreaker("acme.rate", failure_rate=50, window=10, min_calls=2,
                        stdout=False)
    fail_n(cb, 1)
    cb.call(ok)
    assert cb.get_state() is CircuitState.CLOSED
    fail_n(cb, 1)
    assert cb.get_state() is CircuitState.OPEN  # 2/3


def test_slow_calls_trip() -> None:
    cb = CircuitBreaker("acme.slow", slow_call=0.02, slow_rate=50, window=4, min_calls=2,
                        stdout=False)
    cb.call(time.sleep, 0.03)
    assert cb.get_state() is CircuitState.CLOSED
    assert cb.snapshot()["window_slow"] == 1
    cb.call(time.sleep, 0.03)
    assert cb.get_state() is CircuitState.OPEN


def test_fast_calls_do_not_count_as_slow() -> None:
    cb = CircuitBreaker("acme.slow", slow_call=5, window=4, min_calls=2, stdout=False)
    for _ in range(4):
        cb.call(ok)
    assert cb.get_state() is CircuitState.CLOSED
    assert cb.snapshot()["window_slow"] == 0


def test_backoff_grows_the_open_period_after_each_failed_probe() -> None:
    cb = CircuitBreaker("acme.bo", failure_threshold=1, open_timeout=SHORT, backoff=2,
                        stdout=False)
    fail_n(cb, 1)

    def period() -> float:
        s = cb.snapshot()
        return float(s["open_until"] - s["opened_at"])

    assert period() == pytest.approx(SHORT, abs=1e-5)
    time.sleep(AFTER_SHORT)
    fail_n(cb, 1)  # failed probe: level 1
    assert cb.snapshot()["backoff_level"] == 1
    assert period() == pytest.approx(2 * SHORT, abs=1e-5)
    time.sleep(2 * SHORT * 1.3)
    fail_n(cb, 1)  # level 2
    assert period() == pytest.approx(4 * SHORT, abs=1e-5)
    time.sleep(4 * SHORT * 1.3)
    cb.call(ok)  # closes: the level is reset
    assert cb.get_state() is CircuitState.CLOSED
    fail_n(cb, 1)
    assert period() == pytest.approx(SHORT, abs=1e-5)


def test_backoff_is_capped() -> None:
    cb = CircuitBreaker("acme.bo", failure_threshold=1, open_timeout=0.02, backoff=(3, 1),
                        stdout=False)
    assert cb.settings["backoff"] == (3, 1)
    fail_n(cb, 1)
    for _ in range(2):
        time.sleep(0.02 * 3 * 1.3)
        fail_n(cb, 1)
        s = cb.snapshot()
        assert s["open_until"] - s["opened_at"] == pytest.approx(0.06, abs=1e-5)


def test_without_backoff_the_open_period_stays() -> None:
    cb = CircuitBreaker("acme.bo", failure_threshold=1, open_timeout=SHORT, stdout=False)
    assert cb.settings["backoff"] == (1, 0)
    fail_n(cb, 1)
    time.sleep(AFTER_SHORT)
    fail_n(cb, 1)
    s = cb.snapshot()
    assert s["open_until"] - s["opened_at"] == pytest.approx(SHORT, abs=1e-5)


def test_probes_option_limits_concurrent_probes() -> None:
    cb = CircuitBreaker("acme.p", failure_threshold=1, open_timeout=SHORT, success_threshold=3,
                        probes=1, probe_timeout=30)
    fail_n(cb, 1)
    time.sleep(AFTER_SHORT)
    g = cb.guard()
    with pytest.raises(CircuitBreakerOpenError) as info:
        cb.guard()
    assert info.value.state == "half_open"
    assert info.value.retry_after is None
    g.success()
    cb.call(ok)
    cb.call(ok)
    assert cb.get_state() is CircuitState.CLOSED


def test_close_failure_rate_tolerates_some_probe_failures() -> None:
    cb = CircuitBreaker("acme.c", failure_threshold=1, open_timeout=SHORT, success_threshold=4,
                        close_failure_rate=50, stdout=False)
    fail_n(cb, 1)
    time.sleep(AFTER_SHORT)
    cb.call(ok)
    fail_n(cb, 1)  # 1 failure: still within 50 % of 4
    assert cb.get_state() is CircuitState.HALF_OPEN


def test_force_open(capsys: pytest.CaptureFixture[str]) -> None:
    cb = CircuitBreaker("acme.f", stdout=True)
    capsys.readouterr()
    cb.force_open()
    assert capsys.readouterr().out == (
        "[CircuitBreaker-acme.f] ⛔ State transition: closed -> forced_open (failure_count=0)\n"
    )
    assert cb.get_state() is CircuitState.OPEN
    assert cb.snapshot()["state"] == "forced_open"
    with pytest.raises(CircuitBreakerOpenError) as info:
        cb.call(ok)
    assert info.value.state == "forced_open"
    assert info.value.retry_after is None
    cb.reset()
    assert cb.call(ok) == "ok"


def test_forced_open_never_moves_to_half_open() -> None:
    cb = CircuitBreaker("acme.f", open_timeout=SHORT, stdout=False)
    cb.force_open()
    time.sleep(AFTER_SHORT)
    assert cb.get_state() is CircuitState.OPEN


def test_force_closed_admits_everything_and_counts_nothing() -> None:
    cb = CircuitBreaker("acme.f", failure_threshold=1, stdout=False)
    cb.force_closed()
    fail_n(cb, 5)
    assert cb.get_state() is CircuitState.CLOSED
    assert cb.snapshot()["state"] == "forced_closed"
    assert cb.failure_count == 0


def test_disable_counts_but_never_trips() -> None:
    cb = CircuitBreaker("acme.f", failure_threshold=2, stdout=False)
    cb.disable()
    fail_n(cb, 5)
    assert cb.snapshot()["state"] == "disabled"
    assert cb.failure_count == 5
    assert cb.call(ok) == "ok"
    cb.reset()
    assert cb.snapshot()["state"] == "closed"


def test_forcing_twice_is_one_transition() -> None:
    cb = CircuitBreaker("acme.f", stdout=False)
    got: list[Transition] = []
    cb.add_listener(got.append)
    cb.force_open()
    cb.force_open()
    assert [(t.old_state, t.new_state) for t in got] == [("closed", "forced_open")]


def test_stdout_false_prints_nothing_but_still_logs(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="tripbit")
    cb = CircuitBreaker("acme.q", failure_threshold=1, stdout=False)
    fail_n(cb, 1)
    assert capsys.readouterr().out == ""
    assert [r.getMessage() for r in caplog.records] == [
        "[CircuitBreaker-acme.q] Initialized: threshold=1, timeout=30.0s",
        "[CircuitBreaker-acme.q] 🔴 State transition: closed -> open (failure_count=1)",
        "[CircuitBreaker-acme.q] ⚠️ Circuit OPENED - will block calls for 30.0s",
    ]


def test_settings_report_the_effective_configuration() -> None:
    cb = CircuitBreaker("acme.s", failure_rate=40, window=25, min_calls=5, open_timeout=2,
                        success_threshold=2, stdout=False)
    s = cb.settings
    assert s["policy"] == "failure_rate"
    assert (s["failure_rate"], s["min_calls"]) == (40, 5)
    assert s["window"] == 30  # 10 buckets of 3 calls
    assert s["open_timeout"] == 2.0
    assert s["probes"] == 2


def test_consecutive_and_rate_policies_are_exclusive() -> None:
    with pytest.raises(ValueError, match="two policies"):
        CircuitBreaker("k", failure_threshold=3, failure_rate=50)


# ---------------------------------------------------------------- from_config


def test_from_config_reads_the_servers_section(capsys: pytest.CaptureFixture[str]) -> None:
    section = {"failure_threshold": 3, "open_timeout_seconds": 30.0, "success_threshold": 1}
    cb = CircuitBreaker.from_config(section, name="A->B")
    assert (cb.failure_threshold, cb.open_timeout, cb.success_threshold, cb.name) == (
        3,
        30.0,
        1,
        "A->B",
    )
    assert capsys.readouterr().out == (
        "[CircuitBreaker-A->B] Initialized: threshold=3, timeout=30.0s\n"
    )


def test_from_config_reads_a_whole_server_config() -> None:
    config = {
        "id": "A",
        "port": 50051,
        "circuit_breakers": {
            "failure_threshold": 5,
            "open_timeout_seconds": 10,
            "success_threshold": 2,
        },
    }
    cb = CircuitBreaker.from_config(config, name="A->E", stdout=False)
    assert (cb.failure_threshold, cb.open_timeout, cb.success_threshold) == (5, 10, 2)


def test_from_config_defaults_for_missing_keys() -> None:
    cb = CircuitBreaker.from_config({}, stdout=False)
    assert (cb.failure_threshold, cb.open_timeout, cb.success_threshold, cb.name) == (
        3,
        30.0,
        1,
        "unknown",
    )


def test_from_config_options_and_overrides() -> None:
    cb = CircuitBreaker.from_config(
        {"failure_threshold": 5, "backoff": 2}, name="k", failure_threshold=7, stdout=False
    )
    assert cb.failure_threshold == 7
    assert cb.settings["backoff"][0] == 2


def test_from_config_unknown_key_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="open_timeout"):
        CircuitBreaker.from_config({"open_timeout": 30})


def test_from_config_validates_values() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker.from_config({"failure_threshold": 0})
    with pytest.raises(TypeError, match="mapping"):
        CircuitBreaker.from_config([("failure_threshold", 3)])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="circuit_breakers"):
        CircuitBreaker.from_config({"circuit_breakers": 3})


def test_from_config_of_a_subclass_builds_the_subclass() -> None:
    class Mine(CircuitBreaker):
        __slots__ = ()

    assert type(Mine.from_config({}, stdout=False)) is Mine


def test_version() -> None:
    assert isinstance(tripbit.__version__, str)
    assert tripbit.__version__.count(".") >= 2


def test_wraps_is_functools_compatible() -> None:
    breaker = CircuitBreaker("acme.svc", stdout=False)

    @breaker
    @functools.lru_cache(maxsize=None)
    def cached(x: int) -> int:
        return x * 2

    assert cached(2) == 4
    assert cached(2) == 4


def test_open_error_attributes_are_read_only_and_absent_on_a_plain_error() -> None:
    cb = CircuitBreaker("acme.ro", failure_threshold=1, stdout=False)
    fail_n(cb, 1)
    with pytest.raises(CircuitBreakerOpenError) as info:
        cb.call(ok)
    err = info.value
    assert (err.name, err.state, err.args) == ("acme.ro", "open", ("Circuit breaker OPEN for acme.ro",))
    with pytest.raises(AttributeError):
        err.name = "other"  # type: ignore[misc]
    plain = CircuitBreakerOpenError("Circuit breaker OPEN for X")
    with pytest.raises(AttributeError, match="name"):
        plain.name
    assert copy.copy(err).retry_after == err.retry_after
