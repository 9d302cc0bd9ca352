"""The direct lane: a subscription served by the transport itself once it is
subscribed, instead of by a GraphQL pipeline held open for its whole life. Both
WebSocket protocols (graphql-transport-ws and the legacy graphql-ws) serve their
subscriptions this way; only the frame around each payload differs.

Strawberry runs every operation as one pipeline: the schema extensions' hooks, held
open as context managers; graphql-core's subscription executor; the resolver's
generator; the stream of results. For a live subscription all of that stays alive as
long as the subscription does: it was most of what an idle one weighed.

On the lane the pipeline runs only for what happens at subscribe time: parsing,
validation, the limits and the cost, and the resolver's own checks (who may follow
which order, where to resume), with their errors exactly as before. Then the resolver
hands over its hub subscriber and how the operation renders (``selection``) and the
pipeline ends. What is left per operation is this record, the subscriber and the
operation task waiting on it. Each event is rendered once per key (viewer, document,
variables, operation name; see ``schema.subscription.LiveSelection``) and the encoded
payload goes out under each operation's own id, in each protocol's own frame.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import orjson

from resolvers.subscriptions.hub import Subscriber

# The frame a result goes out in, per protocol: graphql-transport-ws says "next" (its
# id first, as Strawberry's Operation.send_next writes it); the legacy graphql-ws says
# "data" (its type first, as Strawberry's send_data_message writes it).
NEXT = "next"
DATA = "data"


@dataclass(slots=True, eq=False)
class Lane:
    operation_id: str
    # The frame this operation's results go out in: NEXT or DATA.
    frame: str = NEXT
    # The subscribe-time pipeline, set by the schema while it runs (its extensions'
    # results go into every payload); None when the lane is not on offer.
    pipeline: Any = None
    # Set by the resolver as it hands over: where events come from, how they render.
    feed: Subscriber | None = None
    selection: Any = None

    @property
    def taken(self) -> bool:
        """The resolver handed over: the transport serves this operation."""
        return self.feed is not None

    def frame_head(self) -> str:
        """The start of this operation's result message, as the pipeline would encode
        it; the payload and a closing brace follow."""
        operation_id = orjson.dumps(self.operation_id).decode()
        if self.frame == DATA:
            return f'{{"type":"data","id":{operation_id},"payload":'
        return f'{{"id":{operation_id},"type":"next","payload":'


# Set by the transport for the task that runs one operation.
current_lane: ContextVar[Lane | None] = ContextVar("ordercenter_lane", default=None)
