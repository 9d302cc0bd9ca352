"""uvicorn's parts that internals/ relies on: the protocol behind a WebSocket's ASGI send
(its sans-I/O implementation: transport, websockets connection, flow control and
closing state), to which ``frame_writer`` writes a frame ``text_frame`` encoded once.
On a real uvicorn server and a real websockets client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
import websockets

from internals import frame_writer, text_frame
from tests.contracts.pins import upgraded
from tests.server.serving import free_port

UVICORN = upgraded("uvicorn")


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ws_per_message_deflate=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.02)
        assert server.started
        yield f"ws://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def test_frames_written_by_hand_arrive_as_uvicorn_sends_them_until_closed() -> None:
    said: list[object] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "websocket"
        await receive()  # websocket.connect
        write = frame_writer(send)
        said.append(write is not None)
        assert write is not None
        said.append(write(text_frame("too early")))  # no handshake yet: not written
        await send({"type": "websocket.accept"})
        said.append(write(text_frame("ünïcode, once")))
        await send({"type": "websocket.send", "text": "then the ASGI way"})
        said.append(write(text_frame("and again")))
        await receive()  # the client's goodbye (websocket.disconnect)
        said.append(write(text_frame("gone")))

    async with serving(app) as url, websockets.connect(url) as client:
        received = [await asyncio.wait_for(client.recv(), 5) for _ in range(3)]
        await client.close()
    for _ in range(100):
        if len(said) == 5:
            break
        await asyncio.sleep(0.02)
    assert received == ["ünïcode, once", "then the ASGI way", "and again"], UVICORN
    assert said == [True, False, True, True, False], UVICORN


async def test_a_writer_holds_back_while_flow_control_does() -> None:
    said: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        write = frame_writer(send)
        assert write is not None
        protocol = send.__self__
        protocol.pause_writing()  # as the transport says when its buffer is full
        said.append(write(text_frame("held")))
        protocol.resume_writing()
        said.append(write(text_frame("sent")))
        await receive()

    async with serving(app) as url, websockets.connect(url) as client:
        assert await asyncio.wait_for(client.recv(), 5) == "sent", UVICORN
    assert said == [False, True], UVICORN


def test_another_send_has_no_writer() -> None:
    async def send(message: Any) -> None:
        pass

    assert frame_writer(send) is None


@pytest.mark.parametrize("text", ["", "a" * 125, "b" * 126, "c" * 70_000])
def test_a_text_frame_is_what_websockets_writes(text: str) -> None:
    from websockets.frames import Frame, Opcode

    assert text_frame(text) == Frame(Opcode.TEXT, text.encode()).serialize(mask=False)
    assert text_frame(text)[0] == 0x81  # FIN, text
