"""The few encodings the baselines (floor, naive) must produce exactly as our API does.

Written out here rather than imported from ``resolvers``/``schema``, so a baseline is
its own code; the benchmark checks before timing that every baseline answers with
the same JSON as our server, so a drift in these shows up as a mismatch there.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import jwt

from domain import returns, reviews
from domain.money import minor_unit_exponent
from domain.order_status import (
    PAYMENT_STATUS_PRECEDENCE,
    Actor,
    OrderStatus,
    OrderTab,
    tab_of,
)

TABS: tuple[str, ...] = tuple(tab.value for tab in OrderTab)
TAB_OF: dict[str, str] = {status.value: tab_of(status).value for status in OrderStatus}
_BUYER = frozenset({Actor.BUYER})
_BUYER_SELLER = frozenset({Actor.BUYER, Actor.SELLER})


# How long after delivery a return may be asked for: the servers' setting, read as they
# read it, so every baseline offers REQUEST_RETURN exactly when ours does.
RETURN_WINDOW_SECONDS = int(
    os.environ.get("ORDERCENTER_RETURN_WINDOW_SECONDS", returns.DEFAULT_WINDOW.total_seconds())
)
# How long a review may be edited after it was posted, read the same way.
REVIEW_EDIT_WINDOW_SECONDS = int(
    os.environ.get("ORDERCENTER_REVIEW_EDIT_WINDOW_SECONDS", reviews.EDIT_WINDOW.total_seconds())
)


def order_actions(
    status: str,
    seller: bool,
    return_statuses: Iterable[str],
    delivered_at: Any,
    ordered_units: int,
    returned_units: int,
    unreviewed_lines: int,
    own_reviews_posted_at: Iterable[Any],
) -> list[str]:
    """availableActions of the viewer's own order (they are its buyer; ``seller``: also
    its seller): the order's own actions, REQUEST_RETURN while the window is open and a
    unit is left (``returned_units``: units in returns not rejected or withdrawn), the
    steps of its returns, then REVIEW while a line is unreviewed and EDIT_REVIEW while
    one of the viewer's reviews of it (``own_reviews_posted_at``) is in its edit window."""
    now = datetime.now(UTC)
    delivered = utc(delivered_at)
    requestable = (
        status in RETURNABLE
        and delivered is not None
        and now <= delivered + timedelta(seconds=RETURN_WINDOW_SECONDS)
        and ordered_units > returned_units
    )
    edit_window = timedelta(seconds=REVIEW_EDIT_WINDOW_SECONDS)
    actors = _BUYER_SELLER if seller else _BUYER
    return [
        a.value
        for a in returns.order_actions(
            OrderStatus(status),
            actors,
            [returns.ReturnStatus(r) for r in return_statuses],
            requestable,
            reviewable=status in REVIEWABLE and unreviewed_lines > 0,
            editable=any(
                posted is not None and now <= posted + edit_window
                for posted in map(utc, own_reviews_posted_at)
            ),
        )
    ]


RETURNABLE: frozenset[str] = frozenset(s.value for s in returns.RETURNABLE_ORDER_STATUSES)
COUNTED_RETURNS: tuple[str, ...] = tuple(sorted(s.value for s in returns.COUNTED_STATUSES))
REVIEWABLE: frozenset[str] = frozenset(s.value for s in reviews.REVIEWABLE_STATUSES)


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
    for status, shown in PAYMENT_STATUS_PRECEDENCE:
        if status in statuses:
            return shown.value
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
