"""Prometheus metrics: this module owns every metric; the others only report to it.

The operation pipeline reports each operation (app/pipeline.py), the WebSocket
transport its sockets and live deliveries (app/ws.py), the error policy every code it
gives (through the callback ``count_error``), the bus its reconnects, the server its
background jobs. The database pool and the hub's subscriptions are read when scraped.

Served at ``/metrics`` of the API port, on a port of its own (prometheus_client's
server), or not at all (``Settings.metrics_exposure``). Under ``ordercenter serve
--workers N`` the CLI gives the workers a fresh ``PROMETHEUS_MULTIPROC_DIR`` before
any of them imports this module; each writes its values there, and a scrape answered
by any worker adds up all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.settings import Settings
from internals import name_and_help, pool_waiting
from internals.histograms import observe_many

log = logging.getLogger("ordercenter.metrics")

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
# Clients choose operation names: past this many distinct ones per process the rest
# count as "other", so that nobody can grow the scrape (and our memory) without end.
MAX_OPERATION_NAMES = 200
OTHER, ANONYMOUS = "other", "anonymous"
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}\Z")
# How often each worker writes its pool and hub readings for the others' scrapes.
SAMPLE_SECONDS = 1.0

# Its transport and path label values are app/vocabulary.py's, as traces and logs say them.
OPERATION_SECONDS = Histogram(
    "ordercenter_operation_duration_seconds",
    "GraphQL operations (the _count is the request count) and their latency, by "
    "operation name, transport and execution path. A subscription's is the time to "
    "subscribe.",
    ["operation", "transport", "path"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ERRORS = Counter(
    "ordercenter_errors",
    "Errors sent in GraphQL results and refusals, by extensions.code.",
    ["code"],
)
WEBSOCKETS = Gauge(
    "ordercenter_websockets_open",
    "WebSocket connections open at /graphql.",
    multiprocess_mode="livesum",
)
EVENT_LAG = Histogram(
    "ordercenter_event_delivery_lag_seconds",
    "From a live order event's creation (in the transaction that commits it) to its "
    "frame being sent to a subscriber; replayed events are not counted.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BUS_RECONNECTS = Counter(
    "ordercenter_bus_reconnects",
    "Times the event bus lost its listening connection and reconnected.",
    ["bus"],
)
JOB_SECONDS = Histogram(
    "ordercenter_background_job_duration_seconds",
    "Background jobs: the order timeout sweep, a buyer's recommendation refresh.",
    ["job", "outcome"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
# Written by each worker every SAMPLE_SECONDS under --workers (see ProcessReadings).
_SAMPLED = {
    "subscriptions": Gauge(
        "ordercenter_subscriptions_active",
        "Live subscriptions (hub subscribers).",
        multiprocess_mode="livesum",
    ),
    "pool": Gauge(
        "ordercenter_db_pool_connections",
        "Database pool connections: in_use (checked out), idle, overflow (beyond the "
        "pool size), waiting (callers waiting for one).",
        ["state"],
        multiprocess_mode="livesum",
    ),
}


def multiprocess_mode() -> bool:
    return MULTIPROCESS_DIR in os.environ


def observe_operation(operation: str, transport: str, path: str, seconds: float) -> None:
    OPERATION_SECONDS.labels(operation, transport, path).observe(seconds)


def count_error(code: str) -> None:
    ERRORS.labels(code).inc()


# Lags held for a flush at most: one scheduled on a loop that stopped before running
# it (a test's loop, say) is then done by the next observation instead.
LAGS_HELD = 10_000


class _Lags:
    """Lags observed in this turn of the event loop, not yet in EVENT_LAG.

    A live event's fan-out observes one lag per subscriber, thousands in a row: each
    is taken as its frame is sent, and they go into the histogram together at the end
    of the turn (``internals.histograms.observe_many``), not one lock and bounds scan
    at a time. A scrape runs in a later turn: it sees every one of them.
    """

    __slots__ = ("amounts", "scheduled")

    def __init__(self) -> None:
        self.amounts: list[float] = []
        self.scheduled = False

    def observe(self, created: float) -> None:
        """``created``: the event's creation, as a Unix timestamp."""
        amounts = self.amounts
        amounts.append(time.time() - created)  # below 0 (clocks): 0, as it is flushed
        if not self.scheduled:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # outside a loop: nobody would flush it later
                self.flush()
                return
            self.scheduled = True
        elif len(amounts) >= LAGS_HELD:
            self.flush()

    def flush(self) -> None:
        amounts, self.amounts, self.scheduled = self.amounts, [], False
        observe_many(EVENT_LAG, [amount if amount > 0.0 else 0.0 for amount in amounts])


_lags = _Lags()
observe_lag = _lags.observe


def count_bus_reconnect(bus: str) -> None:
    BUS_RECONNECTS.labels(bus).inc()


def observe_job(job: str, seconds: float, failed: bool = False) -> None:
    JOB_SECONDS.labels(job, "failed" if failed else "ok").observe(seconds)


