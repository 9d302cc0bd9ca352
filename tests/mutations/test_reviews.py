"""reviewOrderItem and editReview over HTTP, and what they change on the read side:
OrderItem.review, Product.rating and Product.reviews (public), the order's timeline and
the TO_REVIEW list. Every refusal is a typed userError that changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from app.settings import Settings
from db.engine import SessionFactory
from db.models import Order, OrderEvent, OrderItem, Review, User
from domain.order_status import OrderStatus
from resolvers.ids import to_global_id
from tests.conftest import TEST_SECRET, GraphQLClient
from tests.factories import make_order, make_product, make_shop, make_user

ERRORS = "userErrors { field code message }"
REVIEW_FIELDS = "review { id rating text postedAt editedAt reviewerName }"
REVIEW = f"""
mutation($input: ReviewOrderItemInput!) {{
  reviewOrderItem(input: $input) {{ {REVIEW_FIELDS} {ERRORS} }}
}}
"""
EDIT = f"""
mutation($input: EditReviewInput!) {{ editReview(input: $input) {{ {REVIEW_FIELDS} {ERRORS} }} }}
"""
ORDER = """
query($id: ID!) { node(id: $id) { ... on Order { status version tab
  items { id review { id rating text reviewerName } }
  timeline { kind actor fromStatus toStatus orderVersion } } } }
"""
PRODUCT = """
query($id: ID!, $first: Int, $after: String) { product(id: $id) {
  rating { average count }
  reviews(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id rating text reviewerName postedAt editedAt } }
  } } }
"""
TO_REVIEW = """
{ viewer { orderTabs { tab count }
  orders(filter: { tab: TO_REVIEW }) { totalCount edges { node { number tab } } } } }
