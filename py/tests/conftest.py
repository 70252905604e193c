"""Shared helpers for the tripbit test suite.

The tests import the *installed* wheel (``py/test.sh`` builds and installs
it); ``py/python`` is never put on ``sys.path``, since the native module
only exists in the wheel.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator

import pytest

import tripbit

REPO = Path(__file__).resolve().parents[2]
SEED_PATH = REPO / "benches" / "python" / "seed_breaker.py"

# A short open period for the tests that wait it out, and a sleep that
# surely covers it (sleep() never returns early).
SHORT = 0.05
AFTER_SHORT = SHORT * 1.6


class Boom(Exception):
    """The error the guarded functions in these tests raise."""


def boom() -> Any:
    raise Boom("boom")


def ok() -> str:
    return "ok"


def fail_n(cb: Any, n: int, exc: type[BaseException] = Boom) -> None:
    """n failing calls through ``cb.call`` (each re-raises ``exc``)."""

    def f() -> None:
        raise exc("x")

    for _ in range(n):
        with pytest.raises(exc):
            cb.call(f)


def wait_until(pred: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.001)


def load_seed() -> ModuleType:
    """The pure-Python re-creation of the gRPC tree's breaker."""
    name = "seed_breaker_under_test"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SEED_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def seed() -> ModuleType:
    if not SEED_PATH.exists():
        pytest.skip(f"reference breaker not found at {SEED_PATH}")
    return load_seed()


@pytest.fixture
def quiet() -> Iterator[Callable[..., tripbit.CircuitBreaker]]:
    """A factory of breakers that print nothing (stdout=False)."""

    def make(*args: Any, **kwargs: Any) -> tripbit.CircuitBreaker:
        kwargs.setdefault("stdout", False)
        return tripbit.CircuitBreaker(*args, **kwargs)

    yield make


@pytest.fixture
def unraisable(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Collects what goes to sys.unraisablehook (instead of pytest turning
    it into a warning, which this suite treats as an error)."""
    seen: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    return seen
