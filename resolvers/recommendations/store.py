"""Writing users' lists into ``recommendations``: dismissed rows stay, the rest is replaced."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from db.engine import SessionFactory
from db.models import Recommendation
from db.writing import write_transaction

if TYPE_CHECKING:
    from resolvers.recommendations.engine import Pick

# Well under both SQLite's and asyncpg's limit on bound parameters per statement.
_IN_CHUNK = 1_000
# Stored scores are for ranking and display: float noise (0.9530000166190205) is neither.
SCORE_DECIMALS = 4


def _chunks(values: Sequence[int], size: int = _IN_CHUNK) -> list[Sequence[int]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def stored_score(score: float) -> float:
    """The score as written: rounded, yet kept above 0, as the API promises (0, 1]."""
    return max(round(score, SCORE_DECIMALS), 10.0**-SCORE_DECIMALS)


def _upsert(session: AsyncSession) -> Any:
    table: Any = Recommendation.__table__  # type: ignore[attr-defined]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(table)
    return insert.on_conflict_do_update(
        index_elements=["user_id", "product_id"],
        set_={
            "score": insert.excluded.score,
            "reason": insert.excluded.reason,
            "based_on_product_id": insert.excluded.based_on_product_id,
            "created_at": insert.excluded.created_at,
        },
        # A dismissal that landed after the picks were computed wins.
        where=table.c.dismissed.is_(False),
    )


async def replace_recommendations(
    sessions: SessionFactory, picks: Mapping[int, Sequence[Pick]], now: datetime
) -> int:
    """Each user's list becomes ``picks[user]``, in one transaction; returns rows written.

    A product still recommended keeps its row and id (a client may be about to
    dismiss it), with the new score and reason; rows no longer recommended go.
    Dismissed rows are never touched, and a pick of a dismissed product is dropped.
    """
    users = sorted(picks)
    if not users:
        return 0
    async with sessions() as session, write_transaction(session):
        existing: list[tuple[int | None, int, int, bool]] = []
        for chunk in _chunks(users):
            statement = select(
                col(Recommendation.id),
                col(Recommendation.user_id),
                col(Recommendation.product_id),
                col(Recommendation.dismissed),
            ).where(col(Recommendation.user_id).in_(chunk))
            existing.extend((u, v, w, x) for u, v, w, x in await session.execute(statement))
        wanted = {(user, pick.product_id) for user in users for pick in picks[user]}
        dismissed = {(user, product) for _, user, product, gone in existing if gone}
        stale = [
            row_id
            for row_id, user, product, gone in existing
            if row_id is not None and not gone and (user, product) not in wanted
        ]
        for chunk in _chunks(stale):
            await session.execute(delete(Recommendation).where(col(Recommendation.id).in_(chunk)))
        rows = [
            {
                "user_id": user,
                "product_id": pick.product_id,
                "score": stored_score(pick.score),
                "reason": pick.reason.value,
                "based_on_product_id": pick.based_on_product_id,
                "dismissed": False,
                "created_at": now,
            }
            for user in users
            for pick in picks[user]
            if (user, pick.product_id) not in dismissed
        ]
        if rows:
            await session.execute(_upsert(session), rows)
        await session.commit()
    return len(rows)
