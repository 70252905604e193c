"""Memory: a breaker in a reference cycle (a listener or a predicate that
refers to it, a list of its transitions) is freed by the garbage collector,
and a breaker nothing refers to is freed at once."""

from __future__ import annotations

import gc
import time
import weakref
from typing import Any, Callable, Iterator

import pytest

from tripbit import CircuitBreaker, Guard, Transition

from conftest import fail_n


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    try:
        yield
    finally:
        if not was:
            gc.disable()


def collected(build: Callable[[], Any]) -> bool:
    """Whether what ``build`` returns a weak reference to is gone after a
    collection (``build`` drops every strong reference it made)."""
    ref = build()
    gc.collect()
    return bool(ref() is None)


def test_a_breaker_without_cycles_is_freed_at_once() -> None:
    cb = CircuitBreaker("acme.gc", stdout=False)
    ref = weakref.ref(cb)
    del cb
    assert ref() is None


def test_a_listener_closing_over_its_breaker() -> None:
    def build() -> Any:
        cb = CircuitBreaker("acme.gc", stdout=False)
        cb.add_listener(lambda t: cb.get_state())
        return weakref.ref(cb)

    assert collected(build)


def test_a_listener_keeping_the_transitions() -> None:
    def build() -> Any:
        cb = CircuitBreaker("acme.gc", failure_threshold=1, stdout=False)
        events: list[Transition] = []
        cb.add_listener(events.append)
        fail_n(cb, 1)
        assert events  # each Transition refers back to the breaker
        return weakref.ref(cb)

    assert collected(build)


def test_a_predicate_closing_over_its_breaker() -> None:
    def build() -> Any:
        cb: CircuitBreaker | None = None
        cb = CircuitBreaker("acme.gc", exclude=lambda e: cb is None, stdout=False)
        return weakref.ref(cb)

    assert collected(build)


def test_a_guard_kept_where_a_listener_reaches_it() -> None:
    def build() -> Any:
        cb = CircuitBreaker("acme.gc", stdout=False)
        held: dict[str, Guard] = {"g": cb.guard()}
        cb.add_listener(lambda t: held)
        return weakref.ref(cb)

    assert collected(build)


def test_an_owner_listening_to_its_own_breaker() -> None:
    class Client:
        def __init__(self) -> None:
            self.breaker = CircuitBreaker("acme.gc", stdout=False)
            self.breaker.add_listener(self.on_change)

        def on_change(self, t: Transition) -> None:
            pass

    def build() -> Any:
        return weakref.ref(Client().breaker)

    assert collected(build)


def test_a_collected_guard_s_probe_slot_is_released() -> None:
    cb = CircuitBreaker("acme.gc", failure_threshold=1, open_timeout=0.05, stdout=False)
    fail_n(cb, 1)
    time.sleep(0.08)

    def hold_probe_in_a_cycle() -> None:
        box: list[Any] = [cb.guard()]
        box.append(box)  # the guard now lives in a garbage cycle

    hold_probe_in_a_cycle()
    gc.collect()
    assert cb.snapshot()["probes_in_flight"] == 0
    cb.call(lambda: None)
    assert cb.snapshot()["state"] == "closed"


def test_a_decorated_function_in_a_cycle_is_freed() -> None:
    # The native decorator holds the breaker, the function and the fallback,
    # and has a __dict__ (functools' attributes): a fallback closing over the
    # decorated function makes a cycle through all of them.
    def build() -> weakref.ref[Any]:
        breaker = CircuitBreaker("acme.gc.decorated", stdout=False)

        @breaker
        def fetch(x: int) -> int:
            return x

        @fetch.fallback
        def cached(x: int) -> int:
            return fetch.__wrapped__(x)  # refers back to the guarded function

        fetch.__dict__["self"] = fetch  # and a cycle through its own __dict__
        assert fetch(2) == 2
        return weakref.ref(fetch)

    assert collected(build)


def test_a_decorated_function_without_cycles_is_freed_at_once() -> None:
    breaker = CircuitBreaker("acme.gc.plain", stdout=False)

    def f() -> int:
        return 1

    guarded = breaker(f)
    ref = weakref.ref(guarded)
    del guarded
    assert ref() is None
