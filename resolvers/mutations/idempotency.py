"""Idempotency keys: the first result of placeOrder/payOrder is the answer to every retry.

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
from typing import Any, TypeVar

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.models import IdempotencyKey
from resolvers.mutations.outcome import ErrorCode, Refused, UserError

MAX_KEY_LENGTH = 128
T = TypeVar("T")
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
        return Replay(order_id=existing.order_id, error=error)
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


async def replaying_a_racer(use_case: Callable[[], Awaitable[T]]) -> T:
    """Runs a keyed use-case; if a racing request with the same key committed first
    (the key's unique index refused ours), runs it once more, which replays that result."""
    try:
        return await use_case()
    except IntegrityError:
        return await use_case()
