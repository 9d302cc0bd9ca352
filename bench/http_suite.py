"""HTTP benchmarks: our server beside the floors and the naive implementation, same run.

    python -m bench.http_suite [--duration S] [--warmup S] [--sqlite-only | --postgres-only]
                               [--use-postgres URL] [--use-sqlite URL]
                               [--examples-only | --no-examples]

1. Seeds 1,000 buyers and 50,000 orders (``ordercenter seed --users 1000
   --orders-per-user 50``) into a throwaway PostgreSQL database
   (ORDERCENTER_BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/;
   ``ordercenter_bench_<random>``, dropped afterwards) and a temporary SQLite file,
   both at once. PostgreSQL unreachable: said so, SQLite only.
2. Per database, starts as separate processes: our server (``ordercenter serve``,
   one worker; on PostgreSQL also ``--workers 2`` with the PostgreSQL bus), the
   floors (bench/floor.py: on PostgreSQL also the stronger floor, one statement per
   operation in which PostgreSQL builds the whole answer, bench/floor_sql.py) and the
   naive implementation (bench/naive.py), each under uvicorn, plus our application
   once more with a statement counter (bench/counting.py) that answers only the
   untimed counting requests.
   ``--use-postgres`` / ``--use-sqlite``: databases kept between runs instead,
   seeded (PostgreSQL: created too) only when they hold nobody yet.
3. Checks, before timing, that the floors and the naive server answer with exactly
   the JSON ours does for the same buyers (page, order detail, activity; each
   examples/ read operation against its stronger floor, bench/floor_examples.py).
4. Drives each (scenario, implementation) from a separate client process
   (bench/load.py): 16 keep-alive connections (64 for ``page@64``), closed loop, a
   warm-up, then a fixed measured window; ours and the stronger floor in interleaved
   rounds. Buyers vary per request (a token per buyer, minted with
   app.auth.issue_token and the servers' secret).
5. Prints one table: requests/s, p50/p99 latency, SQL statements per request,
   server peak RSS (VmHWM), server and client CPU (cores busy) in the window, CPU per
   request of the server and (PostgreSQL) of its database sessions, and the sessions
   it opened in the window (bench/pg_sessions.py); then the req/s ratios, and issue
   14's targets against the stronger floor: met or not, in this run, for the page,
   detail and activity documents and for every read operation of ``examples/``
   (EXAMPLE_SCENARIOS: orders by tab, paged forwards and backwards, searched; home,
   order detail by id, tagged, recently viewed, wallet, payments, recommendations,
   buy again), PostgreSQL only.

Statements per request are counted server-side on a few sequential untimed
requests: for ours by the counting server (an SQLAlchemy listener on every engine in
that process), for the floors by their own counter, for the naive server by the same
kind of listener on its engine; BEGIN/COMMIT/ROLLBACK are not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import text

from app.auth import issue_token
from bench.databases import (
    admin,
    create_database,
    kept_state,
    plain_url,
    postgres_base,
    postgres_reachable,
    throwaway_postgres,
    throwaway_sqlite,
)
from bench.floor_examples import EXAMPLES
from bench.pg_sessions import Watch, watching
from bench.queries import ACTIVITY, ORDER_CENTER_PAGE, ORDER_DETAIL, PAY_ORDER, PLACE_ORDER
from bench.shapes import TABS, utc
from bench.shapes import cursor as order_cursor
from db.engine import create_engine
from resolvers.ids import to_global_id

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
ORDERCENTER = str(Path(sys.executable).parent / "ordercenter")
SECRET = "bench-secret-" + "0123456789abcdef" * 4  # >= 32 bytes: production accepts it
USERS, ORDERS_PER_USER = 1000, 50
CONCURRENCY = 16
WARMUP = 1.5
DURATION = {"page": 10.0, "detail": 6.0, "activity": 6.0, "place+pay": 6.0}
# Each read operation of examples/ (bench/floor_examples.py), ours beside its stronger floor.
EXAMPLE_DURATION = 4.0
# Steady load at more clients than the pool has connections: does it open sessions?
CROWD = 64
# Implementations far slower than ours, measured for reference: a shorter window.
SIDE_IMPLS = frozenset({"py plans", "generic", "naive"})
SIDE_DURATION = 4.0
# The pool of each server beside ours (per worker): see bench_database.
SIDE_POOL = 8
CROWD_DURATION = 6.0
ACTIVITY_FIRST = 10
# The stronger floor: bench/floor.py's /sql routes, one statement building the answer.
STRONG = "floor sql"
# Ours and the stronger floor run in this many interleaved rounds per scenario (ours,
# floor, floor, ours, ...), each a share of the window, so that a busy moment of a
# shared machine is likelier to fall on both; their rows are the rounds merged.
ROUNDS = 2
MAX_REQUESTS = 200_000
COUNT_REQUESTS = 5  # sequential, untimed, per (implementation, scenario)
VERIFY_EXAMPLES = 6  # buyers whose answers to each examples/ scenario are compared
PLACE_PAY_BUYERS = 200
ADDRESS = {
    "name": "Bench Buyer",
    "line1": "1 Main St",
    "city": "Springfield",
    "postalCode": "12345",
    "countryCode": "US",
}


# --- Processes --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _descendants(pid: int) -> list[int]:
    found = [pid]
    for current in found:
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    found.extend(int(c) for c in handle.read().split())
    return found


def _status_kb(pid: int, key: str) -> int:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _cpu_seconds(pid: int) -> float:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def peak_rss_mib(self) -> float:
        """VmHWM of the serving process (the largest worker's when there are several)."""
        return self._worker_status_mib("VmHWM")

    def rss_mib(self) -> float:
        """VmRSS of the serving process now (the largest worker's when there are several)."""
        return self._worker_status_mib("VmRSS")

    def _worker_status_mib(self, key: str) -> float:
        pids = _descendants(self.process.pid)
        workers = pids[1:] if len(pids) > 1 else pids
        return max(_status_kb(p, key) for p in workers) / 1024

    def cpu_seconds(self) -> float:
        return sum(_cpu_seconds(p) for p in _descendants(self.process.pid))


def _env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ORDERCENTER_DATABASE_URL": database_url,
        "ORDERCENTER_JWT_SECRET": SECRET,
        "ORDERCENTER_ENV": "production",
        "ORDERCENTER_LOG_LEVEL": "warning",
        # 16 clients over 1,000 buyers stay far below the per-caller budget anyway;
        # raised so that a slow, shared machine cannot turn a run into 429s.
        "ORDERCENTER_COST_BUDGET_PER_MINUTE": "1000000000",
        **extra,
    }


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=out)


