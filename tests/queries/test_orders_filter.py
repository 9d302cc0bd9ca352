"""OrderFilter, orderTabs and order(number:): what a buyer narrows the Order Center by."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from db.engine import SessionFactory
from db.models import User
from domain.order_status import OrderStatus
from resolvers.ids import to_global_id
from tests.conftest import GraphQLClient
from tests.factories import BASE_TIME, make_order, make_product, make_shop, make_user

S = OrderStatus

ORDERS = """
query Orders($filter: OrderFilter, $first: Int, $after: String) {
  viewer {
    orders(filter: $filter, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id number status tab } }
    }
  }
}
"""


@dataclass
class World:
    buyer: User
    other: User
    ids: dict[str, str]  # label -> global id

    def labels(self, connection: dict[str, Any]) -> list[str]:
        by_id = {v: k for k, v in self.ids.items()}
        return [by_id[edge["node"]["id"]] for edge in connection["edges"]]


# label: (status, number, minutes after BASE_TIME, product titles, shop, tracking number)
ORDERS_SEEDED: dict[str, tuple[OrderStatus, str, int, str, str, str | None]] = {
    "o1": (S.UNPAID, "OC-AAA-001", 1, "Blue Teapot", "acme", None),
    "o2": (S.AWAITING_SHIPMENT, "OC-AAA-002", 2, "Bonsai Scissors", "zen", None),
    "o3": (S.AWAITING_COLLECTION, "OC-BBB-003", 3, "100% Cotton Towel", "acme", "1ZTRACKAAA"),
    "o4": (S.IN_TRANSIT, "OC-BBB-004", 4, "snake_case Mug", "zen", "1ZXYZ999"),
    "o5": (S.DELIVERED, "OC-CCC-005", 5, "Blue Teapot", "acme", "1ZDELIV05"),
    "o6": (S.COMPLETED, "OC-CCC-006", 6, "Bonsai Scissors", "zen", "1ZDONE006"),
    "o7": (S.CANCELLED, "OC-DDD-007", 7, "100% Cotton Towel", "acme", None),
    "o8": (S.UNPAID, "OC-DDD-008", 8, "Blue Teapot", "acme", None),
}
ALL = sorted(ORDERS_SEEDED, reverse=True)  # newest first: o8 .. o1


async def _world(sessions: SessionFactory) -> World:
    buyer = await make_user(sessions, handle="ada")
    other = await make_user(sessions, handle="bob")
    shops = {
        "acme": await make_shop(sessions, name="Acme Kitchen"),
        "zen": await make_shop(sessions, name="Zen Garden"),
    }
    titles = {title: shop for _, _, _, title, shop, _ in ORDERS_SEEDED.values()}
    products = {
        title: await make_product(sessions, shop=shops[shop], title=title)
        for title, shop in titles.items()
    }
    ids: dict[str, str] = {}
    for label, (status, number, minutes, title, shop, tracking) in ORDERS_SEEDED.items():
        order = await make_order(
            sessions,
            buyer=buyer,
            shop=shops[shop],
            products=[products[title]],
            status=status,
            number=number,
            placed_at=BASE_TIME + timedelta(minutes=minutes),
            tracking_number=tracking,
        )
        assert order.id is not None
        ids[label] = to_global_id("Order", order.id)
    # Another buyer's orders match every search below too; they never show up.
    for i, (status, title, shop) in enumerate(
        [
            (S.UNPAID, "Blue Teapot", "acme"),
            (S.IN_TRANSIT, "snake_case Mug", "zen"),
            (S.AWAITING_SHIPMENT, "100% Cotton Towel", "acme"),
        ]
    ):
        await make_order(
            sessions,
            buyer=other,
            shop=shops[shop],
            products=[products[title]],
            status=status,
            number=f"OC-AAA-9{i:02d}",
            tracking_number="1ZTRACKAAA-OTHER",
        )
    return World(buyer=buyer, other=other, ids=ids)


async def _orders(world: World, gql: GraphQLClient, **filter_: Any) -> dict[str, Any]:
    data = await gql.query(ORDERS, {"filter": filter_, "first": 100}, user_id=world.buyer.id)
    connection: dict[str, Any] = data["viewer"]["orders"]
    return connection


async def _labels(world: World, gql: GraphQLClient, **filter_: Any) -> list[str]:
    connection = await _orders(world, gql, **filter_)
    labels = world.labels(connection)
    assert connection["totalCount"] == len(labels)
    return labels


async def _filter_error(world: World, gql: GraphQLClient, **filter_: Any) -> dict[str, Any]:
    return await gql.error(ORDERS, {"filter": filter_}, user_id=world.buyer.id)


async def test_no_filter_lists_all_own_orders(gql: GraphQLClient, sessions: SessionFactory) -> None:
    world = await _world(sessions)
    assert await _labels(world, gql) == ALL


@pytest.mark.parametrize(
    ("tab", "expected"),
    [
        ("TO_PAY", ["o8", "o1"]),
        ("TO_SHIP", ["o3", "o2"]),
        ("SHIPPED", ["o4"]),
        ("DELIVERED", ["o5"]),
        ("COMPLETED", ["o6"]),
        ("CANCELLED", ["o7"]),
    ],
)
async def test_filter_by_tab(
    gql: GraphQLClient, sessions: SessionFactory, tab: str, expected: list[str]
) -> None:
    world = await _world(sessions)
    connection = await _orders(world, gql, tab=tab)
    assert world.labels(connection) == expected
    assert connection["totalCount"] == len(expected)
    assert {edge["node"]["tab"] for edge in connection["edges"]} == {tab}


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["UNPAID"], ["o8", "o1"]),
        (["AWAITING_COLLECTION"], ["o3"]),
        (["UNPAID", "CANCELLED"], ["o8", "o7", "o1"]),
        (["IN_TRANSIT", "DELIVERED", "COMPLETED"], ["o6", "o5", "o4"]),
        (list(OrderStatus), ALL),
    ],
)
async def test_filter_by_status_list(
    gql: GraphQLClient, sessions: SessionFactory, statuses: list[str], expected: list[str]
) -> None:
    world = await _world(sessions)
    assert await _labels(world, gql, status=statuses) == expected


async def test_tab_and_status_intersect(gql: GraphQLClient, sessions: SessionFactory) -> None:
    world = await _world(sessions)
    both = await _labels(world, gql, tab="TO_SHIP", status=["AWAITING_COLLECTION", "UNPAID"])
    assert both == ["o3"]
    # Disjoint: nothing, not everything.
    assert await _labels(world, gql, tab="TO_PAY", status=["COMPLETED"]) == []


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        # 14:03+02:00 is 12:03 UTC: strictly after o3.
        ({"placedAfter": "2026-01-01T14:03:00+02:00"}, ["o8", "o7", "o6", "o5", "o4"]),
        # 07:06-05:00 is 12:06 UTC: strictly before o6.
        ({"placedBefore": "2026-01-01T07:06:00-05:00"}, ["o5", "o4", "o3", "o2", "o1"]),
        (
            {"placedAfter": "2026-01-01T12:03:00Z", "placedBefore": "2026-01-01T12:06:00+00:00"},
            ["o5", "o4"],
        ),
        ({"placedAfter": "2026-01-01T12:03:30+00:00"}, ["o8", "o7", "o6", "o5", "o4"]),
        ({"placedAfter": "2026-01-01T12:08:00+00:00"}, []),
        ({"placedBefore": "2026-01-01T12:01:00+00:00"}, []),
        ({"placedAfter": "2026-01-01T12:06:00Z", "placedBefore": "2026-01-01T12:03:00Z"}, []),
        ({"placedAfter": "2026-01-01T12:00:00Z", "tab": "TO_PAY"}, ["o8", "o1"]),
    ],
)
async def test_filter_by_placed_at(
    gql: GraphQLClient, sessions: SessionFactory, filter_: dict[str, Any], expected: list[str]
) -> None:
    world = await _world(sessions)
    assert await _labels(world, gql, **filter_) == expected


@pytest.mark.parametrize("name", ["placedAfter", "placedBefore"])
async def test_placed_at_without_an_offset_is_an_error(
    gql: GraphQLClient, sessions: SessionFactory, name: str
) -> None:
    world = await _world(sessions)
    error = await _filter_error(world, gql, **{name: "2026-01-01T12:03:00"})
    assert error["message"] == f"`{name}` needs a UTC offset."
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": f"filter.{name}"}


@pytest.mark.parametrize(
    ("name", "value"),
    [("placedAfter", "9999-12-31T23:59:59-05:00"), ("placedBefore", "0001-01-01T00:00:00+05:00")],
)
async def test_placed_at_out_of_range_is_an_error(
    gql: GraphQLClient, sessions: SessionFactory, name: str, value: str
) -> None:
    world = await _world(sessions)
    error = await _filter_error(world, gql, **{name: value})
    assert error["message"] == f"`{name}` is out of range."
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": f"filter.{name}"}


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        # Order number, any case, any part.
        ("OC-BBB-003", ["o3"]),
        ("bbb-00", ["o4", "o3"]),
        ("oc-ccc", ["o6", "o5"]),
        # Item title.
        ("Teapot", ["o8", "o5", "o1"]),
        ("BONSAI", ["o6", "o2"]),
        # Shop name.
        ("zen gard", ["o6", "o4", "o2"]),
        ("ACME KITCHEN", ["o8", "o7", "o5", "o3", "o1"]),
        # Tracking number.
        ("1ZTRACKAAA", ["o3"]),
        ("1zxyz", ["o4"]),
        # Surrounding blanks are ignored; blank searches filter nothing.
        ("  teapot  ", ["o8", "o5", "o1"]),
        ("   ", ALL),
        ("", ALL),
        ("no such thing", []),
    ],
)
async def test_search(
    gql: GraphQLClient, sessions: SessionFactory, search: str, expected: list[str]
) -> None:
    world = await _world(sessions)
    assert await _labels(world, gql, search=search) == expected


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("%", ["o7", "o3"]),
        ("100%", ["o7", "o3"]),
        ("100% c", ["o7", "o3"]),
        ("%Cotton", []),  # '%' is a character, not 'anything'
        ("_", ["o4"]),
        ("snake_case", ["o4"]),
        ("e_c", ["o4"]),
        ("OC_AAA", []),  # '_' is not 'any one character'
        ("\\", []),
        ("\\%", []),
    ],
)
async def test_search_wildcards_are_literal(
    gql: GraphQLClient, sessions: SessionFactory, search: str, expected: list[str]
) -> None:
    world = await _world(sessions)
    assert await _labels(world, gql, search=search) == expected


async def test_search_combines_with_other_conditions(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    world = await _world(sessions)
    assert await _labels(world, gql, search="teapot", tab="TO_PAY") == ["o8", "o1"]
    assert await _labels(world, gql, search="teapot", status=["DELIVERED"]) == ["o5"]
    after = "2026-01-01T12:04:00Z"
    assert await _labels(world, gql, search="acme", placedAfter=after) == ["o8", "o7", "o5"]


async def test_search_length_limit(gql: GraphQLClient, sessions: SessionFactory) -> None:
    world = await _world(sessions)
    assert await _labels(world, gql, search="x" * 100) == []
    # Blanks around it do not count towards the limit.
    assert await _labels(world, gql, search=" " + "x" * 100 + " ") == []
    error = await _filter_error(world, gql, search="x" * 101)
    assert error["message"] == "`search` is longer than 100 characters."
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "filter.search"}


async def test_filtered_list_pages_with_its_total(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    world = await _world(sessions)
    filter_ = {"search": "acme"}
    seen: list[str] = []
    after = None
    while True:
        data = await gql.query(
            ORDERS, {"filter": filter_, "first": 2, "after": after}, user_id=world.buyer.id
        )
        connection = data["viewer"]["orders"]
        assert connection["totalCount"] == 5
        seen.extend(world.labels(connection))
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == ["o8", "o7", "o5", "o3", "o1"]


TABS = """{ viewer { orderTabs { tab count } } }"""


async def test_order_tabs_count_own_orders_in_tab_order(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    world = await _world(sessions)
    data = await gql.query(TABS, user_id=world.buyer.id)
    assert data["viewer"]["orderTabs"] == [
        {"tab": "TO_PAY", "count": 2},
        {"tab": "TO_SHIP", "count": 2},
        {"tab": "SHIPPED", "count": 1},
        {"tab": "DELIVERED", "count": 1},
        {"tab": "COMPLETED", "count": 1},
        {"tab": "CANCELLED", "count": 1},
        {"tab": "TO_REVIEW", "count": 1},  # the completed order: no line reviewed yet
        {"tab": "RETURNS", "count": 0},  # no returns (tests/mutations/test_returns.py)
    ]
    # Each badge agrees with its tab's list.
    for badge in data["viewer"]["orderTabs"]:
        listed = await _orders(world, gql, tab=badge["tab"])
        assert listed["totalCount"] == badge["count"]


async def test_order_tabs_for_a_buyer_without_orders(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    data = await gql.query(TABS, user_id=buyer.id)
    assert data["viewer"]["orderTabs"] == [
        {"tab": tab, "count": 0}
        for tab in [
            "TO_PAY",
            "TO_SHIP",
            "SHIPPED",
            "DELIVERED",
            "COMPLETED",
            "CANCELLED",
            "TO_REVIEW",
            "RETURNS",
        ]
    ]


ORDER_BY_NUMBER = """
query One($number: String!) { viewer { order(number: $number) { id number status } } }
"""


async def test_order_by_number(gql: GraphQLClient, sessions: SessionFactory) -> None:
    world = await _world(sessions)
    data = await gql.query(ORDER_BY_NUMBER, {"number": "OC-BBB-003"}, user_id=world.buyer.id)
    assert data["viewer"]["order"] == {
        "id": world.ids["o3"],
        "number": "OC-BBB-003",
        "status": "AWAITING_COLLECTION",
    }


@pytest.mark.parametrize(
    "number",
    ["OC-NOPE-000", "oc-bbb-003", "OC-BBB", "", "X" * 65],
    ids=["unknown", "wrong case", "prefix", "empty", "too long"],
)
async def test_order_by_number_not_found_is_null(
    gql: GraphQLClient, sessions: SessionFactory, number: str
) -> None:
    world = await _world(sessions)
    data = await gql.query(ORDER_BY_NUMBER, {"number": number}, user_id=world.buyer.id)
    assert data["viewer"]["order"] is None


async def test_another_buyers_order_number_is_null(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    world = await _world(sessions)
    # The other buyer sees their own order, and null for the first buyer's number.
    mine = await gql.query(ORDER_BY_NUMBER, {"number": "OC-BBB-003"}, user_id=world.other.id)
    assert mine["viewer"]["order"] is None
    body_for_other = await gql.raw(
        ORDER_BY_NUMBER, {"number": "OC-BBB-003"}, user_id=world.other.id
    )
    body_for_missing = await gql.raw(
        ORDER_BY_NUMBER, {"number": "OC-NOPE-999"}, user_id=world.other.id
    )
    assert body_for_other == body_for_missing
    other_orders = await gql.query(ORDERS, {"first": 10}, user_id=world.other.id)
    numbers = [e["node"]["number"] for e in other_orders["viewer"]["orders"]["edges"]]
    assert len(numbers) == 3
    found = await gql.query(ORDER_BY_NUMBER, {"number": numbers[0]}, user_id=world.other.id)
    assert found["viewer"]["order"]["number"] == numbers[0]
    # ...which the first buyer cannot look up.
    theirs = await gql.query(ORDER_BY_NUMBER, {"number": numbers[0]}, user_id=world.buyer.id)
    assert theirs["viewer"]["order"] is None


async def test_filters_do_not_reach_other_buyers(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    world = await _world(sessions)
    data = await gql.query(
        ORDERS, {"filter": {"search": "1ZTRACKAAA"}, "first": 10}, user_id=world.other.id
    )
    numbers = [e["node"]["number"] for e in data["viewer"]["orders"]["edges"]]
    # Only the other buyer's shipped order carries a tracking number like it.
    assert len(numbers) == 1
    assert not any(n in [v[1] for v in ORDERS_SEEDED.values()] for n in numbers)


@pytest.mark.parametrize(
    ("search", "found"),
    [("éclair", True), ("ÉCLAIR", True), ("café öl", True), ("CAFÉ", True), ("ecla", False)],
)
async def test_search_is_case_insensitive_beyond_ascii(
    gql: GraphQLClient, sessions: SessionFactory, search: str, found: bool
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions, name="Café Öl")
    product = await make_product(sessions, shop=shop, title="Éclair au chocolat")
    order = await make_order(sessions, buyer=buyer, shop=shop, products=[product])
    assert order.id is not None
    data = await gql.query(ORDERS, {"filter": {"search": search}}, user_id=buyer.id)
    ids = [e["node"]["id"] for e in data["viewer"]["orders"]["edges"]]
    assert ids == ([to_global_id("Order", order.id)] if found else [])
