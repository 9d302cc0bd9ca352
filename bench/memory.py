"""Resident memory of an API process in worker mode, under bounded load.

    python -m bench.memory [--duration S] [--users N] [--orders-per-user N]
                           [--subscribers N] [--target-mib M] [--database-url URL]
                           [--sqlite-only]

Issue 17's target: an API process run with ``ORDERCENTER_BACKGROUND=worker`` (no
sweeper, no recommendation refresh, no numpy/scipy) stays under 150 MiB of resident
memory under load. Per database (a temporary SQLite file, and a throwaway PostgreSQL
database on --database-url or ORDERCENTER_TEST_DATABASE_URL / ORDERCENTER_BENCH_DATABASE_URL
when one is given):

1. seeds ``--users`` buyers x ``--orders-per-user`` orders (``ordercenter seed``);
2. starts a real ``ordercenter serve`` (one process, production settings, metrics on
   the API port, ``ORDERCENTER_BACKGROUND=worker``; on PostgreSQL the bus and the
   rate limit in Redis when --redis-url or ORDERCENTER_TEST_REDIS_URL names one, as
   in the production topology) and reads its idle VmRSS once it answers /healthz and
   has settled;
3. drives 16 keep-alive HTTP clients from separate processes (bench/load.py) for
   ``--duration`` seconds: 6 send the page query (bench.queries.ORDER_CENTER_PAGE), 4
   the order detail (ORDER_DETAIL), 4 place and pay orders (PLACE_ORDER, PAY_ORDER), and
   2 send the page query as 100 distinct documents (a comment line apart, each twice:
   more than the parsed-document and plan caches keep) until all are sent,
   while ``--subscribers`` WebSockets (graphql-transport-ws) follow those buyers'
   orders with ``orderStatusChanged`` and receive the events the payments make;
4. samples /proc/PID/status (VmRSS) every 100 ms, and prints idle, the peak (VmHWM,
   the kernel's own high-water mark: nothing between samples escapes it), and VmRSS
   5 s after the load stopped, with thread count and whether numpy/scipy are mapped.

Exits with status 1 when a peak exceeds ``--target-mib`` (or any client saw errors).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.databases import (
    configured_postgres,
    postgres_reachable,
    throwaway_postgres,
    throwaway_sqlite,
)
from bench.http_suite import (
    PYTHON,
    ROOT,
    Server,
    _env,
    free_port,
    header,
    load_fixtures,
    ours_command,
    place_pay_spec,
    requests_for,
    seed,
    serving,
    token,
)
from bench.queries import ORDER_CENTER_PAGE

TARGET_MIB = 150.0
WARMUP = 1.0
SAMPLE_SECONDS = 0.1
SETTLE_SECONDS = 5.0
SUBSCRIPTION = "subscription { orderStatusChanged { cursor toStatus orderVersion occurredAt } }"
# 16 HTTP clients in all: what the other HTTP benchmarks use.
CLIENTS = {"page": 6, "documents": 2, "detail": 4, "place+pay": 4}
# Distinct documents (the page query under another first line, as many client versions
# send), each twice, the second time answered by its compiled plan: together more than
# the parsed-document and plan caches keep, so the peak includes them full. They are
# all sent, up to DOCUMENTS_SECONDS, even when the rest of the load has stopped.
DISTINCT_DOCUMENTS = 100
DOCUMENTS_SECONDS = 120.0


def status_kib(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon, RssFile (KiB) and Threads of a process (/proc/PID/status)."""
    found: dict[str, int] = {}
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads"):
                found[key] = int(value.split()[0])
    return found


def numeric_libraries(pid: int) -> list[str]:
    with contextlib.suppress(OSError):
        maps = Path(f"/proc/{pid}/maps").read_text()
        return [name for name in ("numpy", "scipy") if f"/{name}/" in maps]
    return []


@dataclass
class Measure:
    database: str
    idle_mib: float = float("nan")
    peak_mib: float = float("nan")
    after_mib: float = float("nan")
    after_anon_mib: float = float("nan")
    sampled_max_mib: float = 0.0
    threads_max: int = 0
    requests: int = 0
    errors: int = 0
    events: int = 0
    subscribers: int = 0
    numeric: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


async def _sample(pid: int, measure: Measure, stop: asyncio.Event) -> None:
    while not stop.is_set():
        found = status_kib(pid)
        measure.sampled_max_mib = max(measure.sampled_max_mib, found.get("VmRSS", 0) / 1024)
        measure.threads_max = max(measure.threads_max, found.get("Threads", 0))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)


