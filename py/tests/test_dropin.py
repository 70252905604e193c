"""The drop-in contract: what the gRPC tree's servers rely on when their
``common/circuit_breaker.py`` becomes
``from tripbit import CircuitBreaker, CircuitBreakerOpenError, CircuitState``.

The specification is the real file of the public repository
``neels22/mini-2-grpc`` and its call sites (``gateway/server.py`` builds one
breaker per neighbour from the ``circuit_breakers`` config section with
keyword arguments, checks ``get_state().value == "open"`` to skip a call,
wraps the RPC in ``call(lambda: ...)`` and catches
``CircuitBreakerOpenError``, ``grpc.RpcError`` and ``Exception``). Each of
its behaviours is written down as a test here, the section headers follow
the file: CircuitState, CircuitBreakerOpenError, ``__init__`` (attributes,
the Initialized line), ``get_state`` (the silent lazy OPEN -> HALF_OPEN
move), ``call``, ``_record_success`` (🟢 + ✅ lines), ``_record_failure``
(🔴 + ⚠️ lines), the ``_transition_to_*`` counters, ``reset`` (the
``Manually reset`` line) and ``get_stats``.

The same scripts of calls also run on tripbit and on our pure-Python
re-creation of the original (benches/python/seed_breaker.py), and every
printed line and stats value is compared.
"""

from __future__ import annotations

import contextlib
import enum
import io
import logging
import math
import random
import sys
import time
import traceback
from types import ModuleType
from typing import Any, Callable

import pytest

import tripbit
from tripbit import CircuitBreaker, CircuitBreakerOpenError, CircuitState

from conftest import AFTER_SHORT, SHORT, Boom, boom, fail_n, ok

STATS_KEYS = [
    "state",
    "failure_count",
    "success_count",
    "last_state_change_time",
    "last_failure_time",
    "time_since_last_failure",
]


def lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


# ---------------------------------------------------------------- the import


def test_the_three_names_the_servers_import_are_exported() -> None:
    from tripbit import CircuitBreaker as CB
    from tripbit import CircuitBreakerOpenError as E
    from tripbit import CircuitState as S

    assert {"CircuitBreaker", "CircuitBreakerOpenError", "CircuitState"} <= set(tripbit.__all__)
    assert (CB, E, S) == (CircuitBreaker, CircuitBreakerOpenError, CircuitState)


# ---------------------------------------------------------------- CircuitState


def test_circuit_state_is_a_real_enum_with_the_original_values() -> None:
    assert issubclass(CircuitState, enum.Enum)
    assert [(m.name, m.value) for m in CircuitState] == [
        ("CLOSED", "closed"),
        ("OPEN", "open"),
        ("HALF_OPEN", "half_open"),
    ]
    assert CircuitState("open") is CircuitState.OPEN
    assert CircuitState["HALF_OPEN"] is CircuitState.HALF_OPEN


def test_circuit_state_members_compare_by_identity_and_value() -> None:
    cb = CircuitBreaker(stdout=False)
    assert cb.get_state() is CircuitState.CLOSED
    assert cb.get_state() == CircuitState.CLOSED
    assert cb.get_state().value == "closed"
    assert cb.get_state() != "closed"  # an Enum, not a str subclass


# ------------------------------------------------------ CircuitBreakerOpenError


def test_open_error_subclasses_exception() -> None:
    assert issubclass(CircuitBreakerOpenError, Exception)
    assert not issubclass(CircuitBreakerOpenError, (RuntimeError, OSError, ValueError))


def test_open_error_message_names_the_breaker() -> None:
    cb = CircuitBreaker(1, 30.0, 1, "B->C", stdout=False)
    fail_n(cb, 1)
    with pytest.raises(CircuitBreakerOpenError) as info:
        cb.call(ok)
    assert str(info.value) == "Circuit breaker OPEN for B->C"
    assert info.value.args == ("Circuit breaker OPEN for B->C",)


def test_open_error_can_be_raised_and_caught_by_servers_themselves() -> None:
    # The original was a plain Exception subclass: servers may build one.
    err = CircuitBreakerOpenError("Circuit breaker OPEN for X")
    with pytest.raises(Exception, match="OPEN for X"):
        raise err


def test_a_rejected_call_does_not_call_func() -> None:
    cb = CircuitBreaker(1, stdout=False)
    fail_n(cb, 1)
    called = []
    with pytest.raises(CircuitBreakerOpenError):
        cb.call(lambda: called.append(1))
    assert called == []


# ----------------------------------------------------------------- constructor


def test_defaults() -> None:
    cb = CircuitBreaker(stdout=False)
    assert cb.failure_threshold == 3
    assert cb.open_timeout == 30.0 and type(cb.open_timeout) is float
    assert cb.success_threshold == 1
    assert cb.name == "unknown"


def test_positional_order_is_threshold_timeout_successes_name() -> None:
    cb = CircuitBreaker(5, 12.5, 2, "A->B", stdout=False)
    assert (cb.failure_threshold, cb.open_timeout, cb.success_threshold, cb.name) == (
        5,
        12.5,
        2,
        "A->B",
    )


def test_keywords() -> None:
    cb = CircuitBreaker(
        failure_threshold=4, open_timeout=7, success_threshold=3, name="E->F", stdout=False
    )
    assert (cb.failure_threshold, cb.open_timeout, cb.success_threshold, cb.name) == (
        4,
        7,
        3,
        "E->F",
    )


