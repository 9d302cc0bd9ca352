"""tagProduct, untagProduct, recordProductView, clearRecentlyViewed, dismissRecommendation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.models import IdempotencyKey, Product, ProductView, Recommendation, TaggedItem
from db.writing import upsert
from resolvers import policy
from resolvers.context import Context
from resolvers.mutations import idempotency, text_input
from resolvers.mutations.outcome import not_found

PRODUCT_FIELD = ("input", "productId")


def _later(session: AsyncSession, a: Any, b: Any) -> Any:
    # Two-argument max() is SQLite's scalar maximum; PostgreSQL spells it greatest().
    if session.get_bind().dialect.name == "postgresql":
        return func.greatest(a, b)
    return func.max(a, b)


def _video_id(value: str | None) -> str | None:
    return text_input.cleaned(value, text_input.VIDEO_ID, "input", "sourceVideoId")


def _refresh(ctx: Context, viewer_id: int) -> None:
    """Recomputes the viewer's recommendations soon, off the request path (debounced)."""
    if ctx.refresher is not None:
        ctx.refresher.request(viewer_id)


async def _require_product(session: AsyncSession, product_id: int) -> None:
    if await session.get(Product, product_id) is None:
        raise not_found("product", *PRODUCT_FIELD)


async def tag_product(
    ctx: Context,
    *,
    viewer_id: int,
    product_id: int,
    source_video_id: str | None,
    idempotency_key: str | None = None,
) -> TaggedItem:
    """The viewer's tag of the product, created if needed; a repeat keeps the first tag."""
    video = _video_id(source_video_id)
    keyed = idempotency.keyed(
        idempotency_key,
        user_id=viewer_id,
        operation="tagProduct",
        payload={"product": product_id, "video": video},
    )

    async def work(
        session: AsyncSession, claimed: IdempotencyKey | None, now: datetime
    ) -> TaggedItem:
        await _require_product(session, product_id)
        insert = upsert(session, TaggedItem).values(
            user_id=viewer_id, product_id=product_id, source_video_id=video, tagged_at=now
        )
        keys = ["user_id", "product_id"]
        # ON CONFLICT, not check-then-insert: a double tap must not hit the unique key.
        if video is None:
            statement = insert.on_conflict_do_nothing(index_elements=keys)
        else:
            statement = insert.on_conflict_do_update(
                index_elements=keys, set_={"source_video_id": insert.excluded.source_video_id}
            )
        await session.execute(statement)
        tag = await _tag_of(session, viewer_id, product_id)
        if tag is None:  # pragma: no cover - inserted or kept above
            raise ValueError("tag vanished")
        idempotency.remember(claimed, idempotency.row_result(tag))
        await session.commit()
        ctx.loaders.viewer_tagged_product.clear(product_id).prime(product_id, True)
        _refresh(ctx, viewer_id)
        return tag

    return await idempotency.keyed_write(
        ctx, keyed, work=work, replay=idempotency.row_replay(TaggedItem)
    )


