"""`python -m bench` / `make bench`: every benchmark, one after the other."""

import asyncio

from bench import page_query

asyncio.run(page_query.main())
