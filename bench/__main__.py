"""`python -m bench` / `make bench`: the HTTP benchmarks, what metrics cost the page query
(bench/metrics_cost.py), subscription fan-out, the bounded abuse scenario (1 MB
documents from other clients; bench/abuse.py), how fast a buyer's write reaches their
recommendations (bench/recommendation_freshness.py), then an API process's resident memory
under load (bench/memory.py; exits non-zero when over its 150 MiB target).

The in-process benchmarks (``python -m bench.page_query``, ``python -m bench.order_flow``)
are not part of it: the HTTP suite measures the same operations through a real server.
"""

import asyncio
import sys

from bench import abuse, http_suite, memory, metrics_cost, recommendation_freshness, subscriptions


async def main() -> None:
    await http_suite.main([], command="python -m bench")
    print()
    await metrics_cost.main([], command="python -m bench")
    print()
    await subscriptions.main()
    print()
    await abuse.main([], command="python -m bench")
    print()
    await recommendation_freshness.main([])
    if await memory.main([], command="python -m bench"):
        sys.exit(1)


asyncio.run(main())
