#!/usr/bin/env python3
"""Query the tree by hand.

    python client.py query [--port 50051] [--start 2025-08-20 --end 2025-09-01]
    python client.py stats [--port 50052]
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402

from common import proto  # noqa: E402
from common.config import address  # noqa: E402
from common.data import parse_day  # noqa: E402

tree_pb2, tree_pb2_grpc = proto.load()


def query(addr: str, start: int = 0, end: int = 0, timeout: float = 15.0, query_id: str = ""):
    """Run one Query; returns (rows received, summary, seconds)."""
    t0 = time.perf_counter()
    rows = 0
    summary = None
    with grpc.insecure_channel(addr) as channel:
        stub = tree_pb2_grpc.TreeServiceStub(channel)
        request = tree_pb2.QueryRequest(query_id=query_id, requested_by="client",
                                        start_time=start, end_time=end)
        for chunk in stub.Query(request, timeout=timeout):
            if chunk.WhichOneof("payload") == "batch":
                rows += len(chunk.batch.station_id)
            else:
                summary = chunk.summary
    return rows, summary, time.perf_counter() - t0


def stats(addr: str, timeout: float = 2.0) -> dict:
    with grpc.insecure_channel(addr) as channel:
        stub = tree_pb2_grpc.TreeServiceStub(channel)
        return json.loads(stub.Stats(tree_pb2.StatsRequest(), timeout=timeout).json)


def main() -> int:
    ap = argparse.ArgumentParser(description="Query the air-quality tree on 127.0.0.1.")
    ap.add_argument("command", choices=["query", "stats"])
    ap.add_argument("--port", type=int, default=50051, help="server port (default: gateway A, 50051)")
    ap.add_argument("--start", help="first day, e.g. 2025-08-20 (UTC)")
    ap.add_argument("--end", help="day after the last one, e.g. 2025-09-01 (UTC)")
    args = ap.parse_args()
    addr = address("127.0.0.1", args.port)
    try:
        if args.command == "stats":
            print(json.dumps(stats(addr), indent=2))
            return 0
        rows, summary, seconds = query(addr, parse_day(args.start) if args.start else 0,
                                       parse_day(args.end) if args.end else 0)
    except grpc.RpcError as e:
        print(f"error: {e.code().name}: {e.details()}", file=sys.stderr)
        return 1
    print(f"{rows:,} rows in {seconds:.3f}s")
    if summary is not None:
        for sid, n in sorted(summary.rows_by_server.items()):
            print(f"  {sid}: {n:,}")
        for c in summary.calls:
            print(f"  {c.caller}->{c.callee}: {c.outcome} ({c.detail}) {c.rows:,} rows "
                  f"in {c.seconds:.3f}s, breaker {c.breaker_state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
