"""The typed dicts ``get_stats()``, ``snapshot()`` and the fleet monitor return.

Plain ``dict`` objects at run time (``type(cb.get_stats()) is dict``, as the
original's); these classes only tell a type checker which keys they hold.
"""

from __future__ import annotations

from typing import Dict, Optional, TypedDict

__all__ = ["FleetCounts", "FleetStats", "Snapshot", "Stats"]


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


class FleetCounts(TypedDict):
    """One key's outcome counts in a fleet monitor (``tripbit.fleet``):
    ``rejected`` holds every rejected call, ``local`` those of them the
    local breaker rejected while the fleet said healthy."""

    success: int
    failure: int
    slow: int
    rejected: int
    local: int


class FleetStats(TypedDict):
    """``tripbit.fleet.Monitor.stats()``."""

    batches_sent: int
    """Batches Redis acknowledged."""
    store_errors: int
    """Redis operations that failed."""
    dropped_batches: int
    """Batches dropped because the backlog was full."""
    dropped_calls: int
    """Calls in those batches."""
    connected: bool
    """Whether the last Redis operation worked."""
    backlog: int
    """Batches waiting to be sent."""
    counted: Dict[str, FleetCounts]
    """Per key: counted so far (acknowledged or not)."""
    acked: Dict[str, FleetCounts]
    """Per key: acknowledged by Redis."""
