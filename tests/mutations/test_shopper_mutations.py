"""tagProduct, untagProduct, recordProductView, clearRecentlyViewed, dismissRecommendation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlmodel import select

from db.engine import SessionFactory
from db.models import Product, ProductView, Recommendation, TaggedItem, User
from resolvers.ids import to_global_id
from tests.conftest import GraphQLClient
from tests.factories import (
    make_product,
    make_recommendation,
    make_shop,
    make_tag,
    make_user,
    make_view,
)

CARD = "4242424242424242"
ERRORS = "userErrors { field code message }"
TAG_FIELDS = f"""
  taggedItem {{ id taggedAt sourceVideoId product {{ id viewerHasTagged }} }}
  {ERRORS}
"""
TAG = f"mutation($input: TagProductInput!) {{ tagProduct(input: $input) {{ {TAG_FIELDS} }} }}"
UNTAG = f"mutation($input: UntagProductInput!) {{ untagProduct(input: $input) {{ {TAG_FIELDS} }} }}"
VIEW = f"""
mutation($input: RecordProductViewInput!) {{
  recordProductView(input: $input) {{ productView {{ viewedAt product {{ id }} }} {ERRORS} }}
}}
"""
CLEAR = f"mutation {{ clearRecentlyViewed {{ clearedCount {ERRORS} }} }}"
DISMISS = f"""
mutation($input: DismissRecommendationInput!) {{
  dismissRecommendation(input: $input) {{ recommendation {{ id product {{ id }} }} {ERRORS} }}
}}
"""
VIEWER_LISTS = """
{ viewer {
  taggedItems { totalCount edges { node { id product { id } } } }
  recentlyViewed { totalCount edges { node { product { id } } } }
  recommendations { totalCount edges { node { id } } }
} }
"""


def pid(product: Product) -> str:
    assert product.id is not None
    return to_global_id("Product", product.id)


def rid(recommendation: Recommendation) -> str:
    assert recommendation.id is not None
    return to_global_id("Recommendation", recommendation.id)


async def _setup(sessions: SessionFactory, n: int = 1) -> tuple[User, list[Product]]:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    products = [await make_product(sessions, shop=shop) for _ in range(n)]
    return buyer, products


async def _views(sessions: SessionFactory) -> list[ProductView]:
    async with sessions() as session:
        return list((await session.execute(select(ProductView))).scalars().all())


async def _tags(sessions: SessionFactory) -> list[TaggedItem]:
    async with sessions() as session:
        return list((await session.execute(select(TaggedItem))).scalars().all())


def _only_error(payload: dict[str, Any], code: str, field: list[str]) -> dict[str, Any]:
    assert len(payload["userErrors"]) == 1, payload
    error: dict[str, Any] = payload["userErrors"][0]
    assert error["code"] == code
    assert error["field"] == field
    return error


# tagProduct / untagProduct


async def test_tag_product_creates_a_tag(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer, [product] = await _setup(sessions)
    data = await gql.query(
        TAG, {"input": {"productId": pid(product), "sourceVideoId": "vid_1"}}, user_id=buyer.id
    )
    payload = data["tagProduct"]
    assert payload["userErrors"] == []
    item = payload["taggedItem"]
    assert item["sourceVideoId"] == "vid_1"
    assert item["product"] == {"id": pid(product), "viewerHasTagged": True}
    lists = await gql.query(VIEWER_LISTS, user_id=buyer.id)
    assert lists["viewer"]["taggedItems"]["totalCount"] == 1
    assert lists["viewer"]["taggedItems"]["edges"][0]["node"]["id"] == item["id"]


async def test_tagging_again_returns_the_same_tag(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer, [product] = await _setup(sessions)
    first = await gql.query(
        TAG, {"input": {"productId": pid(product), "sourceVideoId": "vid_1"}}, user_id=buyer.id
    )
    again = await gql.query(TAG, {"input": {"productId": pid(product)}}, user_id=buyer.id)
    # Without a video: nothing changes, not even the tag's time.
    assert again["tagProduct"] == first["tagProduct"]
    moved = await gql.query(
        TAG, {"input": {"productId": pid(product), "sourceVideoId": "vid_2"}}, user_id=buyer.id
    )
    item = moved["tagProduct"]["taggedItem"]
    assert item["id"] == first["tagProduct"]["taggedItem"]["id"]
    assert item["taggedAt"] == first["tagProduct"]["taggedItem"]["taggedAt"]
    assert item["sourceVideoId"] == "vid_2"
    assert len(await _tags(sessions)) == 1


async def test_concurrent_tags_of_one_product_make_one_tag(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer, [product] = await _setup(sessions)
    results = await asyncio.gather(
        *(
            gql.query(TAG, {"input": {"productId": pid(product)}}, user_id=buyer.id)
            for _ in range(4)
        )
    )
    assert all(r["tagProduct"]["userErrors"] == [] for r in results)
    assert len({r["tagProduct"]["taggedItem"]["id"] for r in results}) == 1
    assert len(await _tags(sessions)) == 1


async def test_tagging_an_unknown_product_is_not_found(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer, _ = await _setup(sessions)
    data = await gql.query(
        TAG, {"input": {"productId": to_global_id("Product", 999_999)}}, user_id=buyer.id
    )
    assert data["tagProduct"]["taggedItem"] is None
    _only_error(data["tagProduct"], "NOT_FOUND", ["input", "productId"])


async def test_tagging_with_a_malformed_id_is_invalid(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer, [product] = await _setup(sessions)
    assert product.id is not None
    for bad in ("not-an-id", to_global_id("Order", product.id)):
        data = await gql.query(TAG, {"input": {"productId": bad}}, user_id=buyer.id)
        _only_error(data["tagProduct"], "INVALID", ["input", "productId"])
    assert await _tags(sessions) == []


@pytest.mark.parametrize("video", ["v" * 65, f"see {CARD}", "4242 4242 4242 4242"])
async def test_bad_source_video_ids_are_invalid(
    gql: GraphQLClient, sessions: SessionFactory, video: str
) -> None:
    buyer, [product] = await _setup(sessions)
    data = await gql.query(
        TAG, {"input": {"productId": pid(product), "sourceVideoId": video}}, user_id=buyer.id
    )
    error = _only_error(data["tagProduct"], "INVALID", ["input", "sourceVideoId"])
    assert video not in error["message"]
    assert data["tagProduct"]["taggedItem"] is None
    assert await _tags(sessions) == []


async def test_a_64_character_source_video_id_is_accepted(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer, [product] = await _setup(sessions)
    data = await gql.query(
        TAG, {"input": {"productId": pid(product), "sourceVideoId": "v" * 64}}, user_id=buyer.id
    )
    assert data["tagProduct"]["taggedItem"]["sourceVideoId"] == "v" * 64


async def test_untag_returns_the_removed_tag(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer, [product] = await _setup(sessions)
    tag = await make_tag(sessions, user=buyer, product=product)
    assert tag.id is not None
    data = await gql.query(UNTAG, {"input": {"productId": pid(product)}}, user_id=buyer.id)
    payload = data["untagProduct"]
    assert payload["userErrors"] == []
    item = payload["taggedItem"]
    assert item["id"] == to_global_id("TaggedItem", tag.id)
    assert item["sourceVideoId"] == "vid_tag"
    assert item["product"] == {"id": pid(product), "viewerHasTagged": False}
    assert await _tags(sessions) == []
    again = await gql.query(UNTAG, {"input": {"productId": pid(product)}}, user_id=buyer.id)
    assert again["untagProduct"]["taggedItem"] is None
    _only_error(again["untagProduct"], "NOT_FOUND", ["input", "productId"])


async def test_untagging_what_only_someone_else_tagged_is_not_found(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer, [product] = await _setup(sessions)
    other = await make_user(sessions)
    await make_tag(sessions, user=other, product=product)
    data = await gql.query(UNTAG, {"input": {"productId": pid(product)}}, user_id=buyer.id)
    _only_error(data["untagProduct"], "NOT_FOUND", ["input", "productId"])
    unknown = await gql.query(
        UNTAG, {"input": {"productId": to_global_id("Product", 999_999)}}, user_id=buyer.id
    )
    # A product that does not exist answers exactly like one the viewer never tagged.
    assert unknown["untagProduct"] == data["untagProduct"]
    assert [t.user_id for t in await _tags(sessions)] == [other.id]


# recordProductView / clearRecentlyViewed


async def test_recording_a_view_twice_keeps_one_row(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer, [product] = await _setup(sessions)
    first = await gql.query(VIEW, {"input": {"productId": pid(product)}}, user_id=buyer.id)
    second = await gql.query(VIEW, {"input": {"productId": pid(product)}}, user_id=buyer.id)
    for data in (first, second):
        assert data["recordProductView"]["userErrors"] == []
        assert data["recordProductView"]["productView"]["product"]["id"] == pid(product)
    assert (
        second["recordProductView"]["productView"]["viewedAt"]
        >= first["recordProductView"]["productView"]["viewedAt"]
    )
    [row] = await _views(sessions)
    assert (row.user_id, row.product_id, row.view_count) == (buyer.id, product.id, 2)


async def test_a_view_moves_the_product_to_the_top(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer, [old, new] = await _setup(sessions, 2)
    await make_view(sessions, user=buyer, product=old)
    await make_view(sessions, user=buyer, product=new)
    await gql.query(VIEW, {"input": {"productId": pid(old)}}, user_id=buyer.id)
    lists = await gql.query(VIEWER_LISTS, user_id=buyer.id)
    viewed = lists["viewer"]["recentlyViewed"]
    assert [e["node"]["product"]["id"] for e in viewed["edges"]] == [pid(old), pid(new)]


async def test_concurrent_views_make_one_row(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer, [product] = await _setup(sessions)
    results = await asyncio.gather(
        *(
            gql.query(VIEW, {"input": {"productId": pid(product)}}, user_id=buyer.id)
            for _ in range(5)
        )
    )
    assert all(r["recordProductView"]["userErrors"] == [] for r in results)
    [row] = await _views(sessions)
    assert row.view_count == 5


async def test_viewing_an_unknown_product_is_not_found(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer, _ = await _setup(sessions)
    data = await gql.query(
        VIEW, {"input": {"productId": to_global_id("Product", 999_999)}}, user_id=buyer.id
    )
    assert data["recordProductView"]["productView"] is None
    _only_error(data["recordProductView"], "NOT_FOUND", ["input", "productId"])
    bad = await gql.query(VIEW, {"input": {"productId": "nope"}}, user_id=buyer.id)
    _only_error(bad["recordProductView"], "INVALID", ["input", "productId"])
    assert await _views(sessions) == []


async def test_clear_recently_viewed_forgets_only_the_viewers_views(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer, products = await _setup(sessions, 3)
    other = await make_user(sessions)
    for product in products:
        await make_view(sessions, user=buyer, product=product)
    await make_view(sessions, user=other, product=products[0])
    data = await gql.query(CLEAR, user_id=buyer.id)
    assert data["clearRecentlyViewed"] == {"clearedCount": 3, "userErrors": []}
    lists = await gql.query(VIEWER_LISTS, user_id=buyer.id)
    assert lists["viewer"]["recentlyViewed"] == {"totalCount": 0, "edges": []}
    assert [v.user_id for v in await _views(sessions)] == [other.id]
    again = await gql.query(CLEAR, user_id=buyer.id)
    assert again["clearRecentlyViewed"] == {"clearedCount": 0, "userErrors": []}


# dismissRecommendation


async def test_dismissed_recommendations_leave_the_list(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer, [a, b] = await _setup(sessions, 2)
    keep = await make_recommendation(sessions, user=buyer, product=a, score=0.5)
    drop = await make_recommendation(sessions, user=buyer, product=b, score=0.9)
    data = await gql.query(DISMISS, {"input": {"recommendationId": rid(drop)}}, user_id=buyer.id)
    payload = data["dismissRecommendation"]
    assert payload["userErrors"] == []
    assert payload["recommendation"] == {"id": rid(drop), "product": {"id": pid(b)}}
    lists = await gql.query(VIEWER_LISTS, user_id=buyer.id)
    recs = lists["viewer"]["recommendations"]
    assert recs["totalCount"] == 1
    assert [e["node"]["id"] for e in recs["edges"]] == [rid(keep)]
    again = await gql.query(DISMISS, {"input": {"recommendationId": rid(drop)}}, user_id=buyer.id)
    assert again["dismissRecommendation"] == payload


async def test_dismissing_someone_elses_recommendation_is_not_found(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer, [product] = await _setup(sessions)
    other = await make_user(sessions)
    theirs = await make_recommendation(sessions, user=other, product=product, score=0.7)
    foreign = await gql.query(
        DISMISS, {"input": {"recommendationId": rid(theirs)}}, user_id=buyer.id
    )
    unknown = await gql.query(
        DISMISS,
        {"input": {"recommendationId": to_global_id("Recommendation", 999_999)}},
        user_id=buyer.id,
    )
    assert foreign["dismissRecommendation"]["recommendation"] is None
    _only_error(foreign["dismissRecommendation"], "NOT_FOUND", ["input", "recommendationId"])
    assert foreign == {"dismissRecommendation": unknown["dismissRecommendation"]}
    async with sessions() as session:
        row = await session.get(Recommendation, theirs.id)
    assert row is not None
    assert row.dismissed is False
    bad = await gql.query(DISMISS, {"input": {"recommendationId": pid(product)}}, user_id=buyer.id)
    _only_error(bad["dismissRecommendation"], "INVALID", ["input", "recommendationId"])


# Authentication

ANONYMOUS_CALLS = {
    "tagProduct": (TAG, {"input": {"productId": "x"}}),
    "untagProduct": (UNTAG, {"input": {"productId": "x"}}),
    "recordProductView": (VIEW, {"input": {"productId": "x"}}),
    "clearRecentlyViewed": (CLEAR, None),
    "dismissRecommendation": (DISMISS, {"input": {"recommendationId": "x"}}),
}


@pytest.mark.parametrize("name", sorted(ANONYMOUS_CALLS))
async def test_signed_out_callers_are_unauthenticated(
    gql: GraphQLClient, sessions: SessionFactory, name: str
) -> None:
    buyer, [product] = await _setup(sessions)
    await make_view(sessions, user=buyer, product=product)
    query, variables = ANONYMOUS_CALLS[name]
    error = await gql.error(query, variables)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["path"] == [name]
    assert len(await _views(sessions)) == 1
