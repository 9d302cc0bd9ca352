"""aiodataloader's private parts that internals/ relies on: a DataLoader's ``_cache``
of futures and ``_queue`` of ``Loader`` records, and ``dispatch_queue_batch``, the
function its own dispatch runs for one batch (resolvers/batching.py dispatches on its
own schedule through them)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiodataloader import DataLoader

from internals import cached, dispatch_batch, queue_load, take_queue
from tests.contracts.pins import upgraded

AIODATALOADER = upgraded("aiodataloader")


class Doubles(DataLoader[int, int]):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[int]] = []

    async def batch_load_fn(self, keys: Sequence[int]) -> list[int]:
        self.batches.append(list(keys))
        return [k * 2 for k in keys]


async def test_the_cache_holds_each_key_s_future() -> None:
    loader = Doubles()
    assert cached(loader, 1) is None, AIODATALOADER
    future = loader.load(1)
    assert cached(loader, 1) is future, AIODATALOADER
    assert await future == 2
    assert cached(loader, 1) is future, AIODATALOADER
    loader.clear(1)
    assert cached(loader, 1) is None, AIODATALOADER


async def test_a_queue_taken_and_dispatched_by_hand_is_one_batch() -> None:
    loader = Doubles()
    futures = [asyncio.get_running_loop().create_future() for _ in range(3)]
    firsts = [
        queue_load(loader, key, future) for key, future in zip((1, 2, 3), futures, strict=True)
    ]
    assert firsts == [True, False, False], AIODATALOADER
    queue = take_queue(loader)
    assert [record.key for record in queue] == [1, 2, 3], AIODATALOADER
    assert take_queue(loader) == [], AIODATALOADER
    await dispatch_batch(loader, queue)
    assert loader.batches == [[1, 2, 3]], AIODATALOADER
    assert [f.result() for f in futures] == [2, 4, 6], AIODATALOADER


async def test_do_resolve_reject_queues_as_queue_load_does() -> None:
    # ScheduledLoader overrides do_resolve_reject with queue_load: the base class must
    # still call it for every key it does not have cached.
    queued: list[int] = []

    class Watching(Doubles):
        def do_resolve_reject(self, key: int, future: asyncio.Future[int]) -> None:
            queued.append(key)
            queue_load(self, key, future)

    loader = Watching()
    pending = [loader.load(1), loader.load(2), loader.load(1)]
    assert queued == [1, 2], AIODATALOADER
    await dispatch_batch(loader, take_queue(loader))
    assert [await f for f in pending] == [2, 4, 2], AIODATALOADER
