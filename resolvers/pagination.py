"""Keyset (cursor) pagination over ``(sort key, id)`` descending, never OFFSET.

A cursor is opaque to clients: ``base64url(json([list, key, id]))``. The list name
makes a cursor from one connection useless on another, with a clear error.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

import sqlalchemy as sa
from sqlalchemy.sql import Select

from resolvers.batching import Reads
from resolvers.errors import InvalidArgument
from resolvers.ids import MAX_PK

T = TypeVar("T")

# The page sizes a server uses unless configured otherwise (ORDERCENTER_MAX_PAGE_SIZE,
# ORDERCENTER_DEFAULT_PAGE_SIZE): every default below and the schema's words read these.
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
KeyKind = Literal["datetime", "float"]


@dataclass(frozen=True, slots=True)
class PageArgs:
    """Validated Relay arguments: a page of ``size`` rows, forwards or backwards."""

    size: int
    forward: bool
    cursor: tuple[Any, int] | None


def page_args(
    *,
    list_name: str,
    key_kind: KeyKind,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    default_size: int,
    max_size: int,
) -> PageArgs:
    if first is not None and last is not None:
        raise InvalidArgument("Pass either `first` or `last`, not both.", argument="last")
    if after is not None and before is not None:
        raise InvalidArgument("Pass either `after` or `before`, not both.", argument="before")
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= max_size:
            raise InvalidArgument(
                f"`{name}` must be between 0 and {max_size}; got {value}.", argument=name
            )
    forward = last is None and before is None
    requested = first if forward else last
    size = min(default_size, max_size) if requested is None else requested
    raw_cursor, argument = (after, "after") if forward else (before, "before")
    cursor = (
        None
        if raw_cursor is None
        else decode_cursor(raw_cursor, list_name=list_name, key_kind=key_kind, argument=argument)
    )
    return PageArgs(size=size, forward=forward, cursor=cursor)


def encode_cursor(list_name: str, key: Any, pk: int) -> str:
    key_json = key.isoformat() if isinstance(key, datetime) else key
    raw = json.dumps([list_name, key_json, pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(
    cursor: str, *, list_name: str, key_kind: KeyKind, argument: str
) -> tuple[Any, int]:
    invalid = InvalidArgument(f"`{argument}` is not a valid cursor.", argument=argument)
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        name, key, pk = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, TypeError, UnicodeError, binascii.Error, RecursionError):
        # RecursionError: a cursor of deeply nested JSON ("[[[[..."), which json refuses so.
        raise invalid from None
    if not isinstance(name, str) or not isinstance(pk, int) or isinstance(pk, bool):
        raise invalid
    if not 1 <= pk <= MAX_PK:
        raise invalid
    if name != list_name:
        raise InvalidArgument(
            f"`{argument}` is a cursor of another list ({name}), not of {list_name}.",
            argument=argument,
        )
    try:
        if key_kind == "datetime":
            if not isinstance(key, str):
                raise ValueError(key)
            parsed_key: Any = datetime.fromisoformat(key)
            if parsed_key.tzinfo is None:
                raise ValueError(key)
            parsed_key.astimezone(UTC)  # OverflowError near year 1 or 9999
        else:
            if not isinstance(key, int | float) or isinstance(key, bool):
                raise ValueError(key)
            parsed_key = float(key)
            if not math.isfinite(parsed_key):
                raise ValueError(key)
    except (ValueError, OverflowError):
        raise invalid from None
    return parsed_key, pk


@dataclass(slots=True)
class Page(Generic[T]):
    rows: list[T]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool
    count: Callable[[], Awaitable[int]]


async def paginate(
    reads: Reads,
    run: Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]],
    statement: Select[Any],
    *,
    list_name: str,
    key: Any,
    pk: Any,
    args: PageArgs,
    key_of: Callable[[Any], Any],
    pk_of: Callable[[Any], int],
) -> Page[Any]:
    """One page of ``statement`` ordered by ``(key, pk)`` descending.

    ``statement`` carries the filters only; ordering and the keyset predicate are
    added here. ``count`` runs the filtered COUNT lazily, only when asked for.
    """
    filtered = statement
    if args.cursor is not None:
        position = sa.tuple_(key, pk)
        bound = sa.tuple_(sa.literal(args.cursor[0], key.type), sa.literal(args.cursor[1]))
        statement = statement.where(position < bound if args.forward else position > bound)
    if args.forward:
        statement = statement.order_by(key.desc(), pk.desc())
    else:
        statement = statement.order_by(key.asc(), pk.asc())
    # One row past the page, even for a page of 0: it tells whether more follow.
    query = statement.limit(args.size + 1)

    async def fetch() -> Sequence[Any]:
        return await reads.rows(query)

    rows: Sequence[Any] = await run(fetch)
    more = len(rows) > args.size
    page_rows = list(rows[: args.size])
    if not args.forward:
        page_rows.reverse()

    async def count() -> int:
        count_statement = sa.select(sa.func.count()).select_from(filtered.order_by(None).subquery())

        async def fetch() -> int:
            total: int = (await reads.rows(count_statement))[0][0]
            return total

        total: int = await run(fetch)
        return total

    return Page(
        rows=page_rows,
        cursors=[encode_cursor(list_name, key_of(r), pk_of(r)) for r in page_rows],
        has_next_page=more if args.forward else args.cursor is not None,
        has_previous_page=args.cursor is not None if args.forward else more,
        count=count,
    )