def test_open_timeout_keeps_the_python_value_given() -> None:
    assert type(CircuitBreaker(open_timeout=30, stdout=False).open_timeout) is int
    assert type(CircuitBreaker(open_timeout=30.0, stdout=False).open_timeout) is float


def test_the_servers_construction_from_config_values() -> None:
    # What the gRPC servers do with their circuit_breakers JSON section.
    cfg = {"failure_threshold": 3, "open_timeout_seconds": 30.0, "success_threshold": 1}
    cb = CircuitBreaker(
        failure_threshold=cfg["failure_threshold"],
        open_timeout=cfg["open_timeout_seconds"],
        success_threshold=cfg["success_threshold"],
        name="A->B",
        stdout=False,
    )
    assert cb.get_state() is CircuitState.CLOSED


# ------------------------------------------------------------------ attributes


def test_attributes_of_a_new_breaker() -> None:
    before = time.time()
    cb = CircuitBreaker(stdout=False)
    after = time.time()
    assert cb.state is CircuitState.CLOSED
    assert cb.failure_count == 0
    assert cb.success_count == 0
    assert cb.last_failure_time is None
    assert isinstance(cb.last_state_change_time, float)
    assert before - 0.5 <= cb.last_state_change_time <= after + 0.5


def test_attributes_follow_the_calls() -> None:
    cb = CircuitBreaker(2, 30.0, 1, "x", stdout=False)
    fail_n(cb, 1)
    assert cb.failure_count == 1
    assert cb.state is CircuitState.CLOSED
    assert isinstance(cb.last_failure_time, float)
    assert abs(cb.last_failure_time - time.time()) < 1.0
    fail_n(cb, 1)
    assert cb.state is CircuitState.OPEN
    assert cb.failure_count == 2


def test_attributes_are_read_only() -> None:
    # Deliberate: a breaker's state belongs to its state machine; the
    # servers only read these attributes.
    cb = CircuitBreaker(stdout=False)
    for attr in ("failure_threshold", "open_timeout", "success_threshold", "name", "state",
                 "failure_count", "success_count", "last_failure_time",
                 "last_state_change_time"):
        with pytest.raises(AttributeError):
            setattr(cb, attr, getattr(cb, attr))


def test_state_attribute_does_not_make_the_lazy_move_but_get_state_does() -> None:
    cb = CircuitBreaker(1, SHORT, stdout=False)
    fail_n(cb, 1)
    time.sleep(AFTER_SHORT)
    assert cb.state is CircuitState.OPEN  # as stored, like the original's attribute
    assert cb.get_state() is CircuitState.HALF_OPEN
    assert cb.state is CircuitState.HALF_OPEN  # the move happened


# ------------------------------------------------------------------- get_state


def test_get_state_stays_open_before_the_timeout() -> None:
    cb = CircuitBreaker(1, 30.0, stdout=False)
    fail_n(cb, 1)
    assert cb.get_state() is CircuitState.OPEN
    assert cb.get_state().value == "open"


def test_get_state_moves_open_to_half_open_after_the_timeout() -> None:
    cb = CircuitBreaker(1, SHORT, stdout=False)
    fail_n(cb, 1)
    time.sleep(AFTER_SHORT)
    assert cb.get_state() is CircuitState.HALF_OPEN
    assert cb.get_stats()["state"] == "half_open"
    assert cb.failure_count == 0 and cb.success_count == 0


def test_the_lazy_move_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    cb = CircuitBreaker(1, SHORT, name="B->C")
    fail_n(cb, 1)
    capsys.readouterr()
    time.sleep(AFTER_SHORT)
    assert cb.get_state() is CircuitState.HALF_OPEN
    assert cb.get_state() is CircuitState.HALF_OPEN
    assert lines(capsys) == []


def test_the_lazy_move_updates_last_state_change_time() -> None:
    cb = CircuitBreaker(1, SHORT, stdout=False)
    fail_n(cb, 1)
    opened = cb.last_state_change_time
    time.sleep(AFTER_SHORT)
    cb.get_state()
    assert cb.last_state_change_time >= opened + SHORT * 0.9


def test_the_call_after_the_lazy_move_is_the_probe(capsys: pytest.CaptureFixture[str]) -> None:
    cb = CircuitBreaker(1, SHORT, name="B->C")
    fail_n(cb, 1)
    time.sleep(AFTER_SHORT)
    assert cb.get_state() is CircuitState.HALF_OPEN
    capsys.readouterr()
    assert cb.call(ok) == "ok"
    # _record_success: the 🟢 line carries no count, then the ✅ line.
    assert lines(capsys) == [
        "[CircuitBreaker-B->C] 🟢 State transition: half_open -> closed",
        "[CircuitBreaker-B->C] ✅ Circuit CLOSED - normal operation resumed",
    ]
    assert cb.get_state() is CircuitState.CLOSED


def test_call_makes_the_lazy_move_itself_without_get_state() -> None:
    cb = CircuitBreaker(1, SHORT, stdout=False)
    fail_n(cb, 1)
    time.sleep(AFTER_SHORT)
    assert cb.call(ok) == "ok"  # no get_state() first: call() probes
    assert cb.get_state() is CircuitState.CLOSED


