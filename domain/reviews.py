"""Reviews: who may rate an order's line, what a review may say, and how ratings add up.

Pure: no I/O. The mutations (resolvers/mutations/reviews.py), the TO_REVIEW list
(resolvers/reviews.py, whose SQL is generated from the constants here) and the tests
read these rules.

- Only the buyer of a COMPLETED order reviews it, each line (order item) once.
- A rating is a whole number from 1 to 5.
- The text is stripped of surrounding whitespace, may then be empty, and holds at most
  2,000 characters, counted as Unicode code points (not bytes: "é" is one).
- ``availableActions`` offers REVIEW while the viewer may review some line of the order
  (offers_review) and EDIT_REVIEW while they may edit one of its reviews (offers_edit):
  the mutations refuse exactly when these are absent (one rule, two uses).
- Its author may edit a review until 30 days after it was posted (a setting,
  ``ORDERCENTER_REVIEW_EDIT_WINDOW_SECONDS``); the moment the window ends is still inside.
- A product's average rating is the mean of its reviews' ratings rounded half up to one
  decimal place (4.25 is 4.3), computed in integers; none when it has no reviews.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from domain.order_status import Actor, OrderStatus

MIN_RATING = 1
MAX_RATING = 5
MAX_TEXT_LENGTH = 2_000
EDIT_WINDOW = timedelta(days=30)
# The statuses whose lines may be reviewed (and whose unreviewed lines list the order
# under TO_REVIEW).
REVIEWABLE_STATUSES: frozenset[OrderStatus] = frozenset({OrderStatus.COMPLETED})
# Who reviews an order (and so is offered REVIEW and EDIT_REVIEW).
REVIEWERS: frozenset[Actor] = frozenset({Actor.BUYER})
# The average is shown in tenths: 10 ** AVERAGE_DECIMALS.
AVERAGE_DECIMALS = 1
AVERAGE_SCALE: int = 10**AVERAGE_DECIMALS


class ReviewRefusal(StrEnum):
    """Why a review cannot be posted or edited."""

    NOT_BUYER = "NOT_BUYER"
    NOT_COMPLETED = "NOT_COMPLETED"
    ALREADY_REVIEWED = "ALREADY_REVIEWED"
    NOT_AUTHOR = "NOT_AUTHOR"
    EDIT_WINDOW_CLOSED = "EDIT_WINDOW_CLOSED"


@dataclass(frozen=True, slots=True)
class InvalidReview(Exception):
    """The input breaks a rule: ``field`` is "rating" or "text"."""

    field: str
    message: str


def check_rating(rating: int) -> int:
    if isinstance(rating, bool) or not isinstance(rating, int):
        raise InvalidReview(
            "rating", f"A rating is a whole number from {MIN_RATING} to {MAX_RATING}."
        )
    if not MIN_RATING <= rating <= MAX_RATING:
        raise InvalidReview(
            "rating", f"A rating is a whole number from {MIN_RATING} to {MAX_RATING}."
        )
    return rating


def clean_text(text: str) -> str:
    """The text as stored: stripped; at most MAX_TEXT_LENGTH characters after that."""
    cleaned = text.strip()
    if len(cleaned) > MAX_TEXT_LENGTH:
        raise InvalidReview("text", f"A review's text is at most {MAX_TEXT_LENGTH:,} characters.")
    return cleaned


def may_review(
    status: OrderStatus, roles: frozenset[Actor], already_reviewed: bool
) -> ReviewRefusal | None:
    """None when a viewer holding ``roles`` on an order in ``status`` may review a line
    of it that is ``already_reviewed`` or not; otherwise why not (checked in this order)."""
    if not roles & REVIEWERS:
        return ReviewRefusal.NOT_BUYER
    if status not in REVIEWABLE_STATUSES:
        return ReviewRefusal.NOT_COMPLETED
    if already_reviewed:
        return ReviewRefusal.ALREADY_REVIEWED
    return None


def edit_deadline(posted_at: datetime, window: timedelta = EDIT_WINDOW) -> datetime:
    """The last moment a review posted at ``posted_at`` may be edited."""
    return posted_at + window


def may_edit(
    *,
    author_id: int,
    viewer_id: int,
    posted_at: datetime,
    now: datetime,
    window: timedelta = EDIT_WINDOW,
) -> ReviewRefusal | None:
    """None when the viewer may edit the review now; otherwise why not."""
    if author_id != viewer_id:
        return ReviewRefusal.NOT_AUTHOR
    if now > edit_deadline(posted_at, window):
        return ReviewRefusal.EDIT_WINDOW_CLOSED
    return None


def offers_review(status: OrderStatus, roles: frozenset[Actor], unreviewed_lines: int) -> bool:
    """Whether ``availableActions`` offers REVIEW: may_review lets the viewer review a
    line not yet reviewed, and the order has one."""
    return unreviewed_lines > 0 and may_review(status, roles, already_reviewed=False) is None


def offers_edit(
    roles: frozenset[Actor],
    viewer_id: int,
    reviews: Iterable[tuple[int, datetime]],
    now: datetime,
    window: timedelta = EDIT_WINDOW,
) -> bool:
    """Whether ``availableActions`` offers EDIT_REVIEW: the viewer is the buyer and
    may_edit lets them edit one of the order's ``reviews`` ((author id, posted at)) now."""
    return bool(roles & REVIEWERS) and any(
        may_edit(author_id=author, viewer_id=viewer_id, posted_at=posted, now=now, window=window)
        is None
        for author, posted in reviews
    )


def editable_since(now: datetime, window: timedelta = EDIT_WINDOW) -> datetime:
    """The earliest posting instant whose review may still be edited at ``now``."""
    return now - window


def awaits_review(status: OrderStatus, unreviewed_lines: int) -> bool:
    """Whether an order is listed under TO_REVIEW: reviewable, with a line not yet reviewed."""
    return status in REVIEWABLE_STATUSES and unreviewed_lines > 0


def average_tenths(total: int, count: int) -> int | None:
    """The mean ``total / count`` in units of 1/AVERAGE_SCALE, rounded half up (ratings
    are positive, so floor division of the doubled numerator rounds half up)."""
    if count <= 0:
        return None
    return (2 * AVERAGE_SCALE * total + count) // (2 * count)


def average_rating(total: int, count: int) -> float | None:
    """The average shown for ``count`` ratings summing to ``total``; None for none."""
    tenths = average_tenths(total, count)
    return None if tenths is None else tenths / AVERAGE_SCALE
