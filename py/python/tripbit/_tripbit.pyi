"""The native module: thin wrappers over the Rust core (`tripbit` crate).

Every decision (admit, count, trip, probe, close) is the core's lock-free
state machine; this module reads the clock, turns Python exceptions into
outcomes and announces the transitions the core returns.
"""

import enum
import threading
from types import TracebackType
from typing import Any, Callable, Literal, TypeVar, final

from typing_extensions import Self, TypedDict, disjoint_base

from ._types import FleetCounts, FleetStats, Snapshot, Stats

__all__ = [
    "CircuitBreakerOpenError",
    "CircuitState",
    "CoreBreaker",
    "FleetMonitor",
    "Guard",
    "LIMITS",
    "SyncGuarded",
    "Transition",
    "TripbitError",
    "__version__",
    "_open_error_from",
    "_open_error_reduce",
]

__version__: str
"""The package version, from the crate's ``CARGO_PKG_VERSION``."""

class _Limits(TypedDict):
    failure_threshold: int
    success_threshold: int
    probes: int
    backoff_factor: int
    backoff_level: int
    bucket_calls: int

LIMITS: _Limits
"""The largest ``failure_threshold``, ``success_threshold``, ``probes``,
``backoff`` factor and max level, and calls per window bucket (a count ``window`` holds
10 buckets) the core holds, as the core exports them."""

_T = TypeVar("_T")

_StateName = Literal["closed", "open", "half_open", "forced_open", "forced_closed", "disabled"]

class TripbitError(Exception):
    """Base class of the exceptions tripbit defines."""

class CircuitBreakerOpenError(TripbitError):
    """Raised instead of calling the guarded function: the breaker is open
    (or forced open, or every half-open probe slot is busy).

    ``str(err)`` is ``Circuit breaker OPEN for <name>``, as in the original.
    """

    @property
    def name(self) -> str:
        """The breaker's name."""
    @property
    def state(self) -> _StateName:
        """The core state that rejected the call ("open", "half_open" when every
        probe slot is busy, or "forced_open")."""
    @property
    def retry_after(self) -> float | None:
        """Seconds until the open period ends, or None when unknown (forced
        open, or half-open with every probe slot busy)."""

def _open_error_reduce(
    err: CircuitBreakerOpenError,
) -> tuple[Callable[..., CircuitBreakerOpenError], tuple[tuple[object, ...], object]]:
    """Pickle/copy reducer of CircuitBreakerOpenError (through copyreg)."""

def _open_error_from(args: tuple[object, ...], rejection: object) -> CircuitBreakerOpenError:
    """Rebuilds a pickled CircuitBreakerOpenError."""

