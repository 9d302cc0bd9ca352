"""Subscription fan-out: one order event delivered to N WebSocket subscribers,
ours beside the bare broadcast floor, in the same run.

For each N, first ours: a real server (`ordercenter serve`, one uvicorn worker) on a
freshly seeded SQLite file (PostgreSQL when ORDERCENTER_BENCH_DATABASE_URL is set).
Separate client processes (`python -m bench.subscriptions --client`, so their CPU is
not the server's; one per 2,500 subscribers, their answers merged) open N WebSocket
connections (graphql-transport-ws; permessage-
deflate offered as browsers do, declined by both servers), each its own connection,
all as the demo buyer, each subscribed to `orderStatusChanged` for all of the
buyer's orders: every status change of one of those orders is one event fanned out
to N subscribers. Events are status changes (shipOrder, then updateOrderStatus to
IN_TRANSIT and DELIVERED, round-robin over freshly placed orders) fired through HTTP
mutations as the operator.

Then the floor: bench/broadcast_floor.py (bare Starlette + uvicorn, same settings,
no GraphQL, no database) sends the same frame to the same number of subscribers of
the same client code; events are fired by `POST /publish`.

Each server gets two phases:
- steady: E events at a steady rate of at most --rate per second (closed loop: an
  event goes out when its time has come and the previous one returned, so a
  saturated server slows the source instead of queueing without end);
- saturation: 20 events, or 60,000 deliveries' worth if that is more (60 at N =
  1,000), back to back (closed loop, each as soon as the previous was accepted;
  bounded in time); three such bursts, one after the other, each on fresh orders;
  the median one's deliveries/s is the delivery rate of the ratio ours/floor
  (issue 14: ours >= 0.6x the bare broadcast), and every burst's rate is printed.
Latency is the client's receive time minus the event's `occurredAt` (the server's
clock as the use-case ran, just before its commit; for the floor, as /publish
began; same machine, same clock), over every (subscriber, event) pair. Server RSS
(VmRSS) is read before subscribing (once the recommendations refresh that placing the
bench's orders sets off is over) and again once N idle subscriptions are open.

    python -m bench.subscriptions --subscribers 1000 --events 50
    python -m bench.subscriptions                  # N = 1000, 5000, 10000 (as `python -m bench`)
    python -m bench.subscriptions --subscribers 1000 --protocol graphql-ws
    python -m bench.subscriptions --lane-only --subscribers 1000
    python -m bench.subscriptions --subscribers 1000 --unique-ids

`--lane-only`: no servers; in-process, the lane's own CPU per event (the hub's read of
a status change and a carrier scan, the change handed to N parked orderStatusChanged
lanes; frames go to a write that sends nothing, the socket's system call being the
floor's as much as ours, and no mutation): what the lane adds to each event's cost,
apart from the two the floor comparison mixes in. Run it on two commits to compare them.

`--protocol graphql-ws`: our subscribers speak the legacy protocol (start/data/stop;
both protocols serve live events on the same direct lane); the floor speaks
graphql-transport-ws either way (its frame differs only in "data" for "next").

`--unique-ids`: each subscriber subscribes with an operation id of its own (a uuid), as
graphql-ws and Apollo clients do. By default every one uses "1": each event is then one
frame for all N subscribers, which both servers encode once; with unique ids both build
one per subscriber.

Columns: `impl` ours or floor; `open s` to open and subscribe N connections;
`delivered` (subscriber, event) pairs received of those expected; p50/p99/max
delivery latency; `deliv/s` deliveries per second from the first event to the last
delivery (saturation: every delivery from the phase's start to the last one, late
ones of the steady phase included); `srv us/dlv` server CPU per delivery; RSS before
subscribing and with N idle subscriptions, and the difference per subscription;
`srv busy` server cores busy during the burst (under 1.0 for both: the server was
not the only limit - the client process or other load on the machine was);
`fire p50` the mutation's (ours) or /publish's (floor) round trip.

Bounded: about ten minutes in all for the default N (the budget is
shared out: per N, ours first, the floor the rest; per server, the steady phase,
then the burst); a phase that runs out of time reports how far it got. Timings on a
shared machine (clients, server and database on one host).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import httpx
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlmodel import col

from bench.http_suite import Server, _cpu_seconds, serving
from db.engine import create_engine, normalize_url
from db.models import PaymentMethod, Product
from db.seed.catalog import DEMO_USER_ID, OPERATOR_HANDLE
from resolvers.ids import to_global_id

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SUBSCRIBERS = (1000, 5000, 10000)
DEFAULT_EVENTS = 50
DEFAULT_RATE = 10.0  # events per second
TOTAL_BUDGET = 600.0  # seconds, for every N and both servers (server stops extra)
# Per N: ours first; the floor gets the rest, at least this much (seconds: base + per
# 1,000 subscribers; opening N connections dominates), ours at least half.
FLOOR_SECONDS = (15.0, 7.0)
# The saturation burst, back to back: at least 20 events and 60,000 deliveries. At
# N = 1,000, 20 events were over in under a second and left our server busy 0.69-0.78
# of a core: it measured the mutations' round trips more than the fan-out. With 60
# events it is busy 0.91-0.93 of a core. (The ratio is as noisy either way here:
# 0.58-0.84x over four runs of 20 events, 0.53-0.80x over three of 60.)
BURST_EVENTS, BURST_DELIVERIES = 20, 60_000
# Each server gets this many bursts, one after the other, each on fresh orders; the
# median one (by deliveries/s) is the row's burst. One burst per server gave ratios of
# 0.53-0.84x at N = 1,000 over eight runs of the same code: a burst lasts one to two
# seconds, and whatever else the machine does in them moves its rate.
BURST_ROUNDS = 3


def burst_events(subscribers: int) -> int:
    """How many events the saturation burst fires at ``subscribers`` subscribers."""
    return max(BURST_EVENTS, math.ceil(BURST_DELIVERIES / max(1, subscribers)))


BURST_FIRE_SECONDS = 10.0  # at most, firing the burst
BURST_SHARE, MIN_BURST = 0.35, 8.0  # of a server's time left once subscribed, seconds
DRAIN_SHARE, MIN_DRAIN = 0.25, 4.0  # of a phase's time, kept to deliver what was fired
FLOOR_STATUSES = ("AWAITING_COLLECTION", "IN_TRANSIT", "DELIVERED")  # as ours, in order
# placeOrder asks for a recommendations refresh, run after this debounce; the first one
# loads the recommender and builds its model (tens of MB). Placing the bench's orders
# triggers it: it must be over before the base RSS is read, or it lands among the idle
# subscriptions (about 27 KB "per subscription" at N = 1000).
RECOMMENDATION_DEBOUNCE = 0.2
# Issue 14's targets (print_targets): N held idle by one process; the fan-out whose p99
# is judged; its p99 bound; ours / the bare broadcast's deliveries per second.
TARGET_HELD = 10_000
TARGET_FANOUT = 1000
TARGET_P99_MS = 250.0
TARGET_RATIO = 0.6
# --idle-only: open N subscriptions, measure the server's RSS, check one event reaches all
IDLE_ONLY = False
# --unique-ids: each subscriber's operation id its own (set for the client processes too)
UNIQUE_IDS_ENV = "ORDERCENTER_BENCH_UNIQUE_IDS"
FIXED_WEIGHT = 3000  # an N's share of the budget is as for FIXED_WEIGHT + N subscribers
CONNECT_CONCURRENCY = 50  # connections being opened at once, by all client processes
# Subscribers per client process: 10,000 connections are four processes, so that no
# one client process's CPU is what limits the deliveries measured.
CLIENT_SUBSCRIBERS = 2500
LATENCY_STEP = 0.001  # seconds: the resolution of the latencies the clients report
SUBSCRIPTION = "subscription { orderStatusChanged { cursor toStatus occurredAt } }"
TRANSPORT_WS, LEGACY_WS = "graphql-transport-ws", "graphql-ws"
PLACE = """
mutation($input: PlaceOrderInput!) {
  placeOrder(input: $input) { order { id status } userErrors { code message } }
}"""
SHIP = """
mutation($input: ShipOrderInput!) {
  shipOrder(input: $input) { order { status } userErrors { code message } }
}"""
UPDATE = """
mutation($input: UpdateOrderStatusInput!) {
  updateOrderStatus(input: $input) { order { status } userErrors { code message } }
}"""
ADDRESS = {
    "name": "Bench Buyer",
    "line1": "1 Main St",
    "city": "Springfield",
    "postalCode": "12345",
    "countryCode": "US",
}


def raise_open_files() -> int:
    """Lift the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = 1_048_576 if hard == resource.RLIM_INFINITY else hard
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return math.nan
    index = min(len(sorted_values) - 1, max(0, math.ceil(share * len(sorted_values)) - 1))
    return sorted_values[index]


