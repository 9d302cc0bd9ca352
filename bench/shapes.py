"""The few encodings the baselines (floor, naive) must produce exactly as our API does.

Written out here rather than imported from ``resolvers``/``schema``, so a baseline is
its own code; the benchmark checks before timing that every baseline answers with
the same JSON as our server, so a drift in these shows up as a mismatch there.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import jwt

from domain.money import minor_unit_exponent
from domain.order_status import (
    Actor,
    OrderStatus,
    OrderTab,
    available_actions,
    tab_of,
)

TABS: tuple[str, ...] = tuple(tab.value for tab in OrderTab)
TAB_OF: dict[str, str] = {status.value: tab_of(status).value for status in OrderStatus}
_BUYER = frozenset({Actor.BUYER})
_BUYER_SELLER = frozenset({Actor.BUYER, Actor.SELLER})
# (status, viewer is also the seller) -> availableActions, for the viewer's own orders.
ACTIONS: dict[tuple[str, bool], list[str]] = {
    (status.value, seller): [
        a.value for a in available_actions(status, _BUYER_SELLER if seller else _BUYER)
    ]
    for status in OrderStatus
    for seller in (False, True)
}


def global_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).rstrip(b"=").decode("ascii")


def cursor(list_name: str, key: Any, pk: int) -> str:
    key_json = key.isoformat() if isinstance(key, datetime) else key
    raw = json.dumps([list_name, key_json, pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def amount(minor: int, currency: str) -> str:
    """Major units as the API's Decimal scalar writes them ('19.99')."""
    return str(Decimal(minor).scaleb(-minor_unit_exponent(currency)))


def money(minor: int, currency: str) -> dict[str, str]:
    return {"amount": amount(minor, currency), "currencyCode": currency}


def payment_status(statuses: set[str]) -> str:
    if "REFUNDED" in statuses:
        return "REFUNDED"
    if "CAPTURED" in statuses:
        return "PAID"
    return "UNPAID"


def utc(value: Any) -> datetime | None:
    """An aware UTC datetime from what the driver returned (SQLite: naive text)."""
    if value is None:
        return None
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def viewer_of(authorization: str | None, secret: str) -> int | None:
    """The user id of a valid HS256 bearer token, else None."""
    if not authorization or not authorization.startswith("Bearer "):
        return None
    try:
        claims = jwt.decode(
            authorization[7:], secret, algorithms=["HS256"], options={"require": ["exp", "sub"]}
        )
        return int(claims["sub"])
    except (jwt.PyJWTError, ValueError, KeyError):
        return None
