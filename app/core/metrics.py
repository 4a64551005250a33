"""Prometheus metrics: requests by route template, latency, database pool use, and how well
concurrent requests share statements (`core.batching`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from sqlalchemy.pool import QueuePool

    from app.core.batching import Batcher


class PoolCollector(Collector):
    """Reads the pool at scrape time instead of updating gauges on every checkout."""

    def __init__(self) -> None:
        self.pool: QueuePool | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = self.pool
        if pool is None:
            return
        yield GaugeMetricFamily("db_pool_size", "Configured pool size", value=pool.size())
        yield GaugeMetricFamily(
            "db_pool_checked_out", "Connections in use", value=pool.checkedout()
        )
        yield GaugeMetricFamily("db_pool_checked_in", "Idle connections", value=pool.checkedin())
        yield GaugeMetricFamily(
            "db_pool_overflow", "Connections beyond the pool size", value=max(0, pool.overflow())
        )


class BatchCollector(Collector):
    """Each batcher's counters, read at scrape time: items per call is the batching achieved."""

    def __init__(self) -> None:
        self.batchers: list[Batcher] = []  # type: ignore[type-arg]

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        calls = CounterMetricFamily(
            "batch_calls", "Statements run by a batcher", labels=["batcher"]
        )
        items = CounterMetricFamily(
            "batch_items", "Items through those statements", labels=["batcher"]
        )
        failed = CounterMetricFamily(
            "batch_failed_batches",
            "Batches that failed and were run item by item",
            labels=["batcher"],
        )
        waiting = GaugeMetricFamily("batch_waiting", "Items waiting for a lane", labels=["batcher"])
        for batcher in self.batchers:
            calls.add_metric([batcher.name], batcher.calls)
            items.add_metric([batcher.name], batcher.items)
            failed.add_metric([batcher.name], batcher.failed_batches)
            waiting.add_metric([batcher.name], batcher.waiting)
        yield from (calls, items, failed, waiting)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.pool = PoolCollector()
        self.registry.register(self.pool)
        self.batches = BatchCollector()
        self.registry.register(self.batches)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
