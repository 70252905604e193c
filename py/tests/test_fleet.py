"""tripbit.fleet against a real redis-server and a real processor.

The module starts its own ``redis-server`` (Debian's, installed by
scripts/setup.sh) on a free loopback port and one ``tripbit-fleet
processor`` (the binary py/test.sh builds, found through
``TRIPBIT_FLEET_BIN``), and stops both by PID. Every test uses keys of its
own. Propagation is polled with a deadline; nothing here times speed.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, TypeVar

import pytest

import tripbit

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="tripbit.fleet is Linux-only")

if sys.platform == "linux":
    import tripbit.fleet
    from tripbit.fleet import CloseTimeoutError, FleetError

T = TypeVar("T")
WAIT = 20.0  # deadline for anything to propagate (a loaded CI machine)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def poll(what: str, f: Callable[[], Optional[T]], within: float = WAIT) -> T:
    """``f()`` every 10 ms until it returns something other than None."""
    deadline = time.monotonic() + within
    while True:
        v = f()
        if v is not None:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        time.sleep(0.01)


def redis(port: int, *args: str) -> Any:
    """One Redis command over a fresh connection (RESP2)."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        b = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(b), b)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s, s.makefile("rb") as f:
        s.sendall(out)

        def read() -> Any:
            line = f.readline()
            kind, rest = line[:1], line[1:-2]
            if kind == b"+":
                return rest.decode()
            if kind == b"-":
                raise RuntimeError(rest.decode())
            if kind == b":":
                return int(rest)
            if kind == b"$":
                n = int(rest)
                if n < 0:
                    return None
                data = f.read(n + 2)[:-2]
                return data.decode()
            if kind == b"*":
                return [read() for _ in range(int(rest))]
            raise RuntimeError(f"unexpected reply {line!r}")

        return read()


def hgetall(port: int, key: str) -> Dict[str, str]:
    flat = redis(port, "HGETALL", key)
    return dict(zip(flat[::2], flat[1::2]))


def totals(port: int, key: str, prefix: str = "tb") -> Dict[str, int]:
    """The processor's cumulative totals of ``key`` (<prefix>:totals:<key>)."""
    h = hgetall(port, f"{prefix}:totals:{key}")
    return {k: int(h.get(k, 0)) for k in ("success", "failure", "slow", "rejected", "local")}


