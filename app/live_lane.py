"""Serving one subscription on the direct lane (resolvers/subscriptions/lane.py): each
event of its feed, rendered once per selection, sent in the lane's frame through the
connection's ASGI send. One loop for both WebSocket protocols; each handler (app/ws.py)
then ends the operation as its protocol says."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import Send
from strawberry.http.exceptions import WebSocketDisconnected

from app import metrics
from app.request_id import SERVER_SEND
from internals import frame_writer, resume, text_frame
from resolvers.context import Context
from resolvers.subscriptions.hub import Delivery, SlowConsumer
from resolvers.subscriptions.lane import Lane
from schema.subscription import LiveSelection, too_busy, too_slow


def retrieved(task: asyncio.Future[None]) -> None:
    """A done callback: the failure of a future nobody else may await is reported by
    whoever started it (a lane task awaits its stalled frame first; a lane task reports
    its own failure), not as "exception never retrieved"."""
    if not task.cancelled():
        task.exception()


async def serve(
    lane: Lane,
    context: Context,
    send: Send,
    current: Callable[[], bool],
    lag: bool,
    write: Callable[[bytes], bool] | None = None,
) -> str:
    """Send each event until the subscriber falls behind or rendering fails; then the
    frame that ends the operation with that error (for the caller to send, followed by
    its protocol's ``complete``). ``current()`` says whether the operation is still the
    one its id names (not stopped meanwhile); ``lag`` observes each live event's lag.
    ``write``: the socket's ``internals.frame_writer``, if it has one: a frame rendered
    for every operation of the selection is then encoded once, and these bytes are
    written to each of their sockets (False: sent through ``send`` instead).
    Raises WebSocketDisconnected when the socket went away."""
    feed = lane.feed
    selection: LiveSelection = lane.selection
    if feed is None:  # pragma: no cover - only a taken lane is served
        raise TypeError("a lane without a feed")
    head = lane.frame_head()
    frame_key = (selection, head)  # the encoded frame, in the delivery's ``shared``

    def frame_of(delivery: Delivery, payload: str) -> bytes:
        """This head and shared payload as a WebSocket frame, encoded once for all."""
        frame: bytes | None = delivery.shared.get(frame_key)
        if frame is None:
            frame = delivery.shared[frame_key] = text_frame(head + payload + "}")
        return frame

    # A frame that push() started but the server held back (flow control): it goes
    # out before anything else of this operation.
    stalled: asyncio.Future[None] | None = None

    def push(delivery: Delivery) -> bool:
        """Hand an already rendered event out from the hub's own fan-out, without
        waking this task; False leaves it to the task."""
        nonlocal stalled
        payload = selection.rendered(delivery)
        if payload is None or stalled is not None or not current():
            return False
        if write is not None and write(frame_of(delivery, payload)):
            if lag:
                metrics.observe_lag(delivery.created)
            return True
        sending = send({"type": "websocket.send", "text": head + payload + "}"})
        if lag:
            metrics.observe_lag(delivery.created)
        if not isinstance(sending, Coroutine):  # pragma: no cover - any awaitable
            stalled = asyncio.ensure_future(sending)
            stalled.add_done_callback(retrieved)
            return True
        try:
            held = sending.send(None)
        except StopIteration:
            return True
        except BaseException:
            # It failed before it suspended, so nothing of it was written: the task
            # sends it again and ends as that send ends.
            return False
        stalled = asyncio.ensure_future(resume(sending, held))
        stalled.add_done_callback(retrieved)
        return True

    async def flush() -> None:
        nonlocal stalled
        if stalled is not None:
            try:
                await stalled
            except OSError as error:  # as Starlette's send_text reports it
                raise WebSocketDisconnected from error
            finally:
                stalled = None

    try:
        while True:
            try:
                # Where to resume if this delivery cannot be read or rendered now.
                resume_after = feed.last
                delivery = feed.take()
                live = True
                while delivery is None:
                    if feed.replaying:
                        resume_after = feed.last
                        delivery = await feed.next()
                        live = False  # stored: its lag is not the live path's
                    else:
                        feed.direct = push
                        try:
                            await feed.ready()
                        finally:
                            feed.direct = None
                        resume_after = feed.last
                        delivery = feed.take()
                payload = selection.rendered(delivery) or await selection.payload(
                    # Its own loaders: the connection's other operations render too.
                    context.for_operation(),
                    delivery,
                )
            except SlowConsumer:
                ending = selection.error_payload(context, too_slow(feed.last))
                break
            except PoolTimeout:  # no connection in time to read or render it: resume later
                ending = selection.error_payload(context, too_busy(resume_after))
                break
            except Exception as error:
                ending = selection.error_payload(context, error)
                break
            await flush()
            if not (
                write is not None
                and selection.rendered(delivery) is payload  # shared: encoded once
                and write(frame_of(delivery, payload))
            ):
                try:
                    await send({"type": "websocket.send", "text": head + payload + "}"})
                except OSError as error:  # as Starlette's send_text reports it
                    raise WebSocketDisconnected from error
            if lag and live:
                metrics.observe_lag(delivery.created)
        feed.close()  # nothing more is queued for it while it says goodbye
        await flush()
        return head + ending + "}"
    finally:
        feed.close()


SEND = "ordercenter_send"  # where in the scope's state
WRITER = "ordercenter_frame_writer"  # likewise


def the_send(scope: Any) -> Send:
    """The ASGI send our WebSocket app handed Starlette for this connection (see
    ``GraphQLWebSocket.__call__``): every lane frame goes out through it, without the
    layers of ``send_text``."""
    send: Send = scope["state"][SEND]
    return send


def the_writer(scope: Any) -> Callable[[bytes], bool] | None:
    """Where live frames of this connection may be written as encoded bytes
    (``internals.frame_writer`` of the server's own send), made once per connection;
    None when the server is not one it knows."""
    state = scope["state"]
    if WRITER not in state:
        server_send = state.get(SERVER_SEND)
        state[WRITER] = None if server_send is None else frame_writer(server_send)
    writer: Callable[[bytes], bool] | None = state[WRITER]
    return writer
