"""addPaymentMethod, removePaymentMethod and setDefaultPaymentMethod.

Invariant: a user with saved (not removed) methods has exactly one default among
them. Every change locks the user's row first, so concurrent wallet changes of one
user take turns instead of each seeing "no default yet".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.models import IdempotencyKey, PaymentMethod, User
from domain.cards import card_expired
from resolvers import policy
from resolvers.context import Context
from resolvers.gateway import UnknownToken
from resolvers.mutations import idempotency
from resolvers.mutations.outcome import ErrorCode, Refused, not_found

MAX_TOKEN = 128
TOKEN_FIELD = ("input", "processorToken")
METHOD_FIELD = ("input", "paymentMethodId")
# Methods are never deleted (removed_at), so a replay finds the row by id and the
# processor token never has to be copied into the idempotency table.


def _remember(claimed: object, method: PaymentMethod) -> None:
    if isinstance(claimed, IdempotencyKey):
        claimed.result = {"id": method.id, "user_id": method.user_id}


_replay = idempotency.row_replay(PaymentMethod)


def _check_token(token: str) -> str:
    # Messages here never quote the token: it might hold a secret pasted by mistake.
    text = token.strip()
    if not text or len(text) > MAX_TOKEN:
        raise Refused.one(ErrorCode.INVALID, f"1 to {MAX_TOKEN} characters.", *TOKEN_FIELD)
    return text


async def _lock_wallet(session: AsyncSession, viewer_id: int) -> None:
    # SQLite has no FOR UPDATE; its write transactions already run one at a time.
    await session.execute(select(User.id).where(User.id == viewer_id).with_for_update())


async def _saved(session: AsyncSession, viewer_id: int) -> Sequence[PaymentMethod]:
    """The viewer's methods that are not removed, newest first."""
    statement = (
        select(PaymentMethod)
        .where(PaymentMethod.user_id == viewer_id, col(PaymentMethod.removed_at).is_(None))
        .order_by(col(PaymentMethod.created_at).desc(), col(PaymentMethod.id).desc())
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalars().all()


def _make_default(methods: Sequence[PaymentMethod], chosen: PaymentMethod) -> None:
    for method in methods:
        method.is_default = method is chosen
    chosen.is_default = True


def _forget(ctx: Context, methods: Sequence[PaymentMethod]) -> None:
    for method in methods:
        if method.id is not None:
            ctx.loaders.payment_method_by_id.clear(method.id)


async def add_payment_method(
    ctx: Context,
    *,
    viewer_id: int,
    processor_token: str,
    make_default: bool | None,
    idempotency_key: str | None = None,
) -> PaymentMethod:
    """Saves the card behind a processor token; the first saved card is the default."""
    token = _check_token(processor_token)
    keyed = idempotency.keyed(
        idempotency_key,
        user_id=viewer_id,
        operation="addPaymentMethod",
        # The token's digest: the same card, not the token itself, is what is compared.
        payload={"token": idempotency.key_digest(token), "default": bool(make_default)},
    )
    try:
        card = await ctx.gateway.describe(token)
    except UnknownToken:
        raise Refused.one(
            ErrorCode.INVALID, "The payment processor does not know this token.", *TOKEN_FIELD
        ) from None
    if card_expired(card.exp_month, card.exp_year, ctx.clock()):
        raise Refused.one(ErrorCode.INVALID, "This card has expired.", *TOKEN_FIELD)

    async def work(
        session: AsyncSession, claimed: IdempotencyKey | None, now: datetime
    ) -> PaymentMethod:
        await _lock_wallet(session, viewer_id)
        saved = await _saved(session, viewer_id)
        method = PaymentMethod(
            user_id=viewer_id,
            brand=card.brand,
            last4=card.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            processor_token=token,
            is_default=False,
            created_at=now,
        )
        session.add(method)
        if make_default or not any(m.is_default for m in saved):
            _make_default(saved, method)
        await session.flush()
        _remember(claimed, method)
        await session.commit()
        _forget(ctx, saved)
        return method

    return await idempotency.keyed_write(ctx, keyed, work=work, replay=_replay)


async def _own_method(session: AsyncSession, viewer_id: int, method_id: int) -> PaymentMethod:
    method = await session.get(PaymentMethod, method_id, populate_existing=True)
    if method is None or not policy.may_see_payment_method(viewer_id, method):
        raise not_found("payment method", *METHOD_FIELD)
    return method


async def remove_payment_method(
    ctx: Context, *, viewer_id: int, method_id: int, idempotency_key: str | None = None
) -> PaymentMethod:
    """Removes a saved method (payments keep pointing at it); the default moves on."""

    def remove(method: PaymentMethod, saved: Sequence[PaymentMethod], now: datetime) -> None:
        method.removed_at = now
        remaining = [m for m in saved if m.id != method.id]
        if method.is_default and remaining:
            _make_default(remaining, remaining[0])
        method.is_default = False

    return await _change_method(
        ctx, viewer_id, method_id, idempotency_key, "removePaymentMethod", remove
    )


async def set_default_payment_method(
    ctx: Context, *, viewer_id: int, method_id: int, idempotency_key: str | None = None
) -> PaymentMethod:
    """Makes a saved method the one used when none is chosen."""

    def make_default(method: PaymentMethod, saved: Sequence[PaymentMethod], now: datetime) -> None:
        _make_default(saved, method)

    return await _change_method(
        ctx, viewer_id, method_id, idempotency_key, "setDefaultPaymentMethod", make_default
    )


async def _change_method(
    ctx: Context,
    viewer_id: int,
    method_id: int,
    idempotency_key: str | None,
    operation: str,
    change: Callable[[PaymentMethod, Sequence[PaymentMethod], datetime], None],
) -> PaymentMethod:
    """``change`` one of the viewer's saved methods, given all of them (it among them),
    with the wallet locked."""
    keyed = idempotency.keyed(
        idempotency_key, user_id=viewer_id, operation=operation, payload={"method": method_id}
    )

    async def work(
        session: AsyncSession, claimed: IdempotencyKey | None, now: datetime
    ) -> PaymentMethod:
        await _lock_wallet(session, viewer_id)
        method = await _own_method(session, viewer_id, method_id)
        saved = await _saved(session, viewer_id)
        change(method, saved, now)
        _remember(claimed, method)
        await session.commit()
        _forget(ctx, [method, *saved])
        return method

    return await idempotency.keyed_write(ctx, keyed, work=work, replay=_replay)
