"""uvicorn's parts that internals' ``OneWriteHttpProtocol`` relies on: its httptools
protocol writes every answer through the ``transport`` attribute its connection set, and
``handle_websocket_upgrade`` hands that transport on. On the protocol itself, fed a
request, with a transport that records what reaches the socket; and on a real server."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import uvicorn
import websockets
from uvicorn.server import ServerState

from internals import OneWriteHttpProtocol
from tests.contracts.pins import upgraded
from tests.server.serving import free_port

UVICORN = upgraded("uvicorn")
REQUEST = b"GET / HTTP/1.1\r\nhost: test\r\n\r\n"


class Socket(asyncio.Transport):
    """What a connection's transport was asked to send, one entry a system call."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.sent.append(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        self.sent.append(b"".join(list_of_data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def answered(app: Any, request: bytes = REQUEST, turns: int = 20) -> Socket:
    config = uvicorn.Config(app, log_level="warning", http=OneWriteHttpProtocol)
    protocol = OneWriteHttpProtocol(config, ServerState(), {})
    socket = Socket()
    protocol.connection_made(socket)
    protocol.data_received(request)
    for _ in range(turns):
        await asyncio.sleep(0)
    return socket


async def whole(scope: Any, receive: Any, send: Any) -> None:
    headers = [(b"content-length", b"10"), (b"x-a", b"1")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"the answer"})


async def test_an_answer_sent_in_one_turn_reaches_the_socket_in_one_write() -> None:
    socket = await answered(whole)
    assert len(socket.sent) == 1, (socket.sent, UVICORN)
    head, _, body = socket.sent[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n"), UVICORN
    assert b"x-a: 1" in head.split(b"\r\n"), UVICORN
    assert body == b"the answer", UVICORN


async def test_headers_of_a_streamed_answer_leave_at_the_end_of_their_turn() -> None:
    later = asyncio.Event()

    async def streamed(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await later.wait()
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    socket = await answered(streamed)
    assert len(socket.sent) == 1, UVICORN
    assert socket.sent[0].startswith(b"HTTP/1.1 200 OK"), UVICORN
    later.set()
    for _ in range(20):
        await asyncio.sleep(0)
    assert b"".join(socket.sent[1:]) == b"4\r\npart\r\n0\r\n\r\n", UVICORN


async def test_a_connection_closed_after_its_answer_sends_the_answer_first() -> None:
    socket = await answered(whole, b"GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
    assert socket.closed, UVICORN
    assert len(socket.sent) == 1, UVICORN
    assert socket.sent[0].endswith(b"the answer"), UVICORN


async def test_http_and_websocket_on_a_real_server() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        if scope["type"] == "http":
            await whole(scope, receive, send)
            return
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "hello"})
        await receive()

    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        http=OneWriteHttpProtocol,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.02)
        assert server.started
        async with httpx.AsyncClient() as client:
            for _ in range(3):  # one kept-alive connection, answer after answer
                response = await client.get(f"http://127.0.0.1:{port}/")
                assert (response.status_code, response.text) == (200, "the answer"), UVICORN
        async with websockets.connect(f"ws://127.0.0.1:{port}/") as socket:
            assert await asyncio.wait_for(socket.recv(), 5) == "hello", UVICORN
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