# --------------------------------------------------------------------------- client


@dataclass
class ClientState:
    # (receive time, occurredAt) of the current phase's events, both epoch seconds.
    records: list[tuple[float, float]] = field(default_factory=list)
    per_connection: list[int] = field(default_factory=list)  # current phase's events
    since: float = 0.0  # events that occurred before: an earlier phase's, not counted
    stale: int = 0  # an earlier phase's events received during this one
    stale_last: float = 0.0  # when the last of those arrived
    failures: int = 0
    first_error: str | None = None
    ended: int = 0  # subscriptions the server ended (error or complete)
    closed_early: int = 0


async def _subscriber(
    index: int,
    url: str,
    token: str,
    state: ClientState,
    gate: asyncio.Semaphore,
    opened: asyncio.Queue[bool],
    compression: bool,
    protocol: str = TRANSPORT_WS,
) -> None:
    import orjson
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    try:
        async with gate:
            ws = await asyncio.wait_for(
                connect(
                    url,
                    subprotocols=[Subprotocol(protocol)],
                    ping_interval=None,  # the server's keep-alive is enough on loopback
                    compression="deflate" if compression else None,
                    open_timeout=60,
                    max_queue=None,
                ),
                60,
            )
            await ws.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
                )
            )
            ack = orjson.loads(await asyncio.wait_for(ws.recv(), 60))
            if ack.get("type") != "connection_ack":
                raise RuntimeError(f"no connection_ack: {ack}")
            start = "subscribe" if protocol == TRANSPORT_WS else "start"
            # graphql-ws and Apollo's clients number or draw each operation's id: a
            # frame then differs from one subscriber to the next, and neither server can
            # encode it once for all (both do with the same id everywhere, the default).
            op_id = str(uuid.uuid4()) if os.environ.get(UNIQUE_IDS_ENV) else "1"
            await ws.send(
                json.dumps({"id": op_id, "type": start, "payload": {"query": SUBSCRIPTION}})
            )
    except Exception as error:
        state.failures += 1
        state.first_error = state.first_error or f"{type(error).__name__}: {error}"
        await opened.put(False)
        return
    await opened.put(True)
    parse_time = datetime.fromisoformat
    try:
        async for raw in ws:
            received = time.time()
            message = orjson.loads(raw)
            kind = message.get("type")
            if kind in ("next", "data"):
                payload = message.get("payload") or {}
                data = payload.get("data") or {}
                event = data.get("orderStatusChanged")
                if event is None:
                    errors = payload.get("errors")
                    state.first_error = state.first_error or f"errors: {errors}"
                    continue
                occurred = parse_time(event["occurredAt"]).timestamp()
                if occurred < state.since:
                    state.stale += 1
                    state.stale_last = received
                    continue
                state.records.append((received, occurred))
                state.per_connection[index] += 1
            elif kind == "ping":
                await ws.send('{"type":"pong"}')
            elif kind in ("error", "complete"):
                # The operation is over (an error, or the server completed it).
                state.ended += 1
                if kind == "error":
                    state.first_error = state.first_error or f"error: {message.get('payload')}"
    except Exception as error:
        state.first_error = state.first_error or f"{type(error).__name__}: {error}"
    state.closed_early += 1


