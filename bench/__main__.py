"""`python -m bench` / `make bench`: every benchmark, one after the other."""

import asyncio

from bench import order_flow, page_query, subscriptions


async def main() -> None:
    await page_query.main()
    print()
    await order_flow.main()
    print()
    await subscriptions.main()


asyncio.run(main())