"""


def gid(type_name: str, row: Any) -> str:
    assert row.id is not None
    return to_global_id(type_name, row.id)


async def _items(sessions: SessionFactory, order: Order) -> list[OrderItem]:
    async with sessions() as session:
        statement = (
            select(OrderItem).where(OrderItem.order_id == order.id).order_by(col(OrderItem.id))
        )
        return list((await session.execute(statement)).scalars())


async def _world(
    sessions: SessionFactory, status: OrderStatus = OrderStatus.COMPLETED, lines: int = 2
) -> dict[str, Any]:
    buyer = await make_user(sessions)
    seller = await make_user(sessions, role="seller")
    shop = await make_shop(sessions, owner=seller)
    products = [await make_product(sessions, shop=shop) for _ in range(lines)]
    order = await make_order(sessions, buyer=buyer, shop=shop, products=products, status=status)
    return {
        "buyer": buyer,
        "seller": seller,
        "stranger": await make_user(sessions),
        "order": order,
        "products": products,
        "items": await _items(sessions, order),
    }


async def _state(sessions: SessionFactory) -> tuple[list[tuple[Any, ...]], int, list[Any]]:
    """Everything a review mutation may change: reviews, events, orders."""
    async with sessions() as session:
        reviews = [
            (r.id, r.rating, r.text, r.edited_at)
            for r in (await session.execute(select(Review).order_by(col(Review.id)))).scalars()
        ]
        events = (await session.execute(select(func.count()).select_from(OrderEvent))).one()[0]
        orders = [
            (o.id, o.status, o.version, o.updated_at)
            for o in (await session.execute(select(Order))).scalars()
        ]
    return reviews, int(events), orders


async def _backdate(sessions: SessionFactory, by: timedelta) -> None:
    """Every review posted ``by`` earlier than it was."""
    async with sessions() as session:
        for review in (await session.execute(select(Review))).scalars():
            review.posted_at -= by
        await session.commit()


def _one_error(payload: dict[str, Any], code: str, field: list[str] | None) -> None:
    assert payload["review"] is None, payload
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)], payload


async def _review(
    gql: GraphQLClient, user: User, item: OrderItem, rating: int = 5, text: str = "", **more: Any
) -> dict[str, Any]:
    variables = {"input": {"orderItemId": gid("OrderItem", item), "rating": rating, "text": text}}
    variables["input"].update(more)
    payload: dict[str, Any] = (await gql.query(REVIEW, variables, user_id=user.id))[
        "reviewOrderItem"
    ]
    return payload


async def test_buyer_reviews_a_line_of_a_completed_order(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    w = await _world(sessions)
    before = await gql.query(ORDER, {"id": gid("Order", w["order"])}, user_id=w["buyer"].id)
    payload = await _review(gql, w["buyer"], w["items"][0], 4, "  Lovely mug, a bit small. \n")
    assert payload["userErrors"] == []
    review = payload["review"]
    assert review["rating"] == 4
    assert review["text"] == "Lovely mug, a bit small."  # stripped
    assert review["reviewerName"] == w["buyer"].display_name
    assert review["editedAt"] is None
    # The buyer and the seller see it on the line; the order itself did not change.
    for viewer in (w["buyer"], w["seller"]):
        node = (await gql.query(ORDER, {"id": gid("Order", w["order"])}, user_id=viewer.id))["node"]
        assert node["items"][0]["review"] == {
            "id": review["id"],
            "rating": 4,
            "text": "Lovely mug, a bit small.",
            "reviewerName": w["buyer"].display_name,
        }
        assert node["items"][1]["review"] is None
        assert node["version"] == before["node"]["version"]
        assert node["status"] == "COMPLETED"
        assert node["timeline"][-1] == {
            "kind": "REVIEW_POSTED",
            "actor": "BUYER",
            "fromStatus": "COMPLETED",
            "toStatus": "COMPLETED",
            "orderVersion": before["node"]["version"],
        }
    async with sessions() as session:
        event = (
            (await session.execute(select(OrderEvent).order_by(col(OrderEvent.id).desc())))
            .scalars()
            .first()
        )
    assert event is not None
    assert event.kind == "REVIEW_POSTED"
    assert to_global_id("Review", event.subject_id or 0) == review["id"]
    # Public: an anonymous caller reads the rating and the review, by display name only.
    product = await gql.query(PRODUCT, {"id": gid("Product", w["products"][0])})
    assert product["product"]["rating"] == {"average": 4.0, "count": 1}
    [edge] = product["product"]["reviews"]["edges"]
    assert edge["node"]["id"] == review["id"]
    assert edge["node"]["reviewerName"] == w["buyer"].display_name
    # The Review node is public too.
    node = await gql.query(
        "query($id: ID!) { node(id: $id) { ... on Review { rating reviewerName } } }",
        {"id": review["id"]},
    )
    assert node["node"] == {"rating": 4, "reviewerName": w["buyer"].display_name}


async def test_reviewer_is_shown_by_display_name_only() -> None:
    from schema.definition import schema

    review_type = schema._schema.type_map["Review"]
    assert set(review_type.fields) == {  # type: ignore[attr-defined]
        "id",
        "rating",
        "text",
        "postedAt",
        "editedAt",
        "editableUntil",  # postedAt and a setting: nothing about the reviewer
        "reviewerName",
    }


@pytest.mark.parametrize(
    "status", [s for s in OrderStatus if s is not OrderStatus.COMPLETED], ids=str
)
async def test_review_of_an_uncompleted_order_is_refused(
    gql: GraphQLClient, sessions: SessionFactory, status: OrderStatus
) -> None:
    w = await _world(sessions, status)
    before = await _state(sessions)
    payload = await _review(gql, w["buyer"], w["items"][0])
    _one_error(payload, "INVALID_TRANSITION", ["input", "orderItemId"])
    assert await _state(sessions) == before


async def test_refusals_change_nothing(gql: GraphQLClient, sessions: SessionFactory) -> None:
    w = await _world(sessions)
    item = w["items"][0]
    cases: list[tuple[User, dict[str, Any], str, list[str] | None]] = [
        (w["seller"], {}, "FORBIDDEN", ["input", "orderItemId"]),
        (w["stranger"], {}, "NOT_FOUND", ["input", "orderItemId"]),
        (w["buyer"], {"rating": 0}, "INVALID", ["input", "rating"]),
        (w["buyer"], {"rating": 6}, "INVALID", ["input", "rating"]),
        (w["buyer"], {"rating": -1}, "INVALID", ["input", "rating"]),
        (w["buyer"], {"text": "é" * 2001}, "INVALID", ["input", "text"]),
        (
            w["buyer"],
            {"orderItemId": gid("Order", w["order"])},
            "INVALID",
            ["input", "orderItemId"],
        ),
        (w["buyer"], {"orderItemId": "not-an-id"}, "INVALID", ["input", "orderItemId"]),
        (
            w["buyer"],
            {"orderItemId": to_global_id("OrderItem", 10**6)},
            "NOT_FOUND",
            ["input", "orderItemId"],
        ),
        (w["buyer"], {"idempotencyKey": ""}, "INVALID", ["input", "idempotencyKey"]),
    ]
    before = await _state(sessions)
    for user, change, code, field in cases:
        variables = {"orderItemId": gid("OrderItem", item), "rating": 5, "text": "ok", **change}
        payload = (await gql.query(REVIEW, {"input": variables}, user_id=user.id))[
            "reviewOrderItem"
        ]
        _one_error(payload, code, field)
        assert await _state(sessions) == before, (change, code)
    # 2,000 characters is fine, however many bytes they take.
    payload = await _review(gql, w["buyer"], item, 5, "é" * 2000)
    assert payload["userErrors"] == []
    assert len(payload["review"]["text"]) == 2000


async def test_anonymous_callers_cannot_review(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    w = await _world(sessions)
    before = await _state(sessions)
    variables = {"input": {"orderItemId": gid("OrderItem", w["items"][0]), "rating": 5}}
    error = await gql.error(REVIEW, variables)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert await _state(sessions) == before


async def test_each_line_is_reviewed_once(gql: GraphQLClient, sessions: SessionFactory) -> None:
    w = await _world(sessions)
    first = await _review(gql, w["buyer"], w["items"][0], 5, "first")
    assert first["userErrors"] == []
    before = await _state(sessions)
    again = await _review(gql, w["buyer"], w["items"][0], 1, "second")
    _one_error(again, "CONFLICT", ["input", "orderItemId"])
    assert await _state(sessions) == before


async def test_a_retry_with_the_same_key_returns_the_first_review(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    w = await _world(sessions)
    first = await _review(gql, w["buyer"], w["items"][0], 5, "yes", idempotencyKey="k-1")
    state = await _state(sessions)
    retry = await _review(gql, w["buyer"], w["items"][0], 5, "yes", idempotencyKey="k-1")
    assert retry == first
    assert await _state(sessions) == state  # no second review, no second event
    other = await _review(gql, w["buyer"], w["items"][0], 3, "no", idempotencyKey="k-1")
    _one_error(other, "CONFLICT", ["input", "idempotencyKey"])


async def test_edit_changes_the_review_and_the_rating(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    w = await _world(sessions)
    posted = (await _review(gql, w["buyer"], w["items"][0], 2, "meh"))["review"]
    await _review(gql, w["buyer"], w["items"][1], 5, "great")
    edit = {"reviewId": posted["id"], "rating": 5}
    edited = (await gql.query(EDIT, {"input": edit}, user_id=w["buyer"].id))["editReview"]
    assert edited["userErrors"] == []
    assert edited["review"]["rating"] == 5
    assert edited["review"]["text"] == "meh"  # omitted: unchanged
    assert edited["review"]["postedAt"] == posted["postedAt"]
    assert edited["review"]["editedAt"] is not None
    edit = {"reviewId": posted["id"], "text": "  better than I said  "}
    edited = (await gql.query(EDIT, {"input": edit}, user_id=w["buyer"].id))["editReview"]
    assert (edited["review"]["rating"], edited["review"]["text"]) == (5, "better than I said")
    node = (await gql.query(ORDER, {"id": gid("Order", w["order"])}, user_id=w["buyer"].id))["node"]
    kinds = [e["kind"] for e in node["timeline"]]
    assert kinds[-4:] == ["REVIEW_POSTED", "REVIEW_POSTED", "REVIEW_EDITED", "REVIEW_EDITED"]
    product = await gql.query(PRODUCT, {"id": gid("Product", w["products"][0])})
    assert product["product"]["rating"] == {"average": 5.0, "count": 1}


async def test_edit_refusals_change_nothing(gql: GraphQLClient, sessions: SessionFactory) -> None:
    w = await _world(sessions)
    review_id = (await _review(gql, w["buyer"], w["items"][0], 3, "ok"))["review"]["id"]
    before = await _state(sessions)
    cases: list[tuple[User, dict[str, Any], str, list[str] | None]] = [
        (w["seller"], {"rating": 1}, "NOT_FOUND", ["input", "reviewId"]),
        (w["stranger"], {"rating": 1}, "NOT_FOUND", ["input", "reviewId"]),
        (w["buyer"], {}, "INVALID", ["input"]),
        (w["buyer"], {"rating": 9}, "INVALID", ["input", "rating"]),
        (w["buyer"], {"text": "x" * 2001}, "INVALID", ["input", "text"]),
        (
            w["buyer"],
            {"reviewId": to_global_id("Review", 10**6), "rating": 1},
            "NOT_FOUND",
            ["input", "reviewId"],
        ),
        (
            w["buyer"],
            {"reviewId": gid("Order", w["order"]), "rating": 1},
            "INVALID",
            ["input", "reviewId"],
        ),
    ]
    for user, change, code, field in cases:
        variables = {"reviewId": review_id, **change}
        payload = (await gql.query(EDIT, {"input": variables}, user_id=user.id))["editReview"]
        _one_error(payload, code, field)
        assert await _state(sessions) == before, (change, code)
    # Thirty days and a moment after posting, the window is closed.
    await _backdate(sessions, timedelta(days=30, seconds=1))
    before = await _state(sessions)
    variables = {"reviewId": review_id, "rating": 1}
    payload = (await gql.query(EDIT, {"input": variables}, user_id=w["buyer"].id))["editReview"]
    _one_error(payload, "INVALID", ["input", "reviewId"])
    assert await _state(sessions) == before


class TestAShorterEditWindow:
    @pytest.fixture
    def settings(self) -> Settings:
        return Settings(
            env="test",
            jwt_secret=TEST_SECRET,
            database_url="sqlite:///unused.db",
            review_edit_window_seconds=3600,
        )

    async def test_the_window_is_a_setting(
        self, gql: GraphQLClient, sessions: SessionFactory
    ) -> None:
        w = await _world(sessions)
        review_id = (await _review(gql, w["buyer"], w["items"][0], 3))["review"]["id"]
        await _backdate(sessions, timedelta(hours=2))
        variables = {"reviewId": review_id, "rating": 1}
        payload = (await gql.query(EDIT, {"input": variables}, user_id=w["buyer"].id))["editReview"]
        _one_error(payload, "INVALID", ["input", "reviewId"])


async def test_to_review_lists_completed_orders_with_unreviewed_lines(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    w = await _world(sessions)
    buyer = w["buyer"]
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    for status in OrderStatus:  # one order in every status, one line each
        await make_order(sessions, buyer=buyer, shop=shop, products=[product], status=status)

    async def listed() -> tuple[int, list[str], dict[str, int]]:
        data = (await gql.query(TO_REVIEW, user_id=buyer.id))["viewer"]
        tabs = {t["tab"]: t["count"] for t in data["orderTabs"]}
        orders = data["orders"]
        assert orders["totalCount"] == len(orders["edges"]) == tabs["TO_REVIEW"]
        assert {e["node"]["tab"] for e in orders["edges"]} <= {"COMPLETED"}
        return tabs["TO_REVIEW"], [e["node"]["number"] for e in orders["edges"]], tabs

    count, numbers, tabs = await listed()
    assert count == 2
    assert w["order"].number in numbers
    assert tabs["COMPLETED"] == 2  # TO_REVIEW is a list beside the tabs, not instead of one
    await _review(gql, buyer, w["items"][0])
    count, numbers, _ = await listed()
    assert count == 2  # one line of that order is still unreviewed
    await _review(gql, buyer, w["items"][1])
    count, numbers, tabs = await listed()
    assert count == 1
    assert w["order"].number not in numbers
    assert tabs["COMPLETED"] == 2


async def test_product_reviews_newest_first_with_cursors(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    seller = await make_user(sessions, role="seller")
    shop = await make_shop(sessions, owner=seller)
    product = await make_product(sessions, shop=shop)
    ratings = [4, 4, 5, 1, 3]
    for rating in ratings:
        buyer = await make_user(sessions)
        order = await make_order(
            sessions, buyer=buyer, shop=shop, products=[product], status=OrderStatus.COMPLETED
        )
        [item] = await _items(sessions, order)
        await _review(gql, buyer, item, rating, f"rated {rating}")
    seen: list[int] = []
    after = None
    while True:
        data = await gql.query(PRODUCT, {"id": gid("Product", product), "first": 2, "after": after})
        page = data["product"]["reviews"]
        seen.extend(e["node"]["rating"] for e in page["edges"])
        assert page["totalCount"] == 5
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == list(reversed(ratings))  # newest first
    # 17 / 5 = 3.4
    assert data["product"]["rating"] == {"average": 3.4, "count": 5}


ACTIONS = """
query($id: ID!) { node(id: $id) { ... on Order { availableActions
  items { review { id editableUntil postedAt } } } } }
