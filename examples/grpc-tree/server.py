#!/usr/bin/env python3
"""One process of the air-quality query tree.

    python server.py configs/process_b.json
    python server.py --check-config configs/process_b.json

Gateway A -> team leaders B and E -> workers C (under B), D and F (under E).
Each process builds its own deterministic data partition at start-up, then
serves Query (server-streaming), Health and Stats on a loopback port. A
gateway or leader queries its query-enabled children in parallel, each call
guarded by one circuit breaker named "<from>-><to>", used exactly as the
original servers used their hand-written breaker. When a child fails or its
breaker is open, the server still answers with partial results: its own rows
plus whatever the other children returned.
"""

import argparse
import json
import signal
import sys
import threading
import time
import uuid
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `common` from any cwd

import grpc  # noqa: E402

from common import config as cfgmod  # noqa: E402
from common import proto  # noqa: E402
from common.config import ConfigError  # noqa: E402
from common.data import Store, generate  # noqa: E402
from common.health import HealthMonitor  # noqa: E402
from common.parent import die_with_parent  # noqa: E402

try:
    from common.circuit_breaker import CircuitBreaker, CircuitBreakerOpenError  # noqa: E402
except ImportError as _e:  # pragma: no cover - depends on the environment
    sys.exit(
        f"cannot import the circuit breaker ({_e}); install the tripbit wheel "
        "(pip install tripbit, or build py/ with maturin) in this interpreter"
    )

tree_pb2, tree_pb2_grpc = proto.load()

# A fresh channel per call and a private subchannel pool: a restarted child is
# reached by the very next call (no reconnect back-off carried over), and a
# hung child costs exactly the call's deadline.
CHANNEL_OPTIONS = [
    ("grpc.use_local_subchannel_pool", 1),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
]
# A child call must end before our own caller's deadline does, or one hung
# worker would also fail (and trip) every breaker above it.
DEADLINE_MARGIN = 0.25


@dataclass
class ChildResult:
    call: Any  # tree_pb2.ChildCall
    chunks: List[Any] = field(default_factory=list)
    summary: Optional[Any] = None


def build_breakers(server_id: str, cfg: dict):
    """One breaker per query-enabled neighbour, from the circuit_breakers section."""
    neighbors = cfgmod.query_neighbors(cfg)
    if not neighbors:
        return {}, None
    cb_config, notes = cfgmod.breaker_settings(cfg)
    for note in notes:
        print(f"[{server_id}] ⚠️ Circuit breaker config: {note}; using the documented default(s)")
    print(
        f"[{server_id}] Circuit breaker settings: failure_threshold={cb_config['failure_threshold']}, "
        f"open_timeout_seconds={cb_config['open_timeout_seconds']}, "
        f"success_threshold={cb_config['success_threshold']}"
    )
    circuit_breakers = {}
    for n in neighbors:
        name = f"{server_id}->{n['id']}"
        try:
            circuit_breakers[n["id"]] = CircuitBreaker(
                failure_threshold=cb_config["failure_threshold"],
                open_timeout=cb_config["open_timeout_seconds"],
                success_threshold=cb_config["success_threshold"],
                name=name,
            )
        except (ValueError, TypeError) as e:
            raise ConfigError(f"the breaker library rejected the settings for {name}: {e}") from None
    return circuit_breakers, cb_config


