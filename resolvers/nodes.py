"""``node``/``nodes``: a global id to a row the viewer may see, or None."""

from __future__ import annotations

from typing import Any

from resolvers import policy
from resolvers.context import Context
from resolvers.ids import from_global_id


async def load_node(
    ctx: Context, global_id: str, *, argument: str = "id"
) -> tuple[str, Any] | None:
    """``(type_name, row)``, or None when it does not exist or is not the viewer's.

    Both cases answer the same, so ids of other users' objects reveal nothing.
    ``argument`` names the argument a malformed id came in, for the error. Who may see
    a type's rows is its ``policy.NODE_SIGHTS`` declaration (the SQL plans read it too).
    """
    type_name, pk = from_global_id(global_id, argument=argument)
    sight = policy.NODE_SIGHTS[type_name]
    row = await getattr(ctx.loaders, sight.loader).load(pk)
    if row is None or not await policy.may_see_node(ctx, sight, row):
        return None
    return type_name, row
