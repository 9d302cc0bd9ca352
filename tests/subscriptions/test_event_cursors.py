"""OrderEvent.cursor is opaque like every other cursor; old numeric cursors still resume."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.settings import Settings
from db.engine import SessionFactory
from resolvers.ids import to_global_id
from resolvers.pagination import decode_cursor
from tests.conftest import GraphQLClient, token_for
from tests.subscriptions.asgi_ws import AsgiSocket, running_app
from tests.subscriptions.test_direct_lane import buyer_with_order, event_ids

TIMELINE = """query($id: ID!) {
  node(id: $id) { ... on Order { timeline { cursor toStatus } } }
}"""
ORDER_CURSOR = "query { viewer { orders(first: 1) { edges { cursor } } } }"
FOLLOW = """subscription($id: ID, $after: String) {
  orderStatusChanged(orderId: $id, after: $after) { cursor toStatus }
}"""


async def _first_frame(
    settings: Settings, engine: AsyncEngine, token: str, variables: dict[str, Any]
) -> dict[str, Any]:
    async with running_app(settings, engine) as app:
        socket = await AsgiSocket.open(app, token)
        try:
            await socket.subscribe("1", FOLLOW, variables)
            frame: dict[str, Any] = json.loads(await socket.recv())
            return frame["payload"]
        finally:
            await socket.close()


async def test_an_event_cursor_is_opaque_and_resumes_after_its_event(
    gql: GraphQLClient, settings: Settings, engine: AsyncEngine, sessions: SessionFactory
) -> None:
    buyer, _, order = await buyer_with_order(sessions)
    assert order.id is not None
    placed_id, paid_id = await event_ids(sessions, order)
    order_id = to_global_id("Order", order.id)
    data = await gql.query(TIMELINE, {"id": order_id}, user_id=buyer.id)
    placed, paid = data["node"]["timeline"]
    for event, event_id in ((placed, placed_id), (paid, paid_id)):
        # Not the bare row id any more: a cursor like every other list's.
        assert not event["cursor"].isdigit()
        assert decode_cursor(
            event["cursor"], list_name="orderEvents", key_kind="float", argument="after"
        ) == (event_id, event_id)
    resumed = await _first_frame(
        settings, engine, token_for(buyer.id), {"id": order_id, "after": placed["cursor"]}
    )
    assert resumed["data"] == {"orderStatusChanged": paid}


async def test_a_numeric_cursor_from_before_still_resumes(
    settings: Settings, engine: AsyncEngine, sessions: SessionFactory
) -> None:
    buyer, _, order = await buyer_with_order(sessions)
    assert order.id is not None
    placed_id, _ = await event_ids(sessions, order)
    variables = {"id": to_global_id("Order", order.id), "after": str(placed_id)}
    resumed = await _first_frame(settings, engine, token_for(buyer.id), variables)
    assert resumed["data"]["orderStatusChanged"]["toStatus"] == "AWAITING_SHIPMENT"
    assert not resumed["data"]["orderStatusChanged"]["cursor"].isdigit()


@pytest.mark.parametrize(
    ("after", "message"),
    [
        ("not-a-cursor", "`after` is not a valid cursor."),
        ("²", "`after` is not a valid cursor."),  # a digit to str.isdigit, not to int()
        (str(2**63), "`after` is not a valid event cursor."),
    ],
)
async def test_a_malformed_cursor_is_a_clear_error(
    settings: Settings, engine: AsyncEngine, sessions: SessionFactory, after: str, message: str
) -> None:
    buyer, _, _ = await buyer_with_order(sessions)
    refused = await _first_frame(settings, engine, token_for(buyer.id), {"after": after})
    (error,) = refused["errors"]
    assert error["message"] == message
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_cursor_of_another_list_says_so(
    gql: GraphQLClient, settings: Settings, engine: AsyncEngine, sessions: SessionFactory
) -> None:
    buyer, _, _ = await buyer_with_order(sessions)
    data = await gql.query(ORDER_CURSOR, user_id=buyer.id)
    (edge,) = data["viewer"]["orders"]["edges"]
    refused = await _first_frame(settings, engine, token_for(buyer.id), {"after": edge["cursor"]})
    (error,) = refused["errors"]
    assert error["message"] == "`after` is a cursor of another list (orders), not of orderEvents."
