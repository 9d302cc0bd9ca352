"""Shops and products: public to everyone."""

from __future__ import annotations

import strawberry

from db.models import Product as ProductRow
from db.models import Shop as ShopRow
from schema.common import Money, Node, global_id, loaded, pk


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
    @loaded("shop_by_id", key=lambda product: product.row.shop_id)
    def shop(self, row: ShopRow) -> Shop:
        return Shop.from_row(row)

    @strawberry.field(description="Whether the viewer has tagged it (false when signed out).")
    @loaded("viewer_tagged_product", key=lambda product: pk(product.row))
    def viewer_has_tagged(self, tagged: bool) -> bool:
        return tagged
