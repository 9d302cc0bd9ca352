"""Prometheus metrics scraped from a real server: they move with traffic, they add up
over `--workers 2`, and they are not served when turned off (or, by default, on the
public port in production)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.server.serving import free_port, running_server
from tests.subscriptions.wsclient import Api, Buyer, WsClient, make_world

pytestmark = pytest.mark.server

PROBE = "query MetricsProbe { viewer { handle } }"
LIVE = "subscription LiveProbe { orderStatusChanged { cursor toStatus } }"
OPERATIONS = "ordercenter_operation_duration_seconds_count"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, frozenset(sample.labels.items())] = sample.value
    return found


def value(scraped: dict[Any, float], name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


async def scrape(http: httpx.AsyncClient, url: str) -> dict[Any, float]:
    response = await http.get(url + "/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def probe(http: httpx.AsyncClient, url: str, token: str, method: str = "POST") -> None:
    headers = {"Authorization": f"Bearer {token}"}
    if method == "GET":
        response = await http.get(url + "/graphql", params={"query": PROBE}, headers=headers)
    else:
        response = await http.post(url + "/graphql", json={"query": PROBE}, headers=headers)
    assert response.status_code == 200, response.text
    assert "errors" not in response.json(), response.text


@contextlib.asynccontextmanager
async def live_subscription(url: str, buyer: Buyer, api: Api) -> AsyncIterator[WsClient]:
    """graphql-transport-ws, subscribed, with at least one live event delivered."""
    client = await WsClient.open(url, buyer.token)
    try:
        await client.subscribe("1", query=LIVE)
        for _ in range(5):
            await api.place(buyer)
            with contextlib.suppress(TimeoutError):
                await client.next_event("1", wait=3)
                break
        else:
            raise AssertionError("no live event was delivered")
        yield client
    finally:
        with contextlib.suppress(Exception):
            await client.close()


async def test_metrics_move_with_http_websocket_traffic_and_errors() -> None:
    with running_server(users=3, orders_per_user=2) as server:
        async with httpx.AsyncClient(timeout=15) as http:
            url = server.url
            (buyer,) = (await make_world(server.env["ORDERCENTER_DATABASE_URL"], buyers=1)).buyers
            before = await scrape(http, url)
            await probe(http, url, buyer.token)  # first sight: graphql-core, plan learned
            await probe(http, url, buyer.token)  # then the compiled plan (SQLite: in Python)
            await probe(http, url, buyer.token, method="GET")
            broken = await http.post(url + "/graphql", json={"query": "{ viewer {"})
            assert broken.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
            async with live_subscription(url, buyer, Api(http, url)):
                during = await scrape(http, url)
            deadline = time.monotonic() + 10
            while True:  # the server notices the close a moment after the client
                after = await scrape(http, url)
                gone = value(after, "ordercenter_websockets_open") == value(
                    before, "ordercenter_websockets_open"
                )
                if gone or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    http_post = {"operation": "MetricsProbe", "transport": "http-post"}
    assert moved(OPERATIONS, **http_post, path="generic") == 1
    # A plan answers the second time: in SQL (both databases build the whole answer).
    assert moved(OPERATIONS, **http_post, path="sql_plan") == 1
    assert moved(OPERATIONS, operation="MetricsProbe", transport="http-get", path="sql_plan")
    assert moved(OPERATIONS, operation="anonymous", transport="http-post", path="refused") == 1
    assert moved("ordercenter_errors_total", code="GRAPHQL_PARSE_FAILED") == 1
    subscribed = {"operation": "LiveProbe", "transport": "graphql-transport-ws", "path": "generic"}
    assert moved(OPERATIONS, **subscribed) == 1
    # The probe orders were placed over HTTP, anonymous mutations on first sight.
    assert moved(OPERATIONS, operation="anonymous", transport="http-post", path="generic") >= 1
    assert moved("ordercenter_event_delivery_lag_seconds_count") >= 1
    lag_sum = moved("ordercenter_event_delivery_lag_seconds_sum")
    assert 0 < lag_sum < 10 * moved("ordercenter_event_delivery_lag_seconds_count")
    assert value(during, "ordercenter_websockets_open") == 1
    assert value(during, "ordercenter_subscriptions_active") == 1
    assert value(after, "ordercenter_websockets_open") == 0
    assert value(after, "ordercenter_subscriptions_active") == 0
    # SQLite's pool, read at scrape time: the scrape itself holds no connection.
    assert ("ordercenter_db_pool_connections", frozenset({("state", "in_use")})) in after
    assert value(after, "ordercenter_db_pool_connections", state="in_use") == 0


async def test_workers_add_up_every_process_counts() -> None:
    with running_server(users=3, orders_per_user=2, workers=2) as server:
        async with httpx.AsyncClient(timeout=15) as http:
            url = server.url
            sent = 0
            deadline = time.monotonic() + 60
            while True:
                # A connection per request, so that both workers take some. Each worker
                # runs the document generically once (its plans are its own): two generic
                # runs in one scrape are two processes' counts added up.
                async with httpx.AsyncClient(timeout=15) as fresh:
                    await probe(fresh, url, server.demo_token)
                sent += 1
                scraped = await scrape(http, url)
                labels = {"operation": "MetricsProbe", "transport": "http-post"}
                generic = value(scraped, OPERATIONS, **labels, path="generic")
                if generic == 2 or time.monotonic() > deadline:
                    break
            assert generic == 2, "the scrapes never showed both workers' counts"
            assert generic + value(scraped, OPERATIONS, **labels, path="sql_plan") == sent
            # Any worker answering a scrape shows the same sums.
            for _ in range(6):
                async with httpx.AsyncClient(timeout=15) as fresh:
                    again = await scrape(fresh, url)
                assert value(again, OPERATIONS, **labels, path="generic") == 2


async def test_metrics_turned_off_are_not_served() -> None:
    with running_server(
        users=3, orders_per_user=1, extra_env={"ORDERCENTER_METRICS": "false"}
    ) as server:
        async with httpx.AsyncClient(timeout=15) as http:
            assert (await http.get(server.url + "/metrics")).status_code == 404
            await probe(http, server.url, server.demo_token)


async def test_production_serves_metrics_only_on_their_own_port() -> None:
    port = free_port()
    env = {"ORDERCENTER_ENV": "production", "ORDERCENTER_METRICS_PORT": str(port)}
    with running_server(users=3, orders_per_user=1, extra_env=env) as server:
        async with httpx.AsyncClient(timeout=15) as http:
            assert (await http.get(server.url + "/metrics")).status_code == 404
            await probe(http, server.url, server.demo_token)
            scraped = await scrape(http, f"http://127.0.0.1:{port}")
    labels = {"operation": "MetricsProbe", "transport": "http-post", "path": "generic"}
    assert value(scraped, OPERATIONS, **labels) == 1
