"""The production topology, for real: nginx (deploy/nginx.conf) in front of two API
processes and one worker, on PostgreSQL and Redis, with API processes killed under load.

Buyers place and pay orders through nginx, each mutation with its own idempotency key; a
connection error or a 502/503/504 is retried with the same request and the same key.
Subscribers follow their buyer's orderStatusChanged through nginx and, when their socket
drops, reconnect through nginx with ``after`` = the last cursor they saw. Mid-run process
A gets SIGKILL and is restarted on its port, later process B gets SIGTERM and is
restarted. At the end the database is the judge: one order per acknowledged key, one
captured charge per paid order, every event delivered once and in order.

Needs nginx (the Debian package), ORDERCENTER_TEST_DATABASE_URL and
ORDERCENTER_TEST_REDIS_URL. Without them it skips, except in CI (CI=true, or
ORDERCENTER_REQUIRE_NGINX=1 as .ci/run sets), where it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import text

from app.auth import issue_token
from db.engine import create_engine
from resolvers.ids import expect_global_id
from resolvers.mutations.idempotency import key_digest
from resolvers.subscriptions.cursors import event_cursor
from tests.server.serving import ORDERCENTER, free_port, fresh_postgres_database
from tests.subscriptions.wsclient import (
    ADDRESS,
    PAY,
    PLACE,
    Buyer,
    OperationCompleted,
    OperationFailed,
    WsClient,
    event_id,
    event_ids,
    make_world,
)

pytestmark = [pytest.mark.deployment, pytest.mark.server]

ROOT = Path(__file__).resolve().parents[2]
NGINX_TEMPLATE = ROOT / "deploy" / "nginx.conf"
PG_URL_VAR = "ORDERCENTER_TEST_DATABASE_URL"
REDIS_URL_VAR = "ORDERCENTER_TEST_REDIS_URL"

BUYERS = 4
# Each buyer places and pays at least MIN_ORDERS orders, and goes on (up to MAX_ORDERS)
# until both processes were stopped and are back: 60 to 120 mutations per buyer.
MIN_ORDERS = 30
MAX_ORDERS = 60
KILL_AFTER = 60  # acknowledged mutations (all buyers) before SIGKILL, and again before SIGTERM
RETRIES = 8  # attempts after the first, per mutation
REQUEST_TIMEOUT = 10.0
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
DELIVERY_TIMEOUT = 45.0  # after the load: every subscriber has every event by then
RETRYABLE_STATUS = {502, 503, 504}
FAIL_TIMEOUT = 2  # nginx's fail_timeout for each API process


def _required() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("ORDERCENTER_REQUIRE_NGINX") == "1"


def _need(what: str) -> None:
    if _required():
        pytest.fail(f"{what} (required in CI: CI=true or ORDERCENTER_REQUIRE_NGINX=1)")
    pytest.skip(what)


def _nginx() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        _need("nginx is not installed (apt-get install nginx): deployment test skipped")
    assert found is not None
    return found


def render_nginx_conf(*, runtime: Path, listen: str, api_ports: list[int]) -> str:
    """deploy/nginx.conf with its placeholders filled in."""
    servers = "\n        ".join(
        f"server 127.0.0.1:{port} max_fails=3 fail_timeout={FAIL_TIMEOUT}s;" for port in api_ports
    )
    values = {"@RUNTIME@": str(runtime), "@LISTEN@": listen, "@API_SERVERS@": servers}
    lines = []
    for line in NGINX_TEMPLATE.read_text(encoding="utf-8").splitlines():
        if not line.lstrip().startswith("#"):  # the comments name the placeholders
            for placeholder, value in values.items():
                line = line.replace(placeholder, value)
            assert not re.search(r"@[A-Z_]+@", line), f"unknown placeholder in {line!r}"
        lines.append(line)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- processes


def _wait_ready(url: str, process: subprocess.Popen[bytes], path: str = "/readyz") -> float:
    """Seconds until ``url + path`` answers 200; fails if the process exits or times out."""
    started = time.monotonic()
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + path, timeout=2).status_code == 200:
                return time.monotonic() - started
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode} before it was ready")
        if time.monotonic() - started > START_TIMEOUT:
            raise RuntimeError(f"{url} was not ready within {START_TIMEOUT} s")
        time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


@dataclass
class Api:
    """One `ordercenter serve` process on a fixed port, restartable."""

    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> subprocess.Popen[bytes]:
        command = [ORDERCENTER, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "--no-migrate"], env=self.env, stdout=log, stderr=log
            )
        return self.process


@dataclass
class Topology:
    nginx_url: str
    database_url: str
    secret: str
    a: Api
    b: Api


@contextlib.contextmanager
def topology(tmp: Path) -> Iterator[Topology]:
    """nginx + 2 API processes + 1 worker on a fresh PostgreSQL database and Redis."""
    nginx = _nginx()
    admin_url, redis_url = os.environ.get(PG_URL_VAR), os.environ.get(REDIS_URL_VAR)
    if not admin_url or not redis_url:
        _need(f"needs PostgreSQL and Redis: set {PG_URL_VAR} and {REDIS_URL_VAR}")
    assert admin_url is not None
    assert redis_url is not None
    secret = secrets.token_urlsafe(48)
    with fresh_postgres_database(admin_url) as database_url:
        env = {
            **os.environ,
            "ORDERCENTER_ENV": "production",
            "ORDERCENTER_JWT_SECRET": secret,
            "ORDERCENTER_DATABASE_URL": database_url,
            "ORDERCENTER_BUS_URL": redis_url,
            "ORDERCENTER_RATE_LIMIT_URL": redis_url,
            "ORDERCENTER_BACKGROUND": "worker",
            # Behind the proxy every client has nginx's address (see README, Deployment).
            "ORDERCENTER_WS_MAX_PENDING_PER_ADDRESS": "1024",
            "ORDERCENTER_LOG_LEVEL": "warning",
        }
        seed = [ORDERCENTER, "seed", "--users=4", "--orders-per-user=2", "--no-progress"]
        subprocess.run(seed, env=env, check=True, timeout=120, capture_output=True)
        runtime = tmp / "nginx"
        runtime.mkdir()
        # nginx's workers drop root privileges; they must reach their temp directories.
        tmp.chmod(0o755)
        runtime.chmod(0o755)
        a = Api(free_port(), env, tmp / "api-a.log")
        b = Api(free_port(), env, tmp / "api-b.log")
        worker: subprocess.Popen[bytes] | None = None
        proxy: subprocess.Popen[bytes] | None = None
        try:
            with (tmp / "worker.log").open("ab") as log:
                worker = subprocess.Popen([ORDERCENTER, "worker"], env=env, stdout=log, stderr=log)
            for api in (a, b):
                api.start()
            for api in (a, b):
                assert api.process is not None
                _wait_ready(api.url, api.process)
            listen = f"127.0.0.1:{free_port()}"
            conf = tmp / "nginx.conf"
            conf.write_text(
                render_nginx_conf(runtime=runtime, listen=listen, api_ports=[a.port, b.port]),
                encoding="utf-8",
            )
            test = subprocess.run(
                [nginx, "-t", "-q", "-c", str(conf), "-p", str(runtime)],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert test.returncode == 0, test.stderr
            with (tmp / "nginx.out").open("ab") as log:
                proxy = subprocess.Popen(
                    [nginx, "-c", str(conf), "-p", str(runtime), "-g", "daemon off;"],
                    stdout=log,
                    stderr=log,
                )
            nginx_url = f"http://{listen}"
            _wait_ready(nginx_url, proxy)
            assert worker.poll() is None, "the worker exited"
            yield Topology(nginx_url, database_url, secret, a, b)
        finally:
            for process in (proxy, a.process, b.process, worker):
                _stop(process)
            for name in ("api-a.log", "api-b.log", "worker.log", "nginx/error.log"):
                path = tmp / name
                if path.exists() and path.stat().st_size:
                    tail = path.read_text(encoding="utf-8", errors="replace")[-3000:]
                    sys.stderr.write(f"--- {name} (tail)\n{tail}\n")


# --------------------------------------------------------------------------- clients


@dataclass
class Figures:
    mutations: int = 0
    requests: int = 0  # HTTP requests sent, retries included
    retries: int = 0
    retried_statuses: dict[str, int] = field(default_factory=dict)
    max_mutation_seconds: float = 0.0
    connects: int = 0  # WebSocket connections opened, reconnects included
    reconnects: int = 0
    events_delivered: int = 0
    kill9_restart_ready_seconds: float = 0.0
    kill9_first_ok_through_nginx_seconds: float = 0.0
    sigterm_exit_seconds: float = 0.0
    sigterm_restart_ready_seconds: float = 0.0
    sigterm_first_ok_through_nginx_seconds: float = 0.0
    load_seconds: float = 0.0
    total_seconds: float = 0.0

    def count_retry(self, reason: str) -> None:
        self.retries += 1
        self.retried_statuses[reason] = self.retried_statuses.get(reason, 0) + 1


@dataclass
class Ledger:
    """What one buyer's client saw acknowledged."""

    buyer: Buyer
    placed: dict[str, int] = field(default_factory=dict)  # idempotency key -> order id
    paid: dict[str, int] = field(default_factory=dict)
    acks: list[float] = field(default_factory=list)  # when each mutation was acknowledged


