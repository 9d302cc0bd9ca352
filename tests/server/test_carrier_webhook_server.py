"""`ordercenter simulate --webhook-url` drives deliveries through a real server's carrier
webhook: uvicorn, real HTTP, configured secrets, and the carrier's steps in the timeline."""

from __future__ import annotations

import json
import sqlite3
import subprocess

from tests.server.serving import ORDERCENTER, running_server

SECRETS = {
    "UPS": "ups-secret-for-the-server-test",
    "FedEx": "fedex-secret-for-the-server-test",
    "USPS": "usps-secret-for-the-server-test",
    "DHL": "dhl-secret-for-the-server-test",
}


def test_simulated_carriers_deliver_through_the_webhook() -> None:
    extra = {"ORDERCENTER_CARRIER_WEBHOOK_SECRETS": json.dumps(SECRETS)}
    with running_server(users=6, orders_per_user=6, extra_env=extra) as server:
        # The simulator's DHL secret is not the server's: posted to the server, DHL's
        # scans are refused there (in process they would have been applied).
        wrong_dhl = {**SECRETS, "DHL": "not-the-servers-dhl-secret"}
        env = {**server.env, "ORDERCENTER_CARRIER_WEBHOOK_SECRETS": json.dumps(wrong_dhl)}
        result = subprocess.run(
            [
                ORDERCENTER,
                "simulate",
                "--rate=40",
                "--duration=4",
                "--seed=5",
                f"--webhook-url={server.url}",
            ],
            env=env,
            check=True,
            timeout=60,
            capture_output=True,
            text=True,
        )
        database = server.env["ORDERCENTER_DATABASE_URL"].removeprefix("sqlite:///")
        with sqlite3.connect(database) as db:
            moved = db.execute(
                """SELECT DISTINCT s.carrier, e.actor FROM order_events e
                   JOIN shipments s ON s.order_id = e.order_id
                   JOIN shipment_events x ON x.shipment_id = s.id
                   WHERE x.carrier_scan_id NOT LIKE 'scan-%'
                     AND e.kind = 'STATUS_CHANGED' AND e.to_status IN ('IN_TRANSIT', 'DELIVERED')"""
            ).fetchall()
            sellers = db.execute(
                """SELECT count(*) FROM order_events e
                   JOIN shipments s ON s.order_id = e.order_id
                   WHERE s.tracking_number LIKE 'SIM%'
                     AND e.kind = 'STATUS_CHANGED' AND e.to_status IN ('IN_TRANSIT', 'DELIVERED')
                     AND e.actor <> 'CARRIER'"""
            ).fetchone()
    assert "delivered" in result.stdout, result.stdout
    assert moved, result.stdout
    assert {actor for _, actor in moved} == {"CARRIER"}
    assert "DHL" not in {carrier for carrier, _ in moved}
    assert "INVALID_SIGNATURE" in result.stderr
    assert sellers == (0,)
