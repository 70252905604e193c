"""Deterministic synthetic air-quality partitions.

Each server owns one partition: ``rows`` hourly-ish measurements spread
evenly over ``days`` days from ``start``, across ``stations`` stations. The
same config always yields the same rows, so the scenario knows every count.
"""

import bisect
import calendar
import math
import random
import time
from dataclasses import dataclass, field
from typing import Iterator, List

CHUNK_ROWS = 8192  # rows per MeasurementBatch (~190 KB on the wire)


@dataclass
class Partition:
    source: str
    station_id: List[int] = field(default_factory=list)
    timestamp: List[int] = field(default_factory=list)
    pm25: List[float] = field(default_factory=list)
    pm10: List[float] = field(default_factory=list)
    temperature_c: List[float] = field(default_factory=list)
    humidity_pct: List[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.timestamp)


def parse_day(text: str) -> int:
    """'2025-08-10' -> unix seconds at 00:00 UTC."""
    return calendar.timegm(time.strptime(text, "%Y-%m-%d"))


def generate(source: str, rows: int, seed: int, start: str, days: int,
             stations: int, first_station: int) -> Partition:
    rng = random.Random(seed)
    t0 = parse_day(start)
    span = days * 86400
    base = [rng.uniform(6.0, 30.0) for _ in range(stations)]
    two_pi_day = 2.0 * math.pi / 86400.0
    p = Partition(source)
    sid, ts, p25, p10, temp, hum = (p.station_id, p.timestamp, p.pm25, p.pm10,
                                    p.temperature_c, p.humidity_pct)
    rand = rng.random
    for i in range(rows):
        t = t0 + (i * span) // rows  # sorted by time
        s = i % stations
        phase = (t % 86400) * two_pi_day
        v = base[s] + 5.0 * math.sin(phase - 1.8) + 8.0 * (rand() - 0.5)
        v = 0.5 if v < 0.5 else v
        c = 21.0 + 6.0 * math.sin(phase - 2.4) + 2.0 * (rand() - 0.5)
        sid.append(first_station + s)
        ts.append(t)
        p25.append(v)
        p10.append(v * (1.3 + 0.6 * rand()))
        temp.append(c)
        hum.append(min(100.0, max(5.0, 62.0 - 1.5 * (c - 21.0) + 10.0 * (rand() - 0.5))))
    return p


class Store:
    """A partition plus its pre-built chunks (the common, unfiltered query)."""

    def __init__(self, pb, partition: Partition):
        self._pb = pb
        self.partition = partition
        self._all = list(self._build(0, len(partition)))

    def __len__(self) -> int:
        return len(self.partition)

    def _build(self, lo: int, hi: int) -> Iterator:
        p, pb = self.partition, self._pb
        for a in range(lo, hi, CHUNK_ROWS):
            b = min(hi, a + CHUNK_ROWS)
            yield pb.QueryChunk(batch=pb.MeasurementBatch(
                source=p.source,
                station_id=p.station_id[a:b],
                timestamp=p.timestamp[a:b],
                pm25=p.pm25[a:b],
                pm10=p.pm10[a:b],
                temperature_c=p.temperature_c[a:b],
                humidity_pct=p.humidity_pct[a:b],
            ))

    def select(self, start_time: int, end_time: int):
        """(row count, chunks) of the rows with start_time <= ts < end_time (0 = unbounded)."""
        if not start_time and not end_time:
            return len(self.partition), self._all
        ts = self.partition.timestamp
        lo = bisect.bisect_left(ts, start_time) if start_time else 0
        hi = bisect.bisect_left(ts, end_time) if end_time else len(ts)
        hi = max(lo, hi)
        return hi - lo, self._build(lo, hi)
