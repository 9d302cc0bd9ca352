"""What metrics cost the page query: the same server with metrics off and on, same run.

    python -m bench.metrics_cost [--rounds N] [--duration S] [--users N] [--postgres]

Seeds a temporary SQLite file (or, with --postgres, a throwaway PostgreSQL database as
bench/http_suite.py does), starts ``ordercenter serve`` twice (production settings:
``ORDERCENTER_METRICS=false`` and ``ORDERCENTER_METRICS=true``, /metrics on the API
port), then drives the page query (bench.queries.ORDER_CENTER_PAGE, first: 20, a
buyer per request) at each, alternating off/on for ``--rounds`` rounds so that a busy
moment of a shared machine falls on both. Prints each round and the ratio of the
medians of req/s (on/off); the target is a cost under 3 %.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

from bench.databases import postgres_base, postgres_reachable, throwaway_postgres, throwaway_sqlite
from bench.http_suite import (
    CONCURRENCY,
    WARMUP,
    Row,
    _env,
    drive,
    free_port,
    header,
    load_fixtures,
    ours_command,
    requests_for,
    seed,
    serving,
)

TARGET = 0.03


async def main(argv: list[str] | None = None, command: str | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.metrics_cost", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="off/on pairs")
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per run")
    parser.add_argument("--users", type=int, default=300, help="buyers seeded (50 orders each)")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL, not SQLite")
    args = parser.parse_args(argv)
    command = command or " ".join(["python -m bench.metrics_cost", *(argv or [])])
    print(f"metrics cost | {header(command)}", flush=True)
    async with AsyncExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="oc-bench-metrics-")))
        database = "SQLite"
        base = postgres_base() if args.postgres else None
        if base is not None and not await postgres_reachable(base):
            url = await stack.enter_async_context(throwaway_postgres(base))
            database = "PostgreSQL"
        else:
            url = await stack.enter_async_context(throwaway_sqlite())
        took = await seed(url, users=args.users)
        fixtures = await load_fixtures(url)
        print(f"  {database}: {args.users} buyers x 50 orders seeded in {took:.0f} s", flush=True)
        servers = {}
        for name, flag in (("off", "false"), ("on", "true")):
            port = free_port()
            env = _env(url, ORDERCENTER_METRICS=flag)
            servers[name] = await stack.enter_async_context(
                serving(f"metrics {name}", ours_command(port), env, port, tmp)
            )
        path, requests = requests_for("page", "ours", fixtures)
        rps: dict[str, list[float]] = {"off": [], "on": []}
        for round_ in range(args.rounds):
            for name in ("off", "on") if round_ % 2 == 0 else ("on", "off"):
                server = servers[name]
                row = Row(database, "page", f"metrics {name}")
                spec = {
                    "host": "127.0.0.1",
                    "port": int(server.url.rsplit(":", 1)[1]),
                    "concurrency": CONCURRENCY,
                    "warmup": WARMUP,
                    "duration": args.duration,
                    "max_requests": 200_000,
                    "path": path,
                    "requests": requests,
                }
                await drive(server, spec, tmp, row)
                if row.errors or not row.requests:
                    raise RuntimeError(f"metrics {name}: {row.errors} errors; {row.note}")
                rps[name].append(row.rps)
                print(
                    f"  round {round_ + 1} metrics {name:<3} {row.rps:8.1f} req/s "
                    f"p50 {row.p50:6.1f} ms p99 {row.p99:6.1f} ms",
                    flush=True,
                )
    off, on = statistics.median(rps["off"]), statistics.median(rps["on"])
    cost = 1 - on / off
    verdict = "within" if cost < TARGET else "OVER"
    print(
        f"{database} page: median req/s off {off:.1f}, on {on:.1f}: on/off {on / off:.3f} "
        f"(cost {cost:+.1%}; {verdict} the {TARGET:.0%} target)"
    )


if __name__ == "__main__":
    started = time.monotonic()
    asyncio.run(main(sys.argv[1:]))
    print(f"wall time: {time.monotonic() - started:.0f} s")