async def _http_clients(spec: dict[str, Any], tmp: Path, name: str) -> dict[str, Any]:
    spec_file = tmp / f"memory-{name}.json"
    spec_file.write_bytes(orjson.dumps(spec))
    process = await asyncio.create_subprocess_exec(
        PYTHON,
        "-m",
        "bench.load",
        "--client",
        str(spec_file),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    output, errors = await process.communicate()
    if process.returncode != 0:
        return {"requests": 0, "errors": 1, "first_error": errors.decode()[-300:]}
    result: dict[str, Any] = orjson.loads(output.splitlines()[-1])
    return result


async def _subscriber(url: str, bearer: str, measure: Measure, stop: asyncio.Event) -> None:
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    async with connect(
        url, subprotocols=[Subprotocol("graphql-transport-ws")], ping_interval=None
    ) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}}
        await ws.send(json.dumps(init))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"no connection_ack: {ack}")
        await ws.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
        )
        measure.subscribers += 1
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            message = json.loads(raw)
            if message.get("type") == "next":
                if message["payload"].get("errors"):
                    raise RuntimeError(f"subscription error: {message['payload']['errors']}")
                measure.events += 1
            elif message.get("type") == "ping":
                await ws.send('{"type":"pong"}')
            elif message.get("type") in ("error", "complete"):
                raise RuntimeError(f"subscription ended: {message}")


async def measure_database(
    database: str, url: str, args: argparse.Namespace, tmp: Path, *, seeded: bool = False
) -> Measure:
    measure = Measure(database)
    if seeded:
        print(f"  {database}: {url} as it is (not seeded)", flush=True)
    else:
        took = await seed(url, users=args.users, orders_per_user=args.orders_per_user)
        print(
            f"  {database}: {args.users} buyers x {args.orders_per_user} orders "
            f"seeded in {took:.0f} s",
            flush=True,
        )
    fixtures = await load_fixtures(url)
    services = production_services(database, args.redis_url)
    if services:
        print(f"  {database}: bus and rate limit in Redis ({args.redis_url})", flush=True)
    port = free_port()
    env = _env(
        url,
        ORDERCENTER_BACKGROUND="worker",
        ORDERCENTER_METRICS="true",
        ORDERCENTER_LOG_LEVEL="warning",
        **services,
        **dict(setting.split("=", 1) for setting in args.set),
    )
    async with serving(f"memory-{database}", ours_command(port), env, port, tmp) as server:
        pid = _serving_pid(server)
        await asyncio.sleep(2.0)  # start-up done, nothing served yet
        measure.idle_mib = status_kib(pid)["VmRSS"] / 1024
        stop = asyncio.Event()
        sampler = asyncio.create_task(_sample(pid, measure, stop))
        ws_url = f"ws://127.0.0.1:{port}/graphql"
        watched = fixtures.place_pay[: args.subscribers]
        subscribers = [
            asyncio.create_task(_subscriber(ws_url, token(b["user"]), measure, stop))
            for b in watched
        ]
        common = {"host": "127.0.0.1", "port": port, "warmup": WARMUP, "duration": args.duration}
        specs: dict[str, dict[str, Any]] = {}
        for scenario in ("page", "detail"):
            path, requests = requests_for(scenario, "ours", fixtures)
            specs[scenario] = {
                **common,
                "concurrency": CLIENTS[scenario],
                "max_requests": 1_000_000,
                "path": path,
                "requests": requests,
            }
        path, requests = requests_for("page", "ours", fixtures)
        specs["documents"] = {
            **common,
            # Every distinct document twice, however long that takes (bounded).
            "duration": max(args.duration, DOCUMENTS_SECONDS),
            "concurrency": CLIENTS["documents"],
            "max_requests": 2 * DISTINCT_DOCUMENTS,
            "path": path,
            "requests": distinct_documents(requests),
        }
        specs["place+pay"] = {
            **common,
            "concurrency": CLIENTS["place+pay"],
            "max_requests": 1_000_000,
            "path": "/graphql",
            "place_pay": place_pay_spec(fixtures),
        }
        results = await asyncio.gather(
            *(_http_clients(spec, tmp, f"{database}-{name}") for name, spec in specs.items())
        )
        await asyncio.sleep(1.0)  # the last payments' events reach the subscribers
        stop.set()
        for outcome in await asyncio.gather(*subscribers, return_exceptions=True):
            if isinstance(outcome, BaseException):
                measure.errors += 1
                measure.notes.append(f"subscriber: {type(outcome).__name__}: {outcome}")
        for name, result in zip(specs, results, strict=True):
            measure.requests += int(result["requests"])
            measure.errors += int(result["errors"])
            if result.get("first_error"):
                measure.notes.append(f"{name}: {result['first_error'][:200]}")
            print(
                f"  {database:<10} {name:<9} {CLIENTS[name]:>2} clients "
                f"{result['requests']:>6} answers ({result.get('rps', 0):.0f}/s), "
                f"{result['errors']} errors",
                flush=True,
            )
        await sampler
        await asyncio.sleep(SETTLE_SECONDS)
        found = status_kib(pid)
        measure.after_mib = found["VmRSS"] / 1024
        measure.after_anon_mib = found["RssAnon"] / 1024
        measure.peak_mib = found["VmHWM"] / 1024
        measure.numeric = numeric_libraries(pid)
    return measure


