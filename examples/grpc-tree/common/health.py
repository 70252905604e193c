"""Background health monitor: observability only, independent of the breakers.

Every interval it pings each neighbour's Health RPC and keeps a status:
HEALTHY (last ping answered), DEGRADED (1 or 2 pings in a row failed),
UNAVAILABLE (3 or more in a row). It prints a line only when a status
changes. It never opens, closes or consults a circuit breaker.
"""

import threading
from typing import Dict, List

import grpc

UNAVAILABLE_AFTER = 3
PING_TIMEOUT = 0.5


class HealthMonitor:
    def __init__(self, server_id: str, neighbors: List[dict], interval: float,
                 pb, pb_grpc, channel_options):
        self.server_id = server_id
        self.neighbors = neighbors
        self.interval = interval
        self._pb = pb
        self._pb_grpc = pb_grpc
        self._options = channel_options
        self.lock = threading.Lock()
        self.status: Dict[str, str] = {n["id"]: "UNKNOWN" for n in neighbors}
        self.failures: Dict[str, int] = {n["id"]: 0 for n in neighbors}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="health-monitor", daemon=True)

    def start(self) -> None:
        if self.neighbors:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def snapshot(self) -> Dict[str, dict]:
        with self.lock:
            return {nid: {"status": self.status[nid], "consecutive_failures": self.failures[nid]}
                    for nid in self.status}

    def _ping(self, addr: str) -> str:
        try:
            with grpc.insecure_channel(addr, options=self._options) as channel:
                stub = self._pb_grpc.TreeServiceStub(channel)
                stub.Health(self._pb.HealthRequest(from_id=self.server_id), timeout=PING_TIMEOUT)
            return ""
        except grpc.RpcError as e:
            return e.code().name

    def _run(self) -> None:
        # Give the neighbours a moment to come up before the first round.
        while not self._stop.wait(self.interval):
            for n in self.neighbors:
                error = self._ping(n["addr"])
                with self.lock:
                    old = self.status[n["id"]]
                    if error:
                        self.failures[n["id"]] += 1
                        k = self.failures[n["id"]]
                        new = "UNAVAILABLE" if k >= UNAVAILABLE_AFTER else "DEGRADED"
                    else:
                        self.failures[n["id"]] = 0
                        new = "HEALTHY"
                    self.status[n["id"]] = new
                    k = self.failures[n["id"]]
                if new != old:
                    why = f" ({k} failed pings in a row, last: {error})" if error else ""
                    print(f"[{self.server_id}] 🩺 Health: {n['id']} {old} -> {new}{why}", flush=True)
