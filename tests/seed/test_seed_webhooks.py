"""The demo data's carrier scans carry the carrier's scan id, as the webhook records them,
and a carrier redelivering one of them changes nothing."""

from __future__ import annotations

import json
import time

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from app.main import create_app
from app.settings import DEVELOPMENT_CARRIER_SECRETS, Settings
from db.engine import create_session_factory
from db.models import Shipment, ShipmentEvent
from db.seed import SeedSize, seed_database
from domain.carrier_scans import sign
from tests.conftest import TEST_SECRET


async def test_seeded_scans_are_webhook_scans_and_a_redelivery_is_a_duplicate(
    engine: AsyncEngine,
) -> None:
    await seed_database(engine, size=SeedSize(users=4, orders_per_user=6), reset=True)
    async with create_session_factory(engine)() as session:
        rows = (
            await session.execute(
                select(ShipmentEvent, Shipment).join(
                    Shipment, col(Shipment.id) == col(ShipmentEvent.shipment_id)
                )
            )
        ).all()
    assert rows
    for scan, _ in rows:
        assert (scan.carrier_scan_id is None) == (scan.kind == "LABEL_CREATED"), scan
    scan, shipment = next((s, sh) for s, sh in rows if s.carrier_scan_id is not None)

    body = json.dumps(
        {
            "scans": [
                {
                    "scanId": scan.carrier_scan_id,
                    "trackingNumber": shipment.tracking_number,
                    "kind": scan.kind,
                    "happenedAt": scan.happened_at.isoformat(),
                }
            ]
        }
    ).encode()
    stamp = str(int(time.time()))
    settings = Settings(env="test", jwt_secret=TEST_SECRET, database_url="sqlite:///unused.db")
    app = create_app(settings, engine=engine)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        response = await client.post(
            "/webhooks/carrier",
            content=body,
            headers={
                "X-Carrier": shipment.carrier,
                "X-Carrier-Timestamp": stamp,
                "X-Carrier-Signature": sign(
                    DEVELOPMENT_CARRIER_SECRETS[shipment.carrier], stamp, body
                ),
            },
        )
    assert response.status_code == 200, response.text
    assert response.json()["scans"][0]["result"] == "DUPLICATE"
