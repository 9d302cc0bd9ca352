"""Tagged items, recently viewed products and recommendations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from db.models import ProductView as ProductViewRow
from db.models import Recommendation as RecommendationRow
from db.models import TaggedItem as TaggedItemRow
from schema.catalog import Product
from schema.common import Node, related
from schema.declared import FromRow, column, node_id
from schema.enums import RecommendationReason


@strawberry.type(description="A product the buyer tagged, usually from a video.")
class TaggedItem(FromRow):
    id: strawberry.ID = node_id(description="The tag's global id.")
    tagged_at: datetime = column("tagged_at", description="When it was tagged.")
    source_video_id: str | None = column(
        "source_video_id", description="The video it was tagged from."
    )
    product: Product = related("product_by_id", key="product_id", description="The tagged product.")
    row: strawberry.Private[TaggedItemRow]


@strawberry.type(description="A product the buyer viewed, with the latest time they did.")
class ProductView(FromRow):
    viewed_at: datetime = column("viewed_at", description="When it was last viewed.")
    product: Product = related("product_by_id", key="product_id", description="The viewed product.")
    row: strawberry.Private[ProductViewRow]


@strawberry.type(description="A product recommended to the buyer, and why.")
class Recommendation(FromRow, Node):
    score: float = column("score", description="Relevance; higher is better, in (0, 1].")
    reason: RecommendationReason = column("reason", description="Why it is recommended.")
    product: Product = related(
        "product_by_id", key="product_id", description="The recommended product."
    )
    based_on: Product | None = related(
        "product_by_id",
        key="based_on_product_id",
        description="The product it is based on ('because you bought X').",
    )
    row: strawberry.Private[RecommendationRow]


@strawberry.type(
    description="A product the buyer bought before and can buy again: when and how often."
)
class BuyAgainItem(FromRow):
    last_ordered_at: datetime = column(
        "last_ordered_at",
        description="When the latest paid, not cancelled order with it was placed.",
    )
    times_ordered: int = column(
        "times_ordered", description="How many of the buyer's paid, not cancelled orders had it."
    )
    units_ordered: int = column("units_ordered", description="How many units those orders held.")
    product: Product = related(
        "product_by_id", key="product_id", description="The product, on sale now."
    )
    # One aggregate row of resolvers.buy_again: product_id and the three columns above.
    row: strawberry.Private[Any]
