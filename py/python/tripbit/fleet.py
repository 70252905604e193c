"""``tripbit.fleet``: circuit breakers shared by a fleet of processes, on Redis.

Each process keeps a local breaker per key, which decides every guarded call
with no network I/O; a monitor thread flushes the outcome counts to Redis in
batches and mirrors the fleet's verdict (computed by ``tripbit-fleet
processor``) into the local breakers::

    import tripbit.fleet

    with tripbit.fleet.connect("redis://127.0.0.1:6379/0", app="checkout") as monitor:
        hotels = monitor.breaker("acme.search.hotels", failure_threshold=5)

        @hotels
        def search(city): ...

If Redis is down, slow or unreachable, the breakers keep deciding locally
(fail open), the counts wait in a bounded backlog, and they are sent when
Redis answers again. Neither ``connect()`` nor a guarded call ever waits on
Redis; only ``close()`` does, for at most its timeout.

The monitor is the Rust ``tripbit_fleet::Monitor`` (one implementation for
Rust services and Python). Linux only. Make monitors after ``fork()``, not
before: the flush thread does not survive a fork.
"""

from __future__ import annotations

import math
import numbers
import sys
from types import TracebackType
from typing import Any, Dict, Optional, Type

from ._breaker import CircuitBreaker
from ._tripbit import TripbitError
from ._types import FleetCounts, FleetStats

if sys.platform != "linux":  # pragma: no cover - the wheel's fleet part is Linux-only
    raise ImportError("tripbit.fleet needs Linux")

from ._tripbit import FleetMonitor

__all__ = [
    "CloseTimeoutError",
    "FleetCounts",
    "FleetError",
    "FleetStats",
    "Monitor",
    "connect",
]

# The largest duration the native monitor takes, in ns.
_MAX_NS = 2**64 - 1

# monitor.breaker() options that are not a fleet breaker's: the name is the
# key, and the verdict is already shared by the fleet.
_NOT_FLEET_OPTIONS = frozenset({"name", "shared"})


class FleetError(TripbitError):
    """A fleet monitor could not do what was asked (e.g. it is closed)."""


class CloseTimeoutError(FleetError, TimeoutError):
    """``Monitor.close()`` gave up: Redis did not acknowledge every counted
    call within the timeout (the counts not acknowledged are lost)."""


def _type_name(value: object) -> str:
    return type(value).__name__


def _ns(arg: str, value: object) -> int:
    """A positive, finite number of seconds as nanoseconds: TypeError for a
    non-number, ValueError for NaN, infinity, zero, a negative value, or more
    than 2**64 - 1 ns."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{arg} must be a number of seconds, got {_type_name(value)}")
    try:
        seconds = float(value)
    except OverflowError:
        raise ValueError(f"{arg} is too large, got {value!r}") from None
    if math.isnan(seconds) or math.isinf(seconds) or seconds <= 0:
        raise ValueError(f"{arg} must be a finite number of seconds > 0, got {value!r}")
    if seconds > _MAX_NS / 1e9:  # before scaling: 1e300 * 1e9 is inf
        raise ValueError(f"{arg} is too large, got {value!r}")
    ns = round(seconds * 1e9)
    if ns > _MAX_NS:
        raise ValueError(f"{arg} is too large, got {value!r}")
    return max(ns, 1)


def _str(arg: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{arg} must be a str, got {_type_name(value)}")
    return value


class Monitor(FleetMonitor):
    """A process's connection to the fleet; make one with :func:`connect`.

    ``id`` (part of every batch id), ``host`` and ``pid`` (reported with
    every batch) and ``epoch`` identify it. A breaker made from it keeps it
    alive, and keeps working locally after ``close()`` (counting nothing
    more to the fleet).
    """

    __slots__ = ()

    def breaker(self, key: str, /, **options: Any) -> CircuitBreaker:
        """The ``CircuitBreaker`` for ``key`` (a dotted
        ``company.product.service``): the full ``CircuitBreaker`` API
        (decorator, ``call``, ``call_async``, ``guard``, fallback,
        listeners, ``get_state()``, ``get_stats()``), deciding every call
        with its local breaker, into which the monitor mirrors the fleet's
        verdict: forced open while the fleet says unhealthy, a fleet-wide
        probe budget while it recovers, the local policy while healthy.

        ``options`` are the ``CircuitBreaker`` keyword options of the
        consecutive-failures policy (``failure_threshold``,
        ``open_timeout``, ``success_threshold``, ``probes``, ``backoff``,
        ``include``, ``exclude``, ``timeout``, ``probe_timeout``,
        ``stdout``...) and configure this key's local breaker. Asking again
        for the same key with the same options gives a breaker sharing the
        same local breaker and fleet entry; with other options it is a
        ValueError. A malformed key (empty, spaces, over 200 bytes, not
        dotted) is a ValueError naming it.
        """
        _str("key", key)
        for name in options:
            if name in _NOT_FLEET_OPTIONS:
                raise TypeError(
                    f"Monitor.breaker() got an unexpected keyword argument {name!r}"
                    + (" (the key is the name)" if name == "name" else "")
                )
        options.setdefault("stdout", False)
        return CircuitBreaker._create(name=key, fleet=self, **options)

    def close(self, timeout: float | None = None) -> Dict[str, FleetCounts]:
        """Flushes everything counted so far and returns once Redis has
        acknowledged it (the acknowledged counts per key, over the monitor's
        life), or raises :class:`CloseTimeoutError` after ``timeout``
        seconds (default: ``connect()``'s ``close_timeout``). Closing twice
        is a :class:`FleetError`. Releases the GIL while it waits."""
        return self._close(None if timeout is None else _ns("timeout", timeout))

    def __enter__(self) -> Monitor:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<tripbit.fleet.Monitor {self.id} host={self.host!r} pid={self.pid}>"


def connect(
    url: str,
    app: str = "app",
    flush_interval: float = 0.25,
    *,
    id: str | None = None,
    close_timeout: float = 3.0,
    prefix: str = "tb",
) -> Monitor:
    """A :class:`Monitor` flushing to the Redis at ``url``
    (``redis://host:port/db``) every ``flush_interval`` seconds, as
    application ``app``. Returns at once: the URL must parse (ValueError
    naming ``url`` otherwise) but Redis is not contacted here; the monitor's
    thread connects, and reconnects, by itself.

    ``id``: the monitor id (1 to 64 ASCII letters, digits, ``_`` or ``-``;
    default ``<host>-<pid>-<random>``). ``close_timeout``: how long
    ``close()`` waits by default. ``prefix``: the Redis key prefix the
    processor uses (default ``tb``).
    """
    _str("url", url)
    _str("app", app)
    _str("prefix", prefix)
    if not prefix or any(c.isspace() for c in prefix):
        raise ValueError(f"prefix must be a non-empty str without spaces, got {prefix!r}")
    if id is not None:
        _str("id", id)
    flush_ns = _ns("flush_interval", flush_interval)
    close_ns = _ns("close_timeout", close_timeout)
    return Monitor(url, app=app, flush_ns=flush_ns, close_ns=close_ns, id=id, prefix=prefix)
