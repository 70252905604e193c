"""Bad input gets a clear error naming the argument, and nothing is counted
for a rejected or invalid call."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import pytest

from tripbit import LIMITS, CircuitBreaker, CircuitBreakerOpenError, CircuitState

from conftest import AFTER_SHORT, SHORT, fail_n, ok


def build(*args: Any, **kwargs: Any) -> CircuitBreaker:
    kwargs.setdefault("stdout", False)
    return CircuitBreaker(*args, **kwargs)


# ------------------------------------------------------------------ thresholds


@pytest.mark.parametrize("value", [0, -1, -100])
def test_failure_threshold_below_one_is_a_value_error(value: int) -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        build(failure_threshold=value)
    with pytest.raises(ValueError, match="failure_threshold"):
        build(value)  # positionally too


@pytest.mark.parametrize("value", [0, -1])
def test_success_threshold_below_one_is_a_value_error(value: int) -> None:
    with pytest.raises(ValueError, match="success_threshold"):
        build(success_threshold=value)
    with pytest.raises(ValueError, match="success_threshold"):
        build(3, 30.0, value)


def test_thresholds_too_large_for_the_core_are_value_errors() -> None:
    # The bounds are the core's own (tripbit.LIMITS), named in Python terms.
    top_f, top_s = LIMITS["failure_threshold"], LIMITS["success_threshold"]
    with pytest.raises(ValueError, match=rf"failure_threshold must be an integer in 1\.\.{top_f}"):
        build(failure_threshold=top_f + 1)
    with pytest.raises(ValueError, match=rf"success_threshold must be an integer in 1\.\.{top_s}") as info:
        build(success_threshold=top_s + 1)
    assert "close_after" not in str(info.value)
    assert build(failure_threshold=top_f).failure_threshold == top_f


FLOAT_ARGS = [
    ({}, "open_timeout"),
    ({}, "timeout"),
    ({"failure_rate": 50}, "window_seconds"),
    ({"failure_rate": 50}, "slow_call"),
]


@pytest.mark.parametrize("huge", [1e300, float("inf"), -float("inf"), 10**400])
@pytest.mark.parametrize(("base", "arg"), FLOAT_ARGS)
def test_huge_or_infinite_seconds_are_value_errors_naming_the_argument(
    base: dict[str, Any], arg: str, huge: float
) -> None:
    # Before: 1e300 and 10**400 raised OverflowError.
    with pytest.raises(ValueError, match=arg):
        build(**base, **{arg: huge})


@pytest.mark.parametrize("huge", [1e300, float("inf"), 10**400])
@pytest.mark.parametrize("arg", ["failure_rate", "slow_rate", "close_failure_rate"])
def test_huge_or_infinite_percents_are_value_errors(arg: str, huge: float) -> None:
    base = {} if arg == "close_failure_rate" else {"slow_call": 1.0}
    with pytest.raises(ValueError, match=arg):
        build(**base, **{arg: huge})


def test_an_empty_include_is_a_value_error() -> None:
    for empty in ([], (), set()):
        with pytest.raises(ValueError, match="include must name at least one exception type"):
            build(include=empty)
    # An empty exclude excludes nothing: harmless.
    assert build(exclude=[]).settings["exclude"] == ()


def test_filters_take_a_list_of_types() -> None:
    cb = build(1, exclude=[KeyError])
    with pytest.raises(KeyError):
        cb.call(lambda: {}["k"])
    assert cb.get_state() is CircuitState.CLOSED


def test_core_errors_are_named_in_python_terms() -> None:
    # probes beyond what success_threshold can use: caught by the core.
    with pytest.raises(ValueError) as info:
        build(success_threshold=2, probes=3)
    msg = str(info.value)
    assert "probes" in msg and "success_threshold" in msg
    assert "close_after" not in msg and "core setting" not in msg


@pytest.mark.parametrize("value", ["3", b"3", 3.0, 2.5, None, [3], True])
def test_a_non_int_failure_threshold_is_a_type_error(value: Any) -> None:
    with pytest.raises(TypeError, match="failure_threshold"):
        build(failure_threshold=value)


@pytest.mark.parametrize("value", ["1", 1.0, None, False])
def test_a_non_int_success_threshold_is_a_type_error(value: Any) -> None:
    with pytest.raises(TypeError, match="success_threshold"):
        build(success_threshold=value)


def test_a_str_threshold_from_a_config_is_a_type_error_not_a_name() -> None:
    # CircuitBreaker("acme.x") takes a dotted key, but only positionally:
    # failure_threshold="3" (say, read from a JSON file) is an error.
    with pytest.raises(TypeError, match="failure_threshold must be an int, got str"):
        build(failure_threshold="3", open_timeout=30.0, success_threshold=1, name="B->C")
    with pytest.raises(TypeError, match="failure_threshold"):
        build(failure_threshold="3")


def test_int_like_objects_are_accepted_as_thresholds() -> None:
    class Three:
        def __index__(self) -> int:
            return 3

    assert build(failure_threshold=Three()).failure_threshold == 3


# ---------------------------------------------------------------- open_timeout


@pytest.mark.parametrize("value", [-1, -0.001, math.nan, math.inf, -math.inf])
def test_negative_nan_or_infinite_open_timeout_is_a_value_error(value: float) -> None:
    with pytest.raises(ValueError, match="open_timeout"):
        build(open_timeout=value)
    with pytest.raises(ValueError, match="open_timeout"):
        build(3, value)


def test_an_open_timeout_too_large_for_the_clock_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="open_timeout"):
        build(open_timeout=1e12)


@pytest.mark.parametrize("value", ["30", None, [30], True])
def test_a_non_number_open_timeout_is_a_type_error(value: Any) -> None:
    with pytest.raises(TypeError, match="open_timeout"):
        build(open_timeout=value)


def test_a_zero_open_timeout_means_probe_at_once() -> None:
    cb = build(1, 0)
    fail_n(cb, 1)
    assert cb.get_state() is CircuitState.HALF_OPEN


# ---------------------------------------------------------------------- others


@pytest.mark.parametrize("value", [3, None, b"x"])
def test_a_non_str_name_is_a_type_error(value: Any) -> None:
    with pytest.raises(TypeError, match="name"):
        build(name=value)


def test_too_many_positional_arguments() -> None:
    with pytest.raises(TypeError, match="positional"):
        build(3, 30.0, 1, "n", "extra")
    with pytest.raises(TypeError, match="positional"):
        build("acme.x", 30.0, 1, "extra")


def test_an_argument_given_twice() -> None:
    with pytest.raises(TypeError, match="multiple values for argument 'failure_threshold'"):
        build(3, failure_threshold=3)


def test_an_unknown_keyword() -> None:
    # pybreaker's name for open_timeout: not silently accepted.
    with pytest.raises(TypeError, match="unexpected keyword argument 'reset_timeout'"):
        build(reset_timeout=30)


@pytest.mark.parametrize(
    ("kwargs", "arg"),
    [
        ({"failure_rate": 0}, "failure_rate"),
        ({"failure_rate": 101}, "failure_rate"),
        ({"failure_rate": 50.5}, "failure_rate"),
        ({"failure_rate": 50, "window": 0}, "window"),
        ({"failure_rate": 50, "min_calls": 0}, "min_calls"),
        ({"failure_rate": 50, "window": 5, "min_calls": 6}, "min_calls"),
        ({"failure_rate": 50, "window_seconds": 0}, "window_seconds"),
        ({"failure_rate": 50, "window_seconds": -1}, "window_seconds"),
        ({"slow_call": 0}, "slow_call"),
        ({"slow_call": math.nan}, "slow_call"),
        ({"slow_call": 1, "slow_rate": 0}, "slow_rate"),
        ({"slow_rate": 50}, "slow_call"),
        ({"probes": 0}, "probes"),
        ({"probes": 256}, "probes"),
        ({"close_failure_rate": 100}, "close_failure_rate"),
        ({"close_failure_rate": -1}, "close_failure_rate"),
        ({"backoff": 0}, "backoff"),
        ({"backoff": (2, 99)}, "backoff max_level"),
    ],
)
def test_bad_options_are_value_errors_naming_the_option(kwargs: dict[str, Any], arg: str) -> None:
    with pytest.raises(ValueError, match=arg):
        build(**kwargs)


def test_window_and_window_seconds_together() -> None:
    with pytest.raises(ValueError, match="window"):
        build(failure_rate=50, window=10, window_seconds=10)


@pytest.mark.parametrize(
    ("kwargs", "arg"),
    [
        ({"include": 3}, "include"),
        ({"exclude": "KeyError"}, "exclude"),
        ({"exclude": (KeyError, 3)}, "exclude"),
        ({"include": (int,)}, "include"),
        ({"stdout": 1}, "stdout"),
        ({"backoff": (2,)}, "backoff"),
        ({"backoff": "2"}, "backoff"),
    ],
)
def test_bad_option_types_are_type_errors(kwargs: dict[str, Any], arg: str) -> None:
    with pytest.raises(TypeError, match=arg):
        build(**kwargs)


def test_nothing_is_printed_for_a_rejected_constructor(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0)
    assert capsys.readouterr().out == ""


# ------------------------------------------------------------ invalid calls


@pytest.mark.parametrize("value", [None, 42, "func", object()])
def test_call_with_a_non_callable_is_a_type_error(value: Any) -> None:
    cb = build(1)
    with pytest.raises(TypeError, match="callable"):
        cb.call(value)


def test_call_without_func_is_a_type_error() -> None:
    cb = build(1)
    with pytest.raises(TypeError):
        cb.call()  # type: ignore[call-arg]


def test_nothing_is_counted_for_an_invalid_call() -> None:
    cb = build(2)
    fail_n(cb, 1)
    before = cb.get_stats()
    for _ in range(5):
        with pytest.raises(TypeError):
            cb.call(None)  # type: ignore[arg-type]
    after = cb.get_stats()
    assert after["failure_count"] == before["failure_count"] == 1
    assert after["last_failure_time"] == pytest.approx(before["last_failure_time"], abs=1e-3)
    assert cb.get_state() is CircuitState.CLOSED


def test_an_invalid_call_while_open_is_a_type_error_not_a_rejection() -> None:
    cb = build(1)
    fail_n(cb, 1)
    with pytest.raises(TypeError):
        cb.call(3)  # type: ignore[arg-type]


def test_an_invalid_call_takes_no_half_open_probe_slot() -> None:
    cb = build(1, SHORT)
    fail_n(cb, 1)
    with pytest.raises(TypeError):
        cb.call(None)  # type: ignore[arg-type]
    time.sleep(AFTER_SHORT)
    with pytest.raises(TypeError):
        cb.call(None)  # type: ignore[arg-type]
    assert cb.snapshot()["probes_in_flight"] == 0
    assert cb.call(ok) == "ok"
    assert cb.get_state() is CircuitState.CLOSED


def test_a_rejected_call_counts_nothing() -> None:
    cb = build(1)
    fail_n(cb, 1)
    before = cb.snapshot()
    for _ in range(10):
        with pytest.raises(CircuitBreakerOpenError):
            cb.call(ok)
    after = cb.snapshot()
    # Epoch times are computed when read: equal to well under a millisecond.
    for key in ("opened_at", "open_until"):
        assert after.pop(key) == pytest.approx(before.pop(key), abs=1e-3)  # type: ignore[misc]
    assert after == before
    assert cb.failure_count == 1


def test_a_func_needing_arguments_fails_like_the_original() -> None:
    # call(func) calls func(); a TypeError *from func* is the call's failure,
    # as in the original (the breaker cannot tell it from any other error).
    cb = build(3)

    def needs(x: int) -> int:
        return x

    with pytest.raises(TypeError):
        cb.call(needs)
    assert cb.failure_count == 1


def test_add_listener_rejects_a_non_callable() -> None:
    cb = build()
    with pytest.raises(TypeError):
        cb.add_listener(None)  # type: ignore[arg-type]


def test_call_async_rejects_a_non_callable() -> None:
    cb = build()
    with pytest.raises(TypeError, match="callable"):
        asyncio.run(cb.call_async(None))  # type: ignore[arg-type]
    assert cb.failure_count == 0
