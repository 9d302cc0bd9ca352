"""`ordercenter worker`: order timeouts and recommendation refreshes, off the request path.

Recommendations: each buyer whose action asked for a refresh gets an incremental update
(their own behaviour against the current model, a few hundred milliseconds); the model
itself is rebuilt from everyone's behaviour every ``recommendation_model_max_age_seconds``
in a child process at a lower CPU priority (``resolvers/recommendations/rebuild.py``)
and swapped in when done.

Several workers may run; one leads and does the work, the others stand by. On
PostgreSQL the leader holds a session-level advisory lock on a connection of its own,
so when its process dies the connection drops, PostgreSQL releases the lock, and a
standby takes it on its next try (every ``worker_poll_seconds``). A leader that loses
its lock connection stops its work at once and tries again like a standby; should two
ever sweep together for that moment, each order still moves once (resolvers/mutations/
timeouts.py). SQLite has no such lock: there every worker leads, so run one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import make_url

from app import metrics
from app.bus import make_bus
from app.settings import Settings
from db.engine import SessionFactory, create_engine, create_session_factory
from db.types import utcnow
from resolvers.context import Context
from resolvers.gateway import SandboxGateway
from resolvers.mutations.timeouts import apply_timeouts
from resolvers.recommendations.refresher import RecommendationRefresher
from resolvers.recommendations.requests import due_requests, earliest_request, forget_request

log = logging.getLogger("ordercenter.worker")

# Arbitrary, fixed key of the session-level advisory lock that makes a worker the leader.
LEADER_LOCK = 7_406_318_227
# How often the leader makes sure its lock connection (so its lock) is still there.
LEASE_CHECK_SECONDS = 1.0


async def sweep_forever(make_context: Callable[[], Context], interval: float) -> None:
    """Apply order timeouts every ``interval`` seconds until cancelled."""
    while True:
        await asyncio.sleep(interval)
        try:
            with metrics.timed("timeout_sweep"):
                report = await apply_timeouts(make_context())
        except Exception:
            log.exception("order timeout sweep failed; retrying next interval")
            continue
        if report.cancelled or report.completed:
            log.info(
                "timeouts: cancelled %d unpaid, completed %d delivered orders",
                report.cancelled,
                report.completed,
            )


# The shortest nap between passes: a backlog larger than one batch is served at once.
MIN_REFRESH_WAIT_SECONDS = 0.02


def refresh_wait(
    earliest: datetime | None, now: datetime, debounce: timedelta, interval: float
) -> float:
    """Seconds until the next pass: when the earliest waiting request comes due, at most
    ``interval`` (new requests are seen no later), at least a short nap."""
    if earliest is None:
        return interval
    until_due = (earliest + debounce - now).total_seconds()
    return min(interval, max(MIN_REFRESH_WAIT_SECONDS, until_due))


async def refresh_requested_forever(
    sessions: SessionFactory, refresher: RecommendationRefresher, interval: float
) -> None:
    """Recompute buyers whose last action is older than the debounce, as it comes due.

    Each pass serves the buyers due, then sleeps until the next known request comes
    due, at most ``interval`` (how soon a new request is seen): with a debounce at
    least that long, a buyer's list is recomputed the debounce after their last
    action, not up to a poll later.
    """
    debounce = timedelta(seconds=refresher.debounce_seconds)
    while True:
        wait = interval
        try:
            due = await due_requests(sessions, utcnow() - debounce)
            if due:
                # One fold of the model for every buyer due: a burst costs about one.
                try:
                    await refresher.refresh_many([user_id for user_id, _ in due])
                except Exception:
                    # As inline: stale is better than retrying forever; the buyers' next
                    # actions ask again.
                    log.exception("refreshing recommendations of %d users failed", len(due))
            for user_id, requested_at in due:
                await forget_request(sessions, user_id, requested_at)
            wait = refresh_wait(await earliest_request(sessions), utcnow(), debounce, interval)
        except Exception:
            log.exception("reading recommendation requests failed; retrying next interval")
        await asyncio.sleep(wait)


async def rebuild_model_forever(refresher: RecommendationRefresher, interval: float) -> None:
    """The full rebuild, on a schedule: buyers' own refreshes never wait for one."""
    while True:
        try:
            with metrics.timed("recommendation_rebuild"):
                await refresher.rebuild()
        except Exception:
            log.exception("rebuilding the recommendation model failed; retrying next interval")
        await asyncio.sleep(interval)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _take_lead(dsn: str, poll: float, stop: asyncio.Event) -> Any:
    """A connection holding the leader lock, once this worker gets it; None if stopped."""
    import asyncpg  # here, not at the top: an API process on SQLite never loads it

    standing_by = False
    connection: Any = None
    while not stop.is_set():
        try:
            if connection is None or connection.is_closed():
                connection = await asyncpg.connect(
                    dsn, server_settings={"application_name": "ordercenter worker"}
                )
            if await connection.fetchval("SELECT pg_try_advisory_lock($1)", LEADER_LOCK):
                return connection
            if not standing_by:
                log.info("another worker leads; standing by")
                standing_by = True
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("cannot reach the database to lead (%s); retrying", error)
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.close(timeout=1)
                connection = None
        await _wait(stop, poll)
    if connection is not None:
        with contextlib.suppress(Exception):
            await connection.close(timeout=1)
    return None