def test_the_open_period_counts_from_the_trip_not_from_creation() -> None:
    cb = CircuitBreaker(1, 0.5, stdout=False)
    time.sleep(0.6)
    fail_n(cb, 1)
    assert cb.get_state() is CircuitState.OPEN


# ------------------------------------------------------------------------ call


def test_call_returns_what_func_returns() -> None:
    cb = CircuitBreaker(stdout=False)
    sentinel = object()
    assert cb.call(lambda: sentinel) is sentinel
    assert cb.call(lambda: None) is None


def test_call_calls_func_with_no_arguments() -> None:
    cb = CircuitBreaker(stdout=False)
    seen: list[tuple[Any, ...]] = []

    def f(*args: Any, **kwargs: Any) -> None:
        seen.append((args, kwargs))

    cb.call(f)
    assert seen == [((), {})]


def test_call_accepts_any_callable() -> None:
    class Callable_:
        def __call__(self) -> int:
            return 7

    class Stub:
        def query(self) -> str:
            return "resp"

    cb = CircuitBreaker(stdout=False)
    assert cb.call(Callable_()) == 7
    assert cb.call(Stub().query) == "resp"
    assert cb.call(list) == []
    assert cb.call(lambda: Stub().query()) == "resp"


def test_the_same_exception_object_is_reraised() -> None:
    cb = CircuitBreaker(stdout=False)
    exc = Boom("unavailable")

    def f() -> None:
        raise exc

    with pytest.raises(Boom) as info:
        cb.call(f)
    assert info.value is exc
    assert info.value.args == ("unavailable",)


def test_the_reraised_exception_keeps_its_traceback() -> None:
    cb = CircuitBreaker(stdout=False)

    def deep_grpc_call() -> None:
        raise ConnectionError("StatusCode.UNAVAILABLE")

    try:
        cb.call(deep_grpc_call)
    except ConnectionError as e:
        frames = traceback.extract_tb(e.__traceback__)
        assert frames[-1].name == "deep_grpc_call"
        assert frames[-1].line == 'raise ConnectionError("StatusCode.UNAVAILABLE")'
        assert frames[0].name == "test_the_reraised_exception_keeps_its_traceback"
        # Nothing chained on by the breaker.
        assert e.__context__ is None and e.__cause__ is None
        assert e.__suppress_context__ is False
    else:
        pytest.fail("no exception")


def test_exception_chains_of_func_are_kept() -> None:
    cb = CircuitBreaker(stdout=False)
    cause = KeyError("k")

    def f() -> None:
        raise RuntimeError("wrapped") from cause

    with pytest.raises(RuntimeError) as info:
        cb.call(f)
    assert info.value.__cause__ is cause


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit, GeneratorExit])
def test_base_exceptions_pass_through_uncounted(exc: type[BaseException]) -> None:
    cb = CircuitBreaker(1, stdout=False)
    raised = exc()

    def f() -> None:
        raise raised

    with pytest.raises(exc) as info:
        cb.call(f)
    assert info.value is raised
    assert cb.failure_count == 0
    assert cb.last_failure_time is None
    assert cb.get_state() is CircuitState.CLOSED


def test_keyboard_interrupt_does_not_reset_the_failure_count() -> None:
    cb = CircuitBreaker(3, stdout=False)
    fail_n(cb, 2)
    fail_n(cb, 1, KeyboardInterrupt)
    assert cb.failure_count == 2
    fail_n(cb, 1)
    assert cb.get_state() is CircuitState.OPEN


def test_keyboard_interrupt_in_the_probe_leaves_it_half_open() -> None:
    cb = CircuitBreaker(1, SHORT, stdout=False)
    fail_n(cb, 1)
    time.sleep(AFTER_SHORT)
    fail_n(cb, 1, KeyboardInterrupt)
    assert cb.get_state() is CircuitState.HALF_OPEN
    assert cb.call(ok) == "ok"  # the probe slot was freed
    assert cb.get_state() is CircuitState.CLOSED


@pytest.mark.parametrize(
    "exc", [ValueError, TypeError, OSError, ConnectionError, RuntimeError, Boom, StopIteration]
)
def test_any_exception_counts_as_a_failure(exc: type[Exception]) -> None:
    cb = CircuitBreaker(3, stdout=False)
    fail_n(cb, 1, exc)
    assert cb.failure_count == 1


# -------------------------------------------------------------------- counting


def test_threshold_consecutive_failures_open_it() -> None:
    cb = CircuitBreaker(3, stdout=False)
    fail_n(cb, 2)
    assert cb.get_state() is CircuitState.CLOSED
    fail_n(cb, 1)
    assert cb.get_state() is CircuitState.OPEN


def test_a_success_while_closed_resets_the_failure_count() -> None:
    cb = CircuitBreaker(3, stdout=False)
    fail_n(cb, 2)
    cb.call(ok)
    assert cb.failure_count == 0
    fail_n(cb, 2)
    assert cb.get_state() is CircuitState.CLOSED
    fail_n(cb, 1)
    assert cb.get_state() is CircuitState.OPEN


def test_threshold_one_opens_on_the_first_failure() -> None:
    cb = CircuitBreaker(1, stdout=False)
    fail_n(cb, 1)
    assert cb.get_state() is CircuitState.OPEN


