"""The gRPC tree's original breaker, rewritten from its description.

A pure-Python, lock-based circuit breaker written here to behave exactly as
the ``common/circuit_breaker.py`` of the gRPC tree (the public repository
``neels22/mini-2-grpc``): same attributes, same counts, same printed
lines in the same order. It is our own code, checked against that file
behaviour by behaviour (py/tests/test_dropin.py lists them). It is kept as
a benchmark peer for tripbit and as the
stand-in used while developing ``examples/grpc-tree`` without the wheel.

What it does, like the original:

- one ``threading.Lock`` guards every read and write of the state;
- time is the wall clock, ``time.time()``;
- OPEN -> HALF_OPEN happens lazily inside ``get_state()`` once
  ``open_timeout`` seconds have passed since the last failure, and prints
  nothing; the very next ``call()`` is the probe (any number of concurrent
  probes are let through, unlike tripbit);
- ``failure_threshold`` consecutive failures while CLOSED open it, a success
  while CLOSED resets the count, one failure while HALF_OPEN reopens it and
  ``success_threshold`` successes while HALF_OPEN close it;
- the failure is counted, and the transition lines printed, before ``call()``
  re-raises, so callers can log ``get_stats()['failure_count']`` in their
  ``except`` block;
- start-up and transitions are printed on stdout, e.g.
  ``[CircuitBreaker-B->C] Initialized: threshold=3, timeout=30.0s``, then on
  opening ``... 🔴 State transition: closed -> open (failure_count=3)``
  followed by ``... ⚠️ Circuit OPENED - will block calls for 30.0s``; on
  closing from half-open ``... 🟢 State transition: half_open -> closed`` (no
  count) followed by ``... ✅ Circuit CLOSED - normal operation resumed``; and
  ``... Manually reset: open -> CLOSED`` when ``reset()`` leaves any state
  but CLOSED;
- ``success_count`` is cleared by every move (to OPEN, HALF_OPEN, CLOSED),
  and ``last_failure_time`` goes back to None on closing and on ``reset()``;
- the ``lock`` attribute is the ``threading.Lock`` everything runs under.

No argument is validated, as in the original.
"""

import threading
import time
from enum import Enum
from typing import Any, Callable, Dict, Optional

__all__ = ["CircuitBreaker", "CircuitBreakerOpenError", "CircuitState"]


