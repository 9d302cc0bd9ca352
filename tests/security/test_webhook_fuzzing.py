"""Fuzzing POST /webhooks/carrier: whatever the headers and body, the answer is a typed
refusal or a delivery result, never a server error, and a refusal changes nothing."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.settings import Settings
from db.engine import SessionFactory
from domain.carrier_scans import ScanKind, sign
from domain.order_status import OrderStatus
from tests.conftest import TEST_SECRET
from tests.factories import make_order, make_product, make_shop, make_user
from tests.mutations.test_place_order import db_state

SECRETS = {"UPS": "ups-fuzzing-secret"}
CODES = {
    400: {"BAD_TIMESTAMP", "BAD_REQUEST"},
    401: {"UNKNOWN_CARRIER", "INVALID_SIGNATURE", "STALE_TIMESTAMP"},
    409: {"REPLAYED"},
    413: {"PAYLOAD_TOO_LARGE"},
}


@pytest.fixture
def settings() -> Settings:
    return Settings(
        env="test",
        jwt_secret=TEST_SECRET,
        database_url="sqlite:///unused.db",
        carrier_webhook_secrets=SECRETS,
    )


scan_values = st.fixed_dictionaries(
    {
        "scanId": st.text(max_size=140),
        "trackingNumber": st.sampled_from(["1ZFUZZ0001", "", "x" * 65]) | st.text(max_size=10),
        "kind": st.sampled_from([k.value for k in ScanKind]) | st.text(max_size=12),
        "happenedAt": st.sampled_from(["2026-12-01T09:30:00Z", "2026-12-01T09:30:00", "soon"]),
    },
    optional={"location": st.text(max_size=210), "extra": st.integers()},
)
bodies = st.one_of(
    st.binary(max_size=512),
    st.builds(
        lambda scans: json.dumps({"scans": scans}).encode(), st.lists(scan_values, max_size=3)
    ),
    st.builds(
        lambda value: json.dumps(value).encode(),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=8),
            lambda children: (
                st.lists(children, max_size=3)
                | st.dictionaries(st.text(max_size=6), children, max_size=3)
            ),
            max_leaves=8,
        ),
    ),
)


@given(
    body=bodies,
    carrier=st.sampled_from(["UPS", "ups", "DHL", "", "Ü P S"]),
    skew=st.sampled_from([0, 0, -5, 299, 301, -400]),
    timestamp_text=st.none() | st.text(max_size=14),
    signature_text=st.none() | st.text(max_size=80),
)
@hypothesis_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
async def test_any_delivery_gets_a_typed_answer_and_refusals_change_nothing(
    client: httpx.AsyncClient,
    sessions: SessionFactory,
    body: bytes,
    carrier: str,
    skew: int,
    timestamp_text: str | None,
    signature_text: str | None,
) -> None:
    if not await _has_world(sessions):
        buyer = await make_user(sessions)
        shop = await make_shop(sessions)
        product = await make_product(sessions, shop=shop)
        await make_order(
            sessions,
            buyer=buyer,
            shop=shop,
            products=[product],
            status=OrderStatus.AWAITING_COLLECTION,
            tracking_number="1ZFUZZ0001",
        )
    stamp = timestamp_text if timestamp_text is not None else str(int(time.time()) + skew)
    headers: dict[str, Any] = {"X-Carrier": carrier, "X-Carrier-Timestamp": stamp}
    secret = SECRETS.get(carrier.upper())
    signature = signature_text
    if signature is None and secret is not None:
        signature = sign(secret, stamp, body)
    headers["X-Carrier-Signature"] = signature or ""
    before = await db_state(sessions)
    try:
        response = await client.post("/webhooks/carrier", content=body, headers=headers)
    except UnicodeEncodeError:
        return  # a header httpx cannot send is no request at all
    assert response.status_code in (200, *CODES), response.text
    answer = response.json()
    if response.status_code == 200:
        assert {r["result"] for r in answer["scans"]} <= {
            "APPLIED",
            "DUPLICATE",
            "UNKNOWN_TRACKING",
        }
    else:
        assert answer["code"] in CODES[response.status_code], answer
        assert await db_state(sessions) == before


async def _has_world(sessions: SessionFactory) -> bool:
    state = await db_state(sessions)
    return bool(state["orders"])