def test_the_count_stays_at_the_threshold_while_open() -> None:
    cb = CircuitBreaker(3, stdout=False)
    fail_n(cb, 3)
    for _ in range(5):
        with pytest.raises(CircuitBreakerOpenError):
            cb.call(ok)
    assert cb.failure_count == 3
    assert cb.get_stats()["failure_count"] == 3


def test_rejected_calls_are_not_failures() -> None:
    cb = CircuitBreaker(1, stdout=False)
    fail_n(cb, 1)
    t = cb.last_failure_time
    assert t is not None
    with pytest.raises(CircuitBreakerOpenError):
        cb.call(ok)
    # (Epoch times are computed when read, against time.time(): equal to
    # well under a millisecond.)
    assert cb.last_failure_time == pytest.approx(t, abs=1e-3)


def test_one_failure_while_half_open_reopens_it(capsys: pytest.CaptureFixture[str]) -> None:
    cb = CircuitBreaker(3, SHORT, 2, "B->C")
    fail_n(cb, 3)
    time.sleep(AFTER_SHORT)
    assert cb.get_state() is CircuitState.HALF_OPEN
    capsys.readouterr()
    fail_n(cb, 1)
    # (The stored state: get_state() could already be HALF_OPEN again if
    # this machine stalled for SHORT seconds.)
    assert cb.state is CircuitState.OPEN
    assert lines(capsys) == [
        "[CircuitBreaker-B->C] 🔴 State transition: half_open -> open (failure_count=0)",
        f"[CircuitBreaker-B->C] ⚠️ Circuit OPENED - will block calls for {SHORT}s",
    ]
    assert cb.failure_count == 0


def test_success_threshold_successes_while_half_open_close_it() -> None:
    cb = CircuitBreaker(1, SHORT, 3, stdout=False)
    fail_n(cb, 1)
    time.sleep(AFTER_SHORT)
    cb.call(ok)
    assert (cb.get_state(), cb.success_count) == (CircuitState.HALF_OPEN, 1)
    cb.call(ok)
    assert (cb.get_state(), cb.success_count) == (CircuitState.HALF_OPEN, 2)
    cb.call(ok)
    assert (cb.get_state(), cb.success_count) == (CircuitState.CLOSED, 0)


def test_a_failure_after_some_half_open_successes_reopens_it() -> None:
    cb = CircuitBreaker(1, SHORT, 3, stdout=False)
    fail_n(cb, 1)
    time.sleep(AFTER_SHORT)
    cb.call(ok)
    fail_n(cb, 1)
    assert cb.state is CircuitState.OPEN
    # As the original's _transition_to_open: the move to open clears the
    # half-open successes.
    assert cb.success_count == 0
    assert cb.get_stats()["success_count"] == 0
    time.sleep(AFTER_SHORT)
    assert cb.get_state() is CircuitState.HALF_OPEN
    assert cb.success_count == 0


def test_it_recovers_again_after_a_failed_probe() -> None:
    cb = CircuitBreaker(1, SHORT, stdout=False)
    fail_n(cb, 1)
    time.sleep(AFTER_SHORT)
    fail_n(cb, 1)
    assert cb.state is CircuitState.OPEN
    time.sleep(AFTER_SHORT)
    assert cb.get_state() is CircuitState.HALF_OPEN
    cb.call(ok)
    assert cb.get_state() is CircuitState.CLOSED
    assert cb.failure_count == 0


def test_after_closing_again_the_threshold_starts_from_zero() -> None:
    cb = CircuitBreaker(2, SHORT, stdout=False)
    fail_n(cb, 2)
    time.sleep(AFTER_SHORT)
    cb.call(ok)
    fail_n(cb, 1)
    assert cb.get_state() is CircuitState.CLOSED
    fail_n(cb, 1)
    assert cb.state is CircuitState.OPEN


# ----------------------------------------------------------------------- reset


def test_reset_closes_an_open_breaker_and_clears_the_counters() -> None:
    cb = CircuitBreaker(2, stdout=False)
    fail_n(cb, 2)
    assert cb.get_state() is CircuitState.OPEN
    cb.reset()
    assert cb.get_state() is CircuitState.CLOSED
    assert cb.state is CircuitState.CLOSED
    stats = cb.get_stats()
    assert (stats["failure_count"], stats["success_count"]) == (0, 0)
    assert stats["last_failure_time"] is None
    assert stats["time_since_last_failure"] is None
    assert cb.call(ok) == "ok"


def test_reset_clears_a_partial_failure_count() -> None:
    cb = CircuitBreaker(3, stdout=False)
    fail_n(cb, 2)
    cb.reset()
    fail_n(cb, 2)
    assert cb.get_state() is CircuitState.CLOSED


def test_reset_of_a_half_open_breaker() -> None:
    cb = CircuitBreaker(1, SHORT, 2, stdout=False)
    fail_n(cb, 1)
    time.sleep(AFTER_SHORT)
    cb.call(ok)
    cb.reset()
    assert cb.get_state() is CircuitState.CLOSED
    assert cb.success_count == 0


def test_reset_updates_last_state_change_time() -> None:
    cb = CircuitBreaker(1, stdout=False)
    fail_n(cb, 1)
    t = cb.last_state_change_time
    time.sleep(0.01)
    cb.reset()
    assert cb.last_state_change_time > t