@dataclass
class Progress:
    acknowledged: int = 0  # mutations, all buyers
    chaos_over: bool = False  # both processes were stopped, are back and serve again


class Failed(Exception):
    """A mutation that retries could not get through, or was refused."""


async def mutate(
    http: httpx.AsyncClient,
    url: str,
    token: str,
    query: str,
    name: str,
    fields: dict[str, Any],
    figures: Figures,
) -> dict[str, Any]:
    """One mutation through nginx; the same request (same idempotency key) is retried
    on a connection error or a 502/503/504, a bounded number of times."""
    body = {"query": query, "variables": {"input": fields}}
    headers = {"Authorization": f"Bearer {token}"}
    started = time.monotonic()
    figures.mutations += 1
    for attempt in range(RETRIES + 1):
        if attempt:
            await asyncio.sleep(min(0.1 * 2**attempt, 2.0))
        figures.requests += 1
        try:
            response = await http.post(
                url + "/graphql", json=body, headers=headers, timeout=REQUEST_TIMEOUT
            )
        except httpx.TransportError as error:
            figures.count_retry(type(error).__name__)
            continue
        if response.status_code in RETRYABLE_STATUS:
            figures.count_retry(str(response.status_code))
            continue
        if response.status_code != 200 or response.json().get("errors"):
            raise Failed(f"{name}: {response.status_code} {response.text[:500]}")
        payload: dict[str, Any] = response.json()["data"][name]
        if payload["userErrors"]:
            raise Failed(f"{name}: {payload['userErrors']}")
        figures.max_mutation_seconds = max(figures.max_mutation_seconds, time.monotonic() - started)
        return payload
    raise Failed(f"{name} did not get through in {RETRIES + 1} attempts")