def _cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def _collect(state: ClientState, expected: int, wait: float) -> None:
    """Wait (at most ``wait`` s) for every connection to have ``expected`` events of
    the current phase, then report the phase's figures: latencies as a histogram (in
    LATENCY_STEP steps) that the parent merges with other client processes' (``merged``)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if all(n >= expected for n in state.per_connection):
            break
        await asyncio.sleep(0.05)
    records = list(state.records)
    histogram: dict[int, int] = {}
    for received, occurred in records:
        step = int((received - occurred) / LATENCY_STEP)
        histogram[step] = histogram.get(step, 0) + 1
    _emit(
        {
            "delivered": len(records),
            "complete": sum(1 for n in state.per_connection if n >= expected),
            "histogram": histogram,
            "max": max((r - o for r, o in records), default=math.nan),
            "first_occurred": min((o for _, o in records), default=math.nan),
            "last_received": max((r for r, _ in records), default=math.nan),
            "stale": state.stale,
            "stale_last": state.stale_last,
            "ended": state.ended,
            "closed_early": state.closed_early,
            "error": state.first_error,
            "client_cpu": _cpu_used(),
        }
    )


async def client_main(
    url: str,
    token: str,
    count: int,
    compression: bool,
    protocol: str = TRANSPORT_WS,
    concurrency: int = CONNECT_CONCURRENCY,
) -> None:
    """The client process: open ``count`` subscriptions and report; then, per line on
    stdin: ``{"since": t}`` starts a phase (events that occurred before t are not
    counted; answers ``{"phase": t}``), ``{"expect": k, "wait": s}`` waits for k
    events of the phase on every connection and reports. End of input: exit."""
    limit = raise_open_files()
    state = ClientState(per_connection=[0] * count)
    gate = asyncio.Semaphore(concurrency)
    opened: asyncio.Queue[bool] = asyncio.Queue()
    started = time.monotonic()
    tasks = [
        asyncio.create_task(_subscriber(i, url, token, state, gate, opened, compression, protocol))
        for i in range(count)
    ]
    # Report as soon as every connection either subscribed or failed.
    for _ in range(count):
        await opened.get()
    _emit(
        {
            "ready": count - state.failures,
            "failed": state.failures,
            "error": state.first_error,
            "seconds": time.monotonic() - started,
            "nofile": limit,
            "client_cpu": _cpu_used(),
        }
    )
    while line := await asyncio.to_thread(sys.stdin.readline):
        command = json.loads(line)
        if "since" in command:
            state.since = float(command["since"])
            state.records = []
            state.per_connection = [0] * count
            state.stale = 0
            state.stale_last = 0.0
            _emit({"phase": state.since})
        if "expect" in command:
            await _collect(state, int(command["expect"]), float(command.get("wait", 0)))
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# --------------------------------------------------------------------------- server


def _proc_status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])  # kB
    raise KeyError(key)


async def _settle(pid: int, limit: float) -> None:
    """Wait until the server is idle (under 5% of a core for half a second)."""
    deadline = time.monotonic() + limit
    last = _cpu_seconds(pid)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = _cpu_seconds(pid)
        if now - last < 0.025:
            return
        last = now


@dataclass
class Phase:
    events: int = 0
    delivered: int = 0
    expected: int = 0
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    max_ms: float = math.nan
    per_second: float = math.nan
    server_us_per_delivery: float = math.nan
    server_busy: float = math.nan  # server cores busy from the first event to the report
    client_cpu: float = math.nan
    fire_p50_ms: float = math.nan  # mutation (ours) or /publish (floor) round trip
    load: float = math.nan  # the machine's 1-minute load average as the phase ended


@dataclass
class Row:
    subscribers: int
    impl: str = "ours"
    opened: int = 0
    connect_seconds: float = math.nan
    server_ms_per_connect: float = math.nan
    rss_base_mb: float = math.nan
    rss_idle_mb: float = math.nan
    kb_per_subscription: float = math.nan
    steady: Phase = field(default_factory=Phase)
    burst: Phase = field(default_factory=Phase)  # the median of ``bursts``
    bursts: list[Phase] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


Publish = Callable[[int], Awaitable[None]]  # fires event i of a phase


def median_burst(bursts: list[Phase]) -> Phase:
    """The burst whose deliveries/s is the median of those measured (the lower middle
    one of an even count); an empty Phase if none was."""
    measured = sorted(
        (b for b in bursts if not math.isnan(b.per_second)), key=lambda b: b.per_second
    )
    return measured[(len(measured) - 1) // 2] if measured else Phase()


async def _gql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str
) -> dict[str, Any]:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body: dict[str, Any] = response.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    data: dict[str, Any] = body["data"]
    return data


async def _place_orders(
    client: httpx.AsyncClient, database_url: str, buyer_token: str, count: int
) -> list[str]:
    """``count`` paid orders of the demo buyer, all awaiting shipment."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            method = (
                await conn.execute(
                    select(col(PaymentMethod.id))
                    .where(
                        col(PaymentMethod.user_id) == DEMO_USER_ID, col(PaymentMethod.is_default)
                    )
                    .limit(1)
                )
            ).scalar_one()
            rows = (
                await conn.execute(
                    select(col(Product.id))
                    .where(col(Product.on_sale), col(Product.stock) >= count)
                    .order_by(col(Product.id))
                )
            ).all()
    finally:
        await engine.dispose()
    product_id = rows[0][0] if rows else None
    if method is None or product_id is None:
        raise RuntimeError("the seed has no card for the demo buyer or no product in stock")
    orders = []
    for _ in range(count):
        data = await _gql(
            client,
            PLACE,
            {
                "input": {
                    "items": [{"productId": to_global_id("Product", product_id), "quantity": 1}],
                    "shippingAddress": ADDRESS,
                    "paymentMethodId": to_global_id("PaymentMethod", method),
                    "idempotencyKey": uuid.uuid4().hex,
                }
            },
            buyer_token,
        )
        payload = data["placeOrder"]
        if payload["userErrors"] or payload["order"]["status"] != "AWAITING_SHIPMENT":
            raise RuntimeError(f"could not place a paid order: {payload}")
        orders.append(payload["order"]["id"])
    return orders


def _mutations(client: httpx.AsyncClient, orders: list[str], token: str) -> Publish:
    """Ours: event i = a status change of orders[i % len] (ship, IN_TRANSIT, DELIVERED)."""

    async def publish(i: int) -> None:
        order_id = orders[i % len(orders)]
        step = i // len(orders)
        if step == 0:
            number = f"BENCH{uuid.uuid4().hex[:12].upper()}"
            variables = {"input": {"orderId": order_id, "carrier": "UPS", "trackingNumber": number}}
            data = (await _gql(client, SHIP, variables, token))["shipOrder"]
        else:
            status = "IN_TRANSIT" if step == 1 else "DELIVERED"
            variables = {"input": {"orderId": order_id, "status": status}}
            data = (await _gql(client, UPDATE, variables, token))["updateOrderStatus"]
        if data["userErrors"]:
            raise RuntimeError(f"status change refused: {data['userErrors']}")

    return publish


