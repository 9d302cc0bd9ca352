"""`python -m bench` / `make bench`: the HTTP benchmarks, what metrics cost the page query
(bench/metrics_cost.py), subscription fan-out, then the bounded abuse scenario (1 MB
documents from other clients; bench/abuse.py), then how fast a buyer's write reaches their
recommendations (bench/recommendation_freshness.py).

The in-process benchmarks (``python -m bench.page_query``, ``python -m bench.order_flow``)
are not part of it: the HTTP suite measures the same operations through a real server.
"""

import asyncio

from bench import abuse, http_suite, metrics_cost, recommendation_freshness, subscriptions


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


asyncio.run(main())
