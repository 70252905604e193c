"""``CircuitBreaker``: the native breaker plus the Python conveniences.

The native base class (``tripbit._tripbit.CoreBreaker``) holds the core
breaker and does everything on the guarded path: ``call()``, ``guard()``,
counting, announcing transitions. This subclass only parses arguments,
turns seconds into the core's nanosecond ticks, and builds decorators.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import math
import numbers
import operator
import os
import sys
from typing import (
    TYPE_CHECKING,
    Any,
    Awaitable,
    Callable,
    Coroutine,
    Mapping,
    Sequence,
    Type,
    TypeVar,
    Union,
    cast,
    overload,
)

from ._tripbit import LIMITS, CircuitBreakerOpenError, CoreBreaker, Guard, SyncGuarded

if TYPE_CHECKING:
    if sys.version_info >= (3, 10):
        from typing import Concatenate, ParamSpec, Protocol
    else:
        from typing_extensions import Concatenate, ParamSpec, Protocol

    P = ParamSpec("P")
    P2 = ParamSpec("P2")
    R = TypeVar("R")
    R_co = TypeVar("R_co", covariant=True)
    S = TypeVar("S")
    CM = TypeVar("CM", bound="classmethod[Any, Any, Any]")
    SM = TypeVar("SM", bound="staticmethod[Any, Any]")

    class GuardedFunction(Protocol[P, R]):
        """A function guarded by ``@breaker``."""

        breaker: CircuitBreaker

        # What functools.wraps copies over.
        @property
        def __name__(self) -> str: ...
        @property
        def __qualname__(self) -> str: ...
        @property
        def __wrapped__(self) -> Callable[P, R]: ...

        def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R: ...

        def fallback(self, fallback: Callable[P, R]) -> Callable[P, R]:
            """Registers the function called, with the same arguments,
            instead of raising CircuitBreakerOpenError."""
            ...

        # Looked up on the class: the function itself; on an instance: a
        # bound method taking the parameters after `self`. (A classmethod
        # under or over @breaker works at run time; mypy sees it as a plain
        # function there.)
        @overload
        def __get__(self, instance: None, owner: type | None = None) -> GuardedFunction[P, R]: ...
        @overload
        def __get__(
            self: GuardedFunction[Concatenate[S, P2], R], instance: S, owner: type | None = None
        ) -> Callable[P2, R]: ...

    class AsyncGuardedFunction(Protocol[P, R_co]):
        """An ``async def`` function guarded by ``@breaker``."""

        breaker: CircuitBreaker

        @property
        def __name__(self) -> str: ...
        @property
        def __qualname__(self) -> str: ...
        @property
        def __wrapped__(self) -> Callable[P, Awaitable[R_co]]: ...

        def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, R_co]: ...

        def fallback(
            self, fallback: Callable[P, Any]
        ) -> Callable[P, Any]:
            """Registers the (sync or async) function called, with the same
            arguments, instead of raising CircuitBreakerOpenError."""
            ...

        @overload
        def __get__(
            self, instance: None, owner: type | None = None
        ) -> AsyncGuardedFunction[P, R_co]: ...
        @overload
        def __get__(
            self: AsyncGuardedFunction[Concatenate[S, P2], R_co],
            instance: S,
            owner: type | None = None,
        ) -> Callable[P2, Coroutine[Any, Any, R_co]]: ...


ExceptionFilter = Union[
    Type[BaseException],
    Sequence[Type[BaseException]],
    Callable[[BaseException], object],
]
"""Which exceptions a filter matches: a type, a tuple or list of types, or a
predicate called with the exception."""

_T = TypeVar("_T")
_UNSET: Any = object()

# The largest settings the core holds, as the core exports them
# (tripbit.LIMITS), never restated here.
_MAX_FAILURE_THRESHOLD: int = LIMITS["failure_threshold"]
_MAX_SUCCESS_THRESHOLD: int = LIMITS["success_threshold"]
_MAX_PROBES: int = LIMITS["probes"]
_MAX_NS = 2**64 - 1
_MAX_WINDOW: int = 10 * LIMITS["bucket_calls"]  # 10 buckets
_DEFAULT_BACKOFF_LEVEL = 4  # backoff=2 -> at most 2**4 = 16 x open_timeout

# How positional arguments bind: the drop-in's order, or, after a str
# first argument (the dotted key), the key alone: everything after it is a
# keyword (CircuitBreaker("svc", 5) would silently mean open_timeout=5).
_DROPIN_ORDER = ("failure_threshold", "open_timeout", "success_threshold", "name")
_KEY_ORDER = ("name",)

_CONFIG_KEYS = {
    "failure_threshold": "failure_threshold",
    "open_timeout_seconds": "open_timeout",
    "success_threshold": "success_threshold",
}
_OPTION_KEYS = frozenset(
    {
        "failure_rate",
        "min_calls",
        "window",
        "window_seconds",
        "slow_call",
        "slow_rate",
        "probes",
        "close_failure_rate",
        "backoff",
        "timeout",
        "probe_timeout",
        "stdout",
    }
)


def _type_name(value: object) -> str:
    return type(value).__name__


def _int(arg: str, value: object, lo: int, hi: int) -> int:
    """An integer argument: TypeError for a non-integer (bool included),
    ValueError outside lo..hi."""
    if isinstance(value, bool):
        raise TypeError(f"{arg} must be an int, got bool")
    try:
        n = operator.index(cast(Any, value))
    except TypeError:
        raise TypeError(f"{arg} must be an int, got {_type_name(value)}") from None
    if not lo <= n <= hi:
        raise ValueError(f"{arg} must be an integer in {lo}..{hi}, got {n!r}")
    return n


def _nanoseconds(arg: str, value: object, *, zero_ok: bool) -> int:
    """Seconds (int or float) as core ticks (ns): TypeError for a
    non-number, ValueError for NaN, infinity, a negative value, zero (unless
    zero_ok: then it is 1 ns, "at once") or more than 2**64 - 1 ns."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{arg} must be a number of seconds, got {_type_name(value)}")
    too_large = ValueError(
        f"{arg} is too large: at most {_MAX_NS // 1_000_000_000} seconds, got {value!r}"
    )
    try:
        seconds = float(value)
    except OverflowError:  # an int beyond any float
        raise too_large from None
    if math.isnan(seconds) or math.isinf(seconds):
        raise ValueError(f"{arg} must be a finite number of seconds, got {value!r}")
    if seconds < 0 or (seconds == 0 and not zero_ok):
        bar = ">= 0" if zero_ok else "> 0"
        raise ValueError(f"{arg} must be {bar} seconds, got {value!r}")
    if seconds > _MAX_NS / 1e9:  # before scaling: 1e300 * 1e9 is inf
        raise too_large
    if isinstance(value, int):
        ns = value * 1_000_000_000
    else:
        ns = round(seconds * 1e9)
    if ns > _MAX_NS:
        raise too_large
    return max(ns, 1)


