"""``node``/``nodes``: a decoded global id to a row the viewer may see, or None."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from resolvers import policy
from resolvers.context import Context
from resolvers.errors import InvalidArgument
from resolvers.ids import from_global_id

MAX_NODES = 100


def decode_ids(ids: Sequence[str]) -> list[tuple[str, int]]:
    """``nodes(ids)``'s ids as ``(type_name, pk)``, in order, each read once and all
    before any is loaded: too many, or the first malformed one, refuses the field."""
    if len(ids) > MAX_NODES:
        raise InvalidArgument(f"At most {MAX_NODES} ids at once.", argument="ids")
    return [from_global_id(given, argument="ids") for given in ids]


async def load_node(ctx: Context, type_name: str, pk: int) -> Any | None:
    """The row of a decoded global id (``resolvers.ids.from_global_id``), or None when
    it does not exist or is not the viewer's.

    Both cases answer the same, so ids of other users' objects reveal nothing. Who may
    see a type's rows is its ``policy.NODE_SIGHTS`` declaration (the SQL plans read it too).
    """
    sight = policy.NODE_SIGHTS[type_name]
    row = await getattr(ctx.loaders, sight.loader).load(pk)
    if row is None or not await policy.may_see_node(ctx, sight, row):
        return None
    return row
