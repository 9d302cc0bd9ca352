"""`python -m bench` / `make bench`: the HTTP benchmarks, what metrics cost the page query
(bench/metrics_cost.py), subscription fan-out, the bounded abuse scenario (1 MB
documents from other clients; bench/abuse.py), how fast a buyer's write reaches their
recommendations (bench/recommendation_freshness.py), then an API process's resident memory
under load (bench/memory.py; exits non-zero when over its 150 MiB target).

    python -m bench [--use-postgres URL] [--use-sqlite sqlite:///PATH]

``--use-postgres`` / ``--use-sqlite`` name databases the HTTP benchmarks keep between
runs (bench/http_suite.py): the first run seeds them (1,000 buyers x 50 orders), later
runs read them as they are, so only the first pays for seeding. Without them both are
seeded afresh and dropped. Each part's wall time is printed at the end.

The in-process benchmarks (``python -m bench.page_query``, ``python -m bench.order_flow``)
are not part of it: the HTTP suite measures the same operations through a real server.
"""

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable

from bench import abuse, http_suite, memory, metrics_cost, recommendation_freshness, subscriptions


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--use-postgres", metavar="URL", help="kept PostgreSQL database")
    parser.add_argument("--use-sqlite", metavar="URL", help="kept SQLite file (sqlite:///path)")
    args = parser.parse_args(argv)
    command = " ".join(["python -m bench", *argv])
    kept = [
        *(["--use-postgres", args.use_postgres] if args.use_postgres else []),
        *(["--use-sqlite", args.use_sqlite] if args.use_sqlite else []),
    ]
    took: dict[str, float] = {}

    async def part(name: str, run: Awaitable[object]) -> object:
        started = time.monotonic()
        try:
            return await run
        finally:
            took[name] = time.monotonic() - started
            print(flush=True)

    await part("http_suite", http_suite.main(kept, command=command))
    await part("metrics_cost", metrics_cost.main([], command=command))
    await part("subscriptions", subscriptions.main())
    await part("abuse", abuse.main([], command=command))
    await part("recommendation_freshness", recommendation_freshness.main([]))
    over = await part("memory", memory.main([], command=command))
    print(
        "make bench wall time: "
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in took.items())
        + f"; in all {sum(took.values()) / 60:.1f} min"
    )
    if over:
        sys.exit(1)


asyncio.run(main(sys.argv[1:]))
