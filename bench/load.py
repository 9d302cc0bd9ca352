"""The load generator: a separate process driving bounded HTTP load at one server.

    python -m bench.load --client SPEC.json

SPEC (written by bench.http_suite) names the server, the concurrency, the warm-up
and measured durations, a request cap, and either ``requests`` (prepared POSTs,
sent round-robin, each connection starting at its own offset) or ``place_pay``
(buyers who place an order with placeOrder and pay it with payOrder: one sample is
the pair). Each of ``concurrency`` clients holds one HTTP/1.1 keep-alive connection
and sends its next request when the previous answer has arrived (closed loop).

The HTTP client is a minimal asyncio (uvloop) one, written for low overhead so that
the client is not what limits the figures: this process reports its own CPU time
for the measured window, next to the latencies. Prints one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

DRAIN_SECONDS = 40.0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def http_request(host: str, port: int, path: str, body: bytes, token: str | None) -> bytes:
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        "Accept: application/json",
        f"Content-Length: {len(body)}",
    ]
    if token:
        head.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, request: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = -1
        chunked = False
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                data = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(data[:-2])
            body = b"".join(parts)
        elif length >= 0:
            body = await self.reader.readexactly(length)
        else:
            body = await self.reader.read()
            close = True
        if close:
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Totals:
    latencies: list[float] = field(default_factory=list)
    done: int = 0
    # Every answer of the run, warm-up included: (sent, answered, ok).
    all: list[tuple[float, float, bool]] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    sent: int = 0

    def error(self, message: str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = message[:500]


def _ok(status: int, body: bytes) -> str | None:
    if status != 200:
        return f"HTTP {status}: {body[:300]!r}"
    if b'"errors"' in body:
        return f"errors: {body[:300]!r}"
    return None


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    host, port, path = spec["host"], spec["port"], spec.get("path", "/graphql")
    concurrency = int(spec["concurrency"])
    warmup, duration = float(spec["warmup"]), float(spec["duration"])
    cap = int(spec.get("max_requests", 10**9))
    totals = Totals()
    prepared = [
        http_request(host, port, path, r["body"].encode(), r.get("token"))
        for r in spec.get("requests", [])
    ]
    place_pay = spec.get("place_pay")
    started = time.perf_counter()
    measure_from = started + warmup
    measure_to = measure_from + duration
    cpu_marks: dict[str, float] = {}

    async def mark() -> None:
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        cpu_marks["from"] = _cpu()
        await asyncio.sleep(max(0.0, measure_to - time.perf_counter()))
        cpu_marks["to"] = _cpu()

    async def one_plain(conn: Connection, index: int) -> str | None:
        status, body = await conn.send(prepared[index % len(prepared)])
        return _ok(status, body)

    async def one_pair(conn: Connection, index: int) -> str | None:
        buyer = place_pay["buyers"][index % len(place_pay["buyers"])]
        key = uuid.uuid4().hex
        products = buyer["products"]
        items = [
            {"productId": products[(index + i) % len(products)], "quantity": 1} for i in range(2)
        ]
        place = {
            "query": place_pay["place"],
            "variables": {
                "input": {
                    "items": items,
                    "shippingAddress": place_pay["address"],
                    "idempotencyKey": key,
                }
            },
        }
        status, body = await conn.send(
            http_request(host, port, path, orjson.dumps(place), buyer["token"])
        )
        problem = _ok(status, body)
        if problem:
            return problem
        placed = orjson.loads(body)["data"]["placeOrder"]
        if placed["userErrors"] or placed["order"] is None:
            return f"placeOrder: {placed['userErrors']}"
        pay = {
            "query": place_pay["pay"],
            "variables": {
                "input": {
                    "orderId": placed["order"]["id"],
                    "paymentMethodId": buyer["method"],
                    "idempotencyKey": key,
                }
            },
        }
        status, body = await conn.send(
            http_request(host, port, path, orjson.dumps(pay), buyer["token"])
        )
        problem = _ok(status, body)
        if problem:
            return problem
        paid = orjson.loads(body)["data"]["payOrder"]
        if paid["userErrors"] or paid["order"]["paymentStatus"] != "PAID":
            return f"payOrder: {paid}"
        return None

    one = one_pair if place_pay else one_plain
    count = len(place_pay["buyers"]) if place_pay else len(prepared)

    async def client(number: int) -> None:
        conn = Connection(host, port)
        index = number * max(1, count // concurrency)
        try:
            while True:
                now = time.perf_counter()
                if now >= measure_to or totals.sent >= cap:
                    return
                totals.sent += 1
                t0 = now
                try:
                    problem = await one(conn, index)
                except (OSError, asyncio.IncompleteReadError, ValueError, KeyError) as error:
                    conn.close()
                    problem = f"{type(error).__name__}: {error}"
                t1 = time.perf_counter()
                index += 1
                totals.all.append((t0, t1, problem is None))
                # Answers completed inside the window count, whenever they were sent.
                if problem:
                    totals.error(problem)
                elif measure_from <= t1 <= measure_to:
                    totals.done += 1
                    totals.latencies.append((t1 - t0) * 1000)
        finally:
            conn.close()

    marker = asyncio.create_task(mark())
    clients = [asyncio.create_task(client(n)) for n in range(concurrency)]
    # Bounded: answers still missing DRAIN_SECONDS after the window are given up on.
    _, pending = await asyncio.wait(clients, timeout=measure_to + DRAIN_SECONDS - started)
    for task in pending:
        task.cancel()
        totals.all.append((0.0, 0.0, False))
        totals.error(f"no answer {DRAIN_SECONDS:.0f} s after the window closed")
    if pending:
        await asyncio.wait(pending)
    ended = time.perf_counter()
    if "to" not in cpu_marks:  # stopped early by the request cap
        cpu_marks["to"] = _cpu()
        marker.cancel()
    cpu_marks.setdefault("from", cpu_marks["to"])
    window = max(1e-9, min(ended, measure_to) - measure_from)
    lat = sorted(totals.latencies)
    done = totals.done
    whole_run = done < 2 * concurrency
    if whole_run:
        # Too slow for the window to hold a fair sample (16 clients sharing the server
        # answer in bunches): throughput over the whole run instead, every answer
        # included, from the first request to the last answer.
        good = [(t0, t1) for t0, t1, ok in totals.all if ok]
        done = len(good)
        window = max(1e-9, max((t1 for _, t1 in good), default=ended) - started)
        lat = sorted((t1 - t0) * 1000 for t0, t1 in good)

    def pct(share: float) -> float:
        if not lat:
            return float("nan")
        return lat[min(len(lat) - 1, int(share * len(lat)))]

    return {
        "requests": done,
        "errors": totals.errors,
        "first_error": totals.first_error,
        "seconds": window,
        "whole_run": whole_run,
        "rps": done / window,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": lat[-1] if lat else float("nan"),
        "client_cpu": (cpu_marks["to"] - cpu_marks["from"]) / window,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", metavar="SPEC", required=True, help="JSON spec file")
    args = parser.parse_args()
    with open(args.client, "rb") as handle:
        spec = orjson.loads(handle.read())
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        runner = asyncio.run
    result = runner(run(spec))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