async def _hold(connection: Any) -> None:
    """Returns when the lock connection (and so the lock) is gone."""
    import asyncpg

    while True:
        await asyncio.sleep(LEASE_CHECK_SECONDS)
        try:
            await asyncio.wait_for(connection.execute("SELECT 1"), LEASE_CHECK_SECONDS * 5)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("lost the leader lock's connection (%s); no longer leading", error)
            return


async def _until_first(*awaitables: Awaitable[Any]) -> None:
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Lead when possible and do the work until ``stop`` is set."""
    engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
    sessions = create_session_factory(engine)
    bus = make_bus(settings.bus_url)
    await bus.connect()
    refresher = RecommendationRefresher(
        sessions,
        debounce_seconds=settings.recommendation_debounce_seconds,
        model_max_age_seconds=settings.recommendation_model_max_age_seconds,
        observe=metrics.job_observer("recommendation_refresh"),
        scheduled_rebuilds=True,
        # The scheduled rebuild reads and builds in a niced child process: a buyer's own
        # update never queues behind it for the event loop, the GIL or the CPU.
        rebuild_database_url=settings.database_url,
    )
    gateway = SandboxGateway()

    def context() -> Context:
        return Context.for_request(
            viewer_id=None, sessions=sessions, events=bus, gateway=gateway, rules=settings.rules
        )

    def duties() -> list[Awaitable[None]]:
        work: list[Awaitable[None]] = [
            refresh_requested_forever(sessions, refresher, settings.worker_poll_seconds),
            rebuild_model_forever(refresher, settings.recommendation_model_max_age_seconds),
        ]
        if settings.sweep_interval_seconds > 0:
            work.append(sweep_forever(context, settings.sweep_interval_seconds))
        return work

    try:
        if engine.dialect.name != "postgresql":
            log.info("leading (SQLite: no leader election, run one worker)")
            await _until_first(stop.wait(), *duties())
            return
        dsn = make_url(settings.database_url).set(drivername="postgresql")
        while not stop.is_set():
            lock = await _take_lead(
                dsn.render_as_string(hide_password=False), settings.worker_poll_seconds, stop
            )
            if lock is None:
                return
            log.info("leading: sweeping timeouts and refreshing recommendations")
            try:
                await _until_first(stop.wait(), _hold(lock), *duties())
            finally:
                with contextlib.suppress(Exception):
                    await lock.close(timeout=1)
    finally:
        await refresher.close()
        await bus.close()
        await engine.dispose()
