"""Subscription fan-out: one order event delivered to N WebSocket subscribers.

Starts a real server (`ordercenter serve`, one uvicorn worker) on a freshly seeded
SQLite file (PostgreSQL when ORDERCENTER_BENCH_DATABASE_URL is set). A separate
client process (`python -m bench.subscriptions --client`, so its CPU is not the
server's) opens N WebSocket connections (graphql-transport-ws, permessage-deflate
as browsers negotiate it), each its own connection, all as the demo buyer, each
subscribed to `orderStatusChanged` for all of the buyer's orders: every status
change of one of those orders is one event fanned out to N subscribers.

This process then fires E status changes (shipOrder, then updateOrderStatus to
IN_TRANSIT and DELIVERED, round-robin over freshly placed orders) through HTTP
mutations as the operator, at a steady rate of at most --rate per second (closed
loop: a change goes out when its time has come and the previous mutation returned,
so a saturated server slows the source instead of queueing without end). Latency
is the client's receive time minus the event's `occurredAt` (the server's clock as
the use-case ran, just before its commit; same machine, same clock), over every
(subscriber, event) pair. Server RSS (VmRSS) is read before subscribing and again
once N idle subscriptions are open.

    python -m bench.subscriptions --subscribers 1000 --events 50
    python -m bench.subscriptions                  # N = 1000 and 5000 (as `python -m bench`)

Columns: `open s` to open and subscribe N connections; `delivered` (subscriber,
event) pairs received of those expected; p50/p99/max delivery latency; `deliv/s`
deliveries per second from the first event to the last delivery; `srv us/dlv` server
CPU per delivery while fanning out; RSS before subscribing and with N idle
subscriptions, and the difference per subscription (deflate contexts included).

Bounded: about three minutes in all; a phase that runs out of time reports how far
it got. Timings on a shared machine (clients, server and database on one host).
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
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlmodel import col

from db.engine import create_engine, normalize_url
from db.models import PaymentMethod, Product
from db.seed.catalog import DEMO_USER_ID, OPERATOR_HANDLE
from resolvers.ids import to_global_id

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SUBSCRIBERS = (1000, 5000)
DEFAULT_EVENTS = 50
DEFAULT_RATE = 10.0  # events per second
TOTAL_BUDGET = 170.0  # seconds, for every N together (server start and stop extra)
CONNECT_CONCURRENCY = 50
SUBSCRIPTION = "subscription { orderStatusChanged { cursor toStatus occurredAt } }"
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
    records: list[tuple[float, str]] = field(default_factory=list)
    per_connection: list[int] = field(default_factory=list)
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
) -> None:
    import orjson
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    try:
        async with gate:
            ws = await asyncio.wait_for(
                connect(
                    url,
                    subprotocols=[Subprotocol("graphql-transport-ws")],
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
            await ws.send(
                json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
            )
    except Exception as error:
        state.failures += 1
        state.first_error = state.first_error or f"{type(error).__name__}: {error}"
        await opened.put(False)
        return
    await opened.put(True)
    records = state.records
    try:
        async for raw in ws:
            received = time.time()
            message = orjson.loads(raw)
            kind = message.get("type")
            if kind == "next":
                payload = message.get("payload") or {}
                data = payload.get("data") or {}
                event = data.get("orderStatusChanged")
                if event is None:
                    errors = payload.get("errors")
                    state.first_error = state.first_error or f"errors: {errors}"
                    continue
                records.append((received, event["occurredAt"]))
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


def _emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def client_main(url: str, token: str, count: int, compression: bool) -> None:
    """The client process: open ``count`` subscriptions, report, wait, measure, report."""
    limit = raise_open_files()
    state = ClientState(per_connection=[0] * count)
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    opened: asyncio.Queue[bool] = asyncio.Queue()
    started = time.monotonic()
    tasks = [
        asyncio.create_task(_subscriber(i, url, token, state, gate, opened, compression))
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
        }
    )
    command = json.loads(await asyncio.to_thread(sys.stdin.readline) or "{}")
    expected, wait = int(command.get("expect", 0)), float(command.get("wait", 0))
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if all(n >= expected for n in state.per_connection):
            break
        await asyncio.sleep(0.05)
    records = list(state.records)
    latencies = sorted(
        received - datetime.fromisoformat(occurred).timestamp() for received, occurred in records
    )
    occurred = [datetime.fromisoformat(o).timestamp() for _, o in records]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _emit(
        {
            "delivered": len(records),
            "complete": sum(1 for n in state.per_connection if n >= expected),
            "p50": percentile(latencies, 0.50),
            "p99": percentile(latencies, 0.99),
            "max": latencies[-1] if latencies else math.nan,
            "span": (max(r for r, _ in records) - min(occurred)) if records else math.nan,
            "ended": state.ended,
            "closed_early": state.closed_early,
            "error": state.first_error,
            "client_cpu": usage.ru_utime + usage.ru_stime,
        }
    )
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# --------------------------------------------------------------------------- server


def _proc_status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])  # kB
    raise KeyError(key)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


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
class Row:
    subscribers: int
    opened: int = 0
    connect_seconds: float = math.nan
    server_ms_per_connect: float = math.nan
    events: int = 0
    delivered: int = 0
    expected: int = 0
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    max_ms: float = math.nan
    per_second: float = math.nan
    rss_base_mb: float = math.nan
    rss_idle_mb: float = math.nan
    kb_per_subscription: float = math.nan
    server_us_per_delivery: float = math.nan
    client_cpu: float = math.nan
    mutation_p50_ms: float = math.nan
    notes: list[str] = field(default_factory=list)


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


async def _fire(
    client: httpx.AsyncClient,
    orders: list[str],
    events: int,
    rate: float,
    token: str,
    deadline: float,
) -> tuple[int, list[float]]:
    """E status changes, round-robin over the orders, one every 1/rate seconds."""
    timings: list[float] = []
    start = time.monotonic()
    fired = 0
    for i in range(events):
        at = start + i / rate
        now = time.monotonic()
        if now >= deadline:
            break
        if at > now:
            await asyncio.sleep(at - now)
        order_id = orders[i % len(orders)]
        step = i // len(orders)
        sent = time.monotonic()
        if step == 0:
            number = f"BENCH{i:08d}"
            variables = {"input": {"orderId": order_id, "carrier": "UPS", "trackingNumber": number}}
            data = (await _gql(client, SHIP, variables, token))["shipOrder"]
        else:
            status = "IN_TRANSIT" if step == 1 else "DELIVERED"
            variables = {"input": {"orderId": order_id, "status": status}}
            data = (await _gql(client, UPDATE, variables, token))["updateOrderStatus"]
        timings.append((time.monotonic() - sent) * 1000)
        if data["userErrors"]:
            raise RuntimeError(f"status change refused: {data['userErrors']}")
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


async def measure(
    subscribers: int,
    events: int,
    rate: float,
    budget_end: float,
    database_url: str | None,
    compression: bool,
) -> Row:
    from tests.server.serving import ORDERCENTER, running_server

    row = Row(subscribers=subscribers)
    orders_needed = math.ceil(events / 3)
    extra_env = {
        "ORDERCENTER_WS_MAX_CONNECTIONS_PER_USER": str(max(10_000, subscribers * 2)),
        "ORDERCENTER_WS_MAX_OPERATIONS": "20",
        "ORDERCENTER_WS_INIT_TIMEOUT_SECONDS": "120",
        "ORDERCENTER_SUBSCRIBER_QUEUE_SIZE": str(max(256, events * 2)),
        "ORDERCENTER_SWEEP_INTERVAL_SECONDS": "0",
        "ORDERCENTER_BUS_URL": "memory://",
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
            orders = await _place_orders(http, db_url, server.demo_token, orders_needed)
            await _settle(pid, 5)
            base_kb = _proc_status(pid, "VmRSS")
            row.rss_base_mb = base_kb / 1024
            client = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.subscriptions",
                "--client",
                ws_url,
                server.demo_token,
                str(subscribers),
                *([] if compression else ["--no-compression"]),
                cwd=ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=1 << 20,
            )
            assert client.stdin is not None
            assert client.stdout is not None
            connect_cpu = _cpu_seconds(pid)
            try:
                ready = await _read_json(client.stdout, max(1.0, budget_end - time.monotonic()))
                row.opened = ready["ready"]
                row.connect_seconds = ready["seconds"]
                if row.opened:
                    row.server_ms_per_connect = (_cpu_seconds(pid) - connect_cpu) / row.opened * 1e3
                if ready["failed"]:
                    row.notes.append(f"{ready['failed']} connections failed: {ready['error']}")
                await _settle(pid, min(10, max(0.5, budget_end - time.monotonic())))
                idle_kb = _proc_status(pid, "VmRSS")
                row.rss_idle_mb = idle_kb / 1024
                if row.opened:
                    row.kb_per_subscription = (idle_kb - base_kb) / row.opened
                cpu_before = _cpu_seconds(pid)
                # Stop firing early enough for what was fired to reach everyone.
                drain = max(10.0, 0.25 * (budget_end - time.monotonic()))
                fired, mutation_ms = await _fire(
                    http, orders, events, rate, operator, budget_end - drain
                )
                row.events = fired
                if fired < events:
                    row.notes.append(f"out of time: fired {fired} of {events} events")
                mutation_ms.sort()
                row.mutation_p50_ms = percentile(mutation_ms, 0.5)
                row.expected = fired * row.opened
                wait = max(1.0, budget_end - time.monotonic())
                client.stdin.write(json.dumps({"expect": fired, "wait": wait}).encode() + b"\n")
                await client.stdin.drain()
                result = await _read_json(client.stdout, wait + 60)
                server_cpu = _cpu_seconds(pid) - cpu_before
                row.delivered = result["delivered"]
                row.p50_ms = result["p50"] * 1000
                row.p99_ms = result["p99"] * 1000
                row.max_ms = result["max"] * 1000
                row.client_cpu = result["client_cpu"]
                if result["span"] and result["span"] > 0:
                    row.per_second = row.delivered / result["span"]
                if row.delivered:
                    row.server_us_per_delivery = server_cpu / row.delivered * 1e6
                if row.delivered < row.expected:
                    row.notes.append(
                        f"{row.expected - row.delivered} deliveries missing "
                        f"({result['complete']} of {row.opened} subscribers got every event)"
                    )
                if result["ended"] or result["closed_early"]:
                    row.notes.append(
                        f"{result['ended']} subscriptions ended by the server, "
                        f"{result['closed_early']} connections closed early "
                        f"(first: {str(result['error'])[:200]})"
                    )
            except TimeoutError:
                row.notes.append("out of time waiting for the client")
            finally:
                if client.returncode is None:
                    client.kill()
                await client.wait()
    return row


def _fmt(value: float, spec: str) -> str:
    return "-" if math.isnan(value) else format(value, spec)


def print_table(rows: list[Row], events: int, rate: float, database: str) -> None:
    print(
        f"Subscription fan-out: {events} order events at {rate:g}/s to N WebSocket subscribers "
        f"(one uvicorn worker, {database}; clients in a separate process)"
    )
    print(
        f"{'N':>6} {'open s':>7} {'events':>6} {'delivered':>13} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8} {'deliv/s':>8} {'srv us/dlv':>10} {'RSS base':>9} {'RSS idle':>9} "
        f"{'KB/sub':>7}"
    )
    for r in rows:
        print(
            f"{r.subscribers:>6} {_fmt(r.connect_seconds, '.1f'):>7} {r.events:>6} "
            f"{f'{r.delivered}/{r.expected}':>13} {_fmt(r.p50_ms, '.0f'):>8} "
            f"{_fmt(r.p99_ms, '.0f'):>8} {_fmt(r.max_ms, '.0f'):>8} "
            f"{_fmt(r.per_second, '.0f'):>8} {_fmt(r.server_us_per_delivery, '.0f'):>10} "
            f"{_fmt(r.rss_base_mb, '.0f') + ' MB':>9} {_fmt(r.rss_idle_mb, '.0f') + ' MB':>9} "
            f"{_fmt(r.kb_per_subscription, '.1f'):>7}"
        )
    for r in rows:
        extra = f"server CPU {_fmt(r.server_ms_per_connect, '.1f')} ms per connect, "
        extra += f"mutation p50 {_fmt(r.mutation_p50_ms, '.0f')} ms under load, "
        extra += f"client CPU {_fmt(r.client_cpu, '.1f')} s"
        print(f"  N={r.subscribers}: {extra}" + "".join(f"; {n}" for n in r.notes))


async def main(
    subscribers: tuple[int, ...] = DEFAULT_SUBSCRIBERS,
    events: int = DEFAULT_EVENTS,
    rate: float = DEFAULT_RATE,
    budget: float = TOTAL_BUDGET,
    compression: bool = True,
) -> None:
    raise_open_files()
    start = time.monotonic()
    pg_base = os.environ.get("ORDERCENTER_BENCH_DATABASE_URL")
    rows: list[Row] = []
    for index, count in enumerate(subscribers):
        remaining = budget - (time.monotonic() - start)
        if remaining < 15:
            rows.append(Row(subscribers=count, notes=["skipped: out of time"]))
            continue
        # Later (larger) runs get the larger share of what is left.
        share = remaining if index == len(subscribers) - 1 else remaining * 0.35
        async with _database(pg_base) as url:
            try:
                rows.append(
                    await measure(count, events, rate, time.monotonic() + share, url, compression)
                )
            except Exception as error:  # report and go on to the next N
                rows.append(Row(subscribers=count, notes=[f"failed: {error!r}"]))
    print_table(rows, events, rate, "PostgreSQL" if pg_base else "SQLite")
    if not pg_base:
        print("(PostgreSQL skipped: set ORDERCENTER_BENCH_DATABASE_URL to use it)")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.subscriptions", description=__doc__)
    parser.add_argument("--subscribers", type=int, action="append", help="N (repeatable)")
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS)
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE, help="events per second")
    parser.add_argument("--budget", type=float, default=TOTAL_BUDGET, help="seconds in all")
    parser.add_argument("--no-compression", action="store_true", help="no permessage-deflate")
    parser.add_argument("--client", nargs=3, metavar=("URL", "TOKEN", "N"), help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = _arguments()
    if arguments.client:
        url, token, count = arguments.client
        asyncio.run(client_main(url, token, int(count), not arguments.no_compression))
    else:
        asyncio.run(
            main(
                tuple(arguments.subscribers or DEFAULT_SUBSCRIBERS),
                arguments.events,
                arguments.rate,
                arguments.budget,
                not arguments.no_compression,
            )
        )
