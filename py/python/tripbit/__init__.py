"""tripbit: a lock-free circuit breaker, decided in Rust.

Drop-in for the gRPC tree's hand-written breaker::

    from tripbit import CircuitBreaker, CircuitBreakerOpenError, CircuitState

    cb = CircuitBreaker(failure_threshold=3, open_timeout=30.0, success_threshold=1, name="B->C")
    response = cb.call(lambda: stub.Query(request))

The Pythonic API::

    breaker = CircuitBreaker("acme.nlp.hotels")

    @breaker
    def lookup(city): ...

    @lookup.fallback
    def lookup_fallback(city):
        return {"success": False}

See the README for the options, listeners, ``guard()`` and asyncio.
"""

from ._breaker import CircuitBreaker, ExceptionFilter
from ._tripbit import (
    LIMITS,
    CircuitBreakerOpenError,
    CircuitState,
    Guard,
    Transition,
    TripbitError,
    __version__,
)
from ._types import Snapshot, Stats

__all__ = [
    "CircuitBreaker",
    "CircuitBreakerOpenError",
    "CircuitState",
    "ExceptionFilter",
    "Guard",
    "LIMITS",
    "Snapshot",
    "Stats",
    "Transition",
    "TripbitError",
    "__version__",
]

# A library logs; the application decides where records go. Without this,
# logging's last-resort handler would print tripbit's WARNING records
# (trips) on stderr of programs that never configured logging.
import logging as _logging

_logging.getLogger("tripbit").addHandler(_logging.NullHandler())
