"""POST /webhooks/carrier: signed scans move orders as the CARRIER, once, and every
forged, replayed, stale or unknown-carrier delivery is refused with a code, changing
nothing. Over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from app.main import create_app
from app.settings import DEVELOPMENT_CARRIER_SECRETS, Settings
from app.webhooks import MAX_BODY_BYTES
from db.engine import SessionFactory
from db.models import OrderEvent, Shipment, ShipmentEvent
from domain.carrier_scans import sign
from domain.order_status import OrderStatus
from tests.conftest import TEST_SECRET, GraphQLClient
from tests.factories import make_order, make_product, make_shop, make_user
from tests.mutations.test_place_order import DATA_TABLES, db_state, gid, read_order

SECRETS = {"UPS": "ups-shared-secret-for-tests", "FedEx": "fedex-shared-secret-for-tests"}
SCANNED_AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def settings() -> Settings:
    return Settings(
        env="test",
        jwt_secret=TEST_SECRET,
        database_url="sqlite:///unused.db",
        carrier_webhook_secrets=SECRETS,
        carrier_webhook_tolerance_seconds=300,
    )


def scan(tracking: str, kind: str, scan_id: str, at: datetime = SCANNED_AT) -> dict[str, Any]:
    return {
        "scanId": scan_id,
        "trackingNumber": tracking,
        "kind": kind,
        "happenedAt": at.isoformat(),
        "location": "Memphis, TN",
    }


def signed(
    scans: list[dict[str, Any]],
    *,
    carrier: str = "UPS",
    secret: str | None = None,
    timestamp: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"scans": scans}).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    headers = {
        "Content-Type": "application/json",
        "X-Carrier": carrier,
        "X-Carrier-Timestamp": stamp,
        "X-Carrier-Signature": sign(secret or SECRETS[carrier], stamp, body),
    }
    return body, headers


async def post(client: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await client.post("/webhooks/carrier", content=body, headers=headers)


async def _shipped(sessions: SessionFactory, status: OrderStatus = OrderStatus.AWAITING_COLLECTION):
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    order = await make_order(
        sessions,
        buyer=buyer,
        shop=shop,
        products=[product],
        status=status,
        tracking_number="1ZTEST0001",
    )
    return buyer, order


async def _scan_rows(sessions: SessionFactory) -> list[tuple[str, str | None]]:
    async with sessions() as session:
        rows = await session.execute(
            select(col(ShipmentEvent.kind), col(ShipmentEvent.carrier_scan_id)).order_by(
                col(ShipmentEvent.id)
            )
        )
        return [(kind, scan_id) for kind, scan_id in rows.all()]


async def test_scans_move_the_order_as_the_carrier(
    client: httpx.AsyncClient, gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer, order = await _shipped(sessions)
    body, headers = signed([scan("1ZTEST0001", "PICKED_UP", "s-1")])
    response = await post(client, body, headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "scans": [{"scanId": "s-1", "result": "APPLIED", "orderStatus": "IN_TRANSIT"}]
    }

    delivered_at = SCANNED_AT + timedelta(days=2)
    # The carrier's name in any case; the delivered scan sets the shipment's date.
    body, headers = signed([scan("1ZTEST0001", "DELIVERED", "s-2", delivered_at)])
    headers["X-Carrier"] = "ups"
    response = await post(client, body, headers)
    assert response.json()["scans"][0]["orderStatus"] == "DELIVERED"

    seen = await read_order(gql, gid("Order", order), user=buyer)
    assert seen["status"] == "DELIVERED"
    # Each scan, then the status change it made, as the carrier.
    assert [(e["kind"], e["toStatus"], e["actor"]) for e in seen["timeline"][-4:]] == [
        ("CARRIER_SCAN", "AWAITING_COLLECTION", "CARRIER"),
        ("STATUS_CHANGED", "IN_TRANSIT", "CARRIER"),
        ("CARRIER_SCAN", "IN_TRANSIT", "CARRIER"),
        ("STATUS_CHANGED", "DELIVERED", "CARRIER"),
    ]
    assert [e["kind"] for e in seen["shipment"]["events"]][-2:] == ["PICKED_UP", "DELIVERED"]
    assert seen["shipment"]["deliveredAt"] == delivered_at.isoformat()


async def test_a_delivered_scan_of_a_parcel_never_picked_up_takes_both_steps(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    _, order = await _shipped(sessions)
    response = await post(client, *signed([scan("1ZTEST0001", "DELIVERED", "only")]))
    assert response.json()["scans"][0]["orderStatus"] == "DELIVERED"
    async with sessions() as session:
        events = (
            await session.execute(
                select(OrderEvent)
                .where(col(OrderEvent.order_id) == order.id)
                .order_by(col(OrderEvent.id))
            )
        ).scalars()
        tail = [(e.to_status, e.actor) for e in events][-2:]
    assert tail == [("IN_TRANSIT", "CARRIER"), ("DELIVERED", "CARRIER")]


async def test_a_scan_delivered_again_is_applied_once(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    await _shipped(sessions)
    first = await post(client, *signed([scan("1ZTEST0001", "PICKED_UP", "s-1")]))
    assert first.json()["scans"][0]["result"] == "APPLIED"
    before = await db_state(sessions)
    scans_before = await _scan_rows(sessions)

    # The carrier retries: the same scan, freshly signed (a later timestamp).
    again = await post(
        client,
        *signed([scan("1ZTEST0001", "PICKED_UP", "s-1")], timestamp=int(time.time()) + 1),
    )
    assert again.status_code == 200
    assert again.json() == {
        "scans": [{"scanId": "s-1", "result": "DUPLICATE", "orderStatus": "IN_TRANSIT"}]
    }
    assert await db_state(sessions) == before
    assert await _scan_rows(sessions) == scans_before


async def test_a_late_scan_is_recorded_but_never_moves_an_order_back(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    await _shipped(sessions, OrderStatus.DELIVERED)
    response = await post(client, *signed([scan("1ZTEST0001", "IN_TRANSIT", "late")]))
    assert response.json()["scans"] == [
        {"scanId": "late", "result": "APPLIED", "orderStatus": "DELIVERED"}
    ]
    assert ("IN_TRANSIT", "late") in await _scan_rows(sessions)


SCANS_QUERY = """
query Scans($id: ID!) {
  node(id: $id) { ... on Order { shipment { events { kind happenedAt recordedAt } } } }
}
"""


async def test_a_scan_reported_late_says_when_it_happened_and_when_it_was_stored(
    client: httpx.AsyncClient, gql: GraphQLClient, sessions: SessionFactory
) -> None:
    """A carrier may deliver a scan days later: happenedAt is the carrier's time,
    recordedAt ours."""
    buyer, order = await _shipped(sessions)
    before = datetime.now(UTC).replace(microsecond=0)
    days_ago = before - timedelta(days=3)
    response = await post(client, *signed([scan("1ZTEST0001", "PICKED_UP", "old", days_ago)]))
    assert response.status_code == 200, response.text
    after = datetime.now(UTC)
    data = await gql.query(SCANS_QUERY, {"id": gid("Order", order)}, user_id=buyer.id)
    picked_up = data["node"]["shipment"]["events"][-1]
    assert picked_up["kind"] == "PICKED_UP"
    assert datetime.fromisoformat(picked_up["happenedAt"]) == days_ago
    assert before <= datetime.fromisoformat(picked_up["recordedAt"]) <= after


async def _refused(
    client: httpx.AsyncClient,
    sessions: SessionFactory,
    body: bytes,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    before = await db_state(sessions)
    scans_before = await _scan_rows(sessions)
    response = await post(client, body, headers)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert await db_state(sessions) == before
    assert await _scan_rows(sessions) == scans_before


async def test_forged_deliveries_are_refused_and_change_nothing(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    await _shipped(sessions)
    scans = [scan("1ZTEST0001", "DELIVERED", "forged")]
    # Signed with a guessed secret.
    body, headers = signed(scans, secret="not-the-secret")
    await _refused(client, sessions, body, headers, 401, "INVALID_SIGNATURE")
    # A genuine signature over another body.
    body, headers = signed([scan("1ZTEST0001", "PICKED_UP", "x")])
    await _refused(
        client, sessions, json.dumps({"scans": scans}).encode(), headers, 401, "INVALID_SIGNATURE"
    )
    # Another carrier's secret (FedEx signing as UPS).
    body, headers = signed(scans, secret=SECRETS["FedEx"])
    await _refused(client, sessions, body, headers, 401, "INVALID_SIGNATURE")
    # No signature; a timestamp changed after signing.
    body, headers = signed(scans)
    await _refused(
        client, sessions, body, {**headers, "X-Carrier-Signature": ""}, 401, "INVALID_SIGNATURE"
    )
    moved = {**headers, "X-Carrier-Timestamp": str(int(headers["X-Carrier-Timestamp"]) + 1)}
    await _refused(client, sessions, body, moved, 401, "INVALID_SIGNATURE")


async def test_unknown_carriers_stale_and_malformed_deliveries_are_refused(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    await _shipped(sessions)
    scans = [scan("1ZTEST0001", "DELIVERED", "s")]
    body, headers = signed(scans)
    await _refused(client, sessions, body, {**headers, "X-Carrier": "DHL"}, 401, "UNKNOWN_CARRIER")
    no_carrier = {k: v for k, v in headers.items() if k != "X-Carrier"}
    await _refused(client, sessions, body, no_carrier, 401, "UNKNOWN_CARRIER")
    # Each stamp taken as it is sent, well outside the 300 s tolerance: one taken before
    # the checks before it ran could be inside it by the time it arrived (a slow run).
    for offset in (-360, 360):
        when = int(time.time()) + offset
        await _refused(client, sessions, *signed(scans, timestamp=when), 401, "STALE_TIMESTAMP")
    for stamp in ("", "soon", "-5", "1.5e9"):
        await _refused(
            client, sessions, body, {**headers, "X-Carrier-Timestamp": stamp}, 400, "BAD_TIMESTAMP"
        )
    for bad in (
        [],
        [{**scans[0], "kind": "TELEPORTED"}],
        [{**scans[0], "happenedAt": "2026-12-01T09:30:00"}],  # no time zone
        [{**scans[0], "trackingNumber": ""}],
        [{**scans[0], "extra": 1}],
    ):
        await _refused(client, sessions, *signed(bad), 400, "BAD_REQUEST")
    stamp = str(int(time.time()))
    not_json = b"{not json"
    await _refused(
        client,
        sessions,
        not_json,
        {
            **headers,
            "X-Carrier-Timestamp": stamp,
            "X-Carrier-Signature": sign(SECRETS["UPS"], stamp, not_json),
        },
        400,
        "BAD_REQUEST",
    )
    huge = b" " * (MAX_BODY_BYTES + 1)
    await _refused(client, sessions, huge, headers, 413, "PAYLOAD_TOO_LARGE")


async def test_an_address_sending_too_many_requests_is_slowed_whatever_it_sends(
    settings: Settings, engine: AsyncEngine, sessions: SessionFactory
) -> None:
    app = create_app(settings.model_copy(update={"carrier_webhook_per_minute": 3}), engine=engine)
    await _shipped(sessions)

    def client_at(host: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(host, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://test")

    genuine = signed([scan("1ZTEST0001", "PICKED_UP", "genuine")])
    async with client_at("127.0.0.1") as guesser, client_at("127.0.0.2") as carrier:
        # Guessed signatures spend the budget like anything else...
        for attempt in range(3):
            forged = signed([scan("1ZTEST0001", "DELIVERED", f"f{attempt}")], secret="guess")
            assert (await post(guesser, *forged)).status_code == 401
        # ...so a fourth request from there waits, even a genuine one, and changes nothing.
        before = await db_state(sessions)
        slowed = await post(guesser, *genuine)
        assert slowed.status_code == 429
        assert slowed.json()["code"] == "RATE_LIMITED"
        assert 1 <= int(slowed.headers["Retry-After"]) <= 60
        assert await db_state(sessions) == before
        # Another address has its own budget.
        accepted = await post(carrier, *genuine)
        assert accepted.status_code == 200, accepted.text
        assert [s["result"] for s in accepted.json()["scans"]] == ["APPLIED"]


async def test_a_replayed_delivery_is_refused(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    await _shipped(sessions)
    body, headers = signed([scan("1ZTEST0001", "PICKED_UP", "s-1")])
    assert (await post(client, body, headers)).status_code == 200
    await _refused(client, sessions, body, headers, 409, "REPLAYED")


async def test_a_tracking_number_of_another_carrier_is_unknown(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    await _shipped(sessions)  # a UPS shipment
    before = await db_state(sessions)
    response = await post(
        client, *signed([scan("1ZTEST0001", "DELIVERED", "f-1")], carrier="FedEx")
    )
    assert response.json()["scans"] == [
        {"scanId": "f-1", "result": "UNKNOWN_TRACKING", "orderStatus": None}
    ]
    assert await db_state(sessions) == before


async def test_racing_copies_of_a_scan_apply_it_once(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    _, order = await _shipped(sessions)
    now = int(time.time())
    copies = [
        signed([scan("1ZTEST0001", "DELIVERED", "race")], timestamp=now - i) for i in range(4)
    ]
    # One exact copy twice as well: a replay racing its original.
    copies.append(copies[0])
    responses = await asyncio.gather(*(post(client, body, headers) for body, headers in copies))
    results = sorted(
        r.json()["scans"][0]["result"] if r.status_code == 200 else r.json()["code"]
        for r in responses
    )
    assert results == ["APPLIED", "DUPLICATE", "DUPLICATE", "DUPLICATE", "REPLAYED"]
    async with sessions() as session:
        events = (
            await session.execute(
                select(col(OrderEvent.kind), col(OrderEvent.to_status)).where(
                    col(OrderEvent.order_id) == order.id, col(OrderEvent.actor) == "CARRIER"
                )
            )
        ).all()
        # The scan once, and the two steps it made.
        assert sorted(events) == [
            ("CARRIER_SCAN", "AWAITING_COLLECTION"),
            ("STATUS_CHANGED", "DELIVERED"),
            ("STATUS_CHANGED", "IN_TRANSIT"),
        ]
    assert [s for s in await _scan_rows(sessions) if s[1] == "race"] == [("DELIVERED", "race")]


def test_the_tables_a_delivery_writes_are_compared() -> None:
    # db_state counts these; the scans are compared row by row above.
    assert Shipment in DATA_TABLES
    assert ShipmentEvent in DATA_TABLES


@pytest.mark.parametrize(
    "secrets",
    [
        {"UPS": "short"},
        {"UPS": DEVELOPMENT_CARRIER_SECRETS["UPS"]},
    ],
)
def test_production_refuses_weak_or_published_carrier_secrets(secrets: dict[str, str]) -> None:
    strong = "x" * 40
    settings = Settings(env="production", jwt_secret=strong, carrier_webhook_secrets=secrets)
    with pytest.raises(ValueError, match="ORDERCENTER_CARRIER_WEBHOOK_SECRETS"):
        settings.check()


def test_production_has_no_development_carrier_secrets() -> None:
    strong = "x" * 40
    assert Settings(env="production", jwt_secret=strong).carrier_secrets == {}
    configured = Settings(
        env="production", jwt_secret=strong, carrier_webhook_secrets={"UPS": "u" * 32}
    )
    configured.check()
    assert configured.carrier_secrets == {"ups": "u" * 32}
    assert set(Settings(env="development").carrier_secrets) == {"ups", "fedex", "usps", "dhl"}