"""


async def _offered(gql: GraphQLClient, order: Order, viewer: User) -> set[str]:
    node = (await gql.query(ACTIONS, {"id": gid("Order", order)}, user_id=viewer.id))["node"]
    return set() if node is None else set(node["availableActions"]) & {"REVIEW", "EDIT_REVIEW"}


@pytest.mark.parametrize("status", [OrderStatus.COMPLETED, OrderStatus.DELIVERED], ids=str)
async def test_the_mutations_refuse_exactly_when_the_actions_are_not_offered(
    gql: GraphQLClient, sessions: SessionFactory, status: OrderStatus
) -> None:
    """One rule, two uses: whoever views the order, at every step of its reviews, posting
    a line's review works iff REVIEW is offered, editing one iff EDIT_REVIEW is."""
    w = await _world(sessions, status=status)
    viewers = [w["stranger"], w["seller"], w["buyer"]]
    reviews: list[str] = []
    seen: set[frozenset[str]] = set()

    async def check_edit(viewer: User) -> None:
        offered = await _offered(gql, w["order"], viewer)
        seen.add(frozenset(offered))
        if not reviews:
            assert "EDIT_REVIEW" not in offered
            return
        edit = {"reviewId": reviews[0], "rating": 3}
        edited = (await gql.query(EDIT, {"input": edit}, user_id=viewer.id))["editReview"]
        assert (edited["userErrors"] == []) is ("EDIT_REVIEW" in offered), (viewer, edited)

    for item in [*w["items"], None]:
        for viewer in viewers:
            offered = await _offered(gql, w["order"], viewer)
            seen.add(frozenset(offered))
            if item is None:  # every line reviewed (or none may be)
                assert "REVIEW" not in offered
            else:
                payload = await _review(gql, viewer, item)
                assert (payload["userErrors"] == []) is ("REVIEW" in offered), (viewer, payload)
                if payload["review"] is not None:
                    reviews.append(payload["review"]["id"])
            await check_edit(viewer)
    await _backdate(sessions, timedelta(days=30, seconds=1))
    for viewer in viewers:
        await check_edit(viewer)
    if status is OrderStatus.COMPLETED:
        # Every combination was met along the way, for the buyer.
        assert {frozenset({"REVIEW"}), frozenset({"REVIEW", "EDIT_REVIEW"})} <= seen
        assert {frozenset({"EDIT_REVIEW"}), frozenset()} <= seen
    else:
        assert seen == {frozenset()}
