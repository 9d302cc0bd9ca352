"""The pure rules of carrier webhooks, exhaustively: what each scan does to each status,
and the signature and timestamp checks."""

from __future__ import annotations

import itertools

import pytest

from domain.carrier_scans import (
    ScanKind,
    actions_for_scan,
    parse_timestamp,
    sign,
    signature_valid,
    timestamp_fresh,
)
from domain.order_status import Actor, OrderAction, OrderStatus, next_status
from schema.enums import ShipmentEventKind

LIFECYCLE = [
    OrderStatus.UNPAID,
    OrderStatus.AWAITING_SHIPMENT,
    OrderStatus.AWAITING_COLLECTION,
    OrderStatus.IN_TRANSIT,
    OrderStatus.DELIVERED,
    OrderStatus.COMPLETED,
]
EXPECTED = {
    (OrderStatus.AWAITING_COLLECTION, ScanKind.DELIVERED): (
        OrderAction.MARK_IN_TRANSIT,
        OrderAction.MARK_DELIVERED,
    ),
    (OrderStatus.IN_TRANSIT, ScanKind.DELIVERED): (OrderAction.MARK_DELIVERED,),
    **{
        (OrderStatus.AWAITING_COLLECTION, kind): (OrderAction.MARK_IN_TRANSIT,)
        for kind in (
            ScanKind.PICKED_UP,
            ScanKind.IN_TRANSIT,
            ScanKind.OUT_FOR_DELIVERY,
            ScanKind.DELIVERY_ATTEMPTED,
            ScanKind.DELAYED,
        )
    },
}


def test_scan_kinds_are_the_apis_shipment_event_kinds() -> None:
    assert [k.value for k in ScanKind] == [k.value for k in ShipmentEventKind]


@pytest.mark.parametrize(("status", "kind"), list(itertools.product(OrderStatus, ScanKind)))
def test_every_scan_on_every_status(status: OrderStatus, kind: ScanKind) -> None:
    actions = actions_for_scan(status, kind)
    assert actions == EXPECTED.get((status, kind), ())
    # Whatever a scan implies, the carrier may do, in that order, and only forward.
    current = status
    for action in actions:
        target = next_status(current, action, Actor.CARRIER)
        assert LIFECYCLE.index(target) == LIFECYCLE.index(current) + 1
        current = target


def test_a_signature_is_the_hmac_of_timestamp_and_body() -> None:
    # Computed independently: printf '1700000000.{"scans":[]}' | openssl dgst -sha256 -hmac s3cret
    expected = "sha256=af03e9a809c138dfcce78a73722b34610c5964be7a8c15e16a51ea7698d66488"
    assert sign("s3cret", "1700000000", b'{"scans":[]}') == expected
    assert signature_valid("s3cret", "1700000000", b'{"scans":[]}', expected)


@pytest.mark.parametrize(
    ("secret", "timestamp", "body"),
    [
        ("other", "1700000000", b'{"scans":[]}'),
        ("s3cret", "1700000001", b'{"scans":[]}'),
        ("s3cret", "1700000000", b'{"scans": []}'),
    ],
)
def test_any_change_breaks_the_signature(secret: str, timestamp: str, body: bytes) -> None:
    good = sign("s3cret", "1700000000", b'{"scans":[]}')
    assert not signature_valid(secret, timestamp, body, good)


@pytest.mark.parametrize("forged", ["", "sha256=", "sha256=00", "SHA256=x", "é"])
def test_forged_signatures_are_invalid(forged: str) -> None:
    assert not signature_valid("s3cret", "1", b"{}", forged)


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("1700000000", 1700000000),
        (" 1700000000 ", 1700000000),
        ("0", 0),
        ("", None),
        ("-1", None),
        ("1.5", None),
        ("1e9", None),
        ("\u0661\u0667\u0660\u0660", None),  # other scripts' digits are not Unix seconds
        ("9" * 13, None),
    ],
)
def test_timestamps_are_plain_unix_seconds(value: str, parsed: int | None) -> None:
    assert parse_timestamp(value) == parsed


@pytest.mark.parametrize(
    ("offset", "fresh"), [(0, True), (300, True), (-300, True), (301, False), (-301, False)]
)
def test_the_window_holds_both_ways(offset: int, fresh: bool) -> None:
    assert timestamp_fresh(1_000_000 + offset, 1_000_000, 300) is fresh
