"""GraphiQL as a person uses it: a real Chromium against a real server, offline.

Chromium is driven over the DevTools protocol (with the `websockets` client we
already depend on). The test runs when Chromium is installed; CI installs it and
sets ORDERCENTER_REQUIRE_BROWSER=1 so a missing browser fails instead of skipping.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.server.serving import ServerProcess, free_port, running_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("ORDERCENTER_TEST_ARTIFACTS", tempfile.gettempdir()))

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def browser_binary() -> str:
    if CHROMIUM is None:
        if os.environ.get("ORDERCENTER_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is required (ORDERCENTER_REQUIRE_BROWSER=1) but not installed")
        pytest.skip("Chromium is not installed: GraphiQL browser test skipped")
    return CHROMIUM


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with running_server(users=5, orders_per_user=5) as process:
        yield process


class DevTools:
    """Just enough of the Chrome DevTools protocol to drive one page."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self.ids)
        await self.socket.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(await asyncio.wait_for(self.socket.recv(), 30))
            if message.get("id") == call_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    async def js(self, expression: str) -> Any:
        result = await self.call(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise AssertionError(result["exceptionDetails"])
        return result["result"].get("value")

    async def wait_for(self, expression: str) -> Any:
        """The first truthy value of ``expression``, polled for up to 20 seconds."""
        async with asyncio.timeout(20):
            while True:
                value = await self.js(expression)
                if value:
                    return value
                await asyncio.sleep(0.2)

    async def screenshot(self, path: Path) -> None:
        shot = await self.call("Page.captureScreenshot", format="png")
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))


@pytest.fixture
def devtools_port(browser_binary: str) -> Iterator[int]:
    """A headless Chromium listening for DevTools on a loopback port."""
    port = free_port()
    profile = tempfile.mkdtemp(prefix="oc-chromium-")
    process = subprocess.Popen(
        [
            browser_binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={port}",
            "--remote-debugging-address=127.0.0.1",
            "--window-size=1400,900",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
async def page(devtools_port: int) -> AsyncIterator[DevTools]:
    targets: list[dict[str, Any]] = []
    async with httpx.AsyncClient() as client, asyncio.timeout(20):
        while not targets:
            try:
                targets = (await client.get(f"http://127.0.0.1:{devtools_port}/json")).json()
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
    target = next(t for t in targets if t["type"] == "page")
    async with websockets.connect(target["webSocketDebuggerUrl"], max_size=None) as socket:
        tools = DevTools(socket)
        for domain in ("Page", "Runtime", "Network", "Log"):
            await tools.call(f"{domain}.enable")
        yield tools


QUERY_EDITOR = "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror"
RESPONSE = "document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()"


async def test_graphiql_runs_a_query_with_the_demo_token_offline(
    page: DevTools, server: ServerProcess
) -> None:
    await page.call("Page.navigate", url=server.url + "/graphql")
    # The schema arrived by introspection: the docs list our types.
    await page.wait_for("document.body?.innerText.includes('OrderConnection')")
    headers = json.dumps({"Authorization": f"Bearer {server.demo_token}"})
    await page.js(
        "[...document.querySelectorAll('.graphiql-editor-tool .CodeMirror')]"
        f".forEach(e => e.CodeMirror.setValue({json.dumps(headers)}))"
    )
    # Run the example query the page opens with, as a first-time user would.
    await page.js("document.querySelector('.graphiql-execute-button').click()")
    text = await page.wait_for(f"{RESPONSE}.includes('handle') && {RESPONSE}")
    await page.screenshot(ARTIFACTS / "graphiql-demo.png")
    data = json.loads(text)["data"]["viewer"]
    assert data["handle"] == "demo"
    assert len(data["orders"]["edges"]) == 5
    # Every request the page made went to our server: nothing from a CDN.
    requested = [
        e["params"]["request"]["url"]
        for e in page.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    assert any(url.startswith(server.url + "/graphiql/static/") for url in requested)
    elsewhere = [u for u in requested if not u.startswith((server.url + "/", "data:", "blob:"))]
    assert elsewhere == []


async def test_graphiql_shows_an_unauthenticated_error_without_a_token(
    page: DevTools, server: ServerProcess
) -> None:
    await page.call("Page.navigate", url=server.url + "/graphql")
    await page.wait_for("document.body?.innerText.includes('OrderConnection')")
    await page.js(f"{QUERY_EDITOR}.setValue('query Me {{ viewer {{ handle }} }}')")
    # GraphiQL picks up the new operation name after a short debounce.
    await page.wait_for(f"{QUERY_EDITOR}.getValue().startsWith('query Me')")
    await asyncio.sleep(1)
    await page.js("document.querySelector('.graphiql-execute-button').click()")
    text = await page.wait_for(f"{RESPONSE}.includes('errors') && {RESPONSE}")
    assert json.loads(text)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