async def shop(
    http: httpx.AsyncClient, url: str, ledger: Ledger, figures: Figures, progress: Progress
) -> None:
    buyer = ledger.buyer
    for done in range(MAX_ORDERS):
        if done >= MIN_ORDERS and progress.chaos_over:
            break
        key = uuid.uuid4().hex
        placed = await mutate(
            http,
            url,
            buyer.token,
            PLACE,
            "placeOrder",
            {
                "items": [{"productId": buyer.product_id, "quantity": 1}],
                "shippingAddress": ADDRESS,
                "idempotencyKey": key,
            },
            figures,
        )
        order_gid = placed["order"]["id"]
        ledger.placed[key] = expect_global_id(order_gid, "Order")
        ledger.acks.append(time.monotonic())
        progress.acknowledged += 1
        key = uuid.uuid4().hex
        paid = await mutate(
            http,
            url,
            buyer.token,
            PAY,
            "payOrder",
            {"orderId": order_gid, "paymentMethodId": buyer.card_id, "idempotencyKey": key},
            figures,
        )
        assert paid["order"]["status"] == "AWAITING_SHIPMENT", paid
        ledger.paid[key] = expect_global_id(order_gid, "Order")
        ledger.acks.append(time.monotonic())
        progress.acknowledged += 1
        await asyncio.sleep(0.1)