def test_reset_from_open_prints_the_manually_reset_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cb = CircuitBreaker(1, name="x")
    fail_n(cb, 1)
    capsys.readouterr()
    cb.reset()
    cb.reset()  # already closed: nothing
    assert lines(capsys) == ["[CircuitBreaker-x] Manually reset: open -> CLOSED"]


def test_reset_from_half_open_prints_the_manually_reset_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cb = CircuitBreaker(1, SHORT, name="x")
    fail_n(cb, 1)
    time.sleep(AFTER_SHORT)
    assert cb.get_state() is CircuitState.HALF_OPEN
    capsys.readouterr()
    cb.reset()
    assert lines(capsys) == ["[CircuitBreaker-x] Manually reset: half_open -> CLOSED"]


def test_reset_names_the_stored_state_not_the_lazy_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The original reads self.state: OPEN even once open_timeout passed,
    # until get_state() makes the move.
    cb = CircuitBreaker(1, SHORT, name="x")
    fail_n(cb, 1)
    time.sleep(AFTER_SHORT)
    capsys.readouterr()
    cb.reset()
    assert lines(capsys) == ["[CircuitBreaker-x] Manually reset: open -> CLOSED"]


def test_reset_of_a_closed_breaker_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    cb = CircuitBreaker(3, name="x")
    fail_n(cb, 2)
    capsys.readouterr()
    cb.reset()
    assert lines(capsys) == []
    assert cb.failure_count == 0
    assert cb.last_failure_time is None


def test_reset_updates_last_state_change_time_even_when_closed() -> None:
    cb = CircuitBreaker(stdout=False)
    before = cb.last_state_change_time
    time.sleep(0.02)
    cb.reset()
    assert cb.last_state_change_time >= before + 0.015


def test_closing_from_half_open_clears_last_failure_time() -> None:
    # _transition_to_closed: last_failure_time = None.
    cb = CircuitBreaker(1, SHORT, stdout=False)
    fail_n(cb, 1)
    assert cb.last_failure_time is not None
    time.sleep(AFTER_SHORT)
    assert cb.get_state() is CircuitState.HALF_OPEN
    # Half-open keeps the stamp of the failure that opened it.
    assert cb.get_stats()["time_since_last_failure"] is not None
    cb.call(ok)
    assert cb.last_failure_time is None
    stats = cb.get_stats()
    assert stats["last_failure_time"] is None
    assert stats["time_since_last_failure"] is None


def test_reset_clears_last_failure_time() -> None:
    cb = CircuitBreaker(3, stdout=False)
    fail_n(cb, 1)
    cb.reset()
    assert cb.last_failure_time is None
    assert cb.get_stats()["time_since_last_failure"] is None


def test_the_lock_attribute_is_a_lock_that_blocks_nothing() -> None:
    # The original exposes self.lock (a threading.Lock); code may take it.
    cb = CircuitBreaker(1, stdout=False)
    with cb.lock:
        fail_n(cb, 1)  # tripbit has no lock inside: no deadlock
        assert cb.get_stats()["state"] == "open"
    assert cb.lock is cb.lock
    assert cb.lock.acquire(blocking=False)
    cb.lock.release()


def test_the_gateway_skips_a_neighbour_whose_breaker_reads_open() -> None:
    # gateway/server.py: get_state().value == "open" -> skip, else call()
    # and catch CircuitBreakerOpenError / the RPC error / Exception.
    cfg = {"failure_threshold": 2, "open_timeout_seconds": 30.0, "success_threshold": 1}
    cb = CircuitBreaker(
        failure_threshold=cfg.get("failure_threshold", 3),
        open_timeout=cfg.get("open_timeout_seconds", 30.0),
        success_threshold=cfg.get("success_threshold", 1),
        name="A->B",
        stdout=False,
    )
    log = []
    for _ in range(4):
        if cb.get_state().value == "open":
            log.append("skip")
            continue
        try:
            cb.call(lambda: boom())
        except CircuitBreakerOpenError:
            log.append("open")
        except Exception:
            log.append("error")
    assert log == ["error", "error", "skip", "skip"]


def test_reset_returns_none() -> None:
    cb = CircuitBreaker(stdout=False)
    assert cb.reset() is None


# ------------------------------------------------------------------- get_stats


def test_get_stats_has_exactly_the_original_keys_in_order() -> None:
    stats = CircuitBreaker(stdout=False).get_stats()
    assert type(stats) is dict
    assert list(stats) == STATS_KEYS


def test_get_stats_of_a_new_breaker() -> None:
    stats = CircuitBreaker(stdout=False).get_stats()
    assert stats["state"] == "closed" and type(stats["state"]) is str
    assert stats["failure_count"] == 0 and type(stats["failure_count"]) is int
    assert stats["success_count"] == 0 and type(stats["success_count"]) is int
    assert type(stats["last_state_change_time"]) is float
    assert stats["last_failure_time"] is None
    assert stats["time_since_last_failure"] is None


def test_get_stats_after_a_failure_reports_epoch_times() -> None:
    cb = CircuitBreaker(stdout=False)
    before = time.time()
    fail_n(cb, 1)
    after = time.time()
    stats = cb.get_stats()
    assert type(stats["last_failure_time"]) is float
    assert before - 0.5 <= stats["last_failure_time"] <= after + 0.5
    assert type(stats["time_since_last_failure"]) is float
    assert 0.0 <= stats["time_since_last_failure"] < 1.0
    # What the servers do with it.
    assert f"{stats['time_since_last_failure']:.1f}" in {"0.0", "0.1", "0.2"}


