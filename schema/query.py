"""The root query."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import strawberry

from resolvers import nodes, policy
from resolvers.ids import expect_global_id, from_global_id
from schema.activity import Recommendation, TaggedItem
from schema.catalog import Product, Shop
from schema.common import Info, Node
from schema.orders import Order, OrderEvent, OrderItem
from schema.payments import Payment, PaymentMethod
from schema.returns import OrderReturn
from schema.reviews import Review
from schema.user import User

_WRAPPERS: dict[str, Any] = {
    "User": User.from_row,
    "Shop": Shop.from_row,
    "Product": Product.from_row,
    "Order": Order.from_row,
    "OrderItem": OrderItem.from_row,
    "OrderEvent": OrderEvent.from_row,
    "OrderReturn": OrderReturn.from_row,
    "Payment": Payment.from_row,
    "PaymentMethod": PaymentMethod.from_row,
    "TaggedItem": TaggedItem.from_row,
    "Recommendation": Recommendation.from_row,
    "Review": Review.from_row,
}


async def _node(info: Info, type_name: str, pk: int) -> Node | None:
    row = await nodes.load_node(info.context, type_name, pk)
    if row is None:
        return None
    wrapped = _WRAPPERS[type_name](row)
    # OrderItem and TaggedItem have global ids but are not Nodes in the API.
    return wrapped if isinstance(wrapped, Node) else None


@strawberry.type(description="Entry points for reading the Order Center.")
class Query:
    @strawberry.field(description="The signed-in user; UNAUTHENTICATED without a valid token.")
    async def viewer(self, info: Info) -> User:
        return User.from_row(await policy.current_viewer(info.context))

    @strawberry.field(description="Any object by global id; null for ids the caller may not see.")
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="A global id.")],
    ) -> Node | None:
        return await _node(info, *from_global_id(id))

    @strawberry.field(description="Several objects by global id, in order; null where not visible.")
    async def nodes(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID],
            strawberry.argument(description=f"Global ids, at most {nodes.MAX_NODES}."),
        ],
    ) -> list[Node | None]:
        # Every id is read before any is loaded: loads started and left behind by a
        # failing sibling waited forever on a request that had ended.
        decoded = nodes.decode_ids(ids)
        lookups = [asyncio.ensure_future(_node(info, *found)) for found in decoded]
        try:
            return list(await asyncio.gather(*lookups))
        except BaseException:
            for lookup in lookups:
                lookup.cancel()
            raise

    @strawberry.field(description="A product by global id; null if it does not exist.")
    async def product(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="A Product id.")],
    ) -> Product | None:
        row = await info.context.loaders.product_by_id.load(expect_global_id(id, "Product"))
        return None if row is None else Product.from_row(row)
