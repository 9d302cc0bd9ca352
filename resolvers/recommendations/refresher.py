"""Keeping a buyer's recommendations fresh after they act, off the request path.

A mutation calls ``request(user_id)`` after its commit and returns at once. The
refresh runs ``debounce_seconds`` after the last request for that user, so a burst
of views costs one recompute; a request arriving while one runs schedules another
after it, so the last action is always reflected. The item-item model is shared and
rebuilt at most every ``model_max_age_seconds``; each refresh reads only the user's
own behaviour and today's availability, which is what changes between rebuilds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from db.engine import SessionFactory
from db.types import utcnow
from resolvers.recommendations.config import DEFAULT_CONFIG, EngineConfig
from resolvers.recommendations.rebuild import RebuildProcess

if TYPE_CHECKING:
    from resolvers.recommendations.engine import Behaviour, Model, Pick

log = logging.getLogger("ordercenter.recommendations")

# After a full rebuild, buyers refreshed meanwhile are folded into the new model in
# rounds without the fold lock until at most this many are left; those, and whoever
# came in between, are folded under the lock, so refreshes never wait for a big fold.
SWAP_FOLD_LIMIT = 4
SWAP_ROUNDS = 3


class RecommendationRefresher:
    def __init__(
        self,
        sessions: SessionFactory,
        *,
        debounce_seconds: float = 1.0,
        model_max_age_seconds: float = 600.0,
        config: EngineConfig = DEFAULT_CONFIG,
        clock: Callable[[], datetime] = utcnow,
        observe: Callable[[float, bool], None] | None = None,
        scheduled_rebuilds: bool = False,
        rebuild_database_url: str | None = None,
        first_build_apart: bool = False,
    ) -> None:
        self._sessions = sessions
        # With a database URL, full rebuilds read and build in a child process at a
        # lower priority (``rebuild``), so they never hold up a buyer's own update.
        self._rebuild_process = (
            RebuildProcess(rebuild_database_url) if rebuild_database_url is not None else None
        )
        # The first build apart too (the server, whose loop answers requests): read here,
        # everyone's behaviour held the loop for about a second, and every request with it.
        self._first_build_apart = first_build_apart and self._rebuild_process is not None
        # In the worker the model is rebuilt on a schedule (``rebuild``), never on a
        # refresh's path: a buyer's update then costs their own rows only, whatever
        # the size of the shop.
        self._scheduled_rebuilds = scheduled_rebuilds
        # Told each refresh's seconds and whether it failed (the server's metrics).
        self._observe = observe
        self.debounce_seconds = debounce_seconds
        self.model_max_age_seconds = model_max_age_seconds
        self.config = config
        self._clock = clock
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._running: set[int] = set()
        self._again: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._model: Model | None = None
        self._model_built = 0.0  # time.monotonic() of the build
        self._model_lock = asyncio.Lock()
        # Folding a buyer into the model and swapping a rebuilt one in never interleave.
        self._fold_lock = asyncio.Lock()
        # Buyers folded in since the running rebuild read everyone's behaviour: their
        # change may be missing from its snapshot, so it is folded into it again.
        self._folded: dict[int, Behaviour] = {}
        self._closed = False

    def request(self, user_id: int) -> None:
        """Recompute the user's recommendations soon; requests within the debounce coalesce."""
        if self._closed:
            return
        timer = self._timers.pop(user_id, None)
        if timer is not None:
            timer.cancel()
        loop = asyncio.get_running_loop()
        self._timers[user_id] = loop.call_later(self.debounce_seconds, self._fire, user_id)

    def _fire(self, user_id: int) -> None:
        self._timers.pop(user_id, None)
        if user_id in self._running:
            self._again.add(user_id)
            return
        self._running.add(user_id)
        task = asyncio.get_running_loop().create_task(self._run(user_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, user_id: int) -> None:
        try:
            while True:
                self._again.discard(user_id)
                started, failed = time.perf_counter(), False
                try:
                    await self.refresh(user_id)
                except Exception:
                    # Stale recommendations are better than a dead refresher; the next
                    # action of this user tries again.
                    failed = True
                    log.exception("refreshing recommendations of user %d failed", user_id)
                if self._observe is not None:
                    self._observe(time.perf_counter() - started, failed)
                if user_id not in self._again or self._closed:
                    return
        finally:
            self._running.discard(user_id)

    @property
    def builds_apart(self) -> int:
        """Models built in the child process so far."""
        return 0 if self._rebuild_process is None else self._rebuild_process.builds

    async def model(self) -> Model:
        """The shared model, rebuilt from everyone's behaviour when missing or too old."""
        # Imported in ``_build``, not at the top: the server makes its refresher at
        # start-up, and numpy and scipy (about 25 MiB) should cost a process nothing
        # until a refresh.
        model = self._model
        stale = time.monotonic() - self._model_built > self.model_max_age_seconds
        if model is not None and (self._scheduled_rebuilds or not stale):
            return model
        async with self._model_lock:
            age = time.monotonic() - self._model_built
            if self._model is None or age > self.model_max_age_seconds:
                return await self.rebuild()
            return self._model

    async def _build(self) -> Model:
        from resolvers.recommendations.data import load_everything
        from resolvers.recommendations.engine import build_model

        now = self._clock().timestamp()
        # The first build is awaited by every refresh (there is no model to fold into
        # yet): the worker runs it here, at its own priority; the server, whose loop
        # answers requests, apart like the later ones (first_build_apart).
        apart = self._model is not None or self._first_build_apart
        if self._rebuild_process is not None and apart:
            model = await self._rebuild_process.build(now, self.config)
            self._model_built = time.monotonic()
            return model
        products, behaviour, _ = await load_everything(self._sessions)
        # Seconds of numpy/scipy work on a large shop: not on the event loop.
        model = await asyncio.to_thread(build_model, products, behaviour, now, self.config)
        self._model_built = time.monotonic()
        return model

    async def rebuild(self) -> Model:
        """A full rebuild from everyone's behaviour, swapped in when done.

        Refreshes meanwhile keep using (and folding buyers into) the previous model, so
        they never wait for it; the buyers they folded in are folded into the new one.
        """
        from resolvers.recommendations.engine import with_buyers

        self._folded = {}
        model = await self._build()
        # Buyers folded into the previous model meanwhile are folded into this one: the
        # bulk of them while refreshes go on, only the last few while they wait.
        for _ in range(SWAP_ROUNDS):
            async with self._fold_lock:
                if len(self._folded) <= SWAP_FOLD_LIMIT:
                    break
                pending, self._folded = self._folded, {}
            model = await asyncio.to_thread(with_buyers, model, pending, self.config)
        async with self._fold_lock:
            if self._folded:
                model = await asyncio.to_thread(with_buyers, model, self._folded, self.config)
            self._folded = {}
            self._model = model
        return model

    async def refresh(self, user_id: int) -> list[Pick]:
        """Fold the user's behaviour into the model, then recompute and store their list."""
        return (await self.refresh_many([user_id]))[user_id]

    async def refresh_many(self, user_ids: list[int]) -> dict[int, list[Pick]]:
        """``refresh`` for several users, with one fold and one write for them all."""
        from resolvers.recommendations.data import load_behaviour, load_unavailable
        from resolvers.recommendations.engine import recommend, with_buyers
        from resolvers.recommendations.store import replace_recommendations

        await self.model()
        owns: dict[int, Behaviour] = {}
        async with self._sessions() as session:
            for user_id in user_ids:
                owns[user_id] = await load_behaviour(session, user_id)
            unavailable = await load_unavailable(session)
        # The incremental update: these buyers' behaviour folded into the shared model,
        # so each one's list is what a full rebuild would give them (engine.with_buyers).
        async with self._fold_lock:
            current = self._model
            if current is None:
                raise RuntimeError("no model to refresh against")
            model = await asyncio.to_thread(with_buyers, current, owns, self.config)
            self._model = model
            self._folded.update(owns)
        now = self._clock()
        available = model.products.availability(unavailable)

        def lists() -> dict[int, list[Pick]]:
            return {
                user_id: recommend(model, own, now.timestamp(), self.config, available)
                for user_id, own in owns.items()
            }

        picks = await asyncio.to_thread(lists)
        await replace_recommendations(self._sessions, picks, now)
        return picks

    @property
    def pending(self) -> int:
        """Users waiting for their debounce or being refreshed."""
        return len(self._timers) + len(self._running)

    async def close(self) -> None:
        """Drops what is pending and stops what runs; later requests are ignored."""
        self._closed = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._rebuild_process is not None:
            await self._rebuild_process.stop()
