"""Our server's CPU per status change, optionally beside another checkout of ours.

    python -m bench.status_changes [--before DIR] [--changes N] [--rounds N] [--postgres URL]

Every status change makes a live event: at a thousand subscribers its cost is a large
part of what each event costs the server (bench/subscriptions.py's saturation). Per
round and server: a fresh ``ordercenter serve`` on a freshly seeded database (5 buyers
x 5 orders; a SQLite file, or with ``--postgres URL`` a database made on that server
and dropped after), ``N`` paid orders placed by the demo buyer, then, by the operator
and one after the other, ``shipOrder`` on each, then ``updateOrderStatus`` to
IN_TRANSIT and to DELIVERED on each: 3 x N status changes, timed after a warm-up of
60. Printed: the server process's CPU milliseconds per status change (all its threads:
aiosqlite runs each SQLite connection in its own) and the client's wall milliseconds
per change. ``--before DIR``: the same from that checkout (e.g. ``git worktree add
--detach DIR <commit>``), run with this environment's packages, in alternating rounds;
the best round of each is compared, as a busy moment of a shared machine only ever
adds CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.databases import throwaway_postgres
from bench.subscriptions import OPERATOR_HANDLE, _mutations, _place_orders

WARMUP_ORDERS = 20  # 3 x 20 warm-up changes


@dataclass
class Measured:
    cpu_ms: list[float] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, all its threads."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one_round(
    changes: int, checkout: Path | None, postgres: str | None
) -> tuple[float, float]:
    """(server CPU ms, client wall ms) per status change, on a fresh server and database."""
    if postgres is None:
        return await _measured(changes, checkout, None)
    async with throwaway_postgres(postgres) as url:
        return await _measured(changes, checkout, url)


async def _measured(
    changes: int, checkout: Path | None, database_url: str | None
) -> tuple[float, float]:
    from tests.server.serving import ORDERCENTER, running_server

    extra = {
        "ORDERCENTER_SWEEP_INTERVAL_SECONDS": "0",
        "ORDERCENTER_BUS_URL": "memory://",
    }
    if checkout is not None:
        extra["PYTHONPATH"] = str(checkout)
    with running_server(
        users=5, orders_per_user=5, database_url=database_url, extra_env=extra
    ) as server:
        pid = server.process.pid
        minted = await asyncio.to_thread(
            subprocess.run,
            [ORDERCENTER, "token", OPERATOR_HANDLE],
            env=server.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        operator = minted.stdout.strip()
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            db_url = server.env["ORDERCENTER_DATABASE_URL"]
            orders = await _place_orders(http, db_url, server.demo_token, changes + WARMUP_ORDERS)
            warm = _mutations(http, orders[:WARMUP_ORDERS], operator)
            for i in range(3 * WARMUP_ORDERS):
                await warm(i)
            fire = _mutations(http, orders[WARMUP_ORDERS:], operator)
            cpu, started = cpu_seconds(pid), time.monotonic()
            for i in range(3 * changes):
                await fire(i)
            spent, took = cpu_seconds(pid) - cpu, time.monotonic() - started
    return spent * 1000 / (3 * changes), took * 1000 / (3 * changes)


async def run(args: argparse.Namespace, before: Path | None) -> None:
    servers: dict[str, Path | None] = {"ours": None}
    if before is not None:
        servers["before"] = before
    results = {name: Measured() for name in servers}
    for round_ in range(args.rounds):
        names = list(servers) if round_ % 2 == 0 else list(reversed(servers))
        for name in names:
            cpu, wall = await one_round(args.changes, servers[name], args.postgres)
            results[name].cpu_ms.append(cpu)
            results[name].wall_ms.append(wall)
            print(f"round {round_ + 1} {name:<6} {cpu:6.2f} ms CPU, {wall:6.2f} ms wall per change")
    per_round = 3 * args.changes
    print(
        f"\n{'server':<7} {'best CPU ms':>11} {'best wall ms':>12}"
        f"  (per change, {per_round} a round)"
    )
    for name, measured in results.items():
        print(f"{name:<7} {min(measured.cpu_ms):11.2f} {min(measured.wall_ms):12.2f}")
    if before is not None:
        ratio = min(results["ours"].cpu_ms) / min(results["before"].cpu_ms)
        print(f"ours/before CPU per status change: {ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.status_changes", description=__doc__)
    parser.add_argument("--before", help="another checkout of ours, to compare with")
    parser.add_argument("--changes", type=int, default=150, help="orders; 3 changes each")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", help="a PostgreSQL server's URL, instead of SQLite")
    args = parser.parse_args()
    asyncio.run(run(args, Path(args.before).resolve() if args.before else None))


if __name__ == "__main__":
    main()