class OperationNames:
    """Operation names as labels: the first MAX_OPERATION_NAMES well-formed names
    seen, then "other"."""

    def __init__(self, limit: int = MAX_OPERATION_NAMES) -> None:
        self.limit = limit
        self.known: set[str] = set()

    def label(self, name: str | None) -> str:
        """``name``: the operation's (the pipeline reads it from the document), or
        None for an anonymous one."""
        if name is None:
            return ANONYMOUS
        if name in self.known:
            return name
        if len(self.known) >= self.limit or not _NAME.match(name):
            return OTHER
        self.known.add(name)
        return name


def pool_reading(engine: Any) -> dict[str, int]:
    """The pool's connections by state, read now; {} for a pool that keeps none."""
    pool = engine.pool
    if not hasattr(pool, "checkedout"):  # NullPool, StaticPool: nothing to report
        return {}
    reading = {
        "in_use": int(pool.checkedout()),
        "idle": int(pool.checkedin()),
        "overflow": max(0, int(pool.overflow())),
    }
    waiting = pool_waiting(pool)
    if waiting is not None:
        reading["waiting"] = waiting
    return reading


class ProcessReadings(Collector):
    """What this process's pools and hubs hold, read at scrape time (single process)
    or every SAMPLE_SECONDS into the livesum gauges (multiprocess, ``sample_forever``)."""

    def __init__(self) -> None:
        self.sources: dict[int, tuple[Any, Any]] = {}  # id(app state) -> (engine, hub)

    def watch(self, key: object, engine: Any, hub: Any) -> None:
        self.sources[id(key)] = (engine, hub)

    def unwatch(self, key: object) -> None:
        self.sources.pop(id(key), None)

    def readings(self) -> tuple[int, dict[str, int]]:
        subscriptions, pool = 0, dict.fromkeys(("in_use", "idle", "overflow"), 0)
        for engine, hub in list(self.sources.values()):
            subscriptions += hub.subscriber_count if hub is not None else 0
            for state, value in pool_reading(engine).items():
                pool[state] = pool.get(state, 0) + value
        return subscriptions, pool

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if multiprocess_mode():
            return  # the livesum gauges carry them
        subscriptions, pool = self.readings()
        gauge = _SAMPLED["subscriptions"]
        yield GaugeMetricFamily(*name_and_help(gauge), value=subscriptions)
        gauge = _SAMPLED["pool"]
        family = GaugeMetricFamily(*name_and_help(gauge), labels=["state"])
        for state, value in pool.items():
            family.add_metric([state], value)
        yield family

    async def sample_forever(self) -> None:
        while True:
            subscriptions, pool = self.readings()
            _SAMPLED["subscriptions"].set(subscriptions)
            for state, value in pool.items():
                _SAMPLED["pool"].labels(state).set(value)
            await asyncio.sleep(SAMPLE_SECONDS)


PROCESS = ProcessReadings()
if not multiprocess_mode():
    # The sampled gauges are read by PROCESS instead; in multiprocess mode the registry
    # is not what a scrape reads (see registry()).
    for _gauge in _SAMPLED.values():
        REGISTRY.unregister(_gauge)
    REGISTRY.register(PROCESS)


def registry() -> CollectorRegistry:
    """What a scrape reads: this process's registry, or every worker's files."""
    if not multiprocess_mode():
        return REGISTRY
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
    return merged


async def endpoint(_: Request) -> Response:
    """``GET /metrics`` on the API port."""
    body = await asyncio.to_thread(generate_latest, registry())
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def serve_on_port(host: str, port: int) -> Any:
    """prometheus_client's own server on ``port`` (a thread); returns it, to shut down."""
    server, _thread = start_http_server(port, addr=host, registry=registry())
    return server


@contextlib.contextmanager
def timed(job: str) -> Iterator[None]:
    """Observe a background job's duration, and whether it raised."""
    started = time.perf_counter()
    try:
        yield
    except BaseException as error:
        if not isinstance(error, asyncio.CancelledError):
            observe_job(job, time.perf_counter() - started, failed=True)
        raise
    observe_job(job, time.perf_counter() - started)


def job_observer(job: str) -> Callable[[float, bool], None]:
    """A background job's ``observe(seconds, failed)`` callback."""

    def observe(seconds: float, failed: bool) -> None:
        observe_job(job, seconds, failed)

    return observe


def routes(settings: Settings) -> list[Route]:
    """``/metrics`` on the API port, when that is where they are served."""
    if settings.metrics_exposure != "api":
        return []
    return [Route("/metrics", endpoint, methods=["GET"])]


def start(state: Any, settings: Settings) -> Callable[[], Awaitable[None]]:
    """At a server process's start-up: read its pool and hub, serve the metrics port
    (one process; under --workers the CLI's parent serves it); returns the shutdown."""
    if settings.metrics_exposure == "off":

        async def nothing() -> None:
            return None

        return nothing
    PROCESS.watch(state, state.engine, state.hub)
    sampler = asyncio.create_task(PROCESS.sample_forever()) if multiprocess_mode() else None
    server = None
    if settings.metrics_exposure == "port" and not multiprocess_mode():
        server = serve_on_port(settings.host, settings.metrics_port or 0)

    async def stop() -> None:
        PROCESS.unwatch(state)
        if server is not None:
            server.shutdown()
            server.server_close()
        if sampler is not None:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        if multiprocess_mode():
            # This worker's live gauges (its sockets, its pool) leave the sums with it.
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

    return stop