def test_time_since_last_failure_grows() -> None:
    cb = CircuitBreaker(stdout=False)
    fail_n(cb, 1)
    time.sleep(0.1)
    since = cb.get_stats()["time_since_last_failure"]
    assert since >= 0.1
    assert since < 5.0


def test_get_stats_state_is_the_value_string_of_each_state() -> None:
    cb = CircuitBreaker(1, SHORT, stdout=False)
    assert cb.get_stats()["state"] == CircuitState.CLOSED.value
    fail_n(cb, 1)
    assert cb.get_stats()["state"] == CircuitState.OPEN.value
    time.sleep(AFTER_SHORT)
    cb.get_state()
    assert cb.get_stats()["state"] == CircuitState.HALF_OPEN.value


def test_get_stats_moves_nothing() -> None:
    cb = CircuitBreaker(1, SHORT, stdout=False)
    fail_n(cb, 1)
    time.sleep(AFTER_SHORT)
    assert cb.get_stats()["state"] == "open"  # like the original: no lazy move
    assert cb.state is CircuitState.OPEN


def test_get_stats_returns_a_fresh_dict() -> None:
    cb = CircuitBreaker(stdout=False)
    a = cb.get_stats()
    a["failure_count"] = 99
    assert cb.get_stats()["failure_count"] == 0


# ----------------------------------------------- counted before call() raises


def test_the_failure_is_counted_before_call_reraises() -> None:
    # The servers log f"failure count: {k}/3" from inside their except.
    cb = CircuitBreaker(3, name="B->C", stdout=False)
    seen = []
    for _ in range(3):
        try:
            cb.call(boom)
        except Boom:
            seen.append(f"{cb.get_stats()['failure_count']}/{cb.failure_threshold}")
    assert seen == ["1/3", "2/3", "3/3"]


