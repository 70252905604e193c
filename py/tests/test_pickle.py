"""Pickling and copying: a breaker is live shared state, so tripbit refuses
both with a clear TypeError (deliberately: a copy would silently split one
breaker's verdict in two). The values around it (states, errors) pickle."""

from __future__ import annotations

import copy
import pickle
import weakref

import pytest

from tripbit import CircuitBreaker, CircuitBreakerOpenError, CircuitState, Transition

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
    after = cb.snapshot()
    assert after["generation"] == before["generation"]
    assert after["consecutive_failures"] == before["consecutive_failures"] == 1
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


def test_guards_are_not_picklable() -> None:
    cb = CircuitBreaker("acme.p", failure_threshold=1, stdout=False)
    g = cb.guard()
    with pytest.raises(TypeError):
        pickle.dumps(g)
    g.failure()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_transitions_pickle_by_value_without_their_breaker(protocol: int) -> None:
    cb = CircuitBreaker("acme.p", failure_threshold=1, stdout=False)
    got: list[Transition] = []
    cb.add_listener(got.append)
    fail_n(cb, 1)
    t = got[0]
    back = pickle.loads(pickle.dumps(t, protocol=protocol))
    assert type(back) is Transition
    for attr in ("name", "old_state", "new_state", "failure_count", "generation",
                 "backoff_level", "time"):
        assert getattr(back, attr) == getattr(t, attr), attr
    assert t.breaker is cb
    # The breaker is live state of this process: never pickled with it.
    with pytest.raises(AttributeError, match="never pickled"):
        back.breaker  # noqa: B018


def test_a_transition_built_by_hand_checks_its_states() -> None:
    t = Transition("acme.p", "closed", "open", 3, 7, 0, 1.5)
    assert (t.old_state, t.new_state, t.generation) == ("closed", "open", 7)
    with pytest.raises(ValueError, match="old_state must be one of"):
        Transition("acme.p", "shut", "open", 3, 7, 0, 1.5)  # type: ignore[arg-type]


# Module-level guarded functions, as a ProcessPoolExecutor user writes them.
POOL_BREAKER = CircuitBreaker("acme.pool", failure_threshold=2)


@POOL_BREAKER
def guarded_double(x: int) -> int:
    return 2 * x


@POOL_BREAKER
async def guarded_async_double(x: int) -> int:
    return 2 * x


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_decorated_module_level_functions_pickle_by_reference(protocol: int) -> None:
    for f in (guarded_double, guarded_async_double):
        data = pickle.dumps(f, protocol=protocol)
        assert pickle.loads(data) is f
        assert b"acme.pool" not in data  # a reference, not the breaker


def test_a_decorated_local_function_fails_to_pickle_like_a_local_function() -> None:
    @POOL_BREAKER
    def local(x: int) -> int:
        return x

    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(local)


def test_process_pool_map_over_a_guarded_function() -> None:
    import concurrent.futures
    import multiprocessing

    # spawn: a fresh interpreter imports this module by name, so the pickled
    # reference must really resolve (and no fork of a threaded process).
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        assert list(pool.map(guarded_double, range(5))) == [0, 2, 4, 6, 8]
