"""Idempotency keys: the first result of a mutation is the answer to every retry.

placeOrder and payOrder require a key; every other state-changing mutation takes one
optionally (``keyed``), kept in the same table by the same claim. Every one of them runs
through ``keyed_write``: claim the key, then answer a retry with the first answer or do
the work.

The key row is inserted inside the use-case's transaction, before any work. A racing
request with the same key then blocks on the unique index (PostgreSQL) or on the
write lock (SQLite) until the first commits, and finds its result.

A key is the client's free text: only its sha256 is stored or sent to the payment
processor, so whatever a client put in it stays out of both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, overload

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from db.models import IdempotencyKey, Order
from resolvers.context import Context
from resolvers.mutations.outcome import ErrorCode, Refused, UserError
from resolvers.mutations.unit_of_work import OrderOutcome, write

MAX_KEY_LENGTH = 128
T = TypeVar("T")
M = TypeVar("M", bound=SQLModel)
# Only payment refusals are remembered (placeOrder's and payOrder's), and both name the
# payment method; a replay names it too, so a retry gets exactly the first answer.
REMEMBERED_ERROR_FIELD = ("input", "paymentMethodId")


def request_hash(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Replay:
    """What the first request with this key answered."""

    order_id: int | None
    error: UserError | None
    # For mutations whose answer is not an order: what remember() stored.
    result: dict[str, Any] | None = None


def key_digest(key: str) -> str:
    """What stands for a client's key wherever it is kept or forwarded: sha256, hex."""
    # surrogatepass: JSON may carry a lone surrogate, which strict UTF-8 cannot encode.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def check_key(key: str) -> str:
    """The digest of a valid key; the key itself goes no further than here."""
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise Refused.one(
            ErrorCode.INVALID,
            f"idempotencyKey must be 1 to {MAX_KEY_LENGTH} characters.",
            "input",
            "idempotencyKey",
        )
    return key_digest(key)