def production_services(database: str, redis_url: str | None) -> dict[str, str]:
    """On PostgreSQL with a Redis at hand, the production topology's bus and budgets."""
    if database != "PostgreSQL" or not redis_url:
        return {}
    return {"ORDERCENTER_BUS_URL": redis_url, "ORDERCENTER_RATE_LIMIT_URL": redis_url}


def distinct_documents(page_requests: list[dict[str, str]]) -> list[dict[str, str]]:
    """The page query as DISTINCT_DOCUMENTS different texts, each sent twice in a row."""
    made = []
    for index in range(DISTINCT_DOCUMENTS):
        request = page_requests[index % len(page_requests)]
        body = orjson.loads(request["body"])
        body["query"] = f"# client build {index}\n{ORDER_CENTER_PAGE}"
        body["variables"] = {"first": 1}  # the document is the point, not its answer
        made += 2 * [{"body": orjson.dumps(body).decode(), "token": request["token"]}]
    return made


def _serving_pid(server: Server) -> int:
    # One worker: `ordercenter serve` runs uvicorn in its own process.
    return server.process.pid


def report(measures: list[Measure], target: float) -> bool:
    """Print the table; True when every peak is within the target and nothing failed."""
    print(
        f"{'database':<10} {'idle MiB':>8} {'peak MiB':>8} {'after MiB':>9} {'(anon)':>6} "
        f"{'threads':>7} {'answers':>8} {'events':>6} {'errors':>6}  numpy/scipy"
    )
    ok = True
    for m in measures:
        print(
            f"{m.database:<10} {m.idle_mib:8.1f} {m.peak_mib:8.1f} {m.after_mib:9.1f} "
            f"{m.after_anon_mib:6.1f} "
            f"{m.threads_max:>7} {m.requests:>8} {m.events:>6} {m.errors:>6}  "
            f"{', '.join(m.numeric) or 'not loaded'}"
        )
        for note in m.notes[:5]:
            print(f"  note: {note}")
        within = m.peak_mib <= target
        ok = ok and within and not m.errors and not m.numeric
        print(
            f"{m.database}: peak {m.peak_mib:.1f} MiB is "
            f"{'within' if within else 'OVER'} the {target:.0f} MiB target"
        )
    return ok


async def main(argv: list[str] | None = None, command: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    parser.add_argument("--users", type=int, default=300, help="buyers seeded")
    parser.add_argument("--orders-per-user", type=int, default=30, help="orders per buyer")
    parser.add_argument("--subscribers", type=int, default=50, help="WebSocket subscribers")
    parser.add_argument("--target-mib", type=float, default=TARGET_MIB, help="peak RSS limit")
    parser.add_argument("--database-url", help="PostgreSQL server for a throwaway database")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("ORDERCENTER_TEST_REDIS_URL"),
        help="on PostgreSQL, the bus and rate limit in Redis, as in production "
        "[default: ORDERCENTER_TEST_REDIS_URL]",
    )
    parser.add_argument(
        "--use-sqlite", metavar="URL", help="an already seeded SQLite database (not seeded again)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the server (to compare settings); repeatable",
    )
    args = parser.parse_args(argv)
    command = command or " ".join(["python -m bench.memory", *(argv or [])])
    print(f"memory | {header(command)}", flush=True)
    measures: list[Measure] = []
    async with AsyncExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="oc-bench-memory-")))
        given = {"SQLite"} if args.use_sqlite else set()
        sqlite = args.use_sqlite or await stack.enter_async_context(throwaway_sqlite())
        databases = {"SQLite": sqlite}
        base = None if args.sqlite_only else (args.database_url or configured_postgres())
        if base is not None:
            unreachable = await postgres_reachable(base)
            if unreachable:
                print(f"PostgreSQL at {base} is unreachable ({unreachable}): SQLite only.")
            else:
                databases["PostgreSQL"] = await stack.enter_async_context(throwaway_postgres(base))
        else:
            print("(PostgreSQL: no --database-url nor ORDERCENTER_TEST_DATABASE_URL; SQLite only)")
        for name, url in databases.items():
            measures.append(await measure_database(name, url, args, tmp, seeded=name in given))
    print()
    mix = ", ".join(f"{n} {s}" for s, n in CLIENTS.items())
    print(
        f"memory | ordercenter serve, ORDERCENTER_BACKGROUND=worker, production; "
        f"{sum(CLIENTS.values())} HTTP clients ({mix}) "
        f"+ {args.subscribers} subscribers for {args.duration:.0f} s; "
        f"after = VmRSS {SETTLE_SECONDS:.0f} s after the load"
    )
    ok = report(measures, args.target_mib)
    return 0 if ok else 1


if __name__ == "__main__":
    started = time.monotonic()
    code = asyncio.run(main(sys.argv[1:]))
    print(f"wall time: {time.monotonic() - started:.0f} s")
    sys.exit(code)
