"""Buyers' actions handed to `ordercenter worker` through a table (worker mode).

In worker mode the API process keeps no refresher: the use-cases' ``request(user_id)``
lands here and upserts one ``recommendation_requests`` row per buyer; the worker
recomputes buyers whose latest request is older than the debounce, then deletes the
row unless a newer action moved it meanwhile. A table, not timestamps of orders,
tags and views: untagging, clearing views and dismissing delete or change rows
without leaving a time behind. Importing this module loads no numpy or scipy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, delete, select

from db.engine import SessionFactory
from db.models import RecommendationRequest
from db.types import utcnow
from db.writing import upsert, write_transaction

log = logging.getLogger("ordercenter.recommendations")

BATCH = 200


class RefreshRequests:
    """The API process's ``ctx.refresher`` in worker mode: records, never recomputes."""

    def __init__(self, sessions: SessionFactory, clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    def request(self, user_id: int) -> None:
        """Record that the user acted, after the response's own commit; returns at once."""
        task = asyncio.get_running_loop().create_task(self.record(user_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def record(self, user_id: int) -> None:
        try:
            async with self._sessions() as session, write_transaction(session):
                insert = upsert(session, RecommendationRequest).values(
                    user_id=user_id, requested_at=self._clock()
                )
                await session.execute(
                    insert.on_conflict_do_update(
                        index_elements=["user_id"],
                        set_={"requested_at": insert.excluded.requested_at},
                    )
                )
                await session.commit()
        except Exception:
            # The action itself committed; only its effect on the list waits for the
            # buyer's next action (or `ordercenter recommend`).
            log.exception("recording a recommendation refresh for user %d failed", user_id)

    async def close(self) -> None:
        """Lets the writes already started finish: they are one short statement each."""
        tasks = list(self._tasks)
        if tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)


async def due_requests(
    sessions: SessionFactory, before: datetime, limit: int = BATCH
) -> list[tuple[int, datetime]]:
    """Buyers whose latest request is older than ``before``, oldest first."""
    statement = (
        select(col(RecommendationRequest.user_id), col(RecommendationRequest.requested_at))
        .where(col(RecommendationRequest.requested_at) < before)
        .order_by(col(RecommendationRequest.requested_at))
        .limit(limit)
    )
    async with sessions() as session:
        return [(int(u), at) for u, at in (await session.execute(statement)).all()]


async def earliest_request(sessions: SessionFactory) -> datetime | None:
    """When the longest-waiting buyer's latest request was made; None if nobody waits."""
    statement = select(func.min(col(RecommendationRequest.requested_at)))
    async with sessions() as session:
        earliest: datetime | None = (await session.execute(statement)).scalar()
        return earliest


async def forget_request(sessions: SessionFactory, user_id: int, requested_at: datetime) -> None:
    """Delete the request that was served; one made after it stays for the next pass."""
    async with sessions() as session, write_transaction(session):
        await session.execute(
            delete(RecommendationRequest).where(
                col(RecommendationRequest.user_id) == user_id,
                col(RecommendationRequest.requested_at) <= requested_at,
            )
        )
        await session.commit()
