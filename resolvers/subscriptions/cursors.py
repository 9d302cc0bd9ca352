"""OrderEvent cursors: opaque like every other cursor, and old numeric ones still resume.

An event cursor is a pagination cursor (resolvers.pagination) of the list
``orderEvents`` whose sort key is the event id itself: events stream in id order.
Before they were opaque, cursors were the bare event id ("13744"); clients may have
stored those, so ``after`` still takes them.
"""

from __future__ import annotations

from resolvers.errors import InvalidArgument
from resolvers.pagination import decode_cursor, encode_cursor

EVENTS_LIST = "orderEvents"

# Event ids are 32-bit today; a legacy cursor up to bigint's range was accepted before.
MAX_LEGACY_CURSOR = 2**63 - 1


def event_cursor(event_id: int) -> str:
    return encode_cursor(EVENTS_LIST, event_id, event_id)


def event_id_after(after: str) -> int:
    """The event id an ``after`` argument resumes after."""
    if after.isascii() and after.isdigit():
        if int(after) > MAX_LEGACY_CURSOR:
            raise InvalidArgument("`after` is not a valid event cursor.", argument="after")
        return int(after)
    key, event_id = decode_cursor(after, list_name=EVENTS_LIST, key_kind="float", argument="after")
    if key != event_id:
        raise InvalidArgument("`after` is not a valid cursor.", argument="after")
    return event_id
