"""The direct lane: a live event rendered once is sent as is to every subscription
that would render it the same way.

Each subscription of a live event would otherwise run the whole per-event pipeline
(graphql-core execution, Strawberry's result handling, encoding): with a thousand
subscriptions of one viewer that is a thousand identical renderings of one frame.
The transport opens a lane per operation (same viewer, document, variables and
operation name give the same key); the first subscription of an event to get there
renders it through the normal pipeline and the transport hands the encoded payload
back through the event's slot; the others await that slot and send the payload
under their own operation id. A rendering with errors is not shared: the others
then render their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from contextvars import ContextVar
from dataclasses import dataclass

import orjson


@dataclass(slots=True, eq=False)
class Lane:
    key: Hashable
    operation_id: str
    send_text: Callable[[str], Awaitable[None]]
    # The slot of the event this operation is rendering right now, if any.
    rendering: asyncio.Future[str | None] | None = None

    def frame(self, payload_json: str) -> str:
        """A graphql-transport-ws "next" message, as the pipeline would encode it."""
        operation_id = orjson.dumps(self.operation_id).decode()
        return f'{{"id":{operation_id},"type":"next","payload":{payload_json}}}'

    def rendered(self, payload_json: str | None) -> None:
        """The pipeline encoded this operation's current event (None: do not share)."""
        slot, self.rendering = self.rendering, None
        if slot is not None and not slot.done():
            slot.set_result(payload_json)


# Set by the transport for the task that runs one operation.
current_lane: ContextVar[Lane | None] = ContextVar("ordercenter_lane", default=None)
