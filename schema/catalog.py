"""Shops and products: public to everyone."""

from __future__ import annotations

import strawberry

from db.models import Product as ProductRow
from db.models import Shop as ShopRow
from resolvers import reviews
from schema.common import Connection, Info, Money, Node, connection_of, loaded, pk, related
from schema.declared import FromRow, column, money, rule
from schema.paging import After, First, page_of
from schema.reviews import ProductRating, Review


@strawberry.type(description="A seller's storefront.")
class Shop(FromRow, Node):
    handle: str = column("handle", description="Unique, URL-safe handle.")
    name: str = column("name", description="Display name.")
    row: strawberry.Private[ShopRow]


@strawberry.type(description="Something a shop sells.")
class Product(FromRow, Node):
    title: str = column("title", description="Current title.")
    description: str = column("description", description="Current description.")
    category: str = column("category", description="Catalog category, e.g. 'kitchen'.")
    image_url: str | None = column("image_url", description="Primary image.")
    price: Money = money("price_minor", description="Current unit price.")
    shop: Shop = related("shop_by_id", key="shop_id", description="The shop that sells it.")
    row: strawberry.Private[ProductRow]

    @strawberry.field(description="Whether the viewer has tagged it (false when signed out).")
    @loaded("viewer_tagged_product", key="id", sql="viewer_has_tagged")
    def viewer_has_tagged(self, tagged: bool) -> bool:
        return tagged

    @strawberry.field(description="How its buyers rated it (public).")
    @loaded("rating_by_product_id", key="id", sql="product_rating")
    def rating(self, summary: tuple[int, int]) -> ProductRating:
        return ProductRating.of(*summary)

    @strawberry.field(
        description="Its reviews, newest first (public; reviewers by display name only).",
        metadata=rule("product_reviews"),
    )
    async def reviews(
        self,
        info: Info,
        first: First = None,
        after: After = None,
    ) -> Connection[Review]:
        args = page_of(info, reviews.REVIEWS, first, after)
        page = await reviews.reviews_page(info.context, product_id=pk(self.row), args=args)
        return connection_of(page, Review.from_row)  # type: ignore[arg-type]
