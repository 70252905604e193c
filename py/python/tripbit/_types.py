"""The typed dicts ``get_stats()`` and ``snapshot()`` return.

Plain ``dict`` objects at run time (``type(cb.get_stats()) is dict``, as the
original's); these classes only tell a type checker which keys they hold.
"""

from __future__ import annotations

from typing import Optional, TypedDict

__all__ = ["Snapshot", "Stats"]


class Stats(TypedDict):
    """``CircuitBreaker.get_stats()``: the original breaker's six keys."""

    state: str
    failure_count: int
    success_count: int
    last_state_change_time: float
    last_failure_time: Optional[float]
    time_since_last_failure: Optional[float]


class Snapshot(TypedDict):
    """``CircuitBreaker.snapshot()``: everything the core knows."""

    state: str
    stored_state: str
    generation: int
    backoff_level: int
    consecutive_failures: int
    probes_in_flight: int
    probe_successes: int
    probe_failures: int
    opened_at: Optional[float]
    open_until: Optional[float]
    window_calls: int
    window_failures: int
    window_slow: int