@dataclass
class Follower:
    """One buyer's subscriber: reconnects through nginx with ``after`` when dropped."""

    buyer: Buyer
    after: int
    received: list[dict[str, Any]] = field(default_factory=list)
    target: int | None = None  # stop once the event with this id arrived

    def last(self) -> int:
        return event_id(self.received[-1]["cursor"]) if self.received else self.after

    def done(self) -> bool:
        return self.target is not None and self.last() >= self.target

    async def run(self, url: str, figures: Figures, deadline: float) -> None:
        first = True
        while not self.done():
            if time.monotonic() > deadline:
                raise AssertionError(f"subscriber of buyer {self.buyer.user_id} timed out")
            try:
                client = await WsClient.open(url, self.buyer.token)
            except (OSError, TimeoutError, websockets.InvalidStatus, websockets.ConnectionClosed):
                await asyncio.sleep(0.2)
                continue
            figures.connects += 1
            if not first:
                figures.reconnects += 1
            first = False
            try:
                # Event ids start at 1: a buyer without events resumes after the legacy "0".
                last = self.last()
                await client.subscribe("1", after=event_cursor(last) if last else "0")
                while not self.done():
                    try:
                        event = await client.next_event("1", wait=1.0)
                    except TimeoutError:
                        continue
                    self.received.append(event)
                    figures.events_delivered += 1
            except (websockets.ConnectionClosed, OSError, OperationCompleted, TimeoutError):
                continue  # dropped (killed or stopping process): resume from the cursor
            except OperationFailed as failed:
                raise AssertionError(f"subscription failed: {failed.messages}") from failed
            finally:
                with contextlib.suppress(Exception):
                    await client.close()


# --------------------------------------------------------------------------- chaos