def _seconds(arg: str, value: object) -> float | None:
    """An optional positive, finite number of seconds (None: no limit)."""
    if value is None:
        return None
    _nanoseconds(arg, value, zero_ok=False)
    return float(cast(float, value))


def _percent(arg: str, value: object, lo: int = 1, hi: int = 100) -> int:
    """A whole percent in lo..hi (an int, or a float with no fraction)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{arg} must be a percent (a number), got {_type_name(value)}")
    try:
        f = float(value)
    except OverflowError:
        f = math.inf
    if math.isnan(f) or math.isinf(f) or f != math.floor(f) or not lo <= f <= hi:
        raise ValueError(f"{arg} must be a whole percent in {lo}..{hi} (e.g. 50), got {value!r}")
    return int(f)


def _filter(arg: str, value: object) -> object:
    """An exception filter as the native breaker takes it: a tuple of
    exception types, or a predicate."""
    if value is None:
        return None
    if isinstance(value, type):
        value = (value,)
    if isinstance(value, (tuple, list, set, frozenset)):
        types = tuple(value)
        for t in types:
            if not (isinstance(t, type) and issubclass(t, BaseException)):
                raise TypeError(
                    f"{arg} must hold exception types, got {t!r} ({_type_name(t)})"
                )
        if not types and arg == "include":
            raise ValueError(
                "include must name at least one exception type: an empty include "
                "counts no failure, so the breaker could never open (leave include "
                "out to count every Exception)"
            )
        return types
    if callable(value):
        return value
    raise TypeError(
        f"{arg} must be an exception type, a tuple of them, or a predicate, got {_type_name(value)}"
    )


def _backoff(value: object) -> tuple[int, int]:
    if value is None:
        return (1, 0)
    if isinstance(value, tuple):
        if len(value) != 2:
            raise TypeError(f"backoff must be a factor or (factor, max_level), got {value!r}")
        return (
            _int("backoff factor", value[0], 1, LIMITS["backoff_factor"]),
            _int("backoff max_level", value[1], 0, LIMITS["backoff_level"]),
        )
    return (_int("backoff", value, 1, LIMITS["backoff_factor"]), _DEFAULT_BACKOFF_LEVEL)


class CircuitBreaker(CoreBreaker):
    """A circuit breaker: the drop-in for the gRPC tree's breaker, and the
    Pythonic API (``@breaker``, ``.fallback``, asyncio, listeners).

    Full documentation: ``help(tripbit)`` and the package README.
    """

    __slots__ = ()

    @overload
    def __new__(
        cls,
        failure_threshold: int = 3,
        open_timeout: float = 30.0,
        success_threshold: int = 1,
        name: str = "unknown",
        *,
        failure_rate: float | None = None,
        min_calls: int | None = None,
        window: int | None = None,
        window_seconds: float | None = None,
        slow_call: float | None = None,
        slow_rate: float | None = None,
        probes: int | None = None,
        close_failure_rate: float = 0,
        backoff: int | tuple[int, int] | None = None,
        include: ExceptionFilter | None = None,
        exclude: ExceptionFilter | None = None,
        timeout: float | None = None,
        probe_timeout: float | None = None,
        stdout: bool = True,
        shared: str | os.PathLike[str] | None = None,
    ) -> CircuitBreaker: ...

    @overload
    def __new__(
        cls,
        name: str,
        /,
        *,
        open_timeout: float = 30.0,
        success_threshold: int = 1,
        failure_threshold: int = 3,
        failure_rate: float | None = None,
        min_calls: int | None = None,
        window: int | None = None,
        window_seconds: float | None = None,
        slow_call: float | None = None,
        slow_rate: float | None = None,
        probes: int | None = None,
        close_failure_rate: float = 0,
        backoff: int | tuple[int, int] | None = None,
        include: ExceptionFilter | None = None,
        exclude: ExceptionFilter | None = None,
        timeout: float | None = None,
        probe_timeout: float | None = None,
        stdout: bool = False,
        shared: str | os.PathLike[str] | None = None,
    ) -> CircuitBreaker: ...

    def __new__(cls, *args: Any, **kwargs: Any) -> CircuitBreaker:
        # Positional arguments bind in the drop-in's order, except that a str
        # first argument is the name (a dotted key such as
        # "company.product.service"), followed by open_timeout and
        # success_threshold. Only a *positional* str is a name: a str given
        # as failure_threshold= is a TypeError like any non-int threshold.
        # The dotted-key style prints nothing unless stdout=True: it logs
        # through `logging` (logger "tripbit"); the drop-in constructor keeps
        # the original's stdout lines.
        keyed = bool(args) and isinstance(args[0], str)
        order = _KEY_ORDER if keyed else _DROPIN_ORDER
        if len(args) > len(order):
            if keyed:
                raise TypeError(
                    "CircuitBreaker(name, ...) takes the name as its only positional "
                    f"argument; give the others as keywords ({len(args)} positional given), "
                    'e.g. CircuitBreaker("acme.svc", failure_threshold=5, open_timeout=10)'
                )
            raise TypeError(
                f"CircuitBreaker() takes at most {len(order)} positional arguments "
                f"({len(args)} given)"
            )
        if keyed:
            kwargs.setdefault("stdout", False)
        for param, value in zip(order, args):
            if param in kwargs:
                raise TypeError(f"CircuitBreaker() got multiple values for argument {param!r}")
            kwargs[param] = value
        for key in kwargs:
            if key not in _PARAMS:
                raise TypeError(f"CircuitBreaker() got an unexpected keyword argument {key!r}")
        return cls._create(**kwargs)

    @classmethod
    def _create(
        cls,
        *,
        failure_threshold: Any = _UNSET,
        open_timeout: Any = 30.0,
        success_threshold: Any = 1,
        name: Any = "unknown",
        failure_rate: Any = None,
        min_calls: Any = None,
        window: Any = None,
        window_seconds: Any = None,
        slow_call: Any = None,
        slow_rate: Any = None,
        probes: Any = None,
        close_failure_rate: Any = 0,
        backoff: Any = None,
        include: Any = None,
        exclude: Any = None,
        timeout: Any = None,
        probe_timeout: Any = None,
        stdout: Any = True,
        shared: Any = None,
        fleet: Any = None,
    ) -> CircuitBreaker:
        # `fleet`: the tripbit.fleet.Monitor of a fleet breaker (its
        # Monitor.breaker() passes it; not a CircuitBreaker() argument).
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {_type_name(name)}")
        if not isinstance(stdout, bool):
            raise TypeError(f"stdout must be a bool, got {_type_name(stdout)}")

        window_policy = (
            failure_rate is not None
            or min_calls is not None
            or window is not None
            or window_seconds is not None
            or slow_call is not None
            or slow_rate is not None
        )
        if window_policy and failure_threshold is not _UNSET:
            raise ValueError(
                "failure_threshold (trip on consecutive failures) and failure_rate/window/"
                "slow_call (trip on a ratio over a window) are two policies: give one"
            )
        threshold = (
            3
            if failure_threshold is _UNSET
            else _int("failure_threshold", failure_threshold, 1, _MAX_FAILURE_THRESHOLD)
        )
        open_ns = _nanoseconds("open_timeout", open_timeout, zero_ok=True)
        successes = _int("success_threshold", success_threshold, 1, _MAX_SUCCESS_THRESHOLD)
        call_timeout = _seconds("timeout", timeout)
        # The probe deadline: by default the open period (at least 1 ns);
        # inf turns it off.
        if probe_timeout is None:
            probe_ns = None
        elif isinstance(probe_timeout, float) and math.isinf(probe_timeout) and probe_timeout > 0:
            probe_ns = _MAX_NS
        else:
            probe_ns = _nanoseconds("probe_timeout", probe_timeout, zero_ok=False)
        n_probes = (
            min(successes, _MAX_PROBES) if probes is None else _int("probes", probes, 1, _MAX_PROBES)
        )
        close_rate = _percent("close_failure_rate", close_failure_rate, 0, 99)
        factor, max_level = _backoff(backoff)

        kw: dict[str, Any] = {}
        if fleet is not None:
            kw["fleet"] = fleet
        if shared is not None:
            # A region file shared by every process of the host (Linux).
            if not isinstance(shared, (str, os.PathLike)):
                raise TypeError(f"shared must be a path (str or os.PathLike), got {_type_name(shared)}")
            path = os.fspath(shared)
            if not isinstance(path, str):
                raise TypeError(f"shared must be a str path, got {_type_name(path)}")
            kw["shared"] = path
        if window_policy:
            kw["failure_rate"] = 50 if failure_rate is None else _percent("failure_rate", failure_rate)
            if window is not None and window_seconds is not None:
                raise ValueError("give window (calls) or window_seconds (time), not both")
            if window_seconds is not None:
                kw["window_ns"] = _nanoseconds("window_seconds", window_seconds, zero_ok=False)
                calls_in_window = None
            else:
                calls_in_window = 100 if window is None else _int("window", window, 1, _MAX_WINDOW)
                kw["window_calls"] = calls_in_window
            if min_calls is None:
                kw["min_calls"] = 10 if calls_in_window is None else min(10, calls_in_window)
            else:
                kw["min_calls"] = _int("min_calls", min_calls, 1, 2**32 - 1)
                if calls_in_window is not None and kw["min_calls"] > calls_in_window:
                    raise ValueError(
                        f"min_calls ({kw['min_calls']}) is more than the window holds ({calls_in_window} calls): "
                        "the breaker could never trip"
                    )
            if slow_call is not None:
                kw["slow_ns"] = _nanoseconds("slow_call", slow_call, zero_ok=False)
                kw["slow_rate"] = 50 if slow_rate is None else _percent("slow_rate", slow_rate)
            elif slow_rate is not None:
                raise ValueError("slow_rate needs slow_call (the duration that makes a call slow)")

        return super().__new__(
            cls,
            name=name,
            open_timeout=open_timeout,
            open_ns=open_ns,
            failure_threshold=threshold,
            success_threshold=successes,
            probes=n_probes,
            close_failure_rate=close_rate,
            backoff_factor=factor,
            backoff_max_level=max_level,
            include=_filter("include", include),
            exclude=_filter("exclude", exclude),
            timeout=call_timeout,
            probe_ns=probe_ns,
            stdout=stdout,
            **kw,
        )

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        name: str = "unknown",
        **options: Any,
    ) -> CircuitBreaker:
        """A breaker from the gRPC tree's ``circuit_breakers`` JSON section
        (``failure_threshold``, ``open_timeout_seconds``,
        ``success_threshold``; missing keys take the defaults 3, 30.0, 1),
        or from a whole server config holding that section. The section may
        also name any keyword option (``failure_rate``, ``backoff``, ...);
        ``options`` override it. An unknown key is a ValueError."""
        if not isinstance(config, Mapping):
            raise TypeError(f"config must be a mapping, got {_type_name(config)}")
        section = config.get("circuit_breakers", config)
        if not isinstance(section, Mapping):
            raise TypeError(f"config['circuit_breakers'] must be a mapping, got {_type_name(section)}")
        kwargs: dict[str, Any] = {}
        for key, value in section.items():
            if key in _CONFIG_KEYS:
                kwargs[_CONFIG_KEYS[key]] = value
            elif key in _OPTION_KEYS:
                kwargs[key] = value
            else:
                known = ", ".join(sorted([*_CONFIG_KEYS, *_OPTION_KEYS]))
                raise ValueError(f"unknown circuit_breakers key {key!r} (known: {known})")
        kwargs.update(options)
        return cls(name=name, **kwargs)

    @overload
    def __call__(self, func: CM) -> CM: ...

    # (A staticmethod and an async function are callables too: the more
    # specific overloads come first, on purpose.)
    @overload
    def __call__(self, func: SM) -> SM: ...  # type: ignore[overload-overlap]

    @overload
    def __call__(  # type: ignore[overload-overlap]
        self, func: Callable[P, Coroutine[Any, Any, R]]
    ) -> AsyncGuardedFunction[P, R]: ...

    @overload
    def __call__(self, func: Callable[P, R]) -> GuardedFunction[P, R]: ...

    def __call__(self, func: Any) -> Any:
        """``@breaker``: guards every call of ``func``; ``async def``
        functions (and objects whose ``__call__`` is ``async def``) are
        awaited inside the guard, with ``timeout=`` if the breaker has one.
        The result has ``.fallback``, a decorator registering the function
        called (with the same arguments) instead of raising
        CircuitBreakerOpenError. Works above or below ``@classmethod`` and
        ``@staticmethod``. A generator function is a TypeError: its body
        runs during iteration, after the call returned."""
        if isinstance(func, (classmethod, staticmethod)):
            return type(func)(self(func.__func__))
        if not callable(func):
            raise TypeError(f"@CircuitBreaker needs a callable, got {_type_name(func)}")
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            what = "an async generator" if inspect.isasyncgenfunction(func) else "a generator"
            name = getattr(func, "__qualname__", repr(func))
            loop = "async for" if inspect.isasyncgenfunction(func) else "for"
            raise TypeError(
                f"@CircuitBreaker cannot guard {name}, {what} function: its body runs "
                "during iteration, after the call has returned, so its failures would "
                "never count. Guard the iteration instead: "
                f"`with breaker.guard(): {loop} item in {name}(...): ...`, or decorate "
                "the function that consumes it"
            )
        if _is_async_callable(func):
            return _guard_async(self, func)
        return _guard_sync(self, func)

    async def call_async(self, func: Callable[..., Awaitable[_T]], /, *args: Any, **kwargs: Any) -> _T:
        """Awaits ``func(*args, **kwargs)`` through the breaker: the
        asyncio twin of ``call()``, with the breaker's ``timeout=`` (a
        timeout counts as a failure). Cancellation counts nothing. A
        ``func`` whose result is not awaitable is a TypeError that counts
        nothing (use ``call()`` for sync functions)."""
        if not callable(func):
            raise TypeError(f"call_async() argument must be callable, got {_type_name(func)}")
        guard = self.guard()
        with guard:
            awaitable = func(*args, **kwargs)
            if not inspect.isawaitable(awaitable):
                guard.ignore()
                name = getattr(func, "__qualname__", _type_name(func))
                raise TypeError(
                    f"call_async() needs an async function: {name}() returned "
                    f"{_type_name(awaitable)}, which is not awaitable; use call() for a "
                    "sync function"
                )
            return await _with_timeout(awaitable, self.timeout)


# Every keyword CircuitBreaker() takes (`fleet` is Monitor.breaker()'s).
_PARAMS = frozenset(inspect.signature(CircuitBreaker._create).parameters) - {"fleet"}


def _public_signature() -> inspect.Signature:
    """``CircuitBreaker``'s signature as ``help()`` and ``inspect`` should
    show it (``__new__`` itself takes ``*args, **kwargs`` to tell a dotted
    key from a threshold)."""
    defaults = {"failure_threshold": 3, "name": "unknown"}
    params = []
    for p in inspect.signature(CircuitBreaker._create).parameters.values():
        if p.name not in _PARAMS:
            continue
        if p.name in _DROPIN_ORDER:
            p = p.replace(
                kind=inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=defaults.get(p.name, p.default),
            )
        params.append(p)
    params.sort(key=lambda p: p.kind)
    return inspect.Signature(params)


class _ClassSignature:
    """``__signature__`` of the class only: instances are callable too (as
    decorators) and keep the signature of ``__call__``."""

    def __init__(self, sig: inspect.Signature) -> None:
        self.sig = sig

    def __get__(self, obj: object, owner: type | None = None) -> inspect.Signature:
        if obj is not None:
            raise AttributeError("__signature__")
        return self.sig


setattr(CircuitBreaker, "__signature__", _ClassSignature(_public_signature()))


def _is_async_callable(func: object) -> bool:
    """``async def`` functions (also behind functools.partial), and objects
    whose ``__call__`` is ``async def``."""
    if inspect.iscoroutinefunction(func):
        return True
    if isinstance(func, type) or inspect.isfunction(func) or inspect.ismethod(func):
        return False
    return inspect.iscoroutinefunction(getattr(type(func), "__call__", None))


def _with_timeout(awaitable: Awaitable[_T], timeout: float | None) -> Awaitable[_T]:
    """``awaitable``, or, with a timeout, ``asyncio.wait_for`` of it: the
    deadline sits inside the guard, so reaching it (``TimeoutError``) counts
    as a failure, where ``wait_for`` around the guarded call would only
    cancel it (and a cancellation counts nothing)."""
    if timeout is None:
        return awaitable
    return asyncio.wait_for(awaitable, timeout)


async def _guarded_await(guard: Guard, awaitable: Awaitable[Any]) -> Any:
    """What a sync guarded call returns when its result is awaitable
    (``await cb.call(async_fn)``, a sync function returning a coroutine):
    the call is only over once awaited, so the await runs inside its
    guard. Never awaited, the guard is freed and counts nothing."""
    with guard:
        return await awaitable


def _guard_sync(breaker: CircuitBreaker, func: Callable[..., Any]) -> Any:
    # A native callable: one crossing into Rust per call (admit, call,
    # record, or the fallback), no Python wrapper frame. It binds as a
    # method, has `.fallback`, and takes functools' attributes in its
    # __dict__. No closure refers back to it, so it is freed at once.
    wrapper = SyncGuarded(breaker, func)
    functools.update_wrapper(wrapper, func)
    wrapper.breaker = breaker  # type: ignore[attr-defined]
    return wrapper


def _guard_async(breaker: CircuitBreaker, func: Callable[..., Any]) -> Any:
    fallback: Callable[..., Any] | None = None

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            guard = breaker.guard()
        except CircuitBreakerOpenError:
            if fallback is None:
                raise
            fb = fallback
        else:
            with guard:
                return await _with_timeout(func(*args, **kwargs), breaker.timeout)
        # Outside the except block, so the fallback's own errors do not
        # carry the rejection as their __context__.
        result = fb(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    def register(fb: Callable[..., Any]) -> Callable[..., Any]:
        nonlocal fallback
        if not callable(fb):
            raise TypeError(f"fallback must be callable, got {_type_name(fb)}")
        fallback = fb
        return fb

    wrapper.fallback = register  # type: ignore[attr-defined]
    wrapper.breaker = breaker  # type: ignore[attr-defined]
    return wrapper