async def _tag_of(session: AsyncSession, viewer_id: int, product_id: int) -> TaggedItem | None:
    statement = (
        select(TaggedItem)
        .where(TaggedItem.user_id == viewer_id, TaggedItem.product_id == product_id)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalars().first()


async def untag_product(
    ctx: Context, *, viewer_id: int, product_id: int, idempotency_key: str | None = None
) -> TaggedItem:
    """Removes the viewer's tag of the product; returns it as it was."""
    keyed = idempotency.keyed(
        idempotency_key,
        user_id=viewer_id,
        operation="untagProduct",
        payload={"product": product_id},
    )

    async def work(
        session: AsyncSession, claimed: IdempotencyKey | None, now: datetime
    ) -> TaggedItem:
        tag = await _tag_of(session, viewer_id, product_id)
        if tag is None or not policy.owns(viewer_id, tag):
            raise not_found("tagged product", *PRODUCT_FIELD)
        removed = await session.execute(
            delete(TaggedItem).where(col(TaggedItem.id) == tag.id).returning(col(TaggedItem.id))
        )
        # A concurrent untag may have deleted it after our read.
        if removed.first() is None:
            raise not_found("tagged product", *PRODUCT_FIELD)
        idempotency.remember(claimed, idempotency.row_result(tag))
        await session.commit()
        ctx.loaders.viewer_tagged_product.clear(product_id).prime(product_id, False)
        if tag.id is not None:
            ctx.loaders.tagged_item_by_id.clear(tag.id)
        # The untagged product no longer vouches for its neighbours.
        _refresh(ctx, viewer_id)
        return tag

    async def replay(session: AsyncSession, first: idempotency.Replay) -> TaggedItem:
        # The tag as the first answer gave it, even if the product was tagged again.
        return TaggedItem.model_validate(first.result)

    return await idempotency.keyed_write(ctx, keyed, work=work, replay=replay)


async def record_product_view(
    ctx: Context, *, viewer_id: int, product_id: int, idempotency_key: str | None = None
) -> ProductView:
    """Counts one more view of the product and moves it to the top of the history."""
    keyed = idempotency.keyed(
        idempotency_key,
        user_id=viewer_id,
        operation="recordProductView",
        payload={"product": product_id},
    )

    async def work(
        session: AsyncSession, claimed: IdempotencyKey | None, now: datetime
    ) -> ProductView:
        await _require_product(session, product_id)
        insert = upsert(session, ProductView).values(
            user_id=viewer_id, product_id=product_id, view_count=1, viewed_at=now
        )
        table: Any = ProductView.__table__  # type: ignore[attr-defined]
        # One statement: concurrent first views of the same product cannot collide.
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=["user_id", "product_id"],
                set_={
                    "view_count": table.c.view_count + 1,
                    # Requests may commit out of clock order; viewed_at never goes back.
                    "viewed_at": _later(session, table.c.viewed_at, insert.excluded.viewed_at),
                },
            )
        )
        statement = (
            select(ProductView)
            .where(ProductView.user_id == viewer_id, ProductView.product_id == product_id)
            .execution_options(populate_existing=True)
        )
        view = (await session.execute(statement)).scalars().one()
        idempotency.remember(claimed, idempotency.row_result(view))
        await session.commit()
        _refresh(ctx, viewer_id)
        return view

    # A retried view is not a second view.
    return await idempotency.keyed_write(
        ctx, keyed, work=work, replay=idempotency.row_replay(ProductView)
    )


async def clear_recently_viewed(
    ctx: Context, *, viewer_id: int, idempotency_key: str | None = None
) -> int:
    """Forgets every product the viewer viewed; how many there were."""
    keyed = idempotency.keyed(
        idempotency_key, user_id=viewer_id, operation="clearRecentlyViewed", payload={}
    )

    async def work(session: AsyncSession, claimed: IdempotencyKey | None, now: datetime) -> int:
        removed = await session.execute(
            delete(ProductView)
            .where(col(ProductView.user_id) == viewer_id)
            .returning(col(ProductView.id))
        )
        count = len(removed.all())
        idempotency.remember(claimed, {"count": count})
        await session.commit()
        if count:
            _refresh(ctx, viewer_id)
        return count

    async def replay(session: AsyncSession, first: idempotency.Replay) -> int:
        return int((first.result or {}).get("count", 0))

    return await idempotency.keyed_write(ctx, keyed, work=work, replay=replay)


async def dismiss_recommendation(
    ctx: Context, *, viewer_id: int, recommendation_id: int, idempotency_key: str | None = None
) -> Recommendation:
    """Hides a recommendation for good; dismissing it again changes nothing."""
    keyed = idempotency.keyed(
        idempotency_key,
        user_id=viewer_id,
        operation="dismissRecommendation",
        payload={"recommendation": recommendation_id},
    )

    async def work(
        session: AsyncSession, claimed: IdempotencyKey | None, now: datetime
    ) -> Recommendation:
        recommendation = await session.get(Recommendation, recommendation_id)
        if recommendation is None or not policy.may_dismiss_recommendation(
            viewer_id, recommendation
        ):
            raise not_found("recommendation", "input", "recommendationId")
        newly_dismissed = not recommendation.dismissed
        if newly_dismissed:
            recommendation.dismissed = True
        idempotency.remember(claimed, idempotency.row_result(recommendation))
        await session.commit()
        ctx.loaders.recommendation_by_id.clear(recommendation_id)
        if newly_dismissed:
            # Tops the list up again; the engine skips dismissed products for good.
            _refresh(ctx, viewer_id)
        return recommendation

    return await idempotency.keyed_write(
        ctx, keyed, work=work, replay=idempotency.row_replay(Recommendation)
    )