async def _wait_for(condition: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def _first_ok_after(ledgers: list[Ledger], moment: float, within: float) -> float:
    """Seconds from ``moment`` until every client had a mutation acknowledged after it
    (all of them served again, through nginx)."""

    def resumed() -> bool:
        return all(ledger.acks and ledger.acks[-1] > moment for ledger in ledgers)

    await _wait_for(resumed, within, "clients to resume")
    return max(next(t for t in ledger.acks if t > moment) for ledger in ledgers) - moment


async def chaos(
    world: Topology, ledgers: list[Ledger], figures: Figures, progress: Progress
) -> None:
    a, b = world.a, world.b
    assert a.process is not None
    assert b.process is not None

    await _wait_for(lambda: progress.acknowledged >= KILL_AFTER, 60, "load before SIGKILL")
    killed_at = time.monotonic()
    a.process.kill()  # SIGKILL: in-flight requests and sockets die with it
    await asyncio.to_thread(a.process.wait, STOP_TIMEOUT)
    restarted = a.start()
    await asyncio.to_thread(_wait_ready, a.url, restarted)
    figures.kill9_restart_ready_seconds = time.monotonic() - killed_at
    figures.kill9_first_ok_through_nginx_seconds = await _first_ok_after(ledgers, killed_at, 30)

    # A rolling restart stops the next process only once nginx has the restarted one
    # back: its fail_timeout (2 s) must have passed, or stopping B leaves no live upstream.
    await asyncio.sleep(FAIL_TIMEOUT + 0.5)
    resumed_at = progress.acknowledged
    await _wait_for(
        lambda: progress.acknowledged >= resumed_at + KILL_AFTER, 60, "load before SIGTERM"
    )
    stopped_at = time.monotonic()
    b.process.send_signal(signal.SIGTERM)  # graceful: in-flight requests finish
    code = await asyncio.to_thread(b.process.wait, STOP_TIMEOUT)
    assert code in (0, -signal.SIGTERM), f"B exited with {code} on SIGTERM"
    figures.sigterm_exit_seconds = time.monotonic() - stopped_at
    restarted = b.start()
    await asyncio.to_thread(_wait_ready, b.url, restarted)
    figures.sigterm_restart_ready_seconds = time.monotonic() - stopped_at
    figures.sigterm_first_ok_through_nginx_seconds = await _first_ok_after(ledgers, stopped_at, 30)
    progress.chaos_over = True


# --------------------------------------------------------------------------- the test


async def _rows(database_url: str, statement: str, **params: Any) -> list[Any]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return list(await conn.execute(text(statement), params))
    finally:
        await engine.dispose()


async def check_database(
    database_url: str, ledgers: list[Ledger], followers: list[Follower]
) -> None:
    for ledger, follower in zip(ledgers, followers, strict=True):
        user = ledger.buyer.user_id
        count = len(ledger.placed)
        assert MIN_ORDERS <= count <= MAX_ORDERS
        assert sorted(ledger.paid.values()) == sorted(ledger.placed.values())
        # Exactly the acknowledged orders exist: one per placeOrder key, no duplicate.
        orders = await _rows(
            database_url, "SELECT id, status FROM orders WHERE user_id = :user", user=user
        )
        assert sorted(row.id for row in orders) == sorted(ledger.placed.values())
        assert {row.status for row in orders} == {"AWAITING_SHIPMENT"}
        keys = await _rows(
            database_url,
            "SELECT operation, key, order_id FROM idempotency_keys WHERE user_id = :user",
            user=user,
        )
        assert len(keys) == 2 * count  # one row per key: none claimed twice
        by_digest = {(row.key, row.order_id) for row in keys}
        for key, order_id in [*ledger.placed.items(), *ledger.paid.items()]:
            assert (key_digest(key), order_id) in by_digest
        # One successful charge per paid order, and no other payment row.
        payments = await _rows(
            database_url,
            "SELECT order_id, status FROM payments WHERE user_id = :user",
            user=user,
        )
        assert sorted((row.order_id, row.status) for row in payments) == sorted(
            (order_id, "CAPTURED") for order_id in ledger.paid.values()
        )
        # Every event of the buyer's orders, once, in order: cursors are the event ids.
        expected = await event_ids(database_url, user, follower.after)
        assert len(expected) == 2 * count
        assert [event_id(event["cursor"]) for event in follower.received] == expected
        steps: dict[str, list[tuple[int, str]]] = {}
        for event in follower.received:
            steps.setdefault(event["order"]["id"], []).append(
                (event["orderVersion"], event["toStatus"])
            )
        assert all(got == [(1, "UNPAID"), (2, "AWAITING_SHIPMENT")] for got in steps.values()), (
            steps
        )


async def run_load(deployment: Topology, figures: Figures) -> None:
    made = await make_world(deployment.database_url, buyers=BUYERS)
    buyers = [
        replace(buyer, token=issue_token(buyer.user_id, secret=deployment.secret, ttl_seconds=3600))
        for buyer in made.buyers
    ]
    ledgers = [Ledger(buyer) for buyer in buyers]
    followers = []
    for buyer in buyers:
        ids = await event_ids(deployment.database_url, buyer.user_id)
        followers.append(Follower(buyer, after=ids[-1] if ids else 0))
    progress = Progress()
    deadline = time.monotonic() + 150
    subscribing = [
        asyncio.create_task(follower.run(deployment.nginx_url, figures, deadline))
        for follower in followers
    ]
    try:
        load_started = time.monotonic()
        limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
        async with httpx.AsyncClient(limits=limits) as http:
            await asyncio.wait_for(
                asyncio.gather(
                    chaos(deployment, ledgers, figures, progress),
                    *(
                        shop(http, deployment.nginx_url, ledger, figures, progress)
                        for ledger in ledgers
                    ),
                ),
                120,
            )
        figures.load_seconds = time.monotonic() - load_started
        for follower in followers:
            follower.target = (await event_ids(deployment.database_url, follower.buyer.user_id))[-1]
        await asyncio.wait_for(asyncio.gather(*subscribing), DELIVERY_TIMEOUT)
    finally:
        for task in subscribing:
            task.cancel()
        await asyncio.gather(*subscribing, return_exceptions=True)
    await check_database(deployment.database_url, ledgers, followers)


def test_nginx_two_api_processes_and_a_worker_survive_kill_and_sigterm(
    capsys: pytest.CaptureFixture[str],
) -> None:
    began = time.monotonic()
    figures = Figures()
    with (
        tempfile.TemporaryDirectory(prefix="oc-deploy-") as tmp,
        topology(Path(tmp)) as deployment,
    ):
        asyncio.run(run_load(deployment, figures))
    figures.total_seconds = time.monotonic() - began
    report = json.dumps(figures.__dict__)
    with capsys.disabled():
        sys.stdout.write(f"\ndeployment figures: {report}\n")
    figures_file = os.environ.get("ORDERCENTER_DEPLOYMENT_FIGURES")
    if figures_file:
        Path(figures_file).write_text(report + "\n", encoding="utf-8")