class TreeServer(tree_pb2_grpc.TreeServiceServicer):
    def __init__(self, cfg: dict, store: Store, circuit_breakers: dict, cb_config: Optional[dict]):
        self.id = cfg["id"]
        self.role = cfg["role"]
        self.store = store
        self.rpc_timeout = cfg["rpc_timeout_seconds"]
        self.started = time.time()
        self.query_neighbors = {
            n["id"]: cfgmod.address(n["host"], n["port"]) for n in cfgmod.query_neighbors(cfg)
        }
        self.circuit_breakers = circuit_breakers
        self.cb_config = cb_config
        self.pool = futures.ThreadPoolExecutor(
            max_workers=max(2, 4 * len(self.query_neighbors)), thread_name_prefix="fanout")
        monitored = [dict(n, addr=cfgmod.address(n["host"], n["port"])) for n in cfg.get("neighbors", [])]
        self.health = HealthMonitor(self.id, monitored, cfg["health_check_interval_seconds"],
                                    tree_pb2, tree_pb2_grpc, CHANNEL_OPTIONS)

    # ------------------------------------------------------------ child calls

    def _make_grpc_call(self, neighbor_address: str, request, timeout: float):
        """One Query to a child, read to the end (so a broken stream is one failure)."""
        with grpc.insecure_channel(neighbor_address, options=CHANNEL_OPTIONS) as channel:
            stub = tree_pb2_grpc.TreeServiceStub(channel)
            return list(stub.Query(request, timeout=timeout))

    def forward_to_children(self, internal_request, timeout: float):
        """Start the calls to all query-enabled children in parallel.

        Returns (futures of ChildResult, ChildCall records of skipped children).
        """
        pending = []
        skipped = []
        for neighbor_id, neighbor_address in self.query_neighbors.items():
            # Pre-check before attempting call
            cb_state = self.circuit_breakers[neighbor_id].get_state()
            if cb_state.value == "open":
                print(f"[{self.id}] ⏭️ Circuit breaker OPEN for {neighbor_id}, skipping call (fail-fast)")
                skipped.append(self._call_record(neighbor_id, "skipped", "circuit breaker open"))
                continue
            pending.append(self.pool.submit(
                self._query_child, neighbor_id, neighbor_address, internal_request, timeout))
        return pending, skipped

    def _query_child(self, neighbor_id: str, neighbor_address: str, internal_request, timeout: float):
        t0 = time.perf_counter()
        try:
            # Wrap call with circuit breaker
            response = self.circuit_breakers[neighbor_id].call(
                lambda: self._make_grpc_call(neighbor_address, internal_request, timeout)
            )
        except CircuitBreakerOpenError:
            # Also catch exception (safety net)
            print(f"[{self.id}] ⏭️ Circuit breaker OPEN for {neighbor_id}, skipping call (fail-fast)")
            return ChildResult(self._call_record(neighbor_id, "skipped", "circuit breaker open"))
        except grpc.RpcError as e:
            failure_count = self.circuit_breakers[neighbor_id].get_stats()["failure_count"]
            print(
                f"[{self.id}] ❌ Error contacting {neighbor_id}: {e.code()} "
                f"(failure count: {failure_count}/{self.cb_config['failure_threshold']})"
            )
            return ChildResult(self._call_record(
                neighbor_id, "failed", e.code().name, seconds=time.perf_counter() - t0))
        except Exception as e:  # a bug, not a network fault; the breaker counted it too
            print(f"[{self.id}] ❌ Unexpected error querying {neighbor_id}: {e!r}")
            return ChildResult(self._call_record(
                neighbor_id, "failed", type(e).__name__, seconds=time.perf_counter() - t0))
        seconds = time.perf_counter() - t0

        result = ChildResult(None)
        rows = 0
        for chunk in response:
            if chunk.WhichOneof("payload") == "batch":
                rows += len(chunk.batch.station_id)
                result.chunks.append(chunk)
            else:
                result.summary = chunk.summary
        result.call = self._call_record(neighbor_id, "ok", "OK", rows=rows, seconds=seconds)
        return result

    def _call_record(self, neighbor_id, outcome, detail, rows=0, seconds=0.0):
        return tree_pb2.ChildCall(
            caller=self.id, callee=neighbor_id, outcome=outcome, detail=detail, rows=rows,
            seconds=seconds, breaker_state=self.circuit_breakers[neighbor_id].get_stats()["state"])

    def _child_timeout(self, context) -> float:
        remaining = context.time_remaining()
        if remaining is None:
            return self.rpc_timeout
        return max(0.05, min(self.rpc_timeout, remaining - DEADLINE_MARGIN))

    # ------------------------------------------------------------------ RPCs

    def Query(self, request, context):
        t0 = time.perf_counter()
        query_id = request.query_id or uuid.uuid4().hex[:8]
        internal_request = tree_pb2.QueryRequest(
            query_id=query_id, requested_by=self.id,
            start_time=request.start_time, end_time=request.end_time)

        # Children first, so their work overlaps with streaming our own rows.
        pending, calls = self.forward_to_children(internal_request, self._child_timeout(context))

        local_rows, chunks = self.store.select(request.start_time, request.end_time)
        yield from chunks
        rows_by_server = {self.id: local_rows}

        subtree_calls = []
        for fut in futures.as_completed(pending):
            result = fut.result()
            calls.append(result.call)
            yield from result.chunks
            if result.summary is not None:
                for sid, n in result.summary.rows_by_server.items():
                    rows_by_server[sid] = rows_by_server.get(sid, 0) + n
                subtree_calls.extend(result.summary.calls)

        total = sum(rows_by_server.values())
        seconds = time.perf_counter() - t0
        if self.query_neighbors:
            parts = ", ".join(
                f"{c.callee} {c.outcome} {c.rows:,} rows in {c.seconds:.3f}s" for c in calls)
            print(f"[{self.id}] Query {query_id} from {request.requested_by or 'client'}: "
                  f"local {local_rows:,}; {parts} -> {total:,} rows in {seconds:.3f}s")
        summary = tree_pb2.QuerySummary(server_id=self.id, seconds=seconds)
        summary.rows_by_server.update(rows_by_server)
        summary.calls.extend(calls)
        summary.calls.extend(subtree_calls)
        yield tree_pb2.QueryChunk(summary=summary)

    def Health(self, request, context):
        return tree_pb2.HealthReply(server_id=self.id, role=self.role, local_rows=len(self.store),
                                    uptime_seconds=time.time() - self.started)

    def Stats(self, request, context):
        body = {
            "server_id": self.id,
            "role": self.role,
            "local_rows": len(self.store),
            "breaker_settings": self.cb_config,
            "breakers": {f"{self.id}->{nid}": cb.get_stats() for nid, cb in self.circuit_breakers.items()},
            "health": self.health.snapshot(),
        }
        return tree_pb2.StatsReply(server_id=self.id, json=json.dumps(body))