async def claim(
    session: AsyncSession,
    *,
    user_id: int,
    operation: str,
    key_hash: str,
    fingerprint: str,
    now: datetime,
    ttl: timedelta,
) -> IdempotencyKey | Replay:
    """This request's key row (flushed), or the earlier request's result to replay.

    ``key_hash`` is check_key's digest of the client's key."""
    statement = select(IdempotencyKey).where(
        IdempotencyKey.user_id == user_id,
        IdempotencyKey.operation == operation,
        IdempotencyKey.key == key_hash,
    )
    existing = (await session.execute(statement)).scalars().first()
    if existing is not None and existing.created_at <= now - ttl:
        await session.execute(delete(IdempotencyKey).where(col(IdempotencyKey.id) == existing.id))
        existing = None
    if existing is not None:
        if existing.request_hash != fingerprint:
            raise Refused.one(
                ErrorCode.CONFLICT,
                "This idempotencyKey was used with different input.",
                "input",
                "idempotencyKey",
            )
        error = (
            None
            if existing.error_code is None
            else UserError(
                ErrorCode(existing.error_code),
                existing.error_message or "",
                REMEMBERED_ERROR_FIELD,
            )
        )
        return Replay(order_id=existing.order_id, error=error, result=existing.result)
    row = IdempotencyKey(
        user_id=user_id,
        operation=operation,
        key=key_hash,
        request_hash=fingerprint,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


@dataclass(frozen=True, slots=True)
class Keyed:
    """An optional key, checked and bound to its caller, its mutation and its input."""

    user_id: int
    operation: str
    key_hash: str
    fingerprint: str

    def processor_key(self) -> str:
        """The key a charge made under this one sends the payment processor.

        Derived from the request, not from rows a failed attempt rolled back, so a retry
        after a crash meets the processor's memory of the first charge; other input
        under an expired key is a new charge."""
        return f"{self.user_id}:{self.operation}:{self.key_hash}:{self.fingerprint[:16]}"


@overload
def keyed(key: str, *, user_id: int, operation: str, payload: dict[str, Any]) -> Keyed: ...
@overload
def keyed(
    key: str | None, *, user_id: int, operation: str, payload: dict[str, Any]
) -> Keyed | None: ...
def keyed(
    key: str | None, *, user_id: int, operation: str, payload: dict[str, Any]
) -> Keyed | None:
    """None when the client sent no key; a malformed key is an INVALID refusal."""
    if key is None:
        return None
    return Keyed(user_id, operation, check_key(key), request_hash(payload))


# The work of a keyed write: in its transaction, after the claim, with the claim's instant.
# It commits itself; whatever it does after its commit must not await (the transaction's
# turn, SQLite's one writer, is held until it returns).
Work = Callable[[AsyncSession, IdempotencyKey, datetime], Awaitable[T]]
OptionalWork = Callable[[AsyncSession, IdempotencyKey | None, datetime], Awaitable[T]]
# The answer a retry gets, rebuilt from what the first request remembered.
Replayer = Callable[[AsyncSession, Replay], Awaitable[T]]


@overload
async def keyed_write(ctx: Context, keyed: Keyed, *, work: Work[T], replay: Replayer[T]) -> T: ...
@overload
async def keyed_write(
    ctx: Context, keyed: Keyed | None, *, work: OptionalWork[T], replay: Replayer[T]
) -> T: ...
async def keyed_write(
    ctx: Context,
    keyed: Keyed | None,
    *,
    work: Callable[[AsyncSession, Any, datetime], Awaitable[T]],
    replay: Replayer[T],
) -> T:
    """``work`` in one write transaction, after claiming the key (none: no claim); a
    retry with the key, or a racer that lost to the first request, gets ``replay``."""

    async def use_case() -> T:
        now = ctx.clock()
        async with write(ctx) as session:
            if keyed is None:
                return await work(session, None, now)
            claimed = await claim(
                session,
                user_id=keyed.user_id,
                operation=keyed.operation,
                key_hash=keyed.key_hash,
                fingerprint=keyed.fingerprint,
                now=now,
                ttl=ctx.rules.idempotency_ttl,
            )
            if isinstance(claimed, Replay):
                return await replay(session, claimed)
            return await work(session, claimed, now)

    if keyed is None:
        return await use_case()
    try:
        return await use_case()
    except IntegrityError:
        # A racer with the same key committed first (the key's unique index refused
        # ours): once more, which finds its answer and replays it.
        return await use_case()


async def replayed_order(session: AsyncSession, replay: Replay) -> OrderOutcome:
    """An order mutation's first answer: its order as it is now, and its refusal."""
    order = None if replay.order_id is None else await session.get(Order, replay.order_id)
    return OrderOutcome(order, [replay.error] if replay.error else [])


def row_replay(model: type[M]) -> Replayer[M]:
    """The replay of a mutation that answered one row of ``model`` (see replayed_row)."""

    async def replay(session: AsyncSession, first: Replay) -> M:
        return await replayed_row(session, model, first.result)

    return replay


def remember(claimed: IdempotencyKey | Replay | None, result: dict[str, Any]) -> None:
    """Keeps what a retry needs to give this answer again (no-op without a key)."""
    if isinstance(claimed, IdempotencyKey):
        claimed.result = result


def row_result(row: SQLModel, *, exclude: set[str] | None = None) -> dict[str, Any]:
    """A row as remember() keeps it: its fields as JSON (``exclude``: what must not be
    copied, such as a processor token; such rows must never be deleted)."""
    return row.model_dump(mode="json", exclude=exclude)


async def replayed_row(session: AsyncSession, model: type[M], result: dict[str, Any] | None) -> M:
    """The row a first answer named, as it is now; as it was if it is gone since."""
    if result is None:  # pragma: no cover - every keyed row mutation remembers its row
        raise ValueError("no remembered result")
    found = await session.get(model, result["id"], populate_existing=True)
    # An id SQLite reused for someone else's row is not the row that was answered.
    if found is not None and getattr(found, "user_id", None) == result.get("user_id"):
        return found
    return model.model_validate(result)
