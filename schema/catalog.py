"""Shops and products: public to everyone."""

from __future__ import annotations

import strawberry

from db.models import Product as ProductRow
from db.models import Shop as ShopRow
from schema.common import Info, Money, Node, global_id, pk


@strawberry.type(description="A seller's storefront.")
class Shop(Node):
    handle: str = strawberry.field(description="Unique, URL-safe handle.")
    name: str = strawberry.field(description="Display name.")

    @classmethod
    def from_row(cls, row: ShopRow) -> Shop:
        return cls(id=global_id("Shop", row), handle=row.handle, name=row.name)


@strawberry.type(description="Something a shop sells.")
class Product(Node):
    title: str = strawberry.field(description="Current title.")
    description: str = strawberry.field(description="Current description.")
    category: str = strawberry.field(description="Catalog category, e.g. 'kitchen'.")
    image_url: str | None = strawberry.field(description="Primary image.")
    price: Money = strawberry.field(description="Current unit price.")
    row: strawberry.Private[ProductRow]

    @classmethod
    def from_row(cls, row: ProductRow) -> Product:
        return cls(
            id=global_id("Product", row),
            title=row.title,
            description=row.description,
            category=row.category,
            image_url=row.image_url,
            price=Money.of(row.price_minor, row.currency),
            row=row,
        )

    @strawberry.field(description="The shop that sells it.")
    async def shop(self, info: Info) -> Shop:
        shop = await info.context.loaders.shop_by_id.load(self.row.shop_id)
        return Shop.from_row(shop)

    @strawberry.field(description="Whether the viewer has tagged it (false when signed out).")
    async def viewer_has_tagged(self, info: Info) -> bool:
        tagged: bool = await info.context.loaders.viewer_tagged_product.load(pk(self.row))
        return tagged
