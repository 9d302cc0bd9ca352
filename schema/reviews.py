"""Reviews as everyone sees them: a rating, a text and the reviewer's display name only."""

from __future__ import annotations

from datetime import datetime

import strawberry

from db.models import Review as ReviewRow
from db.models import User as UserRow
from domain import reviews as rules
from schema.common import Info, Node, loaded
from schema.declared import FromRow, column, rule


@strawberry.type(
    description="A buyer's rating of one line of a completed order. Public: it names the "
    "reviewer by display name only."
)
class Review(FromRow, Node):
    rating: int = column("rating", description="1 to 5.")
    text: str = column(
        "text", description="What the buyer wrote (at most 2,000 characters); may be empty."
    )
    posted_at: datetime = column("posted_at", description="When it was posted.")
    edited_at: datetime | None = column(
        "edited_at", description="When it was last edited; null if never."
    )
    row: strawberry.Private[ReviewRow]

    @strawberry.field(
        description="The last moment its author may edit it: postedAt plus the edit window "
        "(editReview refuses after it).",
        metadata=rule("review_editable_until"),
    )
    def editable_until(self, info: Info) -> datetime:
        return rules.edit_deadline(self.row.posted_at, info.context.rules.review_edit_window)

    @strawberry.field(description="The reviewer's display name; nothing else about them.")
    @loaded("user_by_id", key="user_id", sql="reviewer_name")
    def reviewer_name(self, user: UserRow | None) -> str:
        return "" if user is None else user.display_name


@strawberry.type(description="How a product's buyers rated it.")
class ProductRating:
    average: float | None = strawberry.field(
        description="The mean rating, rounded half up to one decimal (4.25 is 4.3); null "
        "without reviews."
    )
    count: int = strawberry.field(description="How many reviews it has.")

    @classmethod
    def of(cls, total: int, count: int) -> ProductRating:
        return cls(average=rules.average_rating(total, count), count=count)