class CircuitState(Enum):
    """The three states of the breaker; servers compare ``.value``."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreakerOpenError(Exception):
    """Raised by ``call()`` when the circuit is OPEN (fail fast)."""


class CircuitBreaker:
    """Consecutive-failure circuit breaker guarding calls to one neighbour."""

    def __init__(
        self,
        failure_threshold: int = 3,
        open_timeout: float = 30.0,
        success_threshold: int = 1,
        name: str = "unknown",
    ) -> None:
        self.failure_threshold = failure_threshold
        self.open_timeout = open_timeout
        self.success_threshold = success_threshold
        self.name = name

        self.state = CircuitState.CLOSED
        self.failure_count = 0
        self.success_count = 0
        self.last_failure_time: Optional[float] = None
        self.last_state_change_time = time.time()

        self.lock = threading.Lock()

        print(
            f"[CircuitBreaker-{self.name}] Initialized: "
            f"threshold={self.failure_threshold}, timeout={self.open_timeout}s"
        )

    # ------------------------------------------------------------------ state

    def get_state(self) -> CircuitState:
        """Current state; moves OPEN -> HALF_OPEN once the timeout has passed."""
        with self.lock:
            # Check if we should transition from OPEN to HALF_OPEN
            if self.state == CircuitState.OPEN:
                if self.last_failure_time is not None:
                    elapsed = time.time() - self.last_failure_time
                    if elapsed >= self.open_timeout:
                        self._transition_to_half_open()
            return self.state

    def call(self, func: Callable[[], Any]) -> Any:
        """Run ``func()`` through the breaker.

        Raises ``CircuitBreakerOpenError`` when OPEN. Any ``Exception`` from
        ``func`` is counted as a failure and re-raised unchanged.
        """
        if self.get_state() == CircuitState.OPEN:
            raise CircuitBreakerOpenError(f"Circuit breaker OPEN for {self.name}")

        try:
            result = func()
        except Exception:
            self._on_failure()
            raise

        self._on_success()
        return result

    def reset(self) -> None:
        """Back to CLOSED with every counter cleared; says so unless it was
        CLOSED already."""
        with self.lock:
            before = self.state
            self._transition_to_closed()
            if before != CircuitState.CLOSED:
                self._say(f"Manually reset: {before.value} -> CLOSED")

    def get_stats(self) -> Dict[str, Any]:
        """A snapshot for logs and status pages (does not move the state)."""
        with self.lock:
            # (A truth test, as the original: a 0.0 stamp would read None.)
            time_since_last_failure = None
            if self.last_failure_time:
                time_since_last_failure = time.time() - self.last_failure_time
            return {
                "state": self.state.value,
                "failure_count": self.failure_count,
                "success_count": self.success_count,
                "last_state_change_time": self.last_state_change_time,
                "last_failure_time": self.last_failure_time,
                "time_since_last_failure": time_since_last_failure,
            }

    # ---------------------------------------------------------------- outcomes
    # Each takes the lock, updates the counters, and prints what changed
    # while still holding it, in the original's order.

    def _say(self, text: str) -> None:
        print(f"[CircuitBreaker-{self.name}] {text}")

    def _on_success(self) -> None:
        with self.lock:
            before = self.state
            if before == CircuitState.HALF_OPEN:
                self.success_count += 1
                if self.success_count >= self.success_threshold:
                    self._transition_to_closed()
            elif before == CircuitState.CLOSED:
                # A success resets the run of consecutive failures.
                self.failure_count = 0
                self.success_count = 0
            # (A late success while OPEN changes nothing.)
            if self.state != before:
                self._say(f"🟢 State transition: {before.value} -> {self.state.value}")
                if self.state == CircuitState.CLOSED:
                    self._say("✅ Circuit CLOSED - normal operation resumed")

    def _on_failure(self) -> None:
        with self.lock:
            before = self.state
            # Every failure is stamped, a late one while OPEN too (which
            # pushes the end of the open period back).
            self.last_failure_time = time.time()
            if before == CircuitState.HALF_OPEN:
                # The probe failed: straight back to OPEN.
                self._transition_to_open()
            elif before == CircuitState.CLOSED:
                self.failure_count += 1
                self.success_count = 0
                if self.failure_count >= self.failure_threshold:
                    self._transition_to_open()
            if self.state != before:
                self._say(
                    f"🔴 State transition: {before.value} -> {self.state.value} "
                    f"(failure_count={self.failure_count})"
                )
                if self.state == CircuitState.OPEN:
                    self._say(f"⚠️ Circuit OPENED - will block calls for {self.open_timeout}s")

    # ------------------------------------------------------------- transitions
    # Called with self.lock held; they print nothing themselves.

    def _transition_to_open(self) -> None:
        # failure_count stays as it is (the threshold after a trip, 0 after
        # a failed probe).
        now = time.time()
        self.state = CircuitState.OPEN
        self.last_failure_time = now
        self.last_state_change_time = now
        self.success_count = 0

    def _transition_to_half_open(self) -> None:
        # Lazy move made inside get_state(): silent, counters cleared.
        self.state = CircuitState.HALF_OPEN
        self.last_state_change_time = time.time()
        self.failure_count = 0
        self.success_count = 0

    def _transition_to_closed(self) -> None:
        self.state = CircuitState.CLOSED
        self.last_state_change_time = time.time()
        self.failure_count = 0
        self.success_count = 0
        self.last_failure_time = None
