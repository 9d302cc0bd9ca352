"""domain.reviews, exhaustively: who may review, what a review may say, the edit window,
the TO_REVIEW membership rule and the average's rounding."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from domain import reviews as rules
from domain.order_status import LIST_TABS, Actor, OrderStatus, OrderTab
from domain.reviews import ReviewRefusal as R
from resolvers.orders import MEMBERSHIP_TABS

B, S = Actor.BUYER, Actor.SELLER
ROLE_SETS = [frozenset(c) for n in range(3) for c in itertools.combinations((B, S), n)]


@pytest.mark.parametrize("status", list(OrderStatus), ids=str)
@pytest.mark.parametrize("roles", ROLE_SETS, ids=lambda r: "+".join(sorted(r)) or "stranger")
@pytest.mark.parametrize("reviewed", [False, True], ids=["new", "reviewed"])
def test_who_may_review_every_case(
    status: OrderStatus, roles: frozenset[Actor], reviewed: bool
) -> None:
    if B not in roles:
        expected: R | None = R.NOT_BUYER
    elif status is not OrderStatus.COMPLETED:
        expected = R.NOT_COMPLETED
    elif reviewed:
        expected = R.ALREADY_REVIEWED
    else:
        expected = None
    assert rules.may_review(status, roles, reviewed) == expected


@pytest.mark.parametrize("rating", range(-2, 9))
def test_ratings_are_one_to_five(rating: int) -> None:
    if 1 <= rating <= 5:
        assert rules.check_rating(rating) == rating
    else:
        with pytest.raises(rules.InvalidReview) as refused:
            rules.check_rating(rating)
        assert refused.value.field == "rating"


def test_a_boolean_is_not_a_rating() -> None:
    with pytest.raises(rules.InvalidReview):
        rules.check_rating(True)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("", ""),
        ("   ", ""),
        ("  Great mug \n", "Great mug"),
        ("é" * 2000, "é" * 2000),  # 4,000 bytes of UTF-8, 2,000 characters: allowed
        ("🙂" * 2000, "🙂" * 2000),
        (" " + "a" * 2000 + " ", "a" * 2000),  # counted after stripping
    ],
)
def test_text_is_stripped_and_counted_in_characters(given: str, stored: str) -> None:
    assert rules.clean_text(given) == stored


@pytest.mark.parametrize("text", ["a" * 2001, "é" * 2001, "🙂" * 2001])
def test_text_over_two_thousand_characters_is_refused(text: str) -> None:
    with pytest.raises(rules.InvalidReview) as refused:
        rules.clean_text(text)
    assert refused.value.field == "text"


POSTED = datetime(2026, 1, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("after", "author", "expected"),
    [
        (timedelta(0), True, None),
        (timedelta(days=29, hours=23), True, None),
        (timedelta(days=30), True, None),  # the last moment is inside the window
        (timedelta(days=30, microseconds=1), True, R.EDIT_WINDOW_CLOSED),
        (timedelta(days=400), True, R.EDIT_WINDOW_CLOSED),
        (timedelta(0), False, R.NOT_AUTHOR),
        (timedelta(days=400), False, R.NOT_AUTHOR),
    ],
)
def test_edit_window_of_thirty_days(after: timedelta, author: bool, expected: R | None) -> None:
    found = rules.may_edit(
        author_id=1 if author else 2, viewer_id=1, posted_at=POSTED, now=POSTED + after
    )
    assert found == expected


def test_edit_window_is_a_setting() -> None:
    now = POSTED + timedelta(hours=2)
    short = timedelta(hours=1)
    assert rules.may_edit(author_id=1, viewer_id=1, posted_at=POSTED, now=now, window=short) == (
        R.EDIT_WINDOW_CLOSED
    )
    assert rules.edit_deadline(POSTED) == POSTED + timedelta(days=30)


@pytest.mark.parametrize("status", list(OrderStatus), ids=str)
@pytest.mark.parametrize("roles", ROLE_SETS, ids=lambda r: "+".join(sorted(r)) or "stranger")
@pytest.mark.parametrize("unreviewed", [0, 1, 3])
def test_review_is_offered_to_the_buyer_of_a_completed_order_with_a_line_left(
    status: OrderStatus, roles: frozenset[Actor], unreviewed: int
) -> None:
    expected = B in roles and status is OrderStatus.COMPLETED and unreviewed > 0
    assert rules.offers_review(status, roles, unreviewed) is expected


def test_review_is_offered_exactly_when_a_line_of_it_may_be_reviewed() -> None:
    # One rule, two uses: reviewOrderItem accepts a new line exactly when REVIEW is offered.
    for status, roles in itertools.product(OrderStatus, ROLE_SETS):
        accepted = rules.may_review(status, roles, already_reviewed=False) is None
        assert rules.offers_review(status, roles, 1) is accepted


VIEWER, OTHER = 1, 2
AGES = [timedelta(0), timedelta(days=30), timedelta(days=30, microseconds=1)]


@pytest.mark.parametrize("roles", ROLE_SETS, ids=lambda r: "+".join(sorted(r)) or "stranger")
@pytest.mark.parametrize(
    "reviews",
    [
        [],
        *([(author, age)] for author in (VIEWER, OTHER) for age in AGES),
        [(VIEWER, AGES[2]), (VIEWER, AGES[1])],  # one closed, one at its last moment
        [(VIEWER, AGES[2]), (VIEWER, AGES[2])],
        [(OTHER, AGES[0]), (VIEWER, AGES[2])],
    ],
    ids=str,
)
def test_edit_is_offered_while_one_of_the_viewers_reviews_is_in_its_window(
    roles: frozenset[Actor], reviews: list[tuple[int, timedelta]]
) -> None:
    now = POSTED + timedelta(days=30)
    posted = [(author, now - age) for author, age in reviews]
    expected = B in roles and any(
        author == VIEWER and age <= timedelta(days=30) for author, age in reviews
    )
    assert rules.offers_edit(roles, VIEWER, posted, now) is expected


def test_edit_offer_follows_the_window_setting() -> None:
    buyer = frozenset({B})
    posted = [(VIEWER, POSTED)]
    hour = timedelta(hours=1)
    assert rules.offers_edit(buyer, VIEWER, posted, POSTED + hour, window=hour)
    assert not rules.offers_edit(buyer, VIEWER, posted, POSTED + 2 * hour, window=hour)
    # editable_since is the same boundary, for SQL: a review posted at it is inside.
    assert rules.editable_since(POSTED + hour, hour) == POSTED


@pytest.mark.parametrize("status", list(OrderStatus), ids=str)
@pytest.mark.parametrize("unreviewed", [0, 1, 3])
def test_to_review_membership(status: OrderStatus, unreviewed: int) -> None:
    expected = status is OrderStatus.COMPLETED and unreviewed > 0
    assert rules.awaits_review(status, unreviewed) is expected


def test_every_list_tab_has_one_condition() -> None:
    assert set(MEMBERSHIP_TABS) == LIST_TABS == {OrderTab.TO_REVIEW, OrderTab.RETURNS}


def _half_up_tenths(total: int, count: int) -> int:
    exact = Fraction(total * 10, count)
    whole = exact.numerator // exact.denominator
    return whole + (1 if exact - whole >= Fraction(1, 2) else 0)


def test_average_of_no_reviews_is_none() -> None:
    assert rules.average_rating(0, 0) is None
    assert rules.average_tenths(0, 0) is None


@pytest.mark.parametrize("count", range(1, 41))
def test_average_rounds_half_up_to_one_decimal(count: int) -> None:
    for total in range(count, 5 * count + 1):  # every possible sum of `count` ratings
        tenths = rules.average_tenths(total, count)
        assert tenths == _half_up_tenths(total, count)
        assert rules.average_rating(total, count) == tenths / 10  # type: ignore[operator]


@pytest.mark.parametrize(
    ("ratings", "shown"),
    [
        ([5], 5.0),
        ([4, 5], 4.5),
        ([4, 4, 5], 4.3),
        ([5, 4, 4, 4], 4.3),
        ([1, 2], 1.5),
        ([1, 1, 2], 1.3),
    ],
)
def test_average_examples(ratings: list[int], shown: float) -> None:
    assert rules.average_rating(sum(ratings), len(ratings)) == shown