def test_the_transition_line_is_printed_before_call_reraises(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cb = CircuitBreaker(3, name="B->C")
    capsys.readouterr()
    fail_n(cb, 2)
    try:
        cb.call(boom)
    except Boom:
        assert lines(capsys) == [
            "[CircuitBreaker-B->C] 🔴 State transition: closed -> open (failure_count=3)",
            "[CircuitBreaker-B->C] ⚠️ Circuit OPENED - will block calls for 30.0s",
        ]
        assert cb.get_stats()["state"] == "open"
    else:
        pytest.fail("no exception")


def test_the_seed_log_sequence(capsys: pytest.CaptureFixture[str]) -> None:
    # The gRPC tree's own test 2: three UNAVAILABLE errors then the trip line.
    cb = CircuitBreaker(failure_threshold=3, open_timeout=30.0, success_threshold=1, name="B->C")
    for _ in range(3):
        try:
            cb.call(boom)
        except Exception as e:
            count = cb.get_stats()["failure_count"]
            print(f"[B] ❌ Error contacting C: {e} (failure count: {count}/3)")
    assert lines(capsys) == [
        "[CircuitBreaker-B->C] Initialized: threshold=3, timeout=30.0s",
        "[B] ❌ Error contacting C: boom (failure count: 1/3)",
        "[B] ❌ Error contacting C: boom (failure count: 2/3)",
        "[CircuitBreaker-B->C] 🔴 State transition: closed -> open (failure_count=3)",
        "[CircuitBreaker-B->C] ⚠️ Circuit OPENED - will block calls for 30.0s",
        "[B] ❌ Error contacting C: boom (failure count: 3/3)",
    ]


# ----------------------------------------------------------------- stdout lines


@pytest.mark.parametrize(
    ("timeout", "shown"),
    [(30, "30"), (30.0, "30.0"), (0.5, "0.5"), (5, "5"), (1e-3, "0.001"), (120.25, "120.25")],
)
def test_init_line_shows_the_timeout_as_given(
    capsys: pytest.CaptureFixture[str], timeout: float, shown: str
) -> None:
    CircuitBreaker(3, timeout, 1, "B->C")
    assert lines(capsys) == [f"[CircuitBreaker-B->C] Initialized: threshold=3, timeout={shown}s"]


def test_init_line_of_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    CircuitBreaker()
    assert lines(capsys) == ["[CircuitBreaker-unknown] Initialized: threshold=3, timeout=30.0s"]


def test_init_line_shows_the_threshold(capsys: pytest.CaptureFixture[str]) -> None:
    CircuitBreaker(failure_threshold=7, name="A->E")
    assert lines(capsys) == ["[CircuitBreaker-A->E] Initialized: threshold=7, timeout=30.0s"]


def test_every_transition_line(capsys: pytest.CaptureFixture[str]) -> None:
    cb = CircuitBreaker(2, SHORT, 1, "E->F")
    fail_n(cb, 2)  # closed -> open
    time.sleep(AFTER_SHORT)
    fail_n(cb, 1)  # (silent open -> half_open) half_open -> open
    time.sleep(AFTER_SHORT)
    cb.call(ok)  # (silent open -> half_open) half_open -> closed
    cb.reset()  # closed already: nothing
    fail_n(cb, 2)
    cb.reset()
    assert lines(capsys) == [
        "[CircuitBreaker-E->F] Initialized: threshold=2, timeout=0.05s",
        "[CircuitBreaker-E->F] 🔴 State transition: closed -> open (failure_count=2)",
        "[CircuitBreaker-E->F] ⚠️ Circuit OPENED - will block calls for 0.05s",
        "[CircuitBreaker-E->F] 🔴 State transition: half_open -> open (failure_count=0)",
        "[CircuitBreaker-E->F] ⚠️ Circuit OPENED - will block calls for 0.05s",
        "[CircuitBreaker-E->F] 🟢 State transition: half_open -> closed",
        "[CircuitBreaker-E->F] ✅ Circuit CLOSED - normal operation resumed",
        "[CircuitBreaker-E->F] 🔴 State transition: closed -> open (failure_count=2)",
        "[CircuitBreaker-E->F] ⚠️ Circuit OPENED - will block calls for 0.05s",
        "[CircuitBreaker-E->F] Manually reset: open -> CLOSED",
    ]


@pytest.mark.parametrize(("timeout", "shown"), [(30, "30"), (2.5, "2.5"), (1e-3, "0.001")])
def test_the_opened_line_shows_the_timeout_as_given(
    capsys: pytest.CaptureFixture[str], timeout: float, shown: str
) -> None:
    cb = CircuitBreaker(1, timeout, 1, "B->C")
    capsys.readouterr()
    fail_n(cb, 1)
    assert lines(capsys)[-1] == f"[CircuitBreaker-B->C] ⚠️ Circuit OPENED - will block calls for {shown}s"


def test_lines_go_to_the_current_sys_stdout() -> None:
    # Written synchronously to whatever sys.stdout is at the time, so they
    # interleave with the server's own prints.
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        cb = CircuitBreaker(1, name="x")
        print("server line")
        fail_n(cb, 1)
        print("after")
    assert buf.getvalue().splitlines() == [
        "[CircuitBreaker-x] Initialized: threshold=1, timeout=30.0s",
        "server line",
        "[CircuitBreaker-x] 🔴 State transition: closed -> open (failure_count=1)",
        "[CircuitBreaker-x] ⚠️ Circuit OPENED - will block calls for 30.0s",
        "after",
    ]


def test_lines_are_plain_print_output(monkeypatch: pytest.MonkeyPatch) -> None:
    # print() semantics: one write of the line, one of "\n".
    writes: list[str] = []

    class Out:
        def write(self, s: str) -> int:
            writes.append(s)
            return len(s)

        def flush(self) -> None:
            pass

    monkeypatch.setattr(sys, "stdout", Out())
    CircuitBreaker(1, 30.0, 1, "q")
    assert "".join(writes) == "[CircuitBreaker-q] Initialized: threshold=1, timeout=30.0s\n"


def test_nothing_is_printed_for_calls_that_change_no_state(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cb = CircuitBreaker(3, name="x")
    capsys.readouterr()
    cb.call(ok)
    fail_n(cb, 2)
    cb.call(ok)
    cb.get_state()
    cb.get_stats()
    assert lines(capsys) == []


def test_rejections_print_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    cb = CircuitBreaker(1, name="x")
    fail_n(cb, 1)
    capsys.readouterr()
    for _ in range(3):
        with pytest.raises(CircuitBreakerOpenError):
            cb.call(ok)
    assert lines(capsys) == []


def test_the_lines_also_go_to_logging(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="tripbit")
    cb = CircuitBreaker(1, SHORT, 1, "B->C", stdout=False)
    fail_n(cb, 1)
    time.sleep(AFTER_SHORT)
    cb.call(ok)
    records = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert records[0] == (
        "tripbit",
        logging.INFO,
        "[CircuitBreaker-B->C] Initialized: threshold=1, timeout=0.05s",
    )
    assert records[1:3] == [
        (
            "tripbit",
            logging.WARNING,
            "[CircuitBreaker-B->C] 🔴 State transition: closed -> open (failure_count=1)",
        ),
        (
            "tripbit",
            logging.WARNING,
            "[CircuitBreaker-B->C] ⚠️ Circuit OPENED - will block calls for 0.05s",
        ),
    ]
    # The silent lazy move is logged (not printed), then the close.
    assert records[3][:2] == ("tripbit", logging.INFO)
    assert "open -> half_open" in records[3][2]
    assert records[4:] == [
        ("tripbit", logging.INFO, "[CircuitBreaker-B->C] 🟢 State transition: half_open -> closed"),
        (
            "tripbit",
            logging.INFO,
            "[CircuitBreaker-B->C] ✅ Circuit CLOSED - normal operation resumed",
        ),
    ]


def test_logging_is_quiet_unless_configured(capsys: pytest.CaptureFixture[str]) -> None:
    # The library adds a NullHandler: no "last resort" output on stderr.
    assert any(isinstance(h, logging.NullHandler) for h in logging.getLogger("tripbit").handlers)
    cb = CircuitBreaker(1, stdout=False)
    fail_n(cb, 1)
    assert capsys.readouterr().err == ""


# ------------------------------------------------------ against the original


def interrupt() -> None:
    raise KeyboardInterrupt


class _Runner:
    """Applies script steps to one breaker, recording what a server sees."""

    def __init__(self, module: Any, args: tuple[Any, ...]) -> None:
        self.module = module
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            self.cb = module.CircuitBreaker(*args)
        self.init_lines = buf.getvalue().splitlines()

    def step(self, op: str) -> tuple[Any, ...]:
        cb = self.cb
        buf = io.StringIO()
        result: Any
        with contextlib.redirect_stdout(buf):
            if op == "ok":
                try:
                    result = cb.call(lambda: "value")
                except self.module.CircuitBreakerOpenError as e:
                    result = ("rejected", str(e))
            elif op == "fail":
                try:
                    cb.call(boom)
                    result = "no error"
                except Boom:
                    # What the servers read in their except block.
                    result = ("failed", cb.get_stats()["failure_count"], cb.get_stats()["state"])
                except self.module.CircuitBreakerOpenError as e:
                    result = ("rejected", str(e))
            elif op == "kbd":
                try:
                    cb.call(interrupt)
                    result = "no error"
                except KeyboardInterrupt:
                    result = "interrupted"
                except self.module.CircuitBreakerOpenError as e:
                    result = ("rejected", str(e))
            elif op == "state":
                result = cb.get_state().value
            elif op == "reset":
                result = cb.reset()
            else:  # pragma: no cover
                raise AssertionError(op)
        stats = cb.get_stats()
        return (
            op,
            result,
            buf.getvalue().splitlines(),
            list(stats),
            stats["state"],
            stats["failure_count"],
            stats["success_count"],
            stats["last_failure_time"] is None,
            stats["time_since_last_failure"] is None,
            cb.state.value,
            cb.failure_count,
            cb.success_count,
        )


# Long enough that no step but "wait" lets it elapse, even on a loaded
# machine; "wait" sleeps past it.
SCRIPT_TIMEOUT = 0.3
SCRIPTS = {
    "trip": (3, 1, "fail fail fail ok ok state fail"),
    "success resets the count": (3, 1, "fail fail ok fail fail ok fail fail fail ok"),
    "recover via get_state": (3, 1, "fail fail fail wait state state ok state ok"),
    "recover via call": (3, 1, "fail fail fail wait ok state"),
    "failed probe": (3, 1, "fail fail fail wait fail ok state wait state fail wait ok fail"),
    "two successes to close": (2, 2, "fail fail wait ok state ok state fail fail"),
    "failure after a half-open success": (2, 2, "fail fail wait ok fail state wait ok ok"),
    "reset while open": (2, 1, "fail fail reset state ok fail fail ok"),
    "reset while half open": (2, 3, "fail fail wait ok reset state fail ok"),
    "keyboard interrupt": (2, 1, "fail kbd fail wait kbd state ok"),
    "threshold one": (1, 1, "fail ok wait fail wait ok ok fail"),
    "idle wait changes nothing while closed": (2, 1, "fail wait state fail ok"),
}


# Every script with a float timeout; those that never wait also with an int
# one (the init line differs: "timeout=1s").
CASES = [(name, SCRIPT_TIMEOUT) for name in SCRIPTS] + [
    (name, 1) for name, (_, _, steps) in SCRIPTS.items() if "wait" not in steps
]


@pytest.mark.parametrize(
    ("script", "timeout"), CASES, ids=[f"{n}-{type(t).__name__}" for n, t in CASES]
)
def test_same_lines_and_stats_as_the_original(
    seed: ModuleType, script: str, timeout: float
) -> None:
    threshold, successes, steps = SCRIPTS[script]
    args = (threshold, timeout, successes, "B->C")
    theirs = _Runner(seed, args)
    ours = _Runner(tripbit, args)
    assert ours.init_lines == theirs.init_lines
    for op in steps.split():
        if op == "wait":
            time.sleep(timeout * 1.3)
            continue
        # Both breakers take the same step back to back.
        expected = theirs.step(op)
        got = ours.step(op)
        assert got == expected, f"step {op!r} of {steps!r}"


def test_stats_times_agree_with_the_original(seed: ModuleType) -> None:
    theirs = seed.CircuitBreaker(1, 30.0, 1, "x")
    ours = CircuitBreaker(1, 30.0, 1, "x", stdout=False)
    for cb in (theirs, ours):
        with pytest.raises(Boom):
            cb.call(boom)
    a, b = theirs.get_stats(), ours.get_stats()
    for key in ("last_state_change_time", "last_failure_time"):
        assert type(a[key]) is type(b[key]) is float
        assert math.isclose(a[key], b[key], abs_tol=0.5)
    assert type(a["time_since_last_failure"]) is type(b["time_since_last_failure"]) is float


def _random_script(n: int) -> tuple[int, int, list[str]]:
    rnd = random.Random(n)
    ops = [rnd.choice(["ok", "ok", "fail", "fail", "kbd", "state", "reset"]) for _ in range(18)]
    for _ in range(2):  # at most two waits: each costs SCRIPT_TIMEOUT * 1.3
        ops.insert(rnd.randrange(len(ops)), "wait")
    return rnd.randint(1, 3), rnd.randint(1, 3), ops


@pytest.mark.parametrize("n", range(8))
def test_random_scripts_match_the_original(seed: ModuleType, n: int) -> None:
    threshold, successes, steps = _random_script(n)
    args = (threshold, SCRIPT_TIMEOUT, successes, "B->C")
    theirs = _Runner(seed, args)
    ours = _Runner(tripbit, args)
    for op in steps:
        if op == "wait":
            time.sleep(SCRIPT_TIMEOUT * 1.3)
            continue
        assert ours.step(op) == theirs.step(op), f"step {op!r} of {steps!r}"