def _broadcasts(client: httpx.AsyncClient, per_step: int) -> Publish:
    """The floor: event i = POST /publish, with the status ours would change to."""

    async def publish(i: int) -> None:
        status = FLOOR_STATUSES[min(len(FLOOR_STATUSES) - 1, i // per_step)]
        response = await client.post("/publish", json={"toStatus": status})
        response.raise_for_status()

    return publish


async def _fire(
    publish: Publish, events: int, rate: float | None, deadline: float
) -> tuple[int, list[float]]:
    """Up to ``events`` events, one every 1/rate seconds (None: back to back), each
    once the previous one returned (closed loop); none is started after ``deadline``."""
    timings: list[float] = []
    start = time.monotonic()
    fired = 0
    for i in range(events):
        now = time.monotonic()
        if now >= deadline:
            break
        if rate is not None and (at := start + i / rate) > now:
            await asyncio.sleep(at - now)
        sent = time.monotonic()
        await publish(i)
        timings.append((time.monotonic() - sent) * 1000)
        fired += 1
    return fired, timings


async def _read_json(stream: asyncio.StreamReader, seconds: float) -> dict[str, Any]:
    line = await asyncio.wait_for(stream.readline(), seconds)
    if not line:
        raise RuntimeError("the client process exited early")
    result: dict[str, Any] = json.loads(line)
    return result


@asynccontextmanager
async def _database(base: str | None) -> AsyncIterator[str | None]:
    """A fresh PostgreSQL database when ``base`` is given (dropped after); else None."""
    if not base:
        yield None
        return
    from bench.page_query import _admin

    name = f"ordercenter_bench_{uuid.uuid4().hex[:8]}"
    await _admin(base, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(normalize_url(base)).set(database=name).render_as_string(False)
    finally:
        await _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class _Client:
    """The client processes (``--client``, CLIENT_SUBSCRIBERS subscribers each) and
    their line protocol: each command goes to all of them, and their answers are
    read and merged into one (``merged``)."""

    def __init__(self, processes: list[asyncio.subprocess.Process]) -> None:
        self.processes = processes
        self.cpu = 0.0  # their CPU seconds at the last report, summed

    async def send(self, command: dict[str, Any]) -> None:
        line = json.dumps(command).encode() + b"\n"
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write(line)
        for process in self.processes:
            assert process.stdin is not None
            await process.stdin.drain()

    async def read(self, seconds: float) -> dict[str, Any]:
        answers = []
        for process in self.processes:
            assert process.stdout is not None
            answers.append(_read_json(process.stdout, seconds))
        return merged(await asyncio.gather(*answers))


def merged(answers: list[dict[str, Any]]) -> dict[str, Any]:
    """One answer of several client processes, as one process would have given it."""
    first = answers[0]
    if "phase" in first:
        return first
    errors = [a["error"] for a in answers if a.get("error")]
    total = {
        key: sum(a[key] for a in answers)
        for key in ("client_cpu", "ready", "failed", "delivered", "complete", "stale")
        if key in first
    }
    total["closed_early"] = sum(a.get("closed_early", 0) for a in answers)
    total["ended"] = sum(a.get("ended", 0) for a in answers)
    total["error"] = errors[0] if errors else None
    if "ready" in first:
        total["seconds"] = max(a["seconds"] for a in answers)
        total["nofile"] = min(a["nofile"] for a in answers)
        return total
    histogram: dict[int, int] = {}
    for answer in answers:
        for step, count in answer["histogram"].items():
            histogram[int(step)] = histogram.get(int(step), 0) + count
    steps = sorted(histogram)
    cumulative, seen = [], 0
    for step in steps:
        seen += histogram[step]
        cumulative.append(seen)

    def quantile(share: float) -> float:
        if not seen:
            return math.nan
        rank = max(1, math.ceil(share * seen))
        index = next(i for i, c in enumerate(cumulative) if c >= rank)
        return (steps[index] + 0.5) * LATENCY_STEP

    def extreme(key: str, pick: Callable[..., float]) -> float:
        values = [a[key] for a in answers if not math.isnan(a[key])]
        return pick(values) if values else math.nan

    last_received = extreme("last_received", max)
    stale_last = max(a["stale_last"] for a in answers)
    last = max(0.0 if math.isnan(last_received) else last_received, stale_last)
    total.update(
        p50=quantile(0.50),
        p99=quantile(0.99),
        max=extreme("max", max),
        span=last_received - extreme("first_occurred", min),
        last=last,
    )
    return total


async def _phase(
    client: _Client,
    pid: int,
    opened: int,
    publish: Publish,
    events: int,
    rate: float | None,
    end: float,
    notes: list[str],
    label: str,
    fire_limit: float | None = None,
) -> Phase:
    """Fire ``events`` (at ``rate``/s, or back to back: saturating), wait for every
    delivery (at most until ``end``) and take the client's figures for them."""
    saturating = rate is None
    phase = Phase()
    since = time.time()
    await client.send({"since": since})  # earlier phases' stragglers not counted
    await client.read(30)
    cpu_before, started = _cpu_seconds(pid), time.monotonic()
    # Stop firing early enough for what was fired to reach everyone.
    drain = max(MIN_DRAIN, DRAIN_SHARE * (end - started))
    fire_deadline = end - drain
    if fire_limit is not None:
        fire_deadline = min(fire_deadline, started + fire_limit)
    fired, fire_ms = await _fire(publish, events, rate, fire_deadline)
    phase.events = fired
    if fired < events:
        notes.append(f"{label}: out of time, fired {fired} of {events} events")
    fire_ms.sort()
    phase.fire_p50_ms = percentile(fire_ms, 0.5)
    phase.expected = fired * opened
    wait = max(1.0, end - time.monotonic())
    await client.send({"expect": fired, "wait": wait})
    result = await client.read(wait + 60)
    server_cpu = _cpu_seconds(pid) - cpu_before
    phase.load = os.getloadavg()[0]
    phase.server_busy = server_cpu / max(1e-9, time.monotonic() - started)
    phase.delivered = result["delivered"]
    phase.p50_ms = result["p50"] * 1000
    phase.p99_ms = result["p99"] * 1000
    phase.max_ms = result["max"] * 1000
    phase.client_cpu = result["client_cpu"] - client.cpu
    client.cpu = result["client_cpu"]
    if saturating:
        # Everything the server delivered while saturated: the burst's events and any
        # late ones of the previous phase it was still working off.
        window = result["last"] - since if result["last"] else math.nan
        if window > 0:
            phase.per_second = (phase.delivered + result["stale"]) / window
    elif result["span"] > 0:
        phase.per_second = phase.delivered / result["span"]
    if phase.delivered:
        phase.server_us_per_delivery = server_cpu / phase.delivered * 1e6
    if phase.delivered < phase.expected:
        notes.append(
            f"{label}: {phase.expected - phase.delivered} deliveries missing at the deadline "
            f"({result['complete']} of {opened} subscribers got every event)"
        )
    if result["stale"]:
        notes.append(
            f"{label}: {result['stale']} late deliveries of the previous phase meanwhile"
            + (" (counted in deliv/s)" if saturating else "")
        )
    if result["ended"] or result["closed_early"]:
        notes.append(
            f"{label}: {result['ended']} subscriptions ended by the server, "
            f"{result['closed_early']} connections closed early "
            f"(first: {str(result['error'])[:200]})"
        )
    return phase


async def _drive(
    row: Row,
    pid: int,
    ws_url: str,
    token: str,
    steady: Publish,
    burst: Callable[[int], Publish],
    events: int,
    rate: float,
    end: float,
    compression: bool,
    protocol: str = TRANSPORT_WS,
) -> None:
    """Open N subscriptions from a client process, then the steady phase, then
    BURST_ROUNDS saturation bursts (``burst(k)`` fires the k-th); the server is ``pid``,
    its WebSocket endpoint ``ws_url``."""
    await _settle(pid, min(5.0, max(0.5, 0.05 * (end - time.monotonic()))))
    base_kb = _proc_status(pid, "VmRSS")
    row.rss_base_mb = base_kb / 1024
    processes = []
    # The connections opening at once are shared out: as many in all as with one process.
    concurrency = max(1, CONNECT_CONCURRENCY // math.ceil(row.subscribers / CLIENT_SUBSCRIBERS))
    for first in range(0, row.subscribers, CLIENT_SUBSCRIBERS):
        count = min(CLIENT_SUBSCRIBERS, row.subscribers - first)
        processes.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.subscriptions",
                "--client",
                ws_url,
                token,
                str(count),
                *([] if compression else ["--no-compression"]),
                "--protocol",
                protocol,
                "--concurrency",
                str(concurrency),
                cwd=ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=1 << 20,
            )
        )
    client = _Client(processes)
    connect_cpu = _cpu_seconds(pid)
    try:
        ready = await client.read(max(1.0, end - time.monotonic()))
        row.opened = ready["ready"]
        row.connect_seconds = ready["seconds"]
        client.cpu = ready.get("client_cpu", 0.0)
        if row.opened:
            row.server_ms_per_connect = (_cpu_seconds(pid) - connect_cpu) / row.opened * 1e3
        if ready["failed"]:
            row.notes.append(f"{ready['failed']} connections failed: {ready['error']}")
        await _settle(pid, min(10.0, max(0.5, 0.1 * (end - time.monotonic()))))
        idle_kb = _proc_status(pid, "VmRSS")
        row.rss_idle_mb = idle_kb / 1024
        if row.opened:
            row.kb_per_subscription = (idle_kb - base_kb) / row.opened
        if IDLE_ONLY:
            # Held is not enough: one event must reach every one of them (a subscribe the
            # server refused shows as ended, with its error, in the notes).
            row.steady = await _phase(
                client, pid, row.opened, burst(0), 1, None, end, row.notes, "live check"
            )
            return
        left = end - time.monotonic()
        steady_end = end - max(MIN_BURST, BURST_SHARE * left)
        row.steady = await _phase(
            client, pid, row.opened, steady, events, rate, steady_end, row.notes, "steady"
        )
        for k in range(BURST_ROUNDS):
            # Let the previous phase's backlog drain (bounded) before saturating.
            await _settle(pid, min(10.0, max(0.5, 0.3 * (end - time.monotonic()))))
            # The time left, shared out among the bursts still to come.
            burst_end = time.monotonic() + (end - time.monotonic()) / (BURST_ROUNDS - k)
            row.bursts.append(
                await _phase(
                    client,
                    pid,
                    row.opened,
                    burst(k),
                    burst_events(row.subscribers),
                    None,
                    burst_end,
                    row.notes,
                    f"burst {k + 1}",
                    fire_limit=BURST_FIRE_SECONDS,
                )
            )
        row.burst = median_burst(row.bursts)
    except TimeoutError:
        row.notes.append("out of time waiting for the client")
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
            await process.wait()


async def measure(
    subscribers: int,
    events: int,
    rate: float,
    budget_end: float,
    database_url: str | None,
    compression: bool,
    protocol: str = TRANSPORT_WS,
) -> Row:
    """Our server (``ordercenter serve``): events are status-change mutations."""
    from tests.server.serving import ORDERCENTER, running_server

    row = Row(subscribers=subscribers, impl="ours")
    orders_needed = math.ceil(events / 3)
    burst_count = burst_events(subscribers)
    burst_orders = math.ceil(burst_count / 3)  # per burst
    extra_env = {
        "ORDERCENTER_WS_MAX_CONNECTIONS_PER_USER": str(max(10_000, subscribers * 2)),
        "ORDERCENTER_WS_MAX_OPERATIONS": "20",
        "ORDERCENTER_WS_INIT_TIMEOUT_SECONDS": "120",
        "ORDERCENTER_SUBSCRIBER_QUEUE_SIZE": str(max(256, (events + burst_count) * 2)),
        "ORDERCENTER_SWEEP_INTERVAL_SECONDS": "0",
        "ORDERCENTER_BUS_URL": "memory://",
        "ORDERCENTER_RECOMMENDATION_DEBOUNCE_SECONDS": str(RECOMMENDATION_DEBOUNCE),
    }
    with running_server(
        users=5, orders_per_user=5, database_url=database_url, extra_env=extra_env
    ) as server:
        pid = server.process.pid
        db_url = server.env["ORDERCENTER_DATABASE_URL"]
        # Minted by the server's own CLI, so it fits whatever auth the server is set up with.
        minted = await asyncio.to_thread(
            subprocess.run,
            [ORDERCENTER, "token", OPERATOR_HANDLE],
            env=server.env,
            check=True,
            timeout=60,
            capture_output=True,
            text=True,
        )
        operator = minted.stdout.strip()
        ws_url = server.url.replace("http://", "ws://") + "/graphql"
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            orders = await _place_orders(
                http, db_url, server.demo_token, orders_needed + BURST_ROUNDS * burst_orders
            )

            def burst(k: int) -> Publish:
                first = orders_needed + k * burst_orders
                return _mutations(http, orders[first : first + burst_orders], operator)

            # The refresh has started by then; _drive waits for the server to be idle.
            await asyncio.sleep(RECOMMENDATION_DEBOUNCE + 0.5)
            await _drive(
                row,
                pid,
                ws_url,
                server.demo_token,
                _mutations(http, orders[:orders_needed], operator),
                burst,
                events,
                rate,
                budget_end,
                compression,
                protocol,
            )
    return row


@asynccontextmanager
async def _floor_server() -> AsyncIterator[Server]:
    """bench/broadcast_floor.py under uvicorn in its own process, stopped with SIGTERM."""
    from tests.server.serving import free_port

    port = free_port()
    command = [sys.executable, "-m", "bench.broadcast_floor", "--port", str(port)]
    with tempfile.TemporaryDirectory(prefix="ordercenter-floor-") as logs:
        async with serving(
            "broadcast-floor", command, dict(os.environ), port, Path(logs)
        ) as server:
            yield server


async def measure_floor(
    subscribers: int, events: int, rate: float, budget_end: float, compression: bool
) -> Row:
    """The bare broadcast (bench/broadcast_floor.py): events are POST /publish."""
    row = Row(subscribers=subscribers, impl="floor")
    async with (
        _floor_server() as floor,
        httpx.AsyncClient(base_url=floor.url, timeout=60) as http,
    ):
        await _drive(
            row,
            floor.process.pid,
            floor.url.replace("http://", "ws://") + "/graphql",
            "bench-floor",  # any: the floor does not check it
            _broadcasts(http, math.ceil(events / 3)),
            lambda _: _broadcasts(http, math.ceil(burst_events(subscribers) / 3)),
            events,
            rate,
            budget_end,
            compression,
        )
    return row


def _fmt(value: float, spec: str) -> str:
    return "-" if math.isnan(value) else format(value, spec)


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 and not math.isnan(a) else math.nan


def _verdict(met: bool | None) -> str:
    return "not measured" if met is None else ("met" if met else "NOT MET")


def print_targets(rows: list[Row], rate: float) -> None:
    """Issue 14's subscription targets, each met, NOT MET or not measured, with the load
    average beside every latency: on a shared machine a p99 measures the load as much as
    the server. Server CPU per delivered event is the figure the load moves least."""
    by = {(r.subscribers, r.impl): r for r in rows}
    print()
    print("Issue 14's subscription targets:")
    held = by.get((TARGET_HELD, "ours"))
    if held is None or not held.opened:
        print(f"  {TARGET_HELD:,} idle subscriptions held by one process: not measured")
    else:
        live = held.steady
        met = held.opened == TARGET_HELD and live.expected > 0 and live.delivered == live.expected
        print(
            f"  {TARGET_HELD:,} idle subscriptions held by one process: {_verdict(met)} "
            f"({held.opened:,} open, an event then delivered to {live.delivered:,} of "
            f"{live.expected:,}; {_fmt(held.kb_per_subscription, '.1f')} KB each)"
        )
    ours, floor = by.get((TARGET_FANOUT, "ours")), by.get((TARGET_FANOUT, "floor"))
    p99 = math.nan if ours is None else ours.steady.p99_ms
    print(
        f"  fan-out to {TARGET_FANOUT:,}, p99 < {TARGET_P99_MS:g} ms at {rate:g}/s: "
        f"{_verdict(None if math.isnan(p99) else p99 < TARGET_P99_MS)} "
        f"(p99 {_fmt(p99, '.0f')} ms, load average "
        f"{_fmt(math.nan if ours is None else ours.steady.load, '.1f')} on "
        f"{os.cpu_count()} cores)"
    )
    if ours is None or floor is None:
        print(
            f"  >= {TARGET_RATIO:g}x the bare broadcast: not measured "
            f"(no floor at {TARGET_FANOUT:,})"
        )
        return
    ratio = _ratio(ours.burst.per_second, floor.burst.per_second)
    print(
        f"  >= {TARGET_RATIO:g}x the bare broadcast's deliveries/s at saturation "
        f"(median of {BURST_ROUNDS} bursts each): "
        f"{_verdict(None if math.isnan(ratio) else ratio >= TARGET_RATIO)} "
        f"({_fmt(ratio, '.2f')}x; load average {_fmt(ours.burst.load, '.1f')} / "
        f"{_fmt(floor.burst.load, '.1f')})"
    )
    cpu = _ratio(ours.burst.server_us_per_delivery, floor.burst.server_us_per_delivery)
    print(
        f"  server CPU per delivered event (the load-robust figure): ours "
        f"{_fmt(ours.burst.server_us_per_delivery, '.1f')} us, floor "
        f"{_fmt(floor.burst.server_us_per_delivery, '.1f')} us = {_fmt(cpu, '.2f')}x the "
        f"floor's at saturation (ours includes each event's mutation; the floor's /publish "
        f"has none); the CPU ratio alone allows ours {_fmt(_ratio(1.0, cpu), '.2f')}x the "
        f"floor's deliveries per server CPU second"
    )


def print_table(rows: list[Row], events: int, rate: float, database: str) -> None:
    print(
        f"Subscription fan-out: {events} order events at {rate:g}/s to N WebSocket subscribers "
        f"(one uvicorn worker, {database}; clients in a separate process)"
    )
    print(
        f"{'N':>6} {'impl':<5} {'open s':>7} {'events':>6} {'delivered':>13} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'max ms':>8} {'deliv/s':>8} {'srv us/dlv':>10} {'RSS base':>9} "
        f"{'RSS idle':>9} {'KB/sub':>7}"
    )
    for r in rows:
        s = r.steady
        print(
            f"{r.subscribers:>6} {r.impl:<5} {_fmt(r.connect_seconds, '.1f'):>7} {s.events:>6} "
            f"{f'{s.delivered}/{s.expected}':>13} {_fmt(s.p50_ms, '.0f'):>8} "
            f"{_fmt(s.p99_ms, '.0f'):>8} {_fmt(s.max_ms, '.0f'):>8} "
            f"{_fmt(s.per_second, '.0f'):>8} {_fmt(s.server_us_per_delivery, '.0f'):>10} "
            f"{_fmt(r.rss_base_mb, '.0f') + ' MB':>9} {_fmt(r.rss_idle_mb, '.0f') + ' MB':>9} "
            f"{_fmt(r.kb_per_subscription, '.1f'):>7}"
        )
    print()
    print(
        f"Saturation: {BURST_EVENTS} events or {BURST_DELIVERIES:,} deliveries' worth, whichever "
        f"is more, back to back (closed loop: the next as soon "
        f"as the server took the last; at most {BURST_FIRE_SECONDS:g} s of firing); "
        f"{BURST_ROUNDS} bursts per server, the median one shown, every one's deliveries/s "
        f"in 'bursts'"
    )
    print(
        f"{'N':>6} {'impl':<5} {'events':>6} {'delivered':>13} {'deliv/s':>8} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'srv us/dlv':>10} {'srv busy':>8} {'fire p50':>8}  bursts"
    )
    for r in rows:
        b = r.burst
        print(
            f"{r.subscribers:>6} {r.impl:<5} {b.events:>6} {f'{b.delivered}/{b.expected}':>13} "
            f"{_fmt(b.per_second, '.0f'):>8} {_fmt(b.p50_ms, '.0f'):>8} "
            f"{_fmt(b.p99_ms, '.0f'):>8} {_fmt(b.server_us_per_delivery, '.0f'):>10} "
            f"{_fmt(b.server_busy, '.2f'):>8} {_fmt(b.fire_p50_ms, '.0f') + ' ms':>8}  "
            + ", ".join(_fmt(each.per_second, ".0f") for each in r.bursts)
        )
    print()
    by = {(r.subscribers, r.impl): r for r in rows}
    for n in dict.fromkeys(r.subscribers for r in rows):
        ours, floor = by.get((n, "ours")), by.get((n, "floor"))
        if ours is None or floor is None:
            continue
        rate_ratio = _ratio(ours.burst.per_second, floor.burst.per_second)
        print(
            f"N={n} ours/floor: deliveries/s at saturation {_fmt(rate_ratio, '.2f')}x "
            f"({_fmt(ours.burst.per_second, '.0f')} vs {_fmt(floor.burst.per_second, '.0f')}), "
            f"server CPU per delivery {_fmt(ours.burst.server_us_per_delivery, '.0f')} vs "
            f"{_fmt(floor.burst.server_us_per_delivery, '.0f')} us at saturation, "
            f"{_fmt(ours.steady.server_us_per_delivery, '.0f')} vs "
            f"{_fmt(floor.steady.server_us_per_delivery, '.0f')} us at {rate:g}/s"
        )
        print(
            f"{'':>{len(str(n)) + 2}} p99 at {rate:g}/s: {_fmt(ours.steady.p99_ms, '.0f')} vs "
            f"{_fmt(floor.steady.p99_ms, '.0f')} ms | "
            f"p50 {_fmt(ours.steady.p50_ms, '.0f')} vs {_fmt(floor.steady.p50_ms, '.0f')} ms | "
            f"RSS per idle subscription {_fmt(ours.kb_per_subscription, '.1f')} vs "
            f"{_fmt(floor.kb_per_subscription, '.1f')} KB"
        )
    print_targets(rows, rate)
    for r in rows:
        fired = "mutation" if r.impl == "ours" else "publish"
        extra = f"server CPU {_fmt(r.server_ms_per_connect, '.2f')} ms per connect, "
        extra += f"{fired} p50 {_fmt(r.steady.fire_p50_ms, '.0f')} ms at {rate:g}/s, "
        extra += f"server busy {_fmt(r.steady.server_busy, '.2f')} cores at {rate:g}/s, "
        extra += f"client CPU {_fmt(r.steady.client_cpu, '.1f')} + "
        extra += f"{_fmt(r.burst.client_cpu, '.1f')} s (steady + burst)"
        print(f"  N={r.subscribers} {r.impl}: {extra}" + "".join(f"; {n}" for n in r.notes))


async def main(
    subscribers: tuple[int, ...] = DEFAULT_SUBSCRIBERS,
    events: int = DEFAULT_EVENTS,
    rate: float = DEFAULT_RATE,
    budget: float = TOTAL_BUDGET,
    compression: bool = True,
    protocol: str = TRANSPORT_WS,
) -> None:
    raise_open_files()
    start = time.monotonic()
    pg_base = os.environ.get("ORDERCENTER_BENCH_DATABASE_URL")
    rows: list[Row] = []
    for index, count in enumerate(subscribers):
        remaining = budget - (time.monotonic() - start)
        if remaining < 20:
            rows.append(Row(subscribers=count, notes=["skipped: out of time"]))
            rows.append(Row(subscribers=count, impl="floor", notes=["skipped: out of time"]))
            continue
        # Each N its share of what is left: a fixed part (a server to seed and start,
        # two to settle) and a part in proportion to N; the last one all of it.
        weights = [FIXED_WEIGHT + n for n in subscribers[index:]]
        share = remaining * weights[0] / sum(weights)
        n_end = time.monotonic() + share
        async with _database(pg_base) as url:
            try:
                floor_seconds = FLOOR_SECONDS[0] + FLOOR_SECONDS[1] * count / 1000
                ours_end = time.monotonic() + max(0.5 * share, share - floor_seconds)
                rows.append(
                    await measure(count, events, rate, ours_end, url, compression, protocol)
                )
            except Exception as error:  # report and go on with the floor
                rows.append(Row(subscribers=count, notes=[f"failed: {error!r}"]))
        if IDLE_ONLY:
            continue
        if n_end - time.monotonic() < 10:
            rows.append(Row(subscribers=count, impl="floor", notes=["skipped: out of time"]))
            continue
        try:
            rows.append(await measure_floor(count, events, rate, n_end, compression))
        except Exception as error:  # report and go on to the next N
            rows.append(Row(subscribers=count, impl="floor", notes=[f"failed: {error!r}"]))
    print_table(rows, events, rate, "PostgreSQL" if pg_base else "SQLite")
    ids = "its own operation id" if os.environ.get(UNIQUE_IDS_ENV) else "operation id '1'"
    print(f"ours over {protocol}; the floor over {TRANSPORT_WS}; each subscriber with {ids}")
    print(
        f"floor = bench/broadcast_floor.py (bare Starlette + uvicorn WebSocket broadcast of the "
        f"same frame; events by POST /publish); wall time {time.monotonic() - start:.0f} s"
    )
    if not pg_base:
        print("(PostgreSQL skipped: set ORDERCENTER_BENCH_DATABASE_URL to use it)")


class _Rendered:
    """A selection whose payload is rendered already (``LiveSelection.rendered``): the
    lane's hand-out as it is for every subscriber after the first."""

    payload = (
        '{"data":{"orderStatusChanged":{"cursor":"b3JkZXJFdmVudHM6MTox","toStatus":"IN_TRANSIT",'
        '"occurredAt":"2026-12-06T15:00:00+00:00"}},"extensions":{"cost":{"requested":1,'
        '"maximum":10000}}}'
    )

    def rendered(self, delivery: Any) -> str:
        return self.payload


async def lane_only(subscribers: int, rounds: int = 5, drains: int = 200) -> None:
    """``--lane-only``: the lane's own CPU per event, in-process, without sockets or a
    mutation: the hub reads a status change and a carrier scan of one buyer (one read,
    SQLite) and hands the change to N parked orderStatusChanged lanes, each frame
    handed to a write that sends nothing (the system call is the floor's as much as
    ours). Process CPU (the database's thread included) per drain, best of ``rounds``."""
    from app.live_lane import serve
    from bench.http_suite import seed
    from db.engine import create_session_factory
    from db.models import Order, OrderEvent
    from domain.order_events import STATUS_CHANGES, OrderEventKind
    from resolvers.subscriptions.hub import SubscriptionHub
    from resolvers.subscriptions.lane import Lane

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/lane.db"
        await seed(url, users=5, orders_per_user=5)
        engine = create_engine(url)
        sessions = create_session_factory(engine)
        async with sessions() as session:
            order = (await session.execute(select(Order).limit(1))).scalar_one()
            assert order.id is not None
            for kind, to_status in (
                (OrderEventKind.STATUS_CHANGED, "IN_TRANSIT"),
                (OrderEventKind.CARRIER_SCAN, "IN_TRANSIT"),
            ):
                session.add(
                    OrderEvent(
                        order_id=order.id,
                        from_status=order.status,
                        to_status=to_status,
                        order_version=order.version + 1,
                        actor="SELLER",
                        kind=kind,
                    )
                )
            await session.commit()
            top = (
                await session.execute(
                    select(col(OrderEvent.id)).order_by(col(OrderEvent.id).desc()).limit(1)
                )
            ).scalar_one()
        hub = SubscriptionHub(sessions, cast(Any, None))  # driven by hand: no wake-ups
        written = 0

        def write(frame: bytes) -> bool:
            nonlocal written
            written += 1
            return True

        lanes = []
        selection = _Rendered()  # one per document and viewer: its frame encoded once
        for _ in range(subscribers):
            feed = hub.open(user_id=order.user_id, order_id=None, after=None, kinds=STATUS_CHANGES)
            feed.floor = 0  # the same two events, read again each drain
            lane = Lane("1", feed=feed, selection=selection)
            lanes.append(
                asyncio.create_task(
                    serve(lane, cast(Any, None), cast(Any, None), lambda: True, True, write)
                )
            )
        await asyncio.sleep(0.05)  # every lane parked
        best = math.inf
        for _ in range(rounds):
            cpu = time.process_time()
            for _ in range(drains):
                hub.last_id = top - 2
                await hub.drain()
            best = min(best, (time.process_time() - cpu) / drains)
        for task in lanes:
            task.cancel()
        await asyncio.gather(*lanes, return_exceptions=True)
        await engine.dispose()
    expected = rounds * drains * subscribers
    print(
        f"lane only, N={subscribers}: {best * 1e3:.2f} ms of CPU per event (best of {rounds} x "
        f"{drains}), {best * 1e6 / subscribers:.2f} us per delivery; frames handed out "
        f"{written} of {expected}"
    )


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.subscriptions", description=__doc__)
    parser.add_argument("--subscribers", type=int, action="append", help="N (repeatable)")
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS)
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE, help="events per second")
    parser.add_argument("--budget", type=float, default=TOTAL_BUDGET, help="seconds in all")
    parser.add_argument("--no-compression", action="store_true", help="no permessage-deflate")
    parser.add_argument(
        "--idle-only",
        action="store_true",
        help="ours only: open the N subscriptions, report RSS and opening time, then one event "
        "to all of them",
    )
    parser.add_argument(
        "--protocol", choices=(TRANSPORT_WS, LEGACY_WS), default=TRANSPORT_WS, help="ours speaks"
    )
    parser.add_argument(
        "--unique-ids",
        action="store_true",
        help="each subscriber its own operation id, as real clients (default: all '1', so "
        "both servers share one frame among all subscribers)",
    )
    parser.add_argument(
        "--lane-only",
        action="store_true",
        help="in-process: the lane's CPU per event (hub read and fan-out to N parked lanes, "
        "no sockets, no mutation); N is the first --subscribers",
    )
    parser.add_argument("--client", nargs=3, metavar=("URL", "TOKEN", "N"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--concurrency", type=int, default=CONNECT_CONCURRENCY, help=argparse.SUPPRESS
    )
    return parser.parse_args()


if __name__ == "__main__":
    arguments = _arguments()
    IDLE_ONLY = arguments.idle_only
    if arguments.unique_ids:
        os.environ[UNIQUE_IDS_ENV] = "1"
    if arguments.lane_only:
        asyncio.run(lane_only((arguments.subscribers or [TARGET_FANOUT])[0]))
    elif arguments.client:
        url, token, count = arguments.client
        asyncio.run(
            client_main(
                url,
                token,
                int(count),
                not arguments.no_compression,
                arguments.protocol,
                arguments.concurrency,
            )
        )
    else:
        asyncio.run(
            main(
                tuple(arguments.subscribers or DEFAULT_SUBSCRIBERS),
                arguments.events,
                arguments.rate,
                arguments.budget,
                not arguments.no_compression,
                arguments.protocol,
            )
        )
