"""examples/*.graphql are the documents the web app sends: each one valid, each read one answering.

The web app loads these files as they are (app/web), the performance work measures them,
and `ordercenter persisted-queries hash examples/*.graphql` allow-lists them; so each file
holds exactly one operation, named as the file, valid against the committed schema.graphql.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    build_schema,
    parse,
    validate,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from db.engine import create_session_factory
from db.models import User
from db.seed import SeedSize, seed_database
from resolvers.recommendations.batch import recompute_everyone
from tests.conftest import GraphQLClient

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.graphql"))
# Every screen of the web app and every action it offers has its document.
EXPECTED = {
    "Home",
    "Orders",
    "OrderDetail",
    "Tagged",
    "RecentlyViewed",
    "Wallet",
    "Payments",
    "Recommendations",
    "BuyAgain",
    "PayOrder",
    "CancelOrder",
    "ConfirmReceipt",
    "ShipOrder",
    "UpdateOrderStatus",
    "AddPaymentMethod",
    "RemovePaymentMethod",
    "SetDefaultPaymentMethod",
    "DismissRecommendation",
    "ClearRecentlyViewed",
    "UntagProduct",
    "OrderStatusChanged",
    "OrderUpdated",
    "OrderAfterDelivery",
    "RequestReturn",
    "ApproveReturn",
    "RejectReturn",
    "CancelReturn",
    "ShipReturn",
    "ReceiveReturn",
    "RefundReturn",
    "ReviewOrderItem",
    "EditReview",
}


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema((ROOT / "schema.graphql").read_text())


def operation(path: Path) -> OperationDefinitionNode:
    document = parse(path.read_text())
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    assert len(operations) == 1, f"{path.name}: one operation per file"
    return operations[0]


def test_every_screen_and_action_has_its_document() -> None:
    assert {path.stem for path in EXAMPLES} == EXPECTED


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_document_is_one_named_operation_valid_against_the_schema(
    path: Path, schema: GraphQLSchema
) -> None:
    op = operation(path)
    assert op.name is not None
    assert op.name.value == path.stem
    errors = validate(schema, parse(path.read_text()))
    assert errors == [], [error.message for error in errors]


READS = [path for path in EXAMPLES if operation(path).operation is OperationType.QUERY]


async def run(gql: GraphQLClient, name: str, variables: dict[str, Any], user_id: int) -> Any:
    return await gql.query(
        (ROOT / "examples" / f"{name}.graphql").read_text(), variables, user_id=user_id
    )


async def test_every_read_document_answers_on_seeded_data(
    engine: AsyncEngine, gql: GraphQLClient
) -> None:
    await seed_database(engine, size=SeedSize(users=5, orders_per_user=12), rng_seed=3)
    await recompute_everyone(create_session_factory(engine))
    async with engine.connect() as conn:
        demo = (await conn.execute(select(col(User.id)).where(col(User.handle) == "demo"))).one()[0]
    ran: set[str] = set()

    async def answer(name: str, variables: dict[str, Any] | None = None) -> Any:
        ran.add(name)
        return (await run(gql, name, variables or {}, demo))[
            "node" if name in ("OrderDetail", "OrderAfterDelivery") else "viewer"
        ]

    tabs = {
        tab["tab"]: tab["count"] for tab in (await answer("Home", {"tab": "TO_PAY"}))["orderTabs"]
    }
    assert sum(tabs.values()) > 0
    busiest = max(tabs, key=lambda tab: tabs[tab])
    home = await answer("Home", {"tab": busiest, "first": 2})
    assert home["orders"]["totalCount"] == tabs[busiest]
    first_page = home["orders"]["edges"]

    # Forwards from the first page, then backwards from the second: the same first page.
    after = home["orders"]["pageInfo"]["endCursor"]
    second = (await answer("Orders", {"tab": busiest, "first": 2, "after": after}))["orders"]
    assert second["pageInfo"]["hasPreviousPage"] is True
    before = second["pageInfo"]["startCursor"]
    back = (await answer("Orders", {"tab": busiest, "last": 2, "before": before}))["orders"]
    assert [edge["node"]["id"] for edge in back["edges"]] == [
        edge["node"]["id"] for edge in first_page
    ]

    number = first_page[0]["node"]["number"]
    found = (await answer("Orders", {"search": number, "first": 5}))["orders"]
    assert [edge["node"]["number"] for edge in found["edges"]] == [number]

    detail = await answer("OrderDetail", {"id": first_page[0]["node"]["id"]})
    assert detail["number"] == number
    assert detail["items"]
    assert detail["timeline"]

    completed = (await answer("Home", {"tab": "COMPLETED", "first": 1}))["orders"]["edges"]
    after_delivery = await answer("OrderAfterDelivery", {"id": completed[0]["node"]["id"]})
    assert after_delivery["status"] == "COMPLETED"
    assert [item["id"] for item in after_delivery["items"]]
    assert isinstance(after_delivery["returns"], list)

    assert (await answer("Wallet"))["paymentMethods"]
    assert (await answer("Payments"))["payments"]["totalCount"] > 0
    assert (await answer("Tagged"))["taggedItems"]["totalCount"] > 0
    assert (await answer("RecentlyViewed"))["recentlyViewed"]["totalCount"] > 0
    again = (await answer("BuyAgain"))["buyAgain"]
    assert again["totalCount"] >= len(again["edges"]) > 0
    assert all(edge["node"]["timesOrdered"] >= 1 for edge in again["edges"])
    newest_first = [edge["node"]["lastOrderedAt"] for edge in again["edges"]]
    assert newest_first == sorted(newest_first, reverse=True)
    picks = (await answer("Recommendations"))["recommendations"]["edges"]
    assert picks
    assert all(pick["node"]["reason"] for pick in picks)
    assert ran == {path.stem for path in READS}
