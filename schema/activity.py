"""Tagged items, recently viewed products and recommendations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from db.models import Product as ProductRow
from db.models import ProductView as ProductViewRow
from db.models import Recommendation as RecommendationRow
from db.models import TaggedItem as TaggedItemRow
from schema.catalog import Product
from schema.common import Node, global_id, loaded
from schema.enums import RecommendationReason


def _product_of(view: ProductView | TaggedItem | Recommendation) -> int:
    return view.row.product_id


@strawberry.type(description="A product the buyer tagged, usually from a video.")
class TaggedItem:
    id: strawberry.ID = strawberry.field(description="The tag's global id.")
    tagged_at: datetime = strawberry.field(description="When it was tagged.")
    source_video_id: str | None = strawberry.field(description="The video it was tagged from.")
    row: strawberry.Private[TaggedItemRow]

    @classmethod
    def from_row(cls, row: TaggedItemRow) -> TaggedItem:
        return cls(
            id=global_id("TaggedItem", row),
            tagged_at=row.tagged_at,
            source_video_id=row.source_video_id,
            row=row,
        )

    @strawberry.field(description="The tagged product.")
    @loaded("product_by_id", key=_product_of)
    def product(self, row: ProductRow) -> Product:
        return Product.from_row(row)


@strawberry.type(description="A product the buyer viewed, with the latest time they did.")
class ProductView:
    viewed_at: datetime = strawberry.field(description="When it was last viewed.")
    row: strawberry.Private[ProductViewRow]

    @classmethod
    def from_row(cls, row: ProductViewRow) -> ProductView:
        return cls(viewed_at=row.viewed_at, row=row)

    @strawberry.field(description="The viewed product.")
    @loaded("product_by_id", key=_product_of)
    def product(self, row: ProductRow) -> Product:
        return Product.from_row(row)


@strawberry.type(description="A product recommended to the buyer, and why.")
class Recommendation(Node):
    score: float = strawberry.field(description="Relevance; higher is better, in (0, 1].")
    reason: RecommendationReason = strawberry.field(description="Why it is recommended.")
    row: strawberry.Private[RecommendationRow]

    @classmethod
    def from_row(cls, row: RecommendationRow) -> Recommendation:
        return cls(
            id=global_id("Recommendation", row),
            score=row.score,
            reason=RecommendationReason(row.reason),
            row=row,
        )

    @strawberry.field(description="The recommended product.")
    @loaded("product_by_id", key=_product_of)
    def product(self, row: ProductRow) -> Product:
        return Product.from_row(row)

    @strawberry.field(description="The product it is based on ('because you bought X').")
    @loaded("product_by_id", key=lambda recommendation: recommendation.row.based_on_product_id)
    def based_on(self, row: ProductRow | None) -> Product | None:
        return None if row is None else Product.from_row(row)


@strawberry.type(
    description="A product the buyer bought before and can buy again: when and how often."
)
class BuyAgainItem:
    last_ordered_at: datetime = strawberry.field(
        description="When the latest paid, not cancelled order with it was placed."
    )
    times_ordered: int = strawberry.field(
        description="How many of the buyer's paid, not cancelled orders had it."
    )
    units_ordered: int = strawberry.field(description="How many units those orders held.")
    product_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Any) -> BuyAgainItem:
        return cls(
            last_ordered_at=row.last_ordered_at,
            times_ordered=int(row.times_ordered),
            units_ordered=int(row.units_ordered),
            product_id=int(row.product_id),
        )

    @strawberry.field(description="The product, on sale now.")
    @loaded("product_by_id", key=lambda item: item.product_id)
    def product(self, row: ProductRow) -> Product:
        return Product.from_row(row)
