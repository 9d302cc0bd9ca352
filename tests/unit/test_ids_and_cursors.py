"""Global ids and pagination cursors: opaque, round-tripping, and strict about input."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from resolvers.errors import InvalidArgument
from resolvers.ids import NODE_TYPES, expect_global_id, from_global_id, to_global_id
from resolvers.nodes import MAX_NODES, decode_ids
from resolvers.pagination import decode_cursor, encode_cursor, page_args


def _b64(raw: str | bytes) -> str:
    data = raw.encode() if isinstance(raw, str) else raw
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# --- global ids ---------------------------------------------------------------


@pytest.mark.parametrize("type_name", sorted(NODE_TYPES))
@pytest.mark.parametrize("pk", [1, 42, 2**31 - 1])
def test_global_id_round_trip(type_name: str, pk: int) -> None:
    global_id = to_global_id(type_name, pk)
    assert f"{type_name}" not in global_id  # opaque, not the raw text
    assert "=" not in global_id
    assert from_global_id(global_id) == (type_name, pk)
    assert expect_global_id(global_id, type_name) == pk


def test_global_ids_differ_by_type_and_key() -> None:
    ids = {to_global_id(t, pk) for t in NODE_TYPES for pk in (1, 2)}
    assert len(ids) == 2 * len(NODE_TYPES)


MALFORMED_IDS: dict[str, str] = {
    "empty": "",
    "not base64": "!!!not-base64!!!",
    "base64 of garbage bytes": _b64(b"\xff\xfe\xfd"),
    "no colon": _b64("User1"),
    "unknown type": _b64("Spaceship:1"),
    "lower-case type": _b64("user:1"),
    "zero pk": _b64("User:0"),
    "negative pk": _b64("User:-1"),
    "non-numeric pk": _b64("User:abc"),
    "empty pk": _b64("User:"),
    "float pk": _b64("User:1.5"),
    "plus sign": _b64("User:+1"),
    "spaces": _b64("User: 1"),
    "leading zeros": _b64("User:007"),
    "non-ASCII digits": _b64("User:\u0661"),
    "trailing part": _b64("User:1:2"),
    "junk after a valid id": to_global_id("User", 1) + "!!",
    "padding": to_global_id("User", 1) + "=",
    "whitespace inside": to_global_id("User", 1)[:4] + " " + to_global_id("User", 1)[4:],
    "non-ASCII text": "Üser:1",
    "huge pk text": _b64("User:" + "9" * 5000),
    # Keys are 32-bit integer columns: larger numbers would fail the driver.
    "pk past the integer column": _b64(f"User:{2**31}"),
    "pk past SQLite's integer": _b64(f"User:{2**63}"),
}


@pytest.mark.parametrize("global_id", list(MALFORMED_IDS.values()), ids=list(MALFORMED_IDS))
def test_malformed_ids_raise_invalid_argument(global_id: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        from_global_id(global_id, argument="ids")
    assert caught.value.message == f"{global_id!r} is not a valid id."
    assert caught.value.extensions == {"code": "BAD_USER_INPUT", "argument": "ids"}


def test_nodes_ids_are_decoded_in_order_to_type_and_key() -> None:
    ids = [to_global_id("Order", 7), to_global_id("Product", 3), to_global_id("Order", 7)]
    assert decode_ids(ids) == [("Order", 7), ("Product", 3), ("Order", 7)]
    assert decode_ids([]) == []


def test_nodes_ids_refuse_the_first_malformed_one_and_too_many() -> None:
    first, second = MALFORMED_IDS["padding"], MALFORMED_IDS["trailing part"]
    with pytest.raises(InvalidArgument) as caught:
        decode_ids([to_global_id("User", 1), first, second])
    assert caught.value.message == f"{first!r} is not a valid id."
    assert caught.value.extensions == {"code": "BAD_USER_INPUT", "argument": "ids"}
    assert len(decode_ids([to_global_id("User", 1)] * MAX_NODES)) == MAX_NODES
    with pytest.raises(InvalidArgument, match=f"At most {MAX_NODES} ids") as caught:
        decode_ids([to_global_id("User", 1)] * (MAX_NODES + 1))
    assert caught.value.argument == "ids"


def test_expect_global_id_rejects_an_id_of_another_type() -> None:
    order_id = to_global_id("Order", 5)
    with pytest.raises(InvalidArgument, match="is not a Product id") as caught:
        expect_global_id(order_id, "Product", argument="id")
    assert caught.value.argument == "id"


# --- cursors --------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
        datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC),
        datetime(2026, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))),
    ],
)
def test_datetime_cursor_round_trip(key: datetime) -> None:
    cursor = encode_cursor("orders", key, 17)
    assert "=" not in cursor
    decoded_key, pk = decode_cursor(cursor, list_name="orders", key_kind="datetime", argument="a")
    assert (decoded_key, pk) == (key, 17)
    assert decoded_key.utcoffset() == key.utcoffset()


@pytest.mark.parametrize("key", [0.5, 1.0, 0.123456789012345, 1e-9, 1])
def test_float_cursor_round_trip(key: float) -> None:
    cursor = encode_cursor("recommendations", key, 3)
    decoded = decode_cursor(cursor, list_name="recommendations", key_kind="float", argument="a")
    assert decoded == (float(key), 3)
    assert isinstance(decoded[0], float)


def test_cursor_of_another_list_is_rejected_naming_it() -> None:
    cursor = encode_cursor("payments", datetime(2026, 1, 1, tzinfo=UTC), 1)
    with pytest.raises(InvalidArgument) as caught:
        decode_cursor(cursor, list_name="orders", key_kind="datetime", argument="after")
    assert caught.value.message == (
        "`after` is a cursor of another list (payments), not of orders."
    )
    assert caught.value.argument == "after"


def _raw_cursor(payload: Any) -> str:
    return _b64(json.dumps(payload))


GARBAGE_CURSORS: dict[str, str] = {
    "empty": "",
    "not base64": "%%%",
    "base64 of non-JSON": _b64("hello"),
    "base64 of bytes": _b64(b"\xff\xfe"),
    "JSON object": _raw_cursor({"list": "orders"}),
    "too short": _raw_cursor(["orders", "2026-01-01T00:00:00+00:00"]),
    "too long": _raw_cursor(["orders", "2026-01-01T00:00:00+00:00", 1, 2]),
    "list name not a string": _raw_cursor([1, "2026-01-01T00:00:00+00:00", 1]),
    "pk a string": _raw_cursor(["orders", "2026-01-01T00:00:00+00:00", "1"]),
    "pk a bool": _raw_cursor(["orders", "2026-01-01T00:00:00+00:00", True]),
    "pk a float": _raw_cursor(["orders", "2026-01-01T00:00:00+00:00", 1.5]),
    "key not a date": _raw_cursor(["orders", "yesterday", 1]),
    "key a number": _raw_cursor(["orders", 5, 1]),
    "naive datetime key": _raw_cursor(["orders", "2026-01-01T00:00:00", 1]),
    "null key": _raw_cursor(["orders", None, 1]),
    "zero pk": _raw_cursor(["orders", "2026-01-01T00:00:00+00:00", 0]),
    "negative pk": _raw_cursor(["orders", "2026-01-01T00:00:00+00:00", -5]),
    "pk past the integer column": _raw_cursor(["orders", "2026-01-01T00:00:00+00:00", 2**31]),
    "pk past SQLite's integer": _raw_cursor(["orders", "2026-01-01T00:00:00+00:00", 2**70]),
    # Valid ISO strings whose UTC instant falls outside datetime's range.
    "key past year 9999 in UTC": _raw_cursor(["orders", "9999-12-31T23:59:59-05:00", 1]),
    "key before year 1 in UTC": _raw_cursor(["orders", "0001-01-01T00:00:00+05:00", 1]),
}


@pytest.mark.parametrize("cursor", list(GARBAGE_CURSORS.values()), ids=list(GARBAGE_CURSORS))
def test_garbage_cursors_are_rejected(cursor: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        decode_cursor(cursor, list_name="orders", key_kind="datetime", argument="before")
    assert caught.value.message == "`before` is not a valid cursor."
    assert caught.value.argument == "before"


@pytest.mark.parametrize(
    "payload",
    [
        ["recommendations", "0.5", 1],
        ["recommendations", True, 1],
        ["recommendations", None, 1],
        ["recommendations", float("nan"), 1],
        ["recommendations", float("inf"), 1],
        ["recommendations", float("-inf"), 1],
        ["recommendations", 10**400, 1],
    ],
    ids=["string key", "bool key", "null key", "NaN", "Infinity", "-Infinity", "huge int"],
)
def test_float_cursor_with_a_non_number_key_is_rejected(payload: list[Any]) -> None:
    with pytest.raises(InvalidArgument, match="not a valid cursor"):
        decode_cursor(
            _raw_cursor(payload), list_name="recommendations", key_kind="float", argument="after"
        )


# --- page_args --------------------------------------------------------------------


def _args(**kwargs: Any) -> Any:
    values: dict[str, Any] = {"first": None, "after": None, "last": None, "before": None}
    values.update(kwargs)
    return page_args(
        list_name="orders", key_kind="datetime", default_size=20, max_size=100, **values
    )


@pytest.mark.parametrize("size", [0, 1, 50, 100])
def test_first_and_last_within_bounds(size: int) -> None:
    forward = _args(first=size)
    assert (forward.size, forward.forward, forward.cursor) == (size, True, None)
    backward = _args(last=size)
    assert (backward.size, backward.forward, backward.cursor) == (size, False, None)


@pytest.mark.parametrize("name", ["first", "last"])
@pytest.mark.parametrize("size", [101, -1, 10_000])
def test_first_and_last_out_of_bounds(name: str, size: int) -> None:
    with pytest.raises(InvalidArgument) as caught:
        _args(**{name: size})
    assert caught.value.message == f"`{name}` must be between 0 and 100; got {size}."
    assert caught.value.argument == name


def test_default_page_size() -> None:
    args = _args()
    assert (args.size, args.forward, args.cursor) == (20, True, None)
    small_max = page_args(
        list_name="orders",
        key_kind="datetime",
        first=None,
        after=None,
        last=None,
        before=None,
        default_size=20,
        max_size=5,
    )
    assert small_max.size == 5


def test_first_and_last_together_rejected() -> None:
    with pytest.raises(InvalidArgument, match="either `first` or `last`, not both"):
        _args(first=1, last=1)


def test_after_and_before_together_rejected() -> None:
    cursor = encode_cursor("orders", datetime(2026, 1, 1, tzinfo=UTC), 1)
    with pytest.raises(InvalidArgument, match="either `after` or `before`, not both"):
        _args(after=cursor, before=cursor)


def test_cursors_are_decoded_for_the_direction() -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    cursor = encode_cursor("orders", moment, 9)
    after = _args(first=5, after=cursor)
    assert (after.forward, after.cursor) == (True, (moment, 9))
    before = _args(last=5, before=cursor)
    assert (before.forward, before.cursor) == (False, (moment, 9))
    # `before` alone pages backwards with the default size.
    assert _args(before=cursor).forward is False
    assert _args(before=cursor).size == 20


def test_bad_cursor_names_the_argument_it_came_in() -> None:
    with pytest.raises(InvalidArgument) as caught:
        _args(last=5, before="garbage")
    assert caught.value.argument == "before"
    with pytest.raises(InvalidArgument) as caught:
        _args(first=5, after="garbage")
    assert caught.value.argument == "after"
