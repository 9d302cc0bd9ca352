"""Whole-database runs: recompute everyone's lists, or evaluate the engine offline."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from db.engine import SessionFactory
from db.types import utcnow
from resolvers.recommendations.data import load_everything
from resolvers.recommendations.engine import (
    DEFAULT_CONFIG,
    EngineConfig,
    Pick,
    build_model,
    recommend,
)
from resolvers.recommendations.evaluate import Evaluation, evaluate
from resolvers.recommendations.store import replace_recommendations

Progress = Callable[[int, int], None]
# Announces a phase that has no count (reading, model building): seconds, not users.
Phase = Callable[[str], None]


def _announce(phase: Phase | None, what: str) -> None:
    if phase is not None:
        phase(what)


@dataclass(frozen=True, slots=True)
class RecomputeReport:
    users: int
    rows: int
    seconds: float


async def recompute_everyone(
    sessions: SessionFactory,
    *,
    config: EngineConfig = DEFAULT_CONFIG,
    now: datetime | None = None,
    users_per_transaction: int = 250,
    progress: Progress | None = None,
    phase: Phase | None = None,
) -> RecomputeReport:
    """Every user's list from one snapshot of behaviour, written a few hundred users at a time.

    Short transactions keep SQLite's write lock free for the API in between.
    """
    started = time.perf_counter()
    moment = now or utcnow()
    _announce(phase, "reading everyone's behaviour")
    products, behaviour, users = await load_everything(sessions)
    _announce(phase, "building the item-item model")
    model = build_model(products, behaviour, moment.timestamp(), config)
    pending: dict[int, list[Pick]] = {}
    written = 0
    if progress is not None:
        progress(0, len(users))
    for done, (user_id, own) in enumerate(behaviour.by_user(users), start=1):
        pending[user_id] = recommend(model, own, moment.timestamp(), config)
        if len(pending) >= users_per_transaction or done == len(users):
            written += await replace_recommendations(sessions, pending, moment)
            pending = {}
        if progress is not None:
            progress(done, len(users))
    return RecomputeReport(len(users), written, time.perf_counter() - started)


async def evaluate_database(
    sessions: SessionFactory,
    *,
    config: EngineConfig = DEFAULT_CONFIG,
    k: int = 10,
    progress: Progress | None = None,
    phase: Phase | None = None,
) -> Evaluation:
    _announce(phase, "reading everyone's behaviour")
    products, behaviour, _ = await load_everything(sessions)
    return evaluate(products, behaviour, config, k=k, progress=progress, phase=phase)
