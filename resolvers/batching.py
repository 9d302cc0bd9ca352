"""Level-by-level batching: every waiting loader dispatches together, once per wave.

aiodataloader on its own dispatches a loader one loop tick after its first
``load``. Which keys land in which batch then depends on how many ticks each
resolver chain happens to take, so the number of queries behind the same request
varies from run to run. Here a request's loaders wait until the request has no
query in flight and a few loop turns pass without new loads; then all of them
dispatch at once. The statements behind a request become a function of its shape
alone: one per relation per level, whatever the number of rows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar

from aiodataloader import DataLoader, Loader, dispatch_queue
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("ordercenter.batching")
T = TypeVar("T")

# Loop turns without a new load before a wave dispatches. graphql-core needs a few
# turns to carry one resolved batch through its gathers into the next loads.
QUIET_TURNS = 8
# A session held open while awaiting a loader would otherwise wait forever.
STALL_SECONDS = 0.05


class BatchScheduler:
    def __init__(self) -> None:
        self.busy = 0
        self._pending: list[DataLoader[Any, Any]] = []
        self._quiet = 0
        self._ticking = False
        self._stall: asyncio.TimerHandle | None = None

    def enqueue(self, loader: DataLoader[Any, Any]) -> None:
        self._pending.append(loader)
        self._quiet = 0
        self._start()

    def released(self) -> None:
        """A query finished; if it was the last one, the next wave may be due."""
        if self.busy == 0 and self._pending:
            self._quiet = 0
            self._start()

    def _start(self) -> None:
        if not self._ticking:
            self._ticking = True
            asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        self._ticking = False
        if not self._pending:
            return
        if self.busy:
            # released() restarts the count; the timer guards against a caller that
            # awaits a loader while holding a session open.
            if self._stall is None:
                self._stall = asyncio.get_running_loop().call_later(STALL_SECONDS, self._stalled)
            return
        self._quiet += 1
        if self._quiet < QUIET_TURNS:
            self._start()
            return
        self._dispatch()

    def _stalled(self) -> None:
        self._stall = None
        if self._pending:
            log.warning("dispatching loaders while %d queries are still open", self.busy)
            self._dispatch()

    def _dispatch(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        pending, self._pending = self._pending, []
        self._quiet = 0
        for loader in pending:
            dispatch_queue(loader)


class ScheduledLoader(DataLoader[Any, Any]):
    """A DataLoader that hands its dispatch to the request's BatchScheduler."""

    def __init__(self, scheduler: BatchScheduler, *, cache: bool = True) -> None:
        super().__init__(cache=cache)
        self._scheduler = scheduler

    def do_resolve_reject(self, key: Any, future: asyncio.Future[Any]) -> None:
        self._queue.append(Loader(key=key, future=future))
        if len(self._queue) == 1:
            self._scheduler.enqueue(self)


class DeferredQueryLoader(ScheduledLoader):
    """Runs one-off queries (a page, a count) in the request's waves, not between them.

    Its keys are zero-argument coroutine functions; each runs once, concurrently with
    the rest of its wave, and a failure fails only its own caller.
    """

    def __init__(self, scheduler: BatchScheduler) -> None:
        super().__init__(scheduler, cache=False)

    async def batch_load_fn(self, keys: Sequence[Callable[[], Awaitable[Any]]]) -> list[Any]:
        return list(await asyncio.gather(*(key() for key in keys), return_exceptions=True))

    async def run(self, query: Callable[[], Awaitable[T]]) -> T:
        result: T = await self.load(query)
        return result


class TrackedSession:
    """A session whose lifetime counts as a query in flight for the scheduler."""

    def __init__(self, session: AsyncSession, scheduler: BatchScheduler) -> None:
        self._session = session
        self._scheduler = scheduler

    async def __aenter__(self) -> AsyncSession:
        self._scheduler.busy += 1
        try:
            return await self._session.__aenter__()
        except BaseException:
            self._scheduler.busy -= 1
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._session.__aexit__(exc_type, exc, tb)
        finally:
            self._scheduler.busy -= 1
            self._scheduler.released()


def tracked(
    sessions: Callable[[], AsyncSession], scheduler: BatchScheduler
) -> Callable[[], TrackedSession]:
    return lambda: TrackedSession(sessions(), scheduler)
