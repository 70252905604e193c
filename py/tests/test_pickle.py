"""Pickling and copying: a breaker is live shared state, so tripbit refuses
both with a clear TypeError (deliberately: a copy would silently split one
breaker's verdict in two). The values around it (states, errors) pickle."""

from __future__ import annotations

import copy
import pickle
import weakref

import pytest

from tripbit import CircuitBreaker, CircuitBreakerOpenError, CircuitState

from conftest import fail_n, ok

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_pickling_a_breaker_is_a_clear_type_error(protocol: int) -> None:
    cb = CircuitBreaker("acme.p", stdout=False)
    with pytest.raises(TypeError, match="cannot be pickled: it is live shared state"):
        pickle.dumps(cb, protocol=protocol)


def test_the_error_says_what_to_do_instead() -> None:
    cb = CircuitBreaker("acme.p", stdout=False)
    with pytest.raises(TypeError, match="from_config"):
        pickle.dumps(cb)


class Server:
    def __init__(self) -> None:
        self.circuit_breakers = {"B": CircuitBreaker("B", stdout=False)}


def test_pickling_an_object_holding_a_breaker_fails_too() -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Server())


def test_copy_is_a_clear_type_error() -> None:
    cb = CircuitBreaker("acme.p", stdout=False)
    with pytest.raises(TypeError, match="cannot be copied"):
        copy.copy(cb)


def test_deepcopy_is_a_clear_type_error() -> None:
    cb = CircuitBreaker("acme.p", stdout=False)
    with pytest.raises(TypeError, match="cannot be copied"):
        copy.deepcopy(cb)
    with pytest.raises(TypeError, match="cannot be copied"):
        copy.deepcopy({"breakers": [cb]})


def test_a_failed_copy_leaves_the_breaker_untouched() -> None:
    cb = CircuitBreaker("acme.p", failure_threshold=2, stdout=False)
    fail_n(cb, 1)
    before = cb.snapshot()
    for op in (copy.copy, copy.deepcopy, pickle.dumps):
        with pytest.raises(TypeError):
            op(cb)
    assert cb.snapshot() == before
    assert cb.failure_count == 1
    assert cb.call(ok) == "ok"


def test_the_refusal_is_the_breaker_s_own_not_an_accident() -> None:
    # Defined on the class (not a missing-__reduce__ fallback), so a subclass
    # inherits it, and the messages are tripbit's.
    class Mine(CircuitBreaker):
        __slots__ = ()

    cb = Mine("acme.p", stdout=False)
    with pytest.raises(TypeError, match="CircuitBreaker cannot be pickled"):
        pickle.dumps(cb)
    with pytest.raises(TypeError, match="CircuitBreaker cannot be copied"):
        copy.copy(cb)


def test_the_same_settings_build_an_equivalent_breaker_instead() -> None:
    cb = CircuitBreaker(5, 12.5, 2, "acme.p", stdout=False)
    twin = CircuitBreaker(
        cb.failure_threshold, cb.open_timeout, cb.success_threshold, cb.name, stdout=False
    )
    assert twin is not cb
    assert twin.settings == cb.settings


def test_weak_references_are_supported() -> None:
    cb = CircuitBreaker("acme.p", stdout=False)
    ref = weakref.ref(cb)
    assert ref() is cb
    del cb
    assert ref() is None


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_circuit_state_members_pickle_to_themselves(protocol: int) -> None:
    for member in CircuitState:
        assert pickle.loads(pickle.dumps(member, protocol=protocol)) is member
    assert copy.copy(CircuitState.OPEN) is CircuitState.OPEN
    assert copy.deepcopy(CircuitState.OPEN) is CircuitState.OPEN


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_open_error_pickles_with_its_attributes(protocol: int) -> None:
    cb = CircuitBreaker("acme.p", failure_threshold=1, stdout=False)
    fail_n(cb, 1)
    with pytest.raises(CircuitBreakerOpenError) as info:
        cb.call(ok)
    err = pickle.loads(pickle.dumps(info.value, protocol=protocol))
    assert type(err) is CircuitBreakerOpenError
    assert str(err) == "Circuit breaker OPEN for acme.p"
    assert (err.name, err.state) == ("acme.p", "open")
    assert err.retry_after == info.value.retry_after


def test_guards_and_transitions_are_not_picklable() -> None:
    cb = CircuitBreaker("acme.p", failure_threshold=1, stdout=False)
    got = []
    cb.add_listener(got.append)
    g = cb.guard()
    with pytest.raises(TypeError):
        pickle.dumps(g)
    g.failure()
    with pytest.raises(TypeError):
        pickle.dumps(got[0])