class Server:
    def __init__(self, port: int, proc: "subprocess.Popen[bytes]") -> None:
        self.port = port
        self.proc = proc

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def stop(proc: "subprocess.Popen[Any]") -> None:
    """Stops a child we started, by its PID."""
    if proc.poll() is None:
        os.kill(proc.pid, 9)
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def fleet_bin() -> str:
    path = os.environ.get("TRIPBIT_FLEET_BIN")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(
            "TRIPBIT_FLEET_BIN must name the tripbit-fleet binary (py/test.sh builds it: "
            "cargo build -p tripbit-fleet --bin tripbit-fleet)"
        )
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fleet_bin: str) -> Iterator[Server]:
    """A redis-server of our own, and a processor on it (ticks every 50 ms,
    trips at 50 % failures over at least 20 calls, stays open 60 s)."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.fail("redis-server must be installed (scripts/setup.sh installs it)")
    port = free_port()
    r = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    procs: List["subprocess.Popen[Any]"] = [r]
    try:

        def pong() -> Optional[bool]:
            try:
                return True if redis(port, "PING") == "PONG" else None
            except OSError:
                return None

        poll("redis-server to answer PING", pong)
        with open(tmp_path_factory.mktemp("fleet") / "processor.log", "wb") as log:
            p = subprocess.Popen(
                [
                    fleet_bin, "processor", "--redis", f"redis://127.0.0.1:{port}/0",
                    "--tick-ms", "50", "--poll-ms", "10", "--min-calls", "20",
                    "--failure-percent", "50", "--open-ms", "60000",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        procs.append(p)
        poll("the processor to take the lease", lambda: redis(port, "GET", "tb:leader"))
        yield Server(port, r)
    finally:
        for proc in reversed(procs):
            stop(proc)


def ok() -> str:
    return "ok"


class Down(Exception):
    """The upstream is down."""


def down() -> None:
    raise Down("down")


def wait_totals(port: int, key: str, expected: Dict[str, int], prefix: str = "tb") -> None:
    """Waits until the processor applied every batch and the fleet totals
    of ``key`` equal ``expected`` (what the monitors sent)."""

    def equal() -> Optional[bool]:
        drained = redis(port, "XLEN", f"{prefix}:batches") == 0
        return True if drained and totals(port, key, prefix) == expected else None

    try:
        poll(f"the fleet totals of {key} to be {expected}", equal)
    finally:
        assert totals(port, key, prefix) == expected


def test_counts_reach_redis_exactly(server: Server) -> None:
    key = "pytest.counts.exact"
    m = tripbit.fleet.connect(server.url, app="pytest", flush_interval=0.05)
    cb = m.breaker(key, failure_threshold=1000)
    assert isinstance(cb, tripbit.CircuitBreaker)
    assert cb.name == key

    @cb
    def double(x: int) -> int:
        return 2 * x

    for i in range(300):
        assert cb.call(ok) == "ok"
        assert double(i) == 2 * i
    for _ in range(40):
        with pytest.raises(Down):
            cb.call(down)
    with cb.guard() as g:
        g.ignore()  # counts nothing
    acked = m.close()
    expected = {"success": 600, "failure": 40, "slow": 0, "rejected": 0, "local": 0}
    assert acked == {key: expected}
    assert m.stats()["acked"] == {key: expected}
    wait_totals(server.port, key, expected)
    # Every batch names its monitor, host and pid.
    mon = hgetall(server.port, f"tb:monitor:{m.id}")
    assert mon["host"] == m.host
    assert int(mon["pid"]) == os.getpid() == m.pid
    assert mon["app"] == "pytest"
    assert int(mon["success"]) == 600 and int(mon["failure"]) == 40


FAILING_MONITOR = textwrap.dedent(
    """
    import json, sys
    import tripbit.fleet
    url, key, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    m = tripbit.fleet.connect(url, app="pytest-failing", flush_interval=0.05)
    cb = m.breaker(key, failure_threshold=1000)
    def down():
        raise ConnectionError("upstream down")
    for _ in range(n):
        try:
            cb.call(down)
        except ConnectionError:
            pass
    print(json.dumps({"id": m.id, "acked": m.close(timeout=10)}))
    """
)


def test_the_fleet_trips_and_a_healthy_monitor_rejects(server: Server) -> None:
    key = "pytest.trip.hotels"
    healthy = tripbit.fleet.connect(server.url, app="pytest-healthy", flush_interval=0.05)
    cb = healthy.breaker(key)
    seen: List[tripbit.Transition] = []
    cb.add_listener(seen.append)

    @cb
    def search() -> str:
        return "3 hotels"

    @search.fallback
    def cached() -> str:
        return "cached"

    assert search() == "3 hotels"
    # Three failing processes: 3 x 15 failures, none enough to open their
    # own local breakers (threshold 1000); the fleet's ratio trips the key.
    children = [
        subprocess.Popen(
            [sys.executable, "-c", FAILING_MONITOR, server.url, key, "15"],
            stdout=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    results = []
    for c in children:
        out, _ = c.communicate(timeout=60)
        assert c.returncode == 0
        results.append(json.loads(out))
    assert all(r["acked"][key]["failure"] == 15 for r in results)
    assert len({r["id"] for r in results}) == 3
    # The healthy process's local breaker saw no failure, yet rejects: the
    # fleet's verdict is mirrored into it.
    poll("the unhealthy verdict", lambda: True if cb.fleet_verdict()[0] == "unhealthy" else None)  # type: ignore[index]
    assert cb.get_state() == tripbit.CircuitState.OPEN
    with pytest.raises(tripbit.CircuitBreakerOpenError):
        cb.call(ok)
    assert search() == "cached"
    assert [(t.old_state, t.new_state) for t in seen][-1:] == [("closed", "forced_open")]
    acked = healthy.close()
    assert acked[key] == {"success": 1, "failure": 0, "slow": 0, "rejected": 2, "local": 0}
    wait_totals(
        server.port, key, {"success": 1, "failure": 45, "slow": 0, "rejected": 2, "local": 0}
    )


def force(fleet_bin: str, server: Server, key: str, state: str) -> None:
    subprocess.run(
        [fleet_bin, "force", "--redis", server.url, "--key", key, "--state", state, "--by", "pytest"],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=30,
    )


def test_a_forced_state_reaches_the_python_breaker(server: Server, fleet_bin: str) -> None:
    key = "pytest.force.maps"
    m = tripbit.fleet.connect(server.url, flush_interval=0.05)
    cb = m.breaker(key, failure_threshold=2)
    assert cb.call(ok) == "ok"
    assert cb.fleet_verdict()[0] == "healthy"  # type: ignore[index]

    force(fleet_bin, server, key, "unhealthy")

    def rejected() -> Optional[bool]:
        try:
            cb.call(ok)
        except tripbit.CircuitBreakerOpenError:
            return True
        return None

    poll("the forced-unhealthy verdict", rejected)
    assert cb.fleet_verdict()[0] == "forced_unhealthy"  # type: ignore[index]
    assert cb.get_state() == tripbit.CircuitState.OPEN

    # Forced healthy: every call admitted, even past the local threshold.
    force(fleet_bin, server, key, "healthy")
    poll("the forced-healthy verdict", lambda: True if cb.fleet_verdict()[0] == "forced_healthy" else None)  # type: ignore[index]
    for _ in range(5):
        with pytest.raises(Down):
            cb.call(down)
    assert cb.call(ok) == "ok"

    # Cleared: the local policy decides again.
    force(fleet_bin, server, key, "reset")
    poll("the force cleared", lambda: True if cb.fleet_verdict()[0] == "healthy" else None)  # type: ignore[index]
    assert cb.get_state() == tripbit.CircuitState.CLOSED
    for _ in range(2):
        with pytest.raises(Down):
            cb.call(down)
    with pytest.raises(tripbit.CircuitBreakerOpenError):
        cb.call(ok)
    m.close()


def test_redis_down_at_connect_calls_work_locally_and_close_raises_after_its_timeout() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    m = tripbit.fleet.connect(url, flush_interval=0.05, close_timeout=0.3)
    assert m.close_timeout == pytest.approx(0.3)
    cb = m.breaker("pytest.down.search", failure_threshold=2)
    for _ in range(100):
        assert cb.call(ok) == "ok"
    for _ in range(2):
        with pytest.raises(Down):
            cb.call(down)
    # The local breaker still protects the process.
    with pytest.raises(tripbit.CircuitBreakerOpenError):
        cb.call(ok)
    poll("a failed flush", lambda: True if m.stats()["store_errors"] > 0 else None)
    s = m.stats()
    assert not s["connected"]
    assert s["counted"]["pytest.down.search"] == {
        "success": 100, "failure": 2, "slow": 0, "rejected": 1, "local": 1,
    }
    assert s["acked"] == {}
    t0 = time.monotonic()
    with pytest.raises(CloseTimeoutError) as e:
        m.close()
    assert time.monotonic() - t0 >= 0.3
    assert isinstance(e.value, TimeoutError)
    assert isinstance(e.value, FleetError)
    assert isinstance(e.value, tripbit.TripbitError)
    assert "103 counted calls not acknowledged" in str(e.value)
    # Still local after close.
    assert cb.get_state() == tripbit.CircuitState.OPEN


def test_close_with_its_own_timeout_and_twice() -> None:
    m = tripbit.fleet.connect(f"redis://127.0.0.1:{free_port()}/0", flush_interval=0.05)
    m.breaker("pytest.down.close").call(ok)
    t0 = time.monotonic()
    with pytest.raises(CloseTimeoutError):
        m.close(timeout=0.2)
    assert time.monotonic() - t0 >= 0.2
    with pytest.raises(FleetError, match="already closed"):
        m.close()
    with pytest.raises(FleetError, match="closed"):
        m.breaker("pytest.down.other")


def test_context_manager_closes_and_acknowledges(server: Server) -> None:
    key = "pytest.with.cart"
    with tripbit.fleet.connect(server.url, app="pytest-with", flush_interval=10) as m:
        assert isinstance(m, tripbit.fleet.Monitor)
        cb = m.breaker(key)
        for _ in range(7):
            cb.call(ok)
    # The flush interval is 10 s: only the close sent these.
    assert m.stats()["acked"] == {key: {"success": 7, "failure": 0, "slow": 0, "rejected": 0, "local": 0}}
    wait_totals(server.port, key, {"success": 7, "failure": 0, "slow": 0, "rejected": 0, "local": 0})
    with pytest.raises(FleetError):
        m.close()


def test_same_key_shares_one_local_breaker_and_fleet_entry(server: Server) -> None:
    key = "pytest.same.key"
    m = tripbit.fleet.connect(server.url, flush_interval=0.05)
    a = m.breaker(key, failure_threshold=2, open_timeout=60)
    b = m.breaker(key, failure_threshold=2, open_timeout=60)
    assert a is not b
    with pytest.raises(Down):
        a.call(down)
    with pytest.raises(Down):
        b.call(down)
    assert a.get_state() == b.get_state() == tripbit.CircuitState.OPEN
    with pytest.raises(ValueError, match=key):
        m.breaker(key, failure_threshold=3, open_timeout=60)
    assert m.close() == {key: {"success": 0, "failure": 2, "slow": 0, "rejected": 0, "local": 0}}


def test_async_calls_and_call_async_are_counted(server: Server) -> None:
    import asyncio

    key = "pytest.async.rates"
    m = tripbit.fleet.connect(server.url, flush_interval=0.05)
    cb = m.breaker(key, failure_threshold=100)

    @cb
    async def rate() -> float:
        await asyncio.sleep(0)
        return 1.25

    async def broken() -> None:
        raise Down("down")

    async def main() -> None:
        for _ in range(5):
            assert await rate() == 1.25
        with pytest.raises(Down):
            await cb.call_async(broken)

    asyncio.run(main())
    assert m.close() == {key: {"success": 5, "failure": 1, "slow": 0, "rejected": 0, "local": 0}}


def test_bad_arguments_name_themselves() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    for bad_url in ["not a url", "http://127.0.0.1:1/0", ""]:
        with pytest.raises(ValueError, match="url"):
            tripbit.fleet.connect(bad_url)
    with pytest.raises(TypeError, match="url"):
        tripbit.fleet.connect(6379)  # type: ignore[arg-type]
    for bad in [0, -1, math.nan, math.inf, 1e300]:
        with pytest.raises(ValueError, match="flush_interval"):
            tripbit.fleet.connect(url, flush_interval=bad)
    for bad_type in ["0.25", None, True]:
        with pytest.raises(TypeError, match="flush_interval"):
            tripbit.fleet.connect(url, flush_interval=bad_type)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="app"):
        tripbit.fleet.connect(url, app=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="close_timeout"):
        tripbit.fleet.connect(url, close_timeout=-1)
    with pytest.raises(ValueError, match="id"):
        tripbit.fleet.connect(url, id="has space")
    with pytest.raises(ValueError, match="prefix"):
        tripbit.fleet.connect(url, prefix="tb x")

    m = tripbit.fleet.connect(url, flush_interval=0.05, close_timeout=0.1)
    for key in ["", "has space.x", "nodots", "a..b", "a." + "x" * 200]:
        with pytest.raises(ValueError) as e:
            m.breaker(key)
        assert repr(key).strip("'") in str(e.value) or f'"{key}"' in str(e.value), str(e.value)
    with pytest.raises(TypeError, match="key"):
        m.breaker(b"acme.a.b")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="failure_threshold"):
        m.breaker("pytest.bad.options", failure_threshold=0)
    with pytest.raises(TypeError, match="open_timeout"):
        m.breaker("pytest.bad.options", open_timeout="30")
    with pytest.raises(ValueError, match="failure_rate"):
        m.breaker("pytest.bad.options", failure_rate=50)
    with pytest.raises(TypeError, match="name"):
        m.breaker("pytest.bad.options", name="other")
    with pytest.raises(TypeError, match="shared"):
        m.breaker("pytest.bad.options", shared="/dev/shm/x")
    with pytest.raises(TypeError, match="colour"):
        m.breaker("pytest.bad.options", colour="red")
    with pytest.raises(ValueError, match="timeout"):
        m.close(timeout=0)
    # A plain breaker is no fleet breaker.
    assert tripbit.CircuitBreaker("acme.plain.one").fleet_verdict() is None
    with pytest.raises(TypeError, match="unexpected keyword argument 'fleet'"):
        tripbit.CircuitBreaker("acme.plain.two", fleet=m)  # type: ignore[call-overload]
    # Nothing was counted: nothing to acknowledge, even with Redis down.
    assert m.close() == {}


def test_connect_never_waits_on_a_blackholed_redis() -> None:
    """A listener that accepts connections and never answers: connect and
    every guarded call return at once (the monitor's thread alone waits,
    within its timeouts)."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    try:
        url = f"redis://127.0.0.1:{hole.getsockname()[1]}/0"
        m = tripbit.fleet.connect(url, flush_interval=0.05, close_timeout=0.2)
        cb = m.breaker("pytest.hole.search")
        for _ in range(1000):
            cb.call(ok)
        poll("a failed flush", lambda: True if m.stats()["store_errors"] > 0 else None)
        assert m.stats()["counted"]["pytest.hole.search"]["success"] == 1000
        with pytest.raises(CloseTimeoutError):
            m.close()
    finally:
        hole.close()


