"""The gRPC tree's original breaker, rewritten from its description.

A faithful pure-Python, lock-based circuit breaker equivalent to the
``common/circuit_breaker.py`` of the gRPC tree in ``shared/seeds/000``
(see SPEC section 3). It is kept as a benchmark peer for tripbit and as the
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
- the failure is counted, and the transition line printed, before ``call()``
  re-raises, so callers can log ``get_stats()['failure_count']`` in their
  ``except`` block;
- start-up and transitions are printed on stdout, e.g.
  ``[CircuitBreaker-B->C] Initialized: threshold=3, timeout=30.0s`` and
  ``[CircuitBreaker-B->C] 🔴 State transition: closed -> open (failure_count=3)``.

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
        """Back to CLOSED with every counter cleared."""
        with self.lock:
            self.state = CircuitState.CLOSED
            self.failure_count = 0
            self.success_count = 0
            self.last_failure_time = None
            self.last_state_change_time = time.time()

    def get_stats(self) -> Dict[str, Any]:
        """A snapshot for logs and status pages (does not move the state)."""
        with self.lock:
            time_since_last_failure = None
            if self.last_failure_time is not None:
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

    def _on_success(self) -> None:
        with self.lock:
            if self.state == CircuitState.HALF_OPEN:
                self.success_count += 1
                if self.success_count >= self.success_threshold:
                    self._transition_to_closed()
            elif self.state == CircuitState.CLOSED:
                # A success resets the run of consecutive failures.
                self.failure_count = 0

    def _on_failure(self) -> None:
        with self.lock:
            self.last_failure_time = time.time()
            if self.state == CircuitState.HALF_OPEN:
                # The probe failed: straight back to OPEN.
                self._transition_to_open()
            elif self.state == CircuitState.CLOSED:
                self.failure_count += 1
                if self.failure_count >= self.failure_threshold:
                    self._transition_to_open()

    # ------------------------------------------------------------- transitions
    # Called with self.lock held.

    def _transition_to_open(self) -> None:
        old_state = self.state
        self.state = CircuitState.OPEN
        self.last_state_change_time = time.time()
        print(
            f"[CircuitBreaker-{self.name}] 🔴 State transition: "
            f"{old_state.value} -> {self.state.value} (failure_count={self.failure_count})"
        )

    def _transition_to_half_open(self) -> None:
        # Lazy move made inside get_state(): silent, counters cleared.
        self.state = CircuitState.HALF_OPEN
        self.failure_count = 0
        self.success_count = 0
        self.last_state_change_time = time.time()

    def _transition_to_closed(self) -> None:
        old_state = self.state
        self.state = CircuitState.CLOSED
        self.failure_count = 0
        self.success_count = 0
        self.last_state_change_time = time.time()
        print(
            f"[CircuitBreaker-{self.name}] 🟢 State transition: "
            f"{old_state.value} -> {self.state.value} (failure_count={self.failure_count})"
        )
