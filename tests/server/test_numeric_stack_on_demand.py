"""numpy and scipy load into the server process only when a recommendation refresh runs.

Together they are about 25 MiB of a one-worker server's resident memory, and most
processes serve pages for minutes before (or without) any refresh. A real
``ordercenter serve`` is started, so the check covers everything the entry point,
the lifespan and a page request import; the process's memory map says which
shared libraries it has loaded.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.serving import ServerProcess, running_server

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc"),
]

PAGE = """
{
  viewer {
    orderTabs { tab count }
    orders(first: 5) { edges { node { number items { product { id title } } } } }
    recommendations(first: 5) { edges { node { reason product { title } } } }
  }
}
"""
VIEW = """
mutation($input: RecordProductViewInput!) {
  recordProductView(input: $input) { userErrors { code } }
}
"""


def numeric_libraries(pid: int) -> set[str]:
    maps = Path(f"/proc/{pid}/maps").read_text()
    return {name for name in ("numpy", "scipy") if f"/{name}/" in maps}


def graphql(
    server: ServerProcess, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = httpx.post(
        server.url + "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {server.demo_token}"},
        timeout=30,
    )
    body = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def test_serving_pages_leaves_numpy_and_scipy_unloaded_until_a_refresh() -> None:
    extra = {"ORDERCENTER_RECOMMENDATION_DEBOUNCE_SECONDS": "0.05"}
    with running_server(users=5, orders_per_user=5, extra_env=extra) as server:
        page = graphql(server, PAGE)
        assert numeric_libraries(server.process.pid) == set()

        # A view asks for a refresh, which needs the engine: now they load.
        edges = page["viewer"]["orders"]["edges"]
        product = edges[0]["node"]["items"][0]["product"]["id"]
        viewed = graphql(server, VIEW, {"input": {"productId": product}})
        assert viewed["recordProductView"]["userErrors"] == []
        deadline = time.monotonic() + 30
        while numeric_libraries(server.process.pid) != {"numpy", "scipy"}:
            assert time.monotonic() < deadline, "the refresh never loaded the engine"
            time.sleep(0.1)
        # The recommender library the engine is judged against is never the server's.
        assert "/implicit/" not in Path(f"/proc/{server.process.pid}/maps").read_text()