def main(argv=None) -> int:
    sys.stdout.reconfigure(line_buffering=True)  # one line at a time, also into a log file
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", help="path to configs/process_X.json")
    ap.add_argument("--check-config", action="store_true",
                    help="check the config, build the breakers, print the settings and exit")
    args = ap.parse_args(argv)

    sid = "?"
    try:
        cfg = cfgmod.load(args.config)
        sid = cfg["id"]
        circuit_breakers, cb_config = build_breakers(sid, cfg)
    except ConfigError as e:
        print(f"[{sid}] ❌ Invalid config {args.config}: {e}", file=sys.stderr)
        return 2
    if args.check_config:
        print(f"[{sid}] ✅ Config OK: {args.config}")
        return 0

    d = cfg["data"]
    t0 = time.perf_counter()
    partition = generate(sid, d["rows"], d["seed"], d["start"], d["days"], d["stations"], d["first_station"])
    store = Store(tree_pb2, partition)
    gen_seconds = time.perf_counter() - t0

    servicer = TreeServer(cfg, store, circuit_breakers, cb_config)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="rpc"),
                         options=[("grpc.so_reuseport", 0)])
    tree_pb2_grpc.add_TreeServiceServicer_to_server(servicer, server)
    listen = cfgmod.address(cfg["host"], cfg["port"])
    try:
        bound = server.add_insecure_port(listen)
    except RuntimeError:
        bound = 0
    if not bound:
        print(f"[{sid}] ❌ Cannot listen on {listen} (port in use?)", file=sys.stderr)
        return 3
    server.start()
    children = ", ".join(servicer.query_neighbors) or "none"
    print(f"[{sid}] 🚀 {cfg['role']} listening on {listen}: {len(store):,} local rows "
          f"(generated in {gen_seconds:.2f}s), children: {children}")
    servicer.health.start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    die_with_parent()
    while not stop.wait(1.0):
        pass
    servicer.health.stop()
    server.stop(grace=0.5).wait()
    servicer.pool.shutdown(wait=False)
    print(f"[{sid}] 👋 stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