def test_calls_from_many_threads_are_counted_exactly(server: Server) -> None:
    import threading

    key = "pytest.threads.count"
    m = tripbit.fleet.connect(server.url, flush_interval=0.05)
    cb = m.breaker(key, failure_threshold=10_000)

    def work(i: int) -> None:
        for j in range(500):
            if (i + j) % 10 == 0:
                with pytest.raises(Down):
                    cb.call(down)
            else:
                cb.call(ok)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = {"success": 3600, "failure": 400, "slow": 0, "rejected": 0, "local": 0}
    assert m.close() == {key: expected}
    wait_totals(server.port, key, expected)


def test_the_fleet_recovers_through_fleet_wide_probes(
    server: Server, fleet_bin: str, tmp_path: Path
) -> None:
    """A processor of its own (key prefix tbr) that opens for 1 s and
    closes after 2 probe successes: trip, probes, healthy again."""
    key = "pytest.recover.flights"
    with open(tmp_path / "processor.log", "wb") as log:
        proc = subprocess.Popen(
            [
                fleet_bin, "processor", "--redis", server.url, "--prefix", "tbr",
                "--tick-ms", "50", "--poll-ms", "10", "--min-calls", "20",
                "--failure-percent", "50", "--open-ms", "1000", "--close-after", "2",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        poll("the processor to take the lease", lambda: redis(server.port, "GET", "tbr:leader"))
        m = tripbit.fleet.connect(server.url, flush_interval=0.05, prefix="tbr")
        cb = m.breaker(key, failure_threshold=1000)
        seen: List[tripbit.Transition] = []
        cb.add_listener(seen.append)
        for _ in range(30):
            with pytest.raises(Down):
                cb.call(down)

        verdicts = set()

        def rejected() -> Optional[bool]:
            verdicts.add(cb.fleet_verdict()[0])  # type: ignore[index]
            try:
                cb.call(ok)
            except tripbit.CircuitBreakerOpenError:
                return True
            return None

        poll("the unhealthy verdict", rejected)

        def healthy_again() -> Optional[bool]:
            verdicts.add(cb.fleet_verdict()[0])  # type: ignore[index]
            try:
                cb.call(ok)
            except tripbit.CircuitBreakerOpenError:
                return None
            return True if cb.fleet_verdict()[0] == "healthy" else None  # type: ignore[index]

        poll("the fleet to recover", healthy_again)
        assert "unhealthy" in verdicts
        # The processor's own record: tripped, probed, recovered.
        log = [json.loads(t) for t in redis(server.port, "LRANGE", f"tbr:transitions:{key}", "0", "-1")]
        states = [t["to"] for t in reversed(log)]
        assert states[-3:] == ["unhealthy", "recovering", "healthy"], states
        assert cb.get_state() == tripbit.CircuitState.CLOSED
        moves = [(t.old_state, t.new_state) for t in seen]
        assert moves[0] == ("closed", "forced_open"), moves
        assert ("forced_open", "closed") in moves, moves
        acked = m.close()
        assert acked[key]["failure"] == 30
        assert acked[key]["rejected"] >= 1
        assert acked == m.stats()["counted"]
        wait_totals(server.port, key, dict(acked[key]), prefix="tbr")
    finally:
        stop(proc)
