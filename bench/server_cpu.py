"""Our server's CPU per request beside the stronger floor, optionally beside another
checkout of ours, in interleaved rounds of one run.

    python -m bench.server_cpu --database URL [--before DIR] [--rounds N] [--seconds S]
                               [--scenarios page,detail,activity] [--clients N]
                               [--profile DIR]

A seeded database (``ordercenter seed --users=1000 --orders-per-user=50``) is read,
never written: page, order detail and activity only. Started as separate processes:
our server from this checkout (``ours``), from ``--before`` (``before``: another
checkout, e.g. ``git archive <commit> | tar -x -C DIR``, run with this environment's
packages), and the stronger floor (bench/floor.py's /sql routes). Each round drives
every (scenario, server) pair once, from a separate client process (bench/load.py),
the servers' order rotating from round to round, so that a busy moment of a shared
machine is spread over all of them.

Printed per scenario and server: requests/s, the worst round's p99, CPU milliseconds
per request of the server process and of its PostgreSQL sessions (bench/pg_sessions.py),
the sessions it opened in the measured windows, and req/s and CPU ratios against the
floor and against ``before``. CPU per request is what a loaded machine disturbs least.

``--profile DIR`` records ``ours`` with py-spy (when installed) over the whole run
into DIR/ours-<scenario>.txt (collapsed stacks, one file per scenario).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from bench.databases import plain_url
from bench.http_suite import (
    CONCURRENCY,
    MAX_REQUESTS,
    PYTHON,
    ROOT,
    STRONG,
    Row,
    Server,
    _env,
    drive,
    free_port,
    load_fixtures,
    merge_rounds,
    requests_for,
    serving,
    uvicorn_command,
)

SCENARIOS = ("page", "detail", "activity")
OURS, BEFORE = "ours", "before"


def _serve_command(port: int) -> list[str]:
    # app.cli from whichever checkout PYTHONPATH names first.
    main = "import sys; from app.cli import main; sys.exit(main())"
    serve = ["serve", "--no-migrate", "--host", "127.0.0.1", "--port", str(port)]
    return [PYTHON, "-P", "-c", main, *serve]


def _spec(server: Server, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": int(server.url.rsplit(":", 1)[1]),
        "concurrency": args.clients,
        "warmup": args.warmup,
        "duration": args.seconds,
        "max_requests": MAX_REQUESTS,
    }


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b and b == b and a == a else "-"


def _load_average() -> str:
    with contextlib.suppress(OSError), open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])
    return "?"


def _profiled(server: Server, out: Path, seconds: float) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy", path=str(Path(PYTHON).parent))
    if spy is None:
        return None
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(server.process.pid),
            "--format",
            "raw",
            "--rate",
            "250",
            "--duration",
            str(int(seconds) + 1),
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def run(args: argparse.Namespace) -> None:
    url = args.database
    fixtures = await load_fixtures(url)
    scenarios = [s for s in args.scenarios.split(",") if s]
    plan: list[tuple[str, list[str], dict[str, str]]] = [
        (OURS, _serve_command(0), _env(url)),
        (STRONG, [], _env(url)),
    ]
    if args.before:
        before = args.before
        plan.insert(1, (BEFORE, _serve_command(0), {**_env(url), "PYTHONPATH": before}))
    with tempfile.TemporaryDirectory(prefix="server-cpu-") as tmp_name:
        tmp = Path(tmp_name)
        async with AsyncExitStack() as stack:
            servers: dict[str, Server] = {}
            for name, command, env in plan:
                port = free_port()
                if name == STRONG:
                    command = uvicorn_command("bench.floor:app_factory", port)
                else:
                    command = [*command[:-1], str(port)]
                cwd_env = {**env, "PYTHONPATH": env.get("PYTHONPATH", str(ROOT))}
                servers[name] = await stack.enter_async_context(
                    serving(name, command, cwd_env, port, tmp)
                )
            postgres = plain_url(url)
            names = list(servers)
            measured: list[Row] = []
            print(f"load average at start: {_load_average()}", flush=True)
            for scenario in scenarios:
                spy = None
                if args.profile:
                    total = args.rounds * (args.seconds + args.warmup + 1) * len(names)
                    out = Path(args.profile) / f"ours-{scenario}.txt"
                    spy = await asyncio.to_thread(_profiled, servers[OURS], out, total)
                for impl in names:
                    # Untimed: the first requests of a document compile its plan (on
                    # graphql-core meanwhile) and verify each buyer's token once.
                    target = OURS if impl == BEFORE else impl
                    path, requests = requests_for(scenario, target, fixtures)
                    warm = {**_spec(servers[impl], args), "path": path, "requests": requests}
                    warm["duration"] = args.warm
                    await drive(servers[impl], warm, tmp, Row("PostgreSQL", scenario, impl))
                for round_ in range(args.rounds):
                    shift = round_ % len(names)
                    for impl in names[shift:] + names[:shift]:
                        row = Row("PostgreSQL", scenario, impl)
                        row.clients = args.clients
                        target = OURS if impl == BEFORE else impl  # same requests
                        path, requests = requests_for(scenario, target, fixtures)
                        spec = {**_spec(servers[impl], args), "path": path, "requests": requests}
                        await drive(servers[impl], spec, tmp, row, postgres)
                        print(
                            f"  {scenario:<9} {impl:<9} round {round_ + 1}: {row.rps:7.1f} req/s"
                            f"  server {row.per_request_ms(row.server_cpu):.2f} ms/req"
                            f"  load {_load_average()} {row.note}",
                            flush=True,
                        )
                        measured.append(row)
                if spy is not None:
                    await asyncio.to_thread(spy.wait)
            print(f"load average at end: {_load_average()}")
    _report(merge_rounds(measured), names)


def _report(rows: list[Row], names: list[str]) -> None:
    by = {(r.scenario, r.impl): r for r in rows}
    print(
        f"\n{'scenario':<9} {'server':<9} {'req/s':>7} {'p99 ms':>7} {'srv ms/req':>10} "
        f"{'pg ms/req':>9} {'new sess':>8} {'rps/floor':>9} {'srv/floor':>9} {'srv/before':>10}"
    )
    for scenario in dict.fromkeys(r.scenario for r in rows):
        floor = by.get((scenario, STRONG))
        before = by.get((scenario, BEFORE))
        for impl in names:
            row = by.get((scenario, impl))
            if row is None:
                continue
            srv = row.per_request_ms(row.server_cpu)
            pg = row.per_request_ms(row.pg_cpu)
            print(
                f"{scenario:<9} {impl:<9} {row.rps:7.1f} {row.p99:7.1f} {srv:10.3f} {pg:9.3f} "
                f"{row.new_backends if row.new_backends is not None else '-':>8} "
                f"{_ratio(row.rps, floor.rps) if floor else '-':>9} "
                f"{_ratio(srv, floor.per_request_ms(floor.server_cpu)) if floor else '-':>9} "
                f"{_ratio(srv, before.per_request_ms(before.server_cpu)) if before else '-':>10}"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, help="a seeded PostgreSQL URL (read only)")
    parser.add_argument("--before", help="another checkout of ours to run beside this one")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0, help="each measured window")
    parser.add_argument("--warmup", type=float, default=1.0, help="before each window")
    parser.add_argument("--warm", type=float, default=4.0, help="untimed, per server first")
    parser.add_argument("--clients", type=int, default=CONCURRENCY)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--profile", help="py-spy records of ours go here")
    args = parser.parse_args(argv)
    if args.before:
        args.before = str(Path(args.before).resolve())
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
