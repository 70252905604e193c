"""The typed surface, checked twice: ``mypy --strict`` reads this file
(pyproject's [tool.mypy] lists it) and pytest runs it.

``assert_type`` pins what a type checker infers; each ``# type: ignore[...]``
marks a misuse that the stubs must reject (strict mode's
``warn_unused_ignores`` turns an ignore that is not needed into an error),
and the test checks that the same misuse fails at run time too.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any, Callable, Coroutine, Dict, Optional, Tuple

import pytest

import tripbit
from tripbit import (
    CircuitBreaker,
    CircuitBreakerOpenError,
    CircuitState,
    Guard,
    Transition,
    TripbitError,
)

if sys.version_info >= (3, 11):
    from typing import assert_type
else:
    from typing_extensions import assert_type


class Unavailable(Exception):
    pass


def unavailable() -> int:
    raise Unavailable("StatusCode.UNAVAILABLE")


def test_the_drop_in_surface_is_typed() -> None:
    cb = CircuitBreaker(3, 30.0, 1, "B->C", stdout=False)
    assert_type(cb, CircuitBreaker)
    assert_type(cb.get_state(), CircuitState)
    assert_type(cb.state, CircuitState)
    assert_type(cb.failure_threshold, int)
    assert_type(cb.open_timeout, float)
    assert_type(cb.success_threshold, int)
    assert_type(cb.name, str)
    assert_type(cb.failure_count, int)
    assert_type(cb.success_count, int)
    assert_type(cb.last_failure_time, Optional[float])
    assert_type(cb.last_state_change_time, float)
    assert_type(cb.reset(), None)
    stats = cb.get_stats()
    assert_type(stats, tripbit.Stats)
    assert_type(stats["failure_count"], int)
    assert_type(stats["last_failure_time"], Optional[float])
    assert type(stats) is dict  # a plain dict at run time
    assert cb.get_state().value == "closed"
    assert stats["state"] == "closed"


def test_call_returns_the_function_s_type() -> None:
    cb = CircuitBreaker(stdout=False)
    n = cb.call(lambda: 41)
    assert_type(n, int)
    s = cb.call(str, 42)
    assert_type(s, str)
    assert n + 1 == 42 and s == "42"


def test_the_servers_except_blocks_type_check() -> None:
    cb = CircuitBreaker(3, 30.0, 1, "B->C", stdout=False)
    try:
        cb.call(unavailable)
    except CircuitBreakerOpenError as e:
        assert_type(e, CircuitBreakerOpenError)
        pytest.fail("closed")
    except Exception as e:
        count: int = cb.get_stats()["failure_count"]
        assert count == 1
        assert isinstance(e, Unavailable)


def test_open_error_attributes_are_typed() -> None:
    cb = CircuitBreaker("acme.t", failure_threshold=1, stdout=False)
    with pytest.raises(Unavailable):
        cb.call(unavailable)
    try:
        cb.call(unavailable)
    except CircuitBreakerOpenError as e:
        assert_type(e.name, str)
        assert_type(e.retry_after, Optional[float])
        assert isinstance(e, TripbitError)
        assert e.state == "open"


def test_the_decorator_keeps_the_signature() -> None:
    breaker = CircuitBreaker("acme.t", stdout=False)

    @breaker
    def add(a: int, b: int = 0) -> int:
        return a + b

    @add.fallback
    def add_fallback(a: int, b: int = 0) -> int:
        return -1

    assert_type(add(1, b=2), int)
    assert add(1, b=2) == 3
    assert_type(add.__name__, str)
    assert add.__name__ == "add"
    assert add.__wrapped__(1, 2) == 3
    assert add_fallback(1) == -1
    assert add.breaker is breaker
    with pytest.raises(TypeError):
        add("x", 2)  # type: ignore[arg-type]


def test_methods_keep_their_return_type() -> None:
    breaker = CircuitBreaker("acme.t", stdout=False)

    class Client:
        @breaker
        def fetch(self, key: str) -> bytes:
            return key.encode()

    got = Client().fetch("k")
    assert_type(got, bytes)
    assert got == b"k"
    # The bound method keeps the parameters after self.
    bound = Client().fetch
    assert_type(bound("j"), bytes)
    with pytest.raises(AttributeError):
        Client().fetch(b"k")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Client().fetch()  # type: ignore[call-arg]


def test_async_methods_keep_their_parameters() -> None:
    breaker = CircuitBreaker("acme.t", stdout=False)

    class Client:
        @breaker
        async def fetch(self, key: str) -> bytes:
            return key.encode()

    async def main() -> bytes:
        got = await Client().fetch("k")
        assert_type(got, bytes)
        return got

    assert asyncio.run(main()) == b"k"


def test_an_async_guarded_function_is_a_coroutine_function() -> None:
    breaker = CircuitBreaker("acme.t", stdout=False)

    @breaker
    async def fetch(key: str) -> bytes:
        await asyncio.sleep(0)
        return key.encode()

    # asyncio.run and create_task need a Coroutine, not just an Awaitable.
    coro = assert_type(fetch("k"), Coroutine[Any, Any, bytes])
    coro.close()
    assert asyncio.run(fetch("k")) == b"k"

    async def main() -> bytes:
        task = asyncio.create_task(fetch("t"))
        assert_type(task, "asyncio.Task[bytes]")
        return await task

    assert asyncio.run(main()) == b"t"


def test_async_functions_keep_their_types() -> None:
    breaker = CircuitBreaker("acme.t", stdout=False)

    @breaker
    async def fetch(key: str) -> bytes:
        return key.encode()

    @fetch.fallback
    async def fetch_fallback(key: str) -> bytes:
        return b""

    async def plain_fetch(key: str) -> bytes:
        return key.encode()

    assert fetch.__name__ == "fetch"
    assert fetch.__qualname__.endswith("fetch")

    async def main() -> bytes:
        got = await fetch("k")
        assert_type(got, bytes)
        also = await breaker.call_async(plain_fetch, "j")
        assert_type(also, bytes)
        return got + also

    assert asyncio.run(main()) == b"kj"


def test_guard_and_listeners_are_typed() -> None:
    cb = CircuitBreaker("acme.t", failure_threshold=1, stdout=False)
    seen: list[str] = []

    def on_change(t: Transition) -> None:
        seen.append(f"{t.old_state}->{t.new_state}")

    cb.add_listener(on_change)
    with cb.guard() as g:
        assert_type(g, Guard)
        assert_type(g.is_probe, bool)
        g.failure()
    assert seen == ["closed->open"]
    assert_type(cb.listeners, Tuple[Callable[[Transition], object], ...])
    assert cb.listeners == (on_change,)


def test_options_and_from_config_are_typed() -> None:
    cb = CircuitBreaker(
        "acme.t",
        failure_rate=50,
        window=20,
        min_calls=5,
        slow_call=0.5,
        backoff=(2, 3),
        exclude=(KeyError, ValueError),
        include=lambda e: not isinstance(e, LookupError),
        stdout=False,
    )
    assert_type(cb.settings, Dict[str, Any])
    snap = cb.snapshot()
    assert_type(snap, tripbit.Snapshot)
    assert_type(snap["generation"], int)
    # A list, as the README writes it.
    listed = CircuitBreaker("acme.t", exclude=[KeyError], include=[OSError, ValueError])
    assert listed.settings["exclude"] == (KeyError,)
    other = CircuitBreaker.from_config(
        {"failure_threshold": 3, "open_timeout_seconds": 30.0, "success_threshold": 1},
        name="A->B",
        stdout=False,
    )
    assert_type(other, CircuitBreaker)
    assert_type(tripbit.__version__, str)


def test_misuses_are_type_errors_for_mypy_and_at_run_time() -> None:
    cb = CircuitBreaker(stdout=False)
    with pytest.raises(TypeError):
        cb.call(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        CircuitBreaker(failure_threshold="3")  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        CircuitBreaker(reset_timeout=30)  # type: ignore[call-overload]
    with pytest.raises(AttributeError):
        cb.failure_count = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        cb.add_listener(3)  # type: ignore[arg-type]
    assert cb.failure_count == 0


def test_staticmethods_keep_their_types() -> None:
    breaker = CircuitBreaker("acme.t", stdout=False)

    class Client:
        @breaker
        @staticmethod
        def half(x: int) -> float:
            return x / 2

        @staticmethod
        @breaker
        def third(x: int) -> float:
            return x / 3

    # (Looked up on the class; mypy's binding of a self-typed __get__ does
    # not know the staticmethod flag, so an instance lookup is not typed.)
    assert_type(Client.half(3), float)
    assert_type(Client.third(3), float)
    assert (Client.half(3), Client.third(3)) == (1.5, 1.0)


@pytest.mark.skipif(sys.platform != "linux", reason="tripbit.fleet is Linux-only")
def test_the_fleet_surface_is_typed() -> None:
    import socket

    import tripbit.fleet

    with socket.socket() as s:  # a free loopback port: nothing listens there
        s.bind(("127.0.0.1", 0))
        url = f"redis://127.0.0.1:{s.getsockname()[1]}/0"
    m = tripbit.fleet.connect(url, app="typing", flush_interval=0.05, close_timeout=0.2)
    assert_type(m, tripbit.fleet.Monitor)
    assert_type(m.id, str)
    assert_type(m.pid, int)
    cb = m.breaker("acme.typing.fleet", failure_threshold=2)
    assert_type(cb, CircuitBreaker)
    assert_type(cb.call(lambda: 1), int)
    assert_type(cb.fleet_verdict(), Optional[Tuple[str, int]])
    stats = m.stats()
    assert_type(stats, tripbit.fleet.FleetStats)
    assert_type(stats["counted"]["acme.typing.fleet"]["success"], int)
    with pytest.raises(TypeError):
        tripbit.fleet.connect(url, flush_interval="fast")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        m.breaker(b"acme.typing.bytes")  # type: ignore[arg-type]
    with pytest.raises(tripbit.fleet.CloseTimeoutError) as e:
        m.close()
    assert_type(e.value, tripbit.fleet.CloseTimeoutError)
    assert isinstance(e.value, TimeoutError)
