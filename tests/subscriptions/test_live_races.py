"""Two live bugs, on a real `ordercenter serve` and real WebSocket clients.

1. On one graphql-transport-ws connection, subscribe A, complete A and subscribe B back
   to back: A (completed) must never get another ``next``, and B must get every event
   after its subscribe. The operations of a connection shared its loaders, so the
   cancellation of A mid-read cancelled B's reads too, and B went silent.
2. A client that goes away mid-stream is a normal close: nothing is logged at ERROR and
   no traceback, and every hub subscriber of its socket is released.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.serving import (
    ORDERCENTER,
    SECRET,
    ServerProcess,
    free_port,
    fresh_postgres_database,
    serving_process,
)
from tests.subscriptions.wsclient import (
    WAIT,
    Api,
    Buyer,
    WsClient,
    event_id,
    last_event_id,
    make_world,
)

pytestmark = pytest.mark.server

PG_URL_VAR = "ORDERCENTER_TEST_DATABASE_URL"
ROUNDS = 10


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, Path]]:
    """`ordercenter serve` at log level info on a fresh database, its output in a file."""
    tmp_path = tmp_path_factory.mktemp("live")
    if request.param == "sqlite":
        database = f"sqlite:///{tmp_path / 'oc.db'}"
        with _serving(database, tmp_path) as both:
            yield both
        return
    admin_url = os.environ.get(PG_URL_VAR)
    if not admin_url:
        pytest.skip(f"needs PostgreSQL: set {PG_URL_VAR}")
    with fresh_postgres_database(admin_url) as database, _serving(database, tmp_path) as both:
        yield both


def _serving(database: str, tmp_path: Path) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERCENTER_")}
    env.update(
        ORDERCENTER_DATABASE_URL=database,
        ORDERCENTER_JWT_SECRET=SECRET,
        ORDERCENTER_ENV="test",
        ORDERCENTER_LOG_LEVEL="info",
    )
    command = [ORDERCENTER, "migrate"]
    subprocess.run(command, env=env, check=True, timeout=120, capture_output=True)
    port = free_port()
    output = tmp_path / "server.log"

    class Serving:
        def __enter__(self) -> tuple[ServerProcess, Path]:
            self.inner = serving_process(env, port, output=output)
            process = self.inner.__enter__()
            url = f"http://127.0.0.1:{port}"
            return ServerProcess(url=url, demo_token="", process=process, env=env), output

        def __exit__(self, *exc: object) -> None:
            self.inner.__exit__(None, None, None)

    return Serving()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def subscriptions_active(http: httpx.AsyncClient, url: str) -> int:
    """The server's hub subscriber count, as its /metrics says it."""
    response = await http.get(url + "/metrics", timeout=WAIT)
    assert response.status_code == 200, response.text
    for line in response.text.splitlines():
        if line.startswith("ordercenter_subscriptions_active "):
            return int(float(line.split()[1]))
    raise AssertionError("no ordercenter_subscriptions_active in /metrics")


async def settles_at(http: httpx.AsyncClient, url: str, expected: int) -> int:
    """The subscriber count once it reaches ``expected`` (or what it is after WAIT)."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        count = await subscriptions_active(http, url)
        if count == expected or asyncio.get_running_loop().time() > deadline:
            return count
        await asyncio.sleep(0.05)


async def one_buyer(
    served: tuple[ServerProcess, Path], http: httpx.AsyncClient
) -> tuple[ServerProcess, str, Buyer, Api]:
    """The server, its database and a buyer of this test's own, with an API client."""
    server = served[0]
    database = server.env["ORDERCENTER_DATABASE_URL"]
    (buyer,) = (await make_world(database, buyers=1)).buyers
    return server, database, buyer, Api(http, server.url)


async def test_a_completed_operation_gets_nothing_and_the_next_one_gets_every_event(
    served: tuple[ServerProcess, Path], http: httpx.AsyncClient
) -> None:
    server, database, buyer, api = await one_buyer(served, http)
    client = await WsClient.open(server.url, buyer.token)
    try:
        for round_ in range(ROUNDS):
            order_id = await api.place(buyer)
            after = await last_event_id(database, buyer.user_id)
            a, b = f"a{round_}", f"b{round_}"
            # subscribe A, complete A, subscribe B, to the same order, back to back.
            await client.subscribe(a, order_id=order_id)
            await client.stop(a)
            await client.subscribe(b, order_id=order_id, after=after)
            await api.cancel(buyer.token, order_id)
            cancelled = await last_event_id(database, buyer.user_id)
            try:
                message = await client.recv(WAIT)
            except TimeoutError:
                raise AssertionError(f"round {round_}: {b} never got its event") from None
            assert message.get("id") == b, (round_, message)  # never A's
            assert message["type"] == "next", (round_, message)
            event = message["payload"]["data"]["orderStatusChanged"]
            assert event_id(event["cursor"]) == cancelled, (round_, event)
            assert event["toStatus"] == "CANCELLED"
            await client.stop(b)
        # Nothing of either went out after: the next frame on the connection answers a
        # subscription made now.
        await client.subscribe("last", after=cancelled)
        await api.place(buyer)
        message = await client.recv(WAIT)
        assert message.get("id") == "last", message
    finally:
        await client.close()


def errors_logged(output: Path) -> list[str]:
    lines = output.read_text(errors="replace").splitlines()
    return [ln for ln in lines if " ERROR " in ln or ln.startswith(("ERROR", "Traceback"))]


OPERATIONS = 10  # subscribers of the one socket


async def test_a_client_gone_mid_stream_is_a_quiet_close_that_releases_its_subscribers(
    served: tuple[ServerProcess, Path], http: httpx.AsyncClient
) -> None:
    server, _, buyer, api = await one_buyer(served, http)
    output = served[1]
    await asyncio.gather(*(api.place(buyer) for _ in range(30)))
    before = await settles_at(http, server.url, 0)
    logged = len(errors_logged(output))
    for way in ("abort", "close") * 3:
        client = await WsClient.open(server.url, buyer.token)
        for op_id in range(OPERATIONS):  # each replays the buyer's 30 events, then live
            await client.subscribe(str(op_id), after=0)
        first = await client.recv(WAIT)
        assert first["type"] == "next", first  # the stream has begun...
        if way == "abort":
            client.abort()  # ...and the client is gone, without a closing handshake
        else:
            await client.close()  # ...or with one, while frames are still coming
        await api.place(buyer)  # and a live event for the socket that is gone
        assert await settles_at(http, server.url, before) == before, way
    await asyncio.sleep(0.5)  # the server's log catches up
    assert errors_logged(output)[logged:] == [], output.read_text(errors="replace")[-6000:]