class CircuitState(enum.Enum):
    """The three states of the drop-in API; compare ``.value`` with
    "closed", "open" or "half_open". The operator states map onto them:
    forced_open reads OPEN, forced_closed and disabled read CLOSED
    (``snapshot()['state']`` has the exact one)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"

@final
class Transition:
    """A state change, as listeners receive it (after the change is
    published, outside any lock). With several threads, listeners may run
    out of order: ``generation`` gives the order.

    Pickles by value, without the breaker (a breaker is live state of the
    process that owns it)."""

    def __new__(
        cls,
        name: str,
        old_state: _StateName,
        new_state: _StateName,
        failure_count: int,
        generation: int,
        backoff_level: int,
        time: float,
    ) -> Self:
        """A transition with these values and no breaker (what unpickling
        builds)."""
    @property
    def breaker(self) -> CoreBreaker:
        """The breaker that changed state; AttributeError on a transition
        that was unpickled or built by hand."""
    @property
    def name(self) -> str:
        """Its name (or dotted key)."""
    @property
    def old_state(self) -> _StateName:
        """The state before."""
    @property
    def new_state(self) -> _StateName:
        """The state after."""
    @property
    def failure_count(self) -> int:
        """The failure count the transition line shows."""
    @property
    def generation(self) -> int:
        """The core's generation after the change (24 bits, wrapping): it
        grows by one with every transition of this breaker, so of two
        transitions the later one is the one ``(a - b) % 2**24`` puts ahead."""
    @property
    def backoff_level(self) -> int:
        """Failed probes in a row (the backoff exponent) after the change."""
    @property
    def time(self) -> float:
        """When it happened, in epoch seconds."""
    def __reduce__(self) -> tuple[Any, ...]: ...

@final
class Guard:
    """One admitted call whose outcome the caller reports: call
    ``success()``, ``failure()`` or ``ignore()`` exactly once, or use it as a
    context manager (no exception: success; an ``Exception``: failure,
    after the breaker's filters; any other ``BaseException``: ignored).

    A guard dropped without a report counts nothing and frees its half-open
    probe slot.
    """

    def success(self) -> None:
        """The call worked. RuntimeError if an outcome was already reported."""
    def failure(self) -> None:
        """The call failed: counts towards opening the breaker."""
    def ignore(self) -> None:
        """Neither (cancelled, a client error): counts nothing, frees a
        probe slot."""
    @property
    def is_probe(self) -> bool:
        """Whether this call holds a half-open probe slot."""
    @property
    def nested(self) -> bool:
        """Whether this guard is part of an enclosing half-open probe of the
        same breaker (same thread or task): it holds no slot and reports
        nothing; the enclosing probe counts once."""
    @property
    def recorded(self) -> bool:
        """Whether an outcome was reported already."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> Literal[False]:
        """Reports the block's outcome unless one was reported inside it;
        never suppresses the exception."""

@final
class SyncGuarded:
    """A sync function guarded by a breaker: what ``@breaker`` returns.

    Calling it admits, calls, records (or calls the fallback when the
    breaker rejects) in one crossing into Rust. It binds as a method, and
    ``functools.update_wrapper`` gives it the wrapped function's
    ``__name__``, ``__doc__`` and ``__wrapped__``; the Python layer adds
    ``.breaker``.
    """

    def __new__(cls, breaker: CoreBreaker, func: Callable[..., Any]) -> Self: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
    def __get__(self, instance: object | None, owner: type | None = None, /) -> Any: ...
    def fallback(self, fallback: Callable[..., Any]) -> Callable[..., Any]:
        """Registers the function called, with the same arguments, instead of
        raising CircuitBreakerOpenError; returns it unchanged. TypeError if
        it is not callable, or is async (the guarded function is sync)."""
    def __reduce__(self) -> str:
        """Pickles by reference (module and qualified name), as a function."""

@disjoint_base
class CoreBreaker:
    """The native breaker; use its subclass ``tripbit.CircuitBreaker``,
    which parses the arguments. Instances can be neither pickled nor copied
    (TypeError): a breaker is live shared state."""

    def __new__(
        cls,
        *,
        name: str,
        open_timeout: float,
        open_ns: int,
        failure_threshold: int,
        success_threshold: int,
        probes: int,
        close_failure_rate: int = 0,
        backoff_factor: int = 1,
        backoff_max_level: int = 0,
        failure_rate: int | None = None,
        min_calls: int = 1,
        window_calls: int | None = None,
        window_ns: int | None = None,
        slow_ns: int | None = None,
        slow_rate: int = 100,
        include: Any = None,
        exclude: Any = None,
        timeout: float | None = None,
        probe_ns: int | None = None,
        stdout: bool = True,
        shared: str | None = None,
        fleet: Any = None,
    ) -> Self:
        """Builds the core breaker from parsed settings (ticks in ns) and
        announces it: ``[CircuitBreaker-<name>] Initialized: threshold=3,
        timeout=30.0s``."""
    def call(self, func: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
        """Calls ``func(*args, **kwargs)`` through the breaker.

        Raises CircuitBreakerOpenError, without calling ``func``, when the
        breaker is open. Any ``Exception`` from ``func`` is counted (a
        failure, unless the filters exclude it) and re-raised unchanged: the
        same object, with its traceback, after any transition line was
        printed. A ``BaseException`` that is not an ``Exception``
        (KeyboardInterrupt) passes through uncounted. TypeError, counting
        nothing, if ``func`` is not callable.

        If the result is awaitable (``await cb.call(async_fn)``), the call
        is not over: a coroutine is returned that awaits it inside the
        guard, so its outcome is the await's. Inside a half-open probe of
        this breaker (same thread or task), the call is part of that probe:
        never refused for a slot, not counted on its own.
        """
    def guard(self) -> Guard:
        """Admits one call now and returns its Guard; raises
        CircuitBreakerOpenError when the breaker is open. Inside a half-open
        probe of this breaker (same thread or task) the guard is part of
        that probe (``nested``)."""
    @property
    def lock(self) -> threading.Lock:
        """The original's ``lock`` attribute, a ``threading.Lock``. tripbit
        has no lock inside: holding this one blocks nothing in the breaker."""
    @property
    def timeout(self) -> float | None:
        """Seconds an async guarded call may take before it fails with a
        (counted) TimeoutError, or None."""
    def get_state(self) -> CircuitState:
        """The current state. Once ``open_timeout`` has passed since the
        breaker opened, moves it OPEN -> HALF_OPEN (silently, as the
        original did): the next ``call()`` is the probe."""
    @property
    def state(self) -> CircuitState:
        """The state as stored, without the lazy move (the original's
        attribute)."""
    @property
    def name(self) -> str:
        """The name (or dotted key) given at construction."""
    @property
    def failure_threshold(self) -> int:
        """Consecutive failures that open the breaker."""
    @property
    def open_timeout(self) -> float:
        """Seconds the breaker stays open, exactly as given (30 or 30.0)."""
    @property
    def success_threshold(self) -> int:
        """Half-open successes that close it (also the probe count, unless
        ``probes=`` says otherwise)."""
    @property
    def failure_count(self) -> int:
        """Consecutive failures while closed (window failures for a
        failure-rate breaker); the threshold while open after a trip; 0
        after the half-open move and while open after a failed probe."""
    @property
    def success_count(self) -> int:
        """Half-open successes so far; 0 in every other state (the original
        cleared it on every move to open, half-open and closed)."""
    @property
    def last_failure_time(self) -> float | None:
        """Epoch seconds of the last failure, or None since creation, a
        close from half-open, or ``reset()``."""
    @property
    def last_state_change_time(self) -> float:
        """Epoch seconds of the last state change (or creation, or reset)."""
    def get_stats(self) -> Stats:
        """The original's stats: exactly ``state`` (the CircuitState value),
        ``failure_count``, ``success_count``, ``last_state_change_time``,
        ``last_failure_time`` (epoch float or None) and
        ``time_since_last_failure`` (seconds or None). Moves nothing."""
    def snapshot(self) -> Snapshot:
        """Everything the core knows: ``state`` (the exact state name, e.g.
        "forced_open"), ``stored_state``, ``generation``, ``backoff_level``,
        ``consecutive_failures``, ``probes_in_flight``, ``probe_successes``,
        ``probe_failures``, ``opened_at`` / ``open_until`` (epoch or None),
        ``window_calls``, ``window_failures``, ``window_slow``."""
    @property
    def settings(self) -> dict[str, Any]:
        """The effective settings, after rounding the window to its buckets."""
    def reset(self) -> None:
        """Back to CLOSED, every count cleared, ``last_failure_time`` None;
        results of calls admitted before are discarded. From any other
        state prints ``Manually reset: <old> -> CLOSED``, as the original."""
    def fleet_verdict(self) -> tuple[str, int] | None:
        """A fleet breaker (``tripbit.fleet``): the fleet verdict this
        process mirrors into its local breaker (``"healthy"``,
        ``"unhealthy"``, ``"recovering"``, ``"forced_healthy"``,
        ``"forced_unhealthy"``) and its version (0: none seen yet). None for
        any other breaker."""
    def force_open(self) -> None:
        """Operator override: reject every call until ``reset()``."""
    def force_closed(self) -> None:
        """Operator override: admit every call and count nothing until
        ``reset()``."""
    def disable(self) -> None:
        """Metrics only: admit every call, keep counting, never trip, until
        ``reset()``."""
    def add_listener(self, listener: Callable[[Transition], object], /) -> None:
        """Calls ``listener(transition)`` after every state change, outside
        any lock (it may call back into the breaker). Its exceptions go to
        ``sys.unraisablehook``."""
    def remove_listener(self, listener: Callable[[Transition], object], /) -> None:
        """Removes a listener (compared with ``==``); ValueError if absent."""
    @property
    def listeners(self) -> tuple[Callable[[Transition], object], ...]:
        """The registered listeners, in call order."""
    def __reduce__(self) -> Any:
        """TypeError: a breaker cannot be pickled."""
    def __copy__(self) -> Any:
        """TypeError: a breaker cannot be copied."""
    def __deepcopy__(self, memo: Any, /) -> Any:
        """TypeError: a breaker cannot be copied."""

@disjoint_base
class FleetMonitor:
    """The native fleet monitor (Linux); use ``tripbit.fleet.connect()``,
    which checks the arguments and returns its subclass
    ``tripbit.fleet.Monitor``."""

    def __new__(
        cls,
        url: str,
        *,
        app: str,
        flush_ns: int,
        close_ns: int,
        prefix: str,
        id: str | None = None,
    ) -> Self:
        """A monitor flushing to the Redis at ``url`` every ``flush_ns``
        ns. Returns at once: Redis is not contacted here. ValueError naming
        ``url`` when it does not parse."""
    @property
    def id(self) -> str:
        """This monitor's id, part of every batch id."""
    @property
    def epoch(self) -> int:
        """This run's epoch, part of every batch id."""
    @property
    def host(self) -> str:
        """The host name reported with every batch."""
    @property
    def pid(self) -> int:
        """The process id reported with every batch."""
    @property
    def close_timeout(self) -> float:
        """``close()``'s default timeout, in seconds."""
    def flush(self) -> None:
        """Wakes the flush thread now (it flushes every interval anyway)."""
    def stats(self) -> FleetStats:
        """The monitor's counters, and per key what was counted and what
        Redis acknowledged."""
    def _close(self, timeout_ns: int | None, /) -> dict[str, FleetCounts]:
        """Flushes everything and waits (without the GIL) for Redis to
        acknowledge it: the acknowledged counts per key, or
        ``tripbit.fleet.CloseTimeoutError``."""