# Servers starting at once: each imports the whole stack, and on a busy 2-core machine
# nine at a time starve one another past any deadline.
STARTING_AT_ONCE = 3


@asynccontextmanager
async def serving(
    name: str,
    command: list[str],
    env: dict[str, str],
    port: int,
    logs: Path,
    gate: asyncio.Semaphore | None = None,
) -> AsyncIterator[Server]:
    """A server process, once it answers /healthz; ``gate`` bounds how many start at once."""
    log = logs / f"{name}.log"
    async with gate or contextlib.AsyncExitStack():
        process = await asyncio.to_thread(_start, command, env, log)
        server = Server(name, f"http://127.0.0.1:{port}", process, log)
        try:
            await _healthy(server)
        except BaseException:
            _stop(process)
            raise
    try:
        yield server
    finally:
        await asyncio.to_thread(_stop, process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _healthy(server: Server, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(server.url + "/healthz")).status_code == 200:
                    return
            if server.process.poll() is not None or time.monotonic() > deadline:
                tail = server.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(
                    f"{server.name} did not start (exit {server.process.poll()}):\n{tail}"
                )
            await asyncio.sleep(0.2)


def uvicorn_command(factory: str, port: int) -> list[str]:
    return [
        PYTHON,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]


def ours_command(port: int, workers: int = 1) -> list[str]:
    command = [ORDERCENTER, "serve", "--no-migrate", "--host", "127.0.0.1", "--port", str(port)]
    return [*command, "--workers", str(workers)] if workers > 1 else command


# --- Data -------------------------------------------------------------------------


async def seed(
    database_url: str, users: int = USERS, orders_per_user: int = ORDERS_PER_USER
) -> float:
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        ORDERCENTER,
        "seed",
        f"--users={users}",
        f"--orders-per-user={orders_per_user}",
        "--no-progress",
        env=_env(database_url, ORDERCENTER_LOG_LEVEL="warning"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"seeding {database_url} failed:\n{output.decode()[-2000:]}")
    if database_url.startswith("postgresql"):
        # What autovacuum would have done by the time a real database sees traffic:
        # planner statistics (and the visibility map) for the freshly loaded tables.
        await admin(database_url, "VACUUM ANALYZE")
    return time.monotonic() - started


@dataclass
class Fixtures:
    buyers: list[int]  # everyone with orders, shuffled
    detail: list[tuple[int, str]]  # (buyer, number of one of their shipped orders)
    place_pay: list[dict[str, Any]]
    verify: list[int]  # buyers whose answers are compared across implementations
    counts: dict[str, int] = field(default_factory=dict)
    # For the examples' operations: per buyer with enough orders, the cursors of their
    # 10th and 30th newest orders (page 2 forwards, a page backwards); a word of one of
    # their items' titles (a search); (buyer, global id of one of their shipped orders).
    after: dict[int, str] = field(default_factory=dict)
    before: dict[int, str] = field(default_factory=dict)
    words: dict[int, str] = field(default_factory=dict)
    order_ids: list[tuple[int, str]] = field(default_factory=list)


async def load_fixtures(database_url: str) -> Fixtures:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:

            async def rows(sql: str, **params: Any) -> list[Any]:
                return list((await conn.execute(text(sql), params)).all())

            per_buyer = await rows(
                "SELECT user_id, count(*) FROM orders GROUP BY user_id ORDER BY user_id"
            )
            numbers = await rows(
                "SELECT o.user_id, max(o.number) FROM orders o "
                "JOIN shipments s ON s.order_id = o.id GROUP BY o.user_id ORDER BY o.user_id"
            )
            # Cards valid for a good while yet: an expired one is (rightly) refused.
            cards = await rows(
                "SELECT m.user_id, min(m.id) FROM payment_methods m JOIN users u "
                "ON u.id = m.user_id WHERE m.removed_at IS NULL AND u.role = 'buyer' "
                "AND m.exp_year > :year GROUP BY m.user_id ORDER BY m.user_id",
                year=dt.datetime.now(dt.UTC).year,
            )
            stocked = await rows(
                "SELECT id, shop_id FROM products WHERE on_sale = true AND stock >= 100 "
                "ORDER BY shop_id, id"
            )
            newest = await rows(
                "SELECT user_id, placed_at, id, n FROM (SELECT user_id, placed_at, id, "
                "row_number() OVER (PARTITION BY user_id ORDER BY placed_at DESC, id DESC) AS n "
                "FROM orders) o WHERE n IN (10, 30) ORDER BY user_id, n"
            )
            titles = await rows(
                "SELECT o.user_id, i.title FROM orders o JOIN order_items i ON i.order_id = o.id "
                "WHERE i.id IN (SELECT min(fi.id) FROM order_items fi "
                "JOIN orders fo ON fo.id = fi.order_id GROUP BY fo.user_id)"
            )
            shipped = await rows(
                "SELECT o.user_id, max(o.id) FROM orders o "
                "JOIN shipments s ON s.order_id = o.id GROUP BY o.user_id ORDER BY o.user_id"
            )
            counts = {
                name: int((await rows(f"SELECT count(*) FROM {name}"))[0][0])  # noqa: S608
                for name in ("users", "orders", "order_items", "order_events")
            }
    finally:
        await engine.dispose()
    rng = random.Random(7)
    buyers = [int(u) for u, _ in per_buyer]
    rng.shuffle(buyers)
    detail = [(int(u), str(n)) for u, n in numbers]
    rng.shuffle(detail)
    shops: dict[int, list[str]] = {}
    for product_id, shop_id in stocked:
        shops.setdefault(int(shop_id), []).append(to_global_id("Product", int(product_id)))
    catalogs = [products for products in shops.values() if len(products) >= 2]
    if not catalogs:
        raise RuntimeError("no shop has two products with stock >= 100 to buy")
    chosen = rng.sample(cards, min(PLACE_PAY_BUYERS, len(cards)))
    place_pay = [
        {
            "user": int(user),
            "method": to_global_id("PaymentMethod", int(method)),
            "products": catalogs[index % len(catalogs)],
        }
        for index, (user, method) in enumerate(chosen)
    ]
    busiest = max(per_buyer, key=lambda row: (row[1], -row[0]))[0]
    verify = [int(busiest), 1] if int(busiest) != 1 else [1]
    fixtures = Fixtures(buyers, detail, place_pay, verify, counts)
    for user, placed_at, pk, n in newest:
        into = fixtures.after if n == 10 else fixtures.before
        into[int(user)] = order_cursor("orders", utc(placed_at), int(pk))
    fixtures.words = {int(u): str(title).split(" ", 1)[0] for u, title in titles}
    fixtures.order_ids = [(int(u), to_global_id("Order", int(pk))) for u, pk in shipped]
    rng.shuffle(fixtures.order_ids)
    return fixtures


def token(user_id: int) -> str:
    return issue_token(user_id, secret=SECRET, ttl_seconds=6 * 3600)


# --- Scenarios --------------------------------------------------------------------

GRAPHQL_IMPLS = ("ours", "ours x2", "naive")


def page_request(impl: str, user: int) -> tuple[str, dict[str, Any]]:
    if impl == "floor":
        return "/page", {"first": 20}
    if impl == STRONG:
        return "/sql/page", {"first": 20}
    return "/graphql", {"query": ORDER_CENTER_PAGE, "variables": {"first": 20}}


def detail_request(impl: str, number: str) -> tuple[str, dict[str, Any]]:
    if impl == "floor":
        return "/order", {"number": number}
    if impl == STRONG:
        return "/sql/order", {"number": number}
    return "/graphql", {"query": ORDER_DETAIL, "variables": {"number": number}}


def activity_request(impl: str) -> tuple[str, dict[str, Any]]:
    if impl == STRONG:
        return "/sql/activity", {"first": ACTIVITY_FIRST}
    return "/graphql", {"query": ACTIVITY, "variables": {"first": ACTIVITY_FIRST}}


# The load of each examples/ read operation: (operation, the variables for one buyer, the
# request's index), and which buyers send it (every buyer; those with 30 orders or more).
ExampleVariables = Callable[[Fixtures, int, int], dict[str, Any]]
EXAMPLE_SCENARIOS: dict[str, tuple[str, ExampleVariables]] = {
    "Home": ("Home", lambda f, user, i: {"tab": TABS[i % len(TABS)]}),
    "Orders": ("Orders", lambda f, user, i: {"tab": TABS[i % len(TABS)], "first": 10}),
    "Orders>": ("Orders", lambda f, user, i: {"first": 10, "after": f.after[user]}),
    "Orders<": ("Orders", lambda f, user, i: {"last": 10, "before": f.before[user]}),
    "Orders?": ("Orders", lambda f, user, i: {"search": f.words[user], "first": 10}),
    "OrderDetail": ("OrderDetail", lambda f, user, i: {"id": f.order_ids[i][1]}),
    "OrderAfterDelivery": ("OrderAfterDelivery", lambda f, user, i: {"id": f.order_ids[i][1]}),
    "Tagged": ("Tagged", lambda f, user, i: {}),
    "RecentlyViewed": ("RecentlyViewed", lambda f, user, i: {}),
    "Wallet": ("Wallet", lambda f, user, i: {}),
    "Payments": ("Payments", lambda f, user, i: {}),
    "Recommendations": ("Recommendations", lambda f, user, i: {}),
    "BuyAgain": ("BuyAgain", lambda f, user, i: {}),
}
assert {operation for operation, _ in EXAMPLE_SCENARIOS.values()} == set(EXAMPLES)


def example_document(operation: str) -> str:
    return (ROOT / "examples" / f"{operation}.graphql").read_text()


def example_requests(
    scenario: str, impl: str, fixtures: Fixtures, limit: int | None = None
) -> tuple[str, list[tuple[int, dict[str, Any]]]]:
    """The path and (buyer, body) of each request of an examples/ scenario."""
    operation, variables_of = EXAMPLE_SCENARIOS[scenario]
    if scenario in ("OrderDetail", "OrderAfterDelivery"):
        buyers = [user for user, _ in fixtures.order_ids]
    elif scenario in ("Orders>", "Orders<"):
        buyers = [user for user in fixtures.buyers if user in fixtures.before]
    elif scenario == "Orders?":
        buyers = [user for user in fixtures.buyers if user in fixtures.words]
    else:
        buyers = fixtures.buyers
    made = []
    for index, user in enumerate(buyers[:limit]):
        variables = variables_of(fixtures, user, index)
        if impl == STRONG:
            made.append((user, variables))
        else:
            made.append((user, {"query": example_document(operation), "variables": variables}))
    path = f"/sql/example/{operation}" if impl == STRONG else "/graphql"
    return path, made


def served(scenario: str, impl: str) -> bool:
    """Whether ``impl`` answers ``scenario`` (the old floor and the naive server have no
    activity document; the examples' operations are measured against the stronger floor)."""
    if scenario in EXAMPLE_SCENARIOS:
        return impl in ("ours", STRONG)
    return scenario != "activity" or impl not in ("floor", "naive")


def requests_for(scenario: str, impl: str, fixtures: Fixtures) -> tuple[str, list[dict[str, str]]]:
    made: list[dict[str, str]] = []
    path = "/graphql"
    if scenario in EXAMPLE_SCENARIOS:
        path, bodies = example_requests(scenario, impl, fixtures)
        made = [{"body": orjson.dumps(b).decode(), "token": token(u)} for u, b in bodies]
        return path, made
    if scenario in ("page", "activity"):
        for user in fixtures.buyers:
            path, body = page_request(impl, user) if scenario == "page" else activity_request(impl)
            made.append({"body": orjson.dumps(body).decode(), "token": token(user)})
    else:
        for user, number in fixtures.detail:
            path, body = detail_request(impl, number)
            made.append({"body": orjson.dumps(body).decode(), "token": token(user)})
    return path, made


def place_pay_spec(fixtures: Fixtures) -> dict[str, Any]:
    return {
        "place": PLACE_ORDER,
        "pay": PAY_ORDER,
        "address": ADDRESS,
        "buyers": [
            {"token": token(b["user"]), "method": b["method"], "products": b["products"]}
            for b in fixtures.place_pay
        ],
    }


# --- Checks and counts ------------------------------------------------------------


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    if type(a) is not type(b):
        return [f"{path or '.'}: {a!r:.60} vs {b!r:.60}"]
    if isinstance(a, dict):
        found: list[str] = []
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                found.append(f"{path}.{key}: missing on one side")
            else:
                found.extend(differences(a[key], b[key], f"{path}.{key}"))
        return found
    if isinstance(a, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} vs {len(b)} entries"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in differences(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [f"{path}: {a!r:.60} vs {b!r:.60}"]


async def post(
    client: httpx.AsyncClient, server: Server, path: str, body: Any, user: int
) -> dict[str, Any]:
    response = await client.post(
        server.url + path, json=body, headers={"Authorization": f"Bearer {token(user)}"}
    )
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


async def verify(
    client: httpx.AsyncClient, servers: dict[str, Server], fixtures: Fixtures
) -> dict[str, str]:
    """'ok' or the first differences, per (scenario, implementation)."""
    verdicts: dict[str, str] = {}
    numbers = dict(fixtures.detail)
    for scenario in ("page", "detail", "activity"):
        for user in fixtures.verify:
            if scenario == "detail" and user not in numbers:
                continue
            answers = {}
            others = [
                i
                for i in ("generic", "py plans", STRONG, "floor", "naive")
                if i in servers and served(scenario, i)
            ]
            for impl in ("ours", *others):
                if scenario == "page":
                    path, body = page_request(impl, user)
                elif scenario == "activity":
                    path, body = activity_request(impl)
                else:
                    path, body = detail_request(impl, numbers[user])
                answers[impl] = await post(client, servers[impl], path, body, user)
            if "errors" in answers["ours"] or not answers["ours"].get("data"):
                raise RuntimeError(f"our server failed the {scenario} query: {answers['ours']}")
            for impl in others:
                found = differences(answers["ours"]["data"], answers[impl].get("data"))
                key = f"{scenario}/{impl}"
                if found and verdicts.get(key, "ok") == "ok":
                    verdicts[key] = f"user {user}: " + "; ".join(found[:3])
                else:
                    verdicts.setdefault(key, "ok")
    if STRONG in servers:
        for scenario in EXAMPLE_SCENARIOS:
            verdicts[f"{scenario}/{STRONG}"] = await verify_example(
                client, servers, fixtures, scenario
            )
    return verdicts


async def verify_example(
    client: httpx.AsyncClient, servers: dict[str, Server], fixtures: Fixtures, scenario: str
) -> str:
    """'ok', or the first differences of the stronger floor's answers from ours."""
    _, ours = example_requests(scenario, "ours", fixtures, VERIFY_EXAMPLES)
    path, theirs = example_requests(scenario, STRONG, fixtures, VERIFY_EXAMPLES)
    for (user, our_body), (_, their_body) in zip(ours, theirs, strict=True):
        answer = await post(client, servers["ours"], "/graphql", our_body, user)
        if "errors" in answer or not answer.get("data"):
            raise RuntimeError(f"our server failed {scenario}: {str(answer)[:300]}")
        other = await post(client, servers[STRONG], path, their_body, user)
        found = differences(answer["data"], other.get("data"))
        if found:
            return f"user {user}: " + "; ".join(found[:3])
    return "ok"


async def statements(client: httpx.AsyncClient, server: Server) -> int:
    response = await client.get(server.url + "/__bench/statements")
    return int(response.json()["statements"])


async def count_statements(
    client: httpx.AsyncClient, server: Server, scenario: str, impl: str, fixtures: Fixtures
) -> float:
    """Statements per request over COUNT_REQUESTS sequential requests (pairs for place+pay),
    once the operation has been answered before (its compiled plan made)."""
    if scenario in EXAMPLE_SCENARIOS:
        path, bodies = example_requests(scenario, impl, fixtures, COUNT_REQUESTS + 1)
        await post(client, server, path, bodies[-1][1], bodies[-1][0])
        before = await statements(client, server)
        for user, body in bodies[:COUNT_REQUESTS]:
            await post(client, server, path, body, user)
        return (await statements(client, server) - before) / COUNT_REQUESTS
    if scenario == "page":
        await post(client, server, *page_request(impl, fixtures.buyers[-1]), fixtures.buyers[-1])
    elif scenario == "activity":
        await post(client, server, *activity_request(impl), fixtures.buyers[-1])
    elif scenario == "detail":
        user, number = fixtures.detail[-1]
        await post(client, server, *detail_request(impl, number), user)
    before = await statements(client, server)
    for index in range(COUNT_REQUESTS):
        if scenario == "page":
            user = fixtures.buyers[index]
            path, body = page_request(impl, user)
            await post(client, server, path, body, user)
        elif scenario == "activity":
            user = fixtures.buyers[index]
            await post(client, server, *activity_request(impl), user)
        elif scenario == "detail":
            user, number = fixtures.detail[index]
            path, body = detail_request(impl, number)
            await post(client, server, path, body, user)
        else:
            buyer = fixtures.place_pay[index % len(fixtures.place_pay)]
            # Hex, as the load client's: a key with a run of digits reads as a card
            # number, and the server refuses it.
            key = uuid.uuid4().hex
            place = {
                "query": PLACE_ORDER,
                "variables": {
                    "input": {
                        "items": [{"productId": p, "quantity": 1} for p in buyer["products"][:2]],
                        "shippingAddress": ADDRESS,
                        "idempotencyKey": key,
                    }
                },
            }
            placed = await post(client, server, "/graphql", place, buyer["user"])
            order = (placed.get("data") or {}).get("placeOrder", {}).get("order")
            if order is None:
                raise RuntimeError(f"placeOrder while counting: {str(placed)[:300]}")
            pay = {
                "query": PAY_ORDER,
                "variables": {
                    "input": {
                        "orderId": order["id"],
                        "paymentMethodId": buyer["method"],
                        "idempotencyKey": key,
                    }
                },
            }
            await post(client, server, "/graphql", pay, buyer["user"])
    return (await statements(client, server) - before) / COUNT_REQUESTS


# --- Timed runs -------------------------------------------------------------------


@dataclass
class Row:
    database: str
    scenario: str
    impl: str
    rps: float = float("nan")
    p50: float = float("nan")
    p99: float = float("nan")
    statements: float = float("nan")
    rss_mib: float = float("nan")
    server_cpu: float = float("nan")
    client_cpu: float = float("nan")
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0  # the measured window
    whole_run: bool = False
    note: str = ""
    clients: int = CONCURRENCY
    pg_cpu: float = float("nan")  # cores busy in the server's PostgreSQL backends
    new_backends: int | None = None  # the server's backends first seen in the window
    new_sessions_db: int | None = None  # pg_stat_database.sessions over the window

    def per_request_ms(self, cores: float) -> float:
        """CPU milliseconds per answered request, from cores busy over the window."""
        return cores / self.rps * 1000 if self.rps > 0 else float("nan")


async def drive(
    server: Server, spec: dict[str, Any], tmp: Path, row: Row, postgres: str | None = None
) -> None:
    """One timed run from a separate client process; fills ``row``. On PostgreSQL
    (``postgres``: the database's plain URL) also the server's sessions (bench/pg_sessions.py)."""
    async with contextlib.AsyncExitStack() as stack:
        watch = None
        if postgres is not None:
            pids = lambda: _descendants(server.process.pid)  # noqa: E731
            watch = await stack.enter_async_context(watching(postgres, pids))
            if watch is None:
                row.note = "PostgreSQL refused a session to watch this run's sessions"
        await _drive(server, spec, tmp, row, watch)


async def _drive(
    server: Server, spec: dict[str, Any], tmp: Path, row: Row, watch: Watch | None
) -> None:
    spec_file = tmp / f"spec-{row.database}-{row.scenario}-{row.impl}.json".replace(" ", "")
    spec_file.write_bytes(orjson.dumps(spec))
    process = await asyncio.create_subprocess_exec(
        PYTHON,
        "-m",
        "bench.load",
        "--client",
        str(spec_file),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    # The server's CPU over the measured window: sampled at its edges.
    await asyncio.sleep(spec["warmup"] + 0.3)  # the client process starts in ~0.3 s
    cpu_from, t_from = server.cpu_seconds(), time.monotonic()
    if watch is not None:
        await watch.start()
    await asyncio.sleep(max(0.0, spec["duration"] - 0.5 - (time.monotonic() - t_from)))
    cpu_to, t_to = server.cpu_seconds(), time.monotonic()
    sessions = None if watch is None else await watch.stop()
    output, errors = await process.communicate()
    if sessions is not None:
        row.pg_cpu = sessions.cpu_seconds / max(1e-9, sessions.seconds)
        row.new_backends = sessions.new_backends
        row.new_sessions_db = sessions.new_sessions_db
    if process.returncode != 0:
        row.note = f"client failed: {errors.decode()[-300:]}"
        return
    result = orjson.loads(output.splitlines()[-1])
    row.rps, row.p50, row.p99 = result["rps"], result["p50_ms"], result["p99_ms"]
    row.requests, row.errors = result["requests"], result["errors"]
    row.seconds = result["seconds"]
    row.client_cpu = result["client_cpu"]
    row.server_cpu = (cpu_to - cpu_from) / max(1e-9, t_to - t_from)
    row.rss_mib = server.peak_rss_mib()
    if result["whole_run"]:
        row.whole_run = True
    if result["first_error"]:
        row.note = f"first error: {result['first_error'][:200]}"
    if row.errors or not row.requests:
        lines = server.log.read_text(errors="replace").strip().splitlines()
        if lines:
            row.note += f" | server log: {lines[-1][:200]}"


def merge_rounds(rows: list[Row]) -> list[Row]:
    """One row per (scenario, implementation): the rounds' answers over their windows;
    p99 the worst round's (no latencies are kept across rounds), CPU averaged over time."""
    merged: dict[tuple[str, str], Row] = {}
    for row in rows:
        key = (row.scenario, row.impl)
        into = merged.get(key)
        if into is None:
            merged[key] = row
            continue
        total = into.seconds + row.seconds
        if total <= 0:
            continue

        def over_time(a: float, b: float, into: Row = into, row: Row = row) -> float:
            return (a * into.seconds + b * row.seconds) / total  # noqa: B023

        into.server_cpu = over_time(into.server_cpu, row.server_cpu)
        into.client_cpu = over_time(into.client_cpu, row.client_cpu)
        into.pg_cpu = over_time(into.pg_cpu, row.pg_cpu)
        into.p50 = over_time(into.p50, row.p50)
        into.p99 = max(into.p99, row.p99)
        into.requests += row.requests
        into.errors += row.errors
        into.seconds = total
        into.rps = into.requests / total
        into.rss_mib = max(into.rss_mib, row.rss_mib)
        into.whole_run = into.whole_run or row.whole_run
        into.note = "; ".join(n for n in (into.note, row.note) if n)
        if into.new_backends is not None and row.new_backends is not None:
            into.new_backends += row.new_backends
        if into.new_sessions_db is not None and row.new_sessions_db is not None:
            into.new_sessions_db += row.new_sessions_db
    return list(merged.values())


async def bench_database(
    database: str, url: str, fixtures: Fixtures, args: argparse.Namespace, tmp: Path
) -> tuple[list[Row], dict[str, str]]:
    rows: list[Row] = []
    quiet = {"ORDERCENTER_HUB_POLL_SECONDS": "3600", "ORDERCENTER_SWEEP_INTERVAL_SECONDS": "0"}
    # Every server keeps its pool's sessions open once used, and PostgreSQL allows 100 in
    # all (max_connections): ours keeps its default pool (its sessions are measured);
    # the others get pools that fit beside it, each still more than its CPU can use.
    side = {"ORDERCENTER_DB_POOL_SIZE": str(SIDE_POOL)}
    counting = {"ORDERCENTER_DB_POOL_SIZE": "2"}
    plan: list[tuple[str, list[str], dict[str, str]]] = [
        ("ours", [], _env(url)),
        # Ours with compiled plans off: graphql-core executes every request.
        ("generic", [], _env(url, ORDERCENTER_COMPILED_PLANS="false", **side)),
        ("floor", ["bench.floor:app_factory"], _env(url)),
        ("naive", ["bench.naive:app_factory"], _env(url)),
        ("counting", ["bench.counting:app_factory"], _env(url, **quiet, **counting)),
    ]
    if database == "PostgreSQL":
        plan.insert(1, ("ours x2", [], _env(url, ORDERCENTER_BUS_URL=url, **side)))
        # Ours with plans answered in Python, not built by PostgreSQL (schema.sql_plans).
        python_plans = _env(url, ORDERCENTER_SQL_PLANS="false", **side)
        plan.insert(2, ("py plans", [], python_plans))
        plan.append(
            (
                "counting py",
                ["bench.counting:app_factory"],
                {**python_plans, **quiet, **counting},
            )
        )
    needed = (
        ("ours", "floor", "counting")
        if args.examples_only
        else ("ours", "floor", "naive", "counting")
    )
    if args.examples_only:  # ours beside the stronger floor (the floor's process) only
        plan = [step for step in plan if step[0] in needed]
    gate = asyncio.Semaphore(STARTING_AT_ONCE)
    async with AsyncExitStack() as stack:
        starting = []
        for name, factory, env in plan:
            port = free_port()
            if factory:
                command = uvicorn_command(factory[0], port)
            else:
                command = ours_command(port, workers=2 if name == "ours x2" else 1)
            starting.append(stack.enter_async_context(serving(name, command, env, port, tmp, gate)))
        phase = time.monotonic()
        servers: dict[str, Server] = {}
        for (name, _, _), started in zip(
            plan, await asyncio.gather(*starting, return_exceptions=True), strict=True
        ):
            if isinstance(started, Server):
                servers[name] = started
            elif name in needed:
                raise started  # nothing to compare without these
            else:  # the run goes on without it, and says so
                print(f"  {database}: {name} left out: {started!r:.300}", flush=True)
        if database == "PostgreSQL":
            servers[STRONG] = servers["floor"]  # the same process, its /sql routes
        print(f"  {database}: {len(servers)} servers up in {time.monotonic() - phase:.1f} s")
        async with httpx.AsyncClient(timeout=120) as client:
            phase = time.monotonic()
            verdicts = await verify(client, servers, fixtures)
            counted: dict[tuple[str, str], float] = {}
            for scenario in ("page", "detail", "activity"):
                for impl, server in (
                    ("ours", servers["counting"]),
                    (STRONG, servers.get(STRONG)),
                    ("floor", servers["floor"]),
                    ("naive", servers.get("naive")),
                ):
                    if server is not None and served(scenario, impl):
                        counted[scenario, impl] = await count_statements(
                            client, server, scenario, impl, fixtures
                        )
            for scenario in EXAMPLE_SCENARIOS if args.examples else ():
                for impl, server in (("ours", servers["counting"]), (STRONG, servers.get(STRONG))):
                    if server is not None:
                        counted[scenario, impl] = await count_statements(
                            client, server, scenario, impl, fixtures
                        )
            counted["page", "ours x2"] = counted["page", "ours"]
            for impl in ("ours", STRONG):
                if ("page", impl) in counted:
                    counted[f"page@{CROWD}", impl] = counted["page", impl]
            for scenario in ("page", "detail", "activity"):
                counted[scenario, "generic"] = counted[scenario, "ours"]
                if "counting py" in servers:
                    # Python plans and graphql-core run the same statements (tested).
                    python = await count_statements(
                        client, servers["counting py"], scenario, "ours", fixtures
                    )
                    counted[scenario, "generic"] = counted[scenario, "py plans"] = python
            print(
                f"  {database}: answers compared, statements counted in "
                f"{time.monotonic() - phase:.1f} s",
                flush=True,
            )

            # Ours next to the stronger floor in each scenario, so that a busy moment of
            # a shared machine is likelier to fall on both.
            def paired(scenario: str, *others: str) -> list[tuple[str, str, int]]:
                rounds = []
                if STRONG in servers:
                    for n in range(ROUNDS):
                        pair = ["ours", STRONG] if n % 2 == 0 else [STRONG, "ours"]
                        rounds += [(scenario, impl, ROUNDS) for impl in pair]
                else:
                    rounds.append((scenario, "ours", 1))
                return rounds + [(scenario, impl, 1) for impl in others]

            runs: list[tuple[str, str, int]] = []
            if not args.examples_only:
                runs += paired("page", "py plans", "generic", "floor", "naive", "ours x2")
                runs += paired("detail", "py plans", "generic", "floor", "naive")
                runs += paired("activity", "py plans")
                runs += [(f"page@{CROWD}", impl, 1) for impl in ("ours", STRONG)]
                runs.append(("place+pay", "ours", 1))
            for scenario in EXAMPLE_SCENARIOS if args.examples else ():
                runs += paired(scenario)
            postgres = plain_url(url) if database == "PostgreSQL" else None
            measured: list[Row] = []
            for scenario, impl, rounds in runs:
                base, _, crowd = scenario.partition("@")
                if impl not in servers or not served(base, impl):
                    continue
                if crowd and postgres is None:
                    continue  # sessions are a PostgreSQL matter
                row = Row(database, scenario, impl, statements=counted.get((scenario, impl), 0))
                row.clients = int(crowd or CONCURRENCY)
                spec: dict[str, Any] = {
                    "host": "127.0.0.1",
                    "port": int(servers[impl].url.rsplit(":", 1)[1]),
                    "concurrency": row.clients,
                    "warmup": args.warmup,
                    "duration": (
                        args.duration
                        or (CROWD_DURATION if crowd else None)
                        or (
                            SIDE_DURATION
                            if impl in SIDE_IMPLS
                            else DURATION.get(base, EXAMPLE_DURATION)
                        )
                    )
                    / rounds,
                    "max_requests": MAX_REQUESTS,
                }
                if scenario == "place+pay":
                    spec["path"] = "/graphql"
                    spec["place_pay"] = place_pay_spec(fixtures)
                else:
                    spec["path"], spec["requests"] = requests_for(base, impl, fixtures)
                key = f"{base}/{impl}"
                if verdicts.get(key, "ok") != "ok":
                    row.note = f"ANSWERS DIFFER from ours: {verdicts[key]}"
                print(f"  {database:<10} {scenario:<9} {impl:<9} ...", end="", flush=True)
                await drive(servers[impl], spec, tmp, row, postgres)
                print(f" {row.rps:8.1f} req/s", flush=True)
                measured.append(row)
            rows.extend(merge_rounds(measured))
            for row in rows:
                if row.scenario == "place+pay":
                    try:
                        row.statements = await count_statements(
                            client, servers["counting"], "place+pay", "ours", fixtures
                        )
                    except RuntimeError as error:  # the timed figures stand without it
                        row.note = f"statements not counted: {error}"
    return rows, verdicts


# --- Report -----------------------------------------------------------------------


def cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def header(command: str) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{now} | {os.cpu_count()} CPUs ({cpu_model()}), {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()} | command: {command}"
    )


def _f(value: float | None, spec: str) -> str:
    if value is None or value != value:  # not measured (NaN, or null in the client's JSON)
        return "-".rjust(int(spec.split(".")[0]))
    return format(value, spec)


def print_table(rows: list[Row], verdicts: dict[str, dict[str, str]]) -> None:
    print(
        f"{'database':<10} {'scenario':<9} {'impl':<9} {'req/s':>8} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'stmt/req':>8} {'RSS MiB':>8} {'srv CPU':>7} {'cli CPU':>7} "
        f"{'srv ms':>6} {'PG ms':>6} {'new sess':>8} {'requests':>8} {'errors':>6}"
    )
    for r in rows:
        sessions = (
            "-"
            if r.new_backends is None
            else f"{r.new_backends}/{'-' if r.new_sessions_db is None else r.new_sessions_db}"
        )
        print(
            f"{r.database:<10} {r.scenario:<9} {r.impl:<9} "
            f"{_f(r.rps, '7.1f')}{'*' if r.whole_run else ' '} "
            f"{_f(r.p50, '8.1f')} {_f(r.p99, '8.1f')} {_f(r.statements, '8.1f')} "
            f"{_f(r.rss_mib, '8.0f')} {_f(r.server_cpu, '7.2f')} {_f(r.client_cpu, '7.2f')} "
            f"{_f(r.per_request_ms(r.server_cpu), '6.2f')} "
            f"{_f(r.per_request_ms(r.pg_cpu), '6.2f')} {sessions:>8} "
            f"{r.requests:>8} {r.errors:>6}"
        )
    print()
    by = {(r.database, r.scenario, r.impl): r for r in rows}
    for database in dict.fromkeys(r.database for r in rows):
        for scenario in ("page", "detail", "activity", *EXAMPLE_SCENARIOS):
            ours = by.get((database, scenario, "ours"))
            if ours is None:
                continue
            parts = []
            for other in (STRONG, "floor", "naive"):
                base = by.get((database, scenario, other))
                if base is not None and base.rps > 0:
                    parts.append(f"ours/{other} {ours.rps / base.rps:5.2f}x")
            generic = by.get((database, scenario, "generic"))
            if generic is not None and generic.rps > 0:
                parts.append(f"plans/generic {ours.rps / generic.rps:5.2f}x")
            python = by.get((database, scenario, "py plans"))
            if python is not None and python.rps > 0:
                parts.append(f"in SQL/in Python {ours.rps / python.rps:5.2f}x")
            two = by.get((database, scenario, "ours x2"))
            if two is not None and ours.rps > 0:
                parts.append(f"2 workers/1 worker {two.rps / ours.rps:4.2f}x")
            if parts:
                print(f"{database:<10} {scenario:<9} req/s ratios: " + ", ".join(parts))
        checks = verdicts.get(database, {})
        bad = {k: v for k, v in checks.items() if v != "ok"}
        print(
            f"{database:<10} same JSON as ours (every other implementation; page, detail, "
            "activity, the examples' operations): "
            + ("yes" if checks and not bad else f"NO: {bad}" if bad else "not checked")
        )
    print()
    print_targets(by)
    notes = [r for r in rows if r.note]
    for r in notes:
        print(f"note: {r.database} {r.scenario} {r.impl}: {r.note}")


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 and a == a and b == b else float("nan")


def _verdict(met: bool | None) -> str:
    return "not measured" if met is None else "met" if met else "NOT MET"


def print_targets(by: dict[tuple[str, str, str], Row]) -> None:
    """Issue 14's targets, against the stronger floor: where we stand, from this run."""
    print("Targets (issue 14), this run:")
    pg = "PostgreSQL"
    for scenario, least in (("page", 0.8), ("detail", 0.6), ("activity", 0.6)):
        ours, floor = by.get((pg, scenario, "ours")), by.get((pg, scenario, STRONG))
        if ours is None or floor is None:
            print(f"  {scenario}: not measured (PostgreSQL)")
            continue
        ratio = _ratio(ours.rps, floor.rps)
        old = by.get((pg, scenario, "floor"))
        old_ratio = "" if old is None else f"; old floor {_ratio(ours.rps, old.rps):.2f}x"
        print(
            f"  {scenario:<8} at {CONCURRENCY}: ours {ours.rps:.0f} req/s = {ratio:.2f}x "
            f"the stronger floor's {floor.rps:.0f} (target >= {least}x: "
            f"{_verdict(ratio >= least if ratio == ratio else None)}{old_ratio}); "
            f"p99 ours {ours.p99:.1f} ms, floor {floor.p99:.1f} ms "
            f"(target < 100 ms: {_verdict(ours.p99 < 100 if ours.p99 == ours.p99 else None)})"
        )
        ours_pg, floor_pg = ours.per_request_ms(ours.pg_cpu), floor.per_request_ms(floor.pg_cpu)
        pg_ratio = _ratio(ours_pg, floor_pg)
        target = (
            f" (target <= 1.2x: {_verdict(pg_ratio <= 1.2 if pg_ratio == pg_ratio else None)})"
            if scenario == "page"
            else ""
        )
        print(
            f"           CPU per request: PostgreSQL {ours_pg:.2f} ms ours, "
            f"{floor_pg:.2f} ms floor = {pg_ratio:.2f}x{target}; server "
            f"{ours.per_request_ms(ours.server_cpu):.2f} ms ours, "
            f"{floor.per_request_ms(floor.server_cpu):.2f} ms floor"
        )
    print_example_targets(by)
    ours, floor = by.get(("SQLite", "page", "ours")), by.get(("SQLite", "page", "floor"))
    if ours is not None and floor is not None:
        ratio = _ratio(ours.rps, floor.rps)
        met = _verdict(ratio >= 0.5 if ratio == ratio else None)
        print(
            f"  SQLite page: ours {ours.rps:.0f} req/s = {ratio:.2f}x the SQLite floor's "
            f"{floor.rps:.0f} (target >= 0.5x: {met})"
        )
    for clients, scenario in ((CONCURRENCY, "page"), (CROWD, f"page@{CROWD}")):
        row = by.get((pg, scenario, "ours"))
        if row is None or row.new_backends is None:
            continue
        floor = by.get((pg, scenario, STRONG))
        print(
            f"  sessions at {clients} clients: ours opened {row.new_backends} new (seen), "
            f"the database counted {row.new_sessions_db} (every client); p99 {row.p99:.1f} ms"
            + (
                ""
                if floor is None
                else f"; floor {floor.new_backends} new, {floor.rps / max(1e-9, row.rps):.2f}x "
                f"ours' req/s, p99 {floor.p99:.1f} ms"
            )
            # The database's counter also counts other clients (and flushes late): the
            # server's own sessions, seen by socket, decide.
            + f" (target 0 new: {_verdict(row.new_backends == 0)})"
        )


def print_example_targets(by: dict[tuple[str, str, str], Row]) -> None:
    """Every examples/ read operation: >= 0.6x its stronger floor, p99 < 100 ms."""
    pg = "PostgreSQL"
    measured = [s for s in EXAMPLE_SCENARIOS if (pg, s, "ours") in by]
    if not measured:
        return
    print(f"  examples/ read operations at {CONCURRENCY} clients (target >= 0.6x, p99 < 100 ms):")
    for scenario in measured:
        ours, floor = by[pg, scenario, "ours"], by.get((pg, scenario, STRONG))
        if floor is None:
            print(
                f"    {scenario:<15} ours {ours.rps:6.0f} req/s, p99 {ours.p99:6.1f} ms; no floor"
            )
            continue
        ratio = _ratio(ours.rps, floor.rps)
        fast = _verdict(ours.p99 < 100 if ours.p99 == ours.p99 else None)
        server = [r.per_request_ms(r.server_cpu) for r in (ours, floor)]
        database = [r.per_request_ms(r.pg_cpu) for r in (ours, floor)]
        print(
            f"    {scenario:<15} ours {ours.rps:6.0f} req/s = {ratio:5.2f}x floor's "
            f"{floor.rps:6.0f} ({_verdict(ratio >= 0.6 if ratio == ratio else None)}); "
            f"p99 {ours.p99:6.1f} ms ({fast}), floor {floor.p99:6.1f} ms; CPU ms/req server "
            f"{server[0]:5.2f} vs {server[1]:5.2f}, PG {database[0]:5.2f} vs {database[1]:5.2f}"
        )


LEGEND = f"""\
{CONCURRENCY} concurrent keep-alive clients in a separate process, closed loop; \
{WARMUP:.1f} s warm-up, then a fixed window
(page {DURATION["page"]:.0f} s, detail {DURATION["detail"]:.0f} s, activity \
{DURATION["activity"]:.0f} s, page@{CROWD} ({CROWD} clients) {CROWD_DURATION:.0f} s, \
place+pay {DURATION["place+pay"]:.0f} s; {", ".join(sorted(SIDE_IMPLS))} {SIDE_DURATION:.0f} s). \
page = bench.queries.ORDER_CENTER_PAGE, \
first: 20, buyer varied per request;
detail = ORDER_DETAIL (viewer.order(number)); activity = ACTIVITY (payment methods, \
payments, tagged, recently viewed; first: {ACTIVITY_FIRST});
place+pay = placeOrder then payOrder (one sample = the pair). Home ... BuyAgain = the \
examples/ read operation of that name, {EXAMPLE_DURATION:.0f} s
(Orders by tab, Orders> its page 2, Orders< a page backwards, Orders? a search), ours beside \
its stronger floor (bench/floor_examples.py). impl: ours = ordercenter serve \
(1 worker; 'ours x2' = --workers 2;
'generic' = compiled plans off; 'py plans' = plans answered in Python, not by PostgreSQL), \
floor sql = the stronger floor: one
hand-written statement in which PostgreSQL builds the whole answer, passed through \
(bench/floor_sql.py), floor = bench/floor.py
(hand-written SQL assembled in Python, orjson), naive = bench/naive.py (one query per relation).
PostgreSQL pools: ours its default; 'ours x2', 'py plans', 'generic' {SIDE_POOL} per worker; \
floor 10 (asyncpg); under max_connections together.
stmt/req: SQL statements per request, counted server-side on {COUNT_REQUESTS} \
sequential untimed requests (BEGIN/COMMIT not counted).
*: too few answers in the window (slower than the window allows): req/s and latencies over the
whole run instead, warm-up included. RSS: server peak (VmHWM; largest worker).
srv/cli CPU: cores busy in the window (server incl. workers; the client process).
srv ms / PG ms: CPU milliseconds per request of the server's processes / of its PostgreSQL
backends (utime+stime from /proc of each backend, found by its client port; bench/pg_sessions.py).
new sess: the server's PostgreSQL sessions first seen in the window (sampled every 100 ms) /
pg_stat_database.sessions over the window (exact, but every client of the database)."""


async def main(argv: list[str] | None = None, command: str | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.http_suite", description=__doc__)
    parser.add_argument("--duration", type=float, default=None, help="seconds per run")
    parser.add_argument("--warmup", type=float, default=WARMUP, help="seconds before each")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--postgres-only", action="store_true", help="skip SQLite")
    parser.add_argument(
        "--use-postgres",
        metavar="URL",
        help="a database kept between runs: used as it is once seeded; seeded (and created) "
        "first when it is empty (or missing)",
    )
    parser.add_argument(
        "--use-sqlite",
        metavar="URL",
        help="a SQLite file kept between runs (sqlite:///path): seeded first when missing",
    )
    parser.add_argument(
        "--examples-only",
        action="store_true",
        help="only the examples/ read operations (ours beside the stronger floor)",
    )
    parser.add_argument(
        "--no-examples",
        dest="examples",
        action="store_false",
        help="leave the examples/ read operations out",
    )
    args = parser.parse_args(argv)
    if command is None:
        command = " ".join(["python -m bench.http_suite", *(argv or [])])
    started = time.monotonic()
    print(f"HTTP benchmarks | {header(command)}", flush=True)
    base = None if args.sqlite_only or args.use_postgres else postgres_base()
    skipped = None
    if base is not None:
        skipped = await postgres_reachable(base)
        if skipped:
            print(f"PostgreSQL at {base} is unreachable ({skipped}): SQLite only.", flush=True)
            base = None
    rows: list[Row] = []
    verdicts: dict[str, dict[str, str]] = {}
    async with AsyncExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="oc-bench-http-")))
        databases: dict[str, str] = {}
        fresh: list[str] = []
        if args.use_postgres:
            databases["PostgreSQL"] = args.use_postgres
            state = await kept_state(args.use_postgres)
            if state != "seeded":  # seeded now, and kept for the next run
                if state == "missing":
                    await create_database(args.use_postgres)
                fresh.append("PostgreSQL")
        elif base is not None:
            databases["PostgreSQL"] = await stack.enter_async_context(throwaway_postgres(base))
            fresh.append("PostgreSQL")
        if args.use_sqlite:
            databases["SQLite"] = args.use_sqlite
            if not os.path.exists(args.use_sqlite.split("///", 1)[-1]):  # noqa: ASYNC240
                fresh.append("SQLite")  # seeded now, and kept for the next run
        elif args.postgres_only and "PostgreSQL" in databases:
            pass
        else:
            databases["SQLite"] = await stack.enter_async_context(throwaway_sqlite())
            fresh.append("SQLite")
        seconds: dict[str, float] = {}
        if fresh:
            print(
                f"seeding {USERS:,} users x {ORDERS_PER_USER} orders into "
                f"{' and '.join(fresh)} at once ...",
                flush=True,
            )
            took = await asyncio.gather(*(seed(databases[name]) for name in fresh))
            seconds = dict(zip(fresh, took, strict=True))
        fixtures = {}
        for name, url in databases.items():
            fixtures[name] = await load_fixtures(url)
            counts = ", ".join(f"{n:,} {t}" for t, n in fixtures[name].counts.items())
            how = f"seeded in {seconds[name]:.0f} s" if name in seconds else "given"
            print(f"  {name}: {counts} ({how})", flush=True)
        for name, url in databases.items():
            try:
                found, verdicts[name] = await bench_database(name, url, fixtures[name], args, tmp)
                rows.extend(found)
            except Exception as error:  # report, and go on with the next database
                print(f"\n{name} failed: {error!r}", flush=True)
    print()
    print(f"HTTP benchmarks | {header(command)}")
    print(LEGEND)
    print()
    print_table(rows, verdicts)
    if "PostgreSQL" not in databases:
        print("(PostgreSQL skipped" + (f": unreachable, {skipped})" if skipped else ")"))
    print(f"wall time: {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
