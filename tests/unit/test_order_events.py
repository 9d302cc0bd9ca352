"""Order event kinds: each declared once with the row it is about (its subject)."""

from __future__ import annotations

from domain import returns
from domain.order_events import (
    PAYMENT_EVENT_KINDS,
    PAYMENT_EVENTS,
    RETURN_EVENTS,
    SUBJECT_OF,
    EventSubject,
    OrderEventKind,
    kinds_about,
)


def test_every_kind_says_what_it_is_about() -> None:
    assert set(SUBJECT_OF) == set(OrderEventKind)


def test_the_kinds_a_payment_records_are_the_payment_subjects_kinds() -> None:
    assert {kind.value for kind in PAYMENT_EVENT_KINDS.values()} == PAYMENT_EVENTS
    assert kinds_about(EventSubject.PAYMENT) == PAYMENT_EVENTS


def test_a_returns_events_are_its_request_and_its_steps() -> None:
    steps = {kind.value for kind in returns.EVENT_OF.values()}
    assert steps | {OrderEventKind.RETURN_REQUESTED.value} == RETURN_EVENTS


def test_only_a_status_change_is_about_the_order_itself() -> None:
    assert kinds_about(None) == {OrderEventKind.STATUS_CHANGED.value}
