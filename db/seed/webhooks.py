"""Carrier scans as the carrier webhook would have recorded them.

The seed's timelines already have the carrier (actor CARRIER) move orders to
IN_TRANSIT and DELIVERED; here every scan the carrier made (all but the seller's
LABEL_CREATED) gets the carrier's scan id, as if it had come through
``POST /webhooks/carrier``. A redelivery of one of them is then a DUPLICATE, as it
would be in production.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from db.seed.writer import table


async def record_webhook_scans(conn: AsyncConnection) -> None:
    scans = table("shipment_events")
    await conn.execute(
        sa.update(scans)
        .where(scans.c.kind != "LABEL_CREATED")
        .values(carrier_scan_id=sa.literal("scan-").concat(sa.cast(scans.c.id, sa.String)))
    )
