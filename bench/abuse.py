"""A bounded abuse scenario: 1 MB GraphQL documents from other clients, on loopback.

    python -m bench.abuse [--duration S] [--abusers N] [--docs N] [--docs-seconds S]

One worker of ``ordercenter serve`` (production settings, as bench.http_suite starts
it) on a small seeded SQLite file, bound to 127.0.0.1; every client is on this
machine. Each scenario gets a fresh server, so one's leftovers are not the next one's.

Abusive documents are ~1 MB (1,000,000 characters; the JSON body stays under the
server's 1 MiB body limit), each distinct (a nonce), so that no cache answers one from
another. Three shapes:

- ``operations``: ``{ a }`` repeated (~166,000 operations) and no operationName;
- ``comment``: a valid small query (``product(id:)``) padded with a 1 MB comment,
  which is one token;
- ``string``: ``product(id: "…")`` whose argument is a 1 MB string literal.

Anonymous over HTTP; over WebSocket (graphql-transport-ws, the token in
connection_init) as the demo buyer, one ``subscribe`` message per document.

1. baseline: the normal client alone, ``{ viewer { handle } }`` with the demo buyer's
   bearer token, one connection in a closed loop from a separate process (bench.load,
   as the HTTP suite drives its servers): p50/p99 and req/s.
2. A, stream of 1 MB documents: ``--abusers`` clients (anonymous, one keep-alive
   connection each) send documents back to back, rotating the shapes, for the whole
   ``--duration`` window while the normal client runs again. Abusive requests still in
   flight when the window closes get DRAIN_SECONDS, then are given up on. Server RSS
   (VmRSS) before, peak (VmHWM) and once the server is idle again; then each shape is
   sent once more on the idle server ("solo": how long one document holds the server).
3. B, cache growth: ``--docs`` distinct documents (comment and string shapes, in
   turn; every fourth one over WebSocket, the rest over HTTP on 3 connections),
   stopped after ``--docs-seconds``; then, once the server is idle, IDLE_SECONDS more,
   and its RSS. The ``operations`` shape is left to A: it costs CPU, not cache, and
   today it holds the server seconds per document.

Targets (the security issue's): the normal query's p99 < 100 ms under A; RSS < 250 MiB
after 1,000 documents in B. A FAIL is printed, not an exit status: this is a
measurement. Bounded: about 3 to 4 minutes at most, whatever the server does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sys
import tempfile
import time
import uuid
from collections import Counter, deque
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.databases import throwaway_sqlite
from bench.http_suite import (
    Row,
    Server,
    _env,
    drive,
    free_port,
    header,
    ours_command,
    seed,
    serving,
    token,
)
from bench.load import Connection, http_request
from bench.subscriptions import _settle
from db.seed.catalog import DEMO_HANDLE, DEMO_USER_ID
from resolvers.ids import to_global_id

HOST = "127.0.0.1"
DOC_CHARS = 1_000_000
SHAPES = ("operations", "comment", "string")
CACHE_SHAPES = ("comment", "string")
NORMAL_QUERY = "{ viewer { handle } }"
PRODUCT_ID = to_global_id("Product", 1)
SEED_USERS, SEED_ORDERS_PER_USER = 20, 5

BASELINE_SECONDS = 5.0
WARMUP = 1.0
DURATION = 15.0  # scenario A's measured window
ABUSERS = 4
MAX_ABUSIVE_PER_CLIENT = 5_000  # A: requests per abusive client, at most
DRAIN_SECONDS = 15.0  # A: for abusive requests in flight when the window closes
SETTLE_SECONDS = 15.0  # at most, waiting for the server to be idle again
SOLO_TIMEOUT = 30.0  # one document on the idle server

DOCS = 1_000  # scenario B
DOCS_SECONDS = 120.0
HTTP_SENDERS = 3
WS_EVERY = 4  # B: document i goes over WebSocket when i % WS_EVERY == WS_EVERY - 1
WS_CONNECTIONS = 5  # B: WebSocket connections opened in turn, at most (after a close)
IDLE_SECONDS = 5.0
RSS_ABORT_MIB = 4096.0  # B stops sending beyond this server RSS (the machine's sake)

P99_TARGET_MS = 100.0
RSS_TARGET_MIB = 250.0


def document(shape: str, nonce: str, size: int | None = None) -> str:
    """A ~``size``-character document of ``shape`` (default: ``--size``), distinct per
    ``nonce``."""
    size = DOC_CHARS if size is None else size
    if shape == "operations":
        head = f"{{ n{nonce} }} "
        return head + "{ a } " * ((size - len(head)) // 6)
    if shape == "comment":
        head = f'{{ product(id: "{PRODUCT_ID}") {{ id }} }}\n# {nonce} '
        return head + "x" * (size - len(head) - 1) + "\n"
    if shape == "string":
        head, tail = f'{{ product(id: "{nonce} ', '") { id } }'
        return head + "x" * (size - len(head) - len(tail)) + tail
    raise ValueError(shape)


def cache_shape(index: int) -> str:
    return CACHE_SHAPES[(index // WS_EVERY) % len(CACHE_SHAPES)]


# --- Abusive clients ---------------------------------------------------------------


@dataclass
class Tally:
    """Abusive documents of one (scenario, channel, shape)."""

    sent: int = 0
    answered: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)  # outcome -> first answer
    seconds: list[float] = field(default_factory=list)
    largest_answer: int = 0  # bytes

    def answer(self, outcome: str, seconds: float, example: str = "", size: int = 0) -> None:
        self.answered += 1
        self.seconds.append(seconds)
        self.largest_answer = max(self.largest_answer, size)
        self.count(outcome, example)

    def count(self, outcome: str, example: str = "") -> None:
        self.outcomes[outcome] += 1
        if example:
            self.examples.setdefault(outcome, example[:160])


Tallies = dict[tuple[str, str, str], Tally]


def tally(tallies: Tallies, scenario: str, channel: str, shape: str) -> Tally:
    return tallies.setdefault((scenario, channel, shape), Tally())


def http_outcome(status: int, body: bytes) -> str:
    if status == 200 and b'"errors"' in body:
        return "200 errors"
    return str(status)


async def post_document(conn: Connection, port: int, doc: str, into: Tally) -> None:
    """One abusive POST on ``conn`` (anonymous), counted in ``into``."""
    request = http_request(HOST, port, "/graphql", orjson.dumps({"query": doc}), None)
    into.sent += 1
    started = time.perf_counter()
    try:
        status, body = await conn.send(request)
    except (OSError, asyncio.IncompleteReadError, ValueError) as error:
        conn.close()
        into.count(type(error).__name__, str(error))
        return
    outcome = http_outcome(status, body)
    seconds = time.perf_counter() - started
    into.answer(outcome, seconds, body[:200].decode(errors="replace"), len(body))


async def stream_abuser(number: int, port: int, stop_at: float, tallies: Tallies, run: str) -> None:
    """Scenario A: documents back to back until ``stop_at``, shapes in turn."""
    conn = Connection(HOST, port)
    try:
        for index in range(MAX_ABUSIVE_PER_CLIENT):
            if time.monotonic() >= stop_at:
                return
            shape = SHAPES[(number + index) % len(SHAPES)]
            doc = document(shape, f"{run}a{number}x{index}")
            await post_document(conn, port, doc, tally(tallies, "A", "http", shape))
    finally:
        conn.close()


async def http_sender(port: int, queue: deque[int], tallies: Tallies, run: str) -> None:
    """Scenario B over HTTP: documents from ``queue`` until it is empty."""
    conn = Connection(HOST, port)
    try:
        while queue:
            index = queue.popleft()
            shape = cache_shape(index)
            doc = document(shape, f"{run}b{index}")
            await post_document(conn, port, doc, tally(tallies, "B", "http", shape))
    finally:
        conn.close()


async def ws_answer(ws: Any, operation: str) -> tuple[str, str, int]:
    """What the server made of subscribe ``operation``: (outcome, its first message's
    start, the largest message's size in bytes)."""
    outcome, example, largest = "", "", 0
    while True:
        raw = await ws.recv()
        message = orjson.loads(raw)
        kind = message.get("type")
        if kind == "ping":
            await ws.send('{"type":"pong"}')
            continue
        if message.get("id") != operation:
            continue
        example = example or str(raw[:200])
        largest = max(largest, len(raw))
        if kind == "next":
            outcome = outcome or (
                "errors" if (message.get("payload") or {}).get("errors") else "data"
            )
        elif kind == "error":
            return "error", example, largest
        elif kind == "complete":
            return outcome or "complete", example, largest


async def ws_sender(
    url: str, bearer: str, queue: deque[int], tallies: Tallies, run: str, notes: list[str]
) -> None:
    """Scenario B over WebSocket: one subscribe message per document, each awaited."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed
    from websockets.typing import Subprotocol

    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}}
    for _ in range(WS_CONNECTIONS):
        if not queue:
            return
        current: Tally | None = None
        try:
            async with connect(
                url,
                subprotocols=[Subprotocol("graphql-transport-ws")],
                compression=None,  # 1 MB on the wire, as the server must take it
                ping_interval=None,
                open_timeout=30,
                max_size=None,
            ) as ws:
                await ws.send(orjson.dumps(init).decode())
                ack = orjson.loads(await asyncio.wait_for(ws.recv(), 30))
                if ack.get("type") != "connection_ack":
                    notes.append(f"B WebSocket: no connection_ack: {str(ack)[:120]}")
                    return
                while queue:
                    index = queue.popleft()
                    shape = cache_shape(index)
                    doc = document(shape, f"{run}w{index}")
                    message = {"id": str(index), "type": "subscribe", "payload": {"query": doc}}
                    current = tally(tallies, "B", "ws", shape)
                    current.sent += 1
                    started = time.perf_counter()
                    await ws.send(orjson.dumps(message).decode())
                    outcome, example, size = await ws_answer(ws, str(index))
                    current.answer(outcome, time.perf_counter() - started, example, size)
                    current = None
        except (ConnectionClosed, OSError, TimeoutError) as error:
            code = getattr(getattr(error, "rcvd", None), "code", None)
            what = f"closed {code}" if code is not None else type(error).__name__
            if current is not None:
                current.count(what, str(error))
            notes.append(f"B WebSocket connection ended: {error}"[:200])


# --- Scenarios ---------------------------------------------------------------------


@dataclass
class Result:
    label: str
    normal: Row | None = None
    sent: int = 0
    answered: int = 0
    sent_detail: str = ""
    rss_before: float = math.nan
    rss_peak: float = math.nan
    rss_after: float = math.nan
    target: str = ""
    verdict: str = ""
    seconds: float = math.nan


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    tallies: Tallies = field(default_factory=dict)
    solo: dict[str, tuple[str, float]] = field(default_factory=dict)  # shape -> (outcome, s)
    notes: list[str] = field(default_factory=list)


def normal_spec(port: int, bearer: str, duration: float) -> dict[str, Any]:
    """A bench.load client: one connection, ``{ viewer { handle } }`` as the demo buyer."""
    return {
        "host": HOST,
        "port": port,
        "path": "/graphql",
        "concurrency": 1,
        "warmup": WARMUP,
        "duration": duration,
        "max_requests": 200_000,
        "requests": [{"body": orjson.dumps({"query": NORMAL_QUERY}).decode(), "token": bearer}],
    }


async def check_normal(server: Server, bearer: str) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            server.url + "/graphql",
            json={"query": NORMAL_QUERY},
            headers={"Authorization": f"Bearer {bearer}"},
        )
    handle = ((response.json().get("data") or {}).get("viewer") or {}).get("handle")
    if handle != DEMO_HANDLE:
        raise RuntimeError(f"the normal query does not answer as expected: {response.text[:300]}")


async def finish(tasks: list[asyncio.Task[None]], seconds: float) -> int:
    """Wait at most ``seconds`` for ``tasks``; cancel the rest; how many were cancelled."""
    if not tasks:
        return 0
    _, pending = await asyncio.wait(tasks, timeout=max(0.0, seconds))
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    for task in tasks:
        failure = None if task.cancelled() else task.exception()
        if failure is not None:
            raise failure
    return len(pending)


def totals(tallies: Tallies, scenario: str) -> tuple[int, int, str]:
    mine = {k: t for k, t in tallies.items() if k[0] == scenario}
    sent = sum(t.sent for t in mine.values())
    answered = sum(t.answered for t in mine.values())
    channels = dict.fromkeys(channel for _, channel, _ in mine)
    detail = ", ".join(
        f"{channel} {sum(t.sent for k, t in mine.items() if k[1] == channel)}"
        for channel in channels
    )
    return sent, answered, detail


async def scenario_a(
    database_url: str, bearer: str, tmp: Path, args: argparse.Namespace, report: Report
) -> None:
    port = free_port()
    env = _env(database_url)
    async with serving("abuse-a", ours_command(port), env, port, tmp) as server:
        pid = server.process.pid
        await check_normal(server, bearer)
        baseline = Row("SQLite", "baseline", "ours")
        print("  baseline: normal client alone ...", end="", flush=True)
        await drive(server, normal_spec(port, bearer, BASELINE_SECONDS), tmp, baseline)
        print(f" p99 {baseline.p99:.1f} ms", flush=True)
        report.results.append(
            Result(
                "baseline (normal client alone)",
                baseline,
                rss_peak=baseline.rss_mib,
                rss_after=server.rss_mib(),
                seconds=WARMUP + BASELINE_SECONDS,
            )
        )

        await _settle(pid, SETTLE_SECONDS)
        result = Result(
            f"A: {args.abusers} clients x {DOC_CHARS / 1e6:g} MB docs, {args.duration:.0f} s",
            Row("SQLite", "abuse-A", "ours"),
            rss_before=server.rss_mib(),
            target=f"p99 < {P99_TARGET_MS:.0f} ms",
        )
        print(
            f"  A: {args.abusers} abusive clients for {args.duration:.0f} s ...", end="", flush=True
        )
        started = time.monotonic()
        stop_at = started + 0.3 + WARMUP + args.duration  # the normal client's window end
        run = uuid.uuid4().hex[:8]
        abusers = [
            asyncio.create_task(stream_abuser(n, port, stop_at, report.tallies, run))
            for n in range(args.abusers)
        ]
        assert result.normal is not None
        await drive(server, normal_spec(port, bearer, args.duration), tmp, result.normal)
        given_up = await finish(abusers, stop_at + DRAIN_SECONDS - time.monotonic())
        if given_up:
            report.notes.append(
                f"A: {given_up} abusive request(s) still unanswered {DRAIN_SECONDS:.0f} s "
                "after the window closed: given up on (connection closed)"
            )
        result.seconds = time.monotonic() - started
        await _settle(pid, SETTLE_SECONDS)
        result.rss_after = server.rss_mib()
        result.rss_peak = server.peak_rss_mib()
        result.sent, result.answered, result.sent_detail = totals(report.tallies, "A")
        p99 = result.normal.p99
        result.verdict = "PASS" if p99 < P99_TARGET_MS else "FAIL"
        print(f" normal p99 {p99:.1f} ms, {result.sent} abusive sent", flush=True)
        report.results.append(result)

        # How long one document of each shape holds the otherwise idle server.
        conn = Connection(HOST, port)
        try:
            for shape in SHAPES:
                probe = Tally()
                started = time.monotonic()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        post_document(conn, port, document(shape, f"{run}solo"), probe),
                        SOLO_TIMEOUT,
                    )
                outcome = next(iter(probe.outcomes), f"no answer in {SOLO_TIMEOUT:.0f} s")
                report.solo[shape] = (outcome, time.monotonic() - started)
                await _settle(pid, SETTLE_SECONDS)
        finally:
            conn.close()


async def scenario_b(
    database_url: str, bearer: str, tmp: Path, args: argparse.Namespace, report: Report
) -> None:
    port = free_port()
    env = _env(database_url)
    async with serving("abuse-b", ours_command(port), env, port, tmp) as server:
        pid = server.process.pid
        await check_normal(server, bearer)
        await _settle(pid, SETTLE_SECONDS)
        result = Result(
            f"B: {args.docs:,} distinct {DOC_CHARS / 1e6:g} MB docs",
            rss_before=server.rss_mib(),
            target=f"RSS < {RSS_TARGET_MIB:.0f} MiB",
        )
        http_queue = deque(i for i in range(args.docs) if i % WS_EVERY != WS_EVERY - 1)
        ws_queue = deque(i for i in range(args.docs) if i % WS_EVERY == WS_EVERY - 1)
        print(
            f"  B: {args.docs:,} documents (at most {args.docs_seconds:.0f} s) ...",
            end="",
            flush=True,
        )
        run = uuid.uuid4().hex[:8]
        started = time.monotonic()
        aborted: list[str] = []

        async def watch_memory() -> None:
            while True:
                await asyncio.sleep(0.5)
                rss = server.rss_mib()
                if rss > RSS_ABORT_MIB:
                    aborted.append(f"server RSS {rss:.0f} MiB > {RSS_ABORT_MIB:.0f}")
                    http_queue.clear()
                    ws_queue.clear()
                    return

        watcher = asyncio.create_task(watch_memory())
        ws_url = server.url.replace("http://", "ws://") + "/graphql"
        senders = [
            asyncio.create_task(http_sender(port, http_queue, report.tallies, run))
            for _ in range(HTTP_SENDERS)
        ]
        senders.append(
            asyncio.create_task(
                ws_sender(ws_url, bearer, ws_queue, report.tallies, run, report.notes)
            )
        )
        try:
            given_up = await finish(senders, args.docs_seconds)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        result.seconds = time.monotonic() - started
        result.sent, result.answered, result.sent_detail = totals(report.tallies, "B")
        if given_up:
            report.notes.append(
                f"B: stopped at {args.docs_seconds:.0f} s with "
                f"{len(http_queue) + len(ws_queue)} document(s) unsent and "
                f"{result.sent - result.answered} unanswered"
            )
        if aborted:
            report.notes.append(f"B: stopped sending early: {aborted[0]}")
        await _settle(pid, SETTLE_SECONDS)
        await asyncio.sleep(IDLE_SECONDS)
        result.rss_after = server.rss_mib()
        result.rss_peak = server.peak_rss_mib()
        complete = result.answered >= args.docs
        if result.rss_after >= RSS_TARGET_MIB:
            result.verdict = "FAIL"
        elif complete:
            result.verdict = "PASS"
        else:
            result.verdict = "FAIL (incomplete)"
        if not complete:
            result.verdict += f": {result.answered:,} of {args.docs:,} answered"
        print(f" {result.sent} sent, RSS after {result.rss_after:.0f} MiB", flush=True)
        report.results.append(result)


# --- Report ------------------------------------------------------------------------


def _f(value: float, spec: str) -> str:
    if value != value:  # NaN: not measured
        return "-".rjust(int(spec.split(".")[0]))
    return format(value, spec)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def print_report(report: Report) -> None:
    print(
        f"{'scenario':<34} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'n':>6} "
        f"{'abusive sent/answered':>28} {'s':>4} {'RSS MiB before':>14} {'peak':>6} "
        f"{'after':>6}  {'target':<15} verdict"
    )
    for r in report.results:
        n = r.normal
        abusive = f"{r.sent}/{r.answered} ({r.sent_detail})" if r.sent else "-"
        normal = (
            f"{_f(n.p50, '8.1f')} {_f(n.p99, '8.1f')} {_f(n.rps, '7.1f')}"
            f"{'*' if n.whole_run else ' '} {n.requests:>6}"
            if n
            else f"{'-':>8} {'-':>8} {'-':>8} {'-':>6}"
        )
        print(
            f"{r.label:<34} {normal} {abusive:>28} {_f(r.seconds, '4.0f')} "
            f"{_f(r.rss_before, '14.0f')} {_f(r.rss_peak, '6.0f')} {_f(r.rss_after, '6.0f')}  "
            f"{r.target:<15} {r.verdict}"
        )
        if n and n.errors:
            print(f"  {r.label}: normal client errors: {n.errors} ({n.note})")
    print()
    print(
        f"{'abusive documents':<22} {'sent':>5} {'answered':>8} {'p50 ms':>8} {'max ms':>8} "
        f"{'answer KB':>9}  outcomes"
    )
    for (scenario, channel, shape), t in sorted(report.tallies.items()):
        outcomes = ", ".join(f"{name} x{count}" for name, count in t.outcomes.most_common())
        ms = [s * 1000 for s in t.seconds]
        print(
            f"{scenario + ' ' + channel + ' ' + shape:<22} {t.sent:>5} {t.answered:>8} "
            f"{_f(_percentile(ms, 0.5), '8.0f')} {_f(max(ms, default=math.nan), '8.0f')} "
            f"{t.largest_answer / 1000:9,.1f}  {outcomes}"
        )
    if report.solo:
        print(
            "solo (one document on the idle server, HTTP): "
            + ", ".join(
                f"{shape} {seconds * 1000:,.0f} ms ({outcome})"
                for shape, (outcome, seconds) in report.solo.items()
            )
        )
    seen: set[str] = set()
    for (_, channel, shape), t in sorted(report.tallies.items()):
        for outcome, example in t.examples.items():
            key = f"{channel} {shape} {outcome}"
            if key not in seen:
                seen.add(key)
                print(f"  answer, {key}: {example[:140]}")
    for note in report.notes:
        print(f"note: {note}")


def legend(args: argparse.Namespace) -> str:
    return "\n".join(
        [
            "One worker of `ordercenter serve` (production settings), small seeded SQLite file, "
            "127.0.0.1 only, a fresh server per scenario.",
            f"Documents: ~{DOC_CHARS:,} characters, each distinct. Shapes: operations = "
            "`{ a }` repeated, no operationName; comment = a valid",
            "small query padded with a 1 MB comment; string = a 1 MB string literal argument.",
            f"p50/p99/req/s/n: the normal client (`{NORMAL_QUERY}`, demo buyer's token, one "
            "connection, closed loop, bench.load in its",
            f"own process; baseline {BASELINE_SECONDS:.0f} s, A {args.duration:.0f} s, each "
            f"after {WARMUP:.0f} s warm-up); n = its answers in the window (*: too few, "
            "figures over the whole run).",
            f"A: {args.abusers} anonymous clients send documents back to back, shapes in turn. "
            f"B: comment and string shapes in turn, 1 in {WS_EVERY} over",
            f"WebSocket (graphql-transport-ws subscribe), the rest over {HTTP_SENDERS} HTTP "
            f"connections; stopped after {args.docs_seconds:.0f} s. s: the scenario's seconds.",
            "RSS: the server's VmRSS before, VmHWM (peak), VmRSS once idle again "
            f"(B: {IDLE_SECONDS:.0f} s after). Targets: normal p99 < {P99_TARGET_MS:.0f} ms "
            f"under A; RSS < {RSS_TARGET_MIB:.0f} MiB after {DOCS:,} documents.",
        ]
    )


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.abuse", description=__doc__)
    parser.add_argument("--duration", type=float, default=DURATION, help="A: seconds")
    parser.add_argument("--abusers", type=int, default=ABUSERS, help="A: abusive clients")
    parser.add_argument("--docs", type=int, default=DOCS, help="B: documents")
    parser.add_argument(
        "--size",
        type=int,
        default=DOC_CHARS,
        help="characters per abusive document (e.g. 65000: just under the document limit)",
    )
    parser.add_argument(
        "--docs-seconds", type=float, default=DOCS_SECONDS, help="B: stop after this long"
    )
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None, command: str | None = None) -> None:
    global DOC_CHARS  # every shape and scenario reads it; one run, one size
    args = arguments(argv)
    DOC_CHARS = args.size
    if command is None:
        command = " ".join(["python -m bench.abuse", *(argv or [])])
    started = time.monotonic()
    print(f"Abuse scenario | {header(command)}", flush=True)
    report = Report()
    bearer = token(DEMO_USER_ID)
    async with AsyncExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="oc-bench-abuse-")))
        url = await stack.enter_async_context(throwaway_sqlite())
        took = await seed(url, users=SEED_USERS, orders_per_user=SEED_ORDERS_PER_USER)
        print(f"  seeded {SEED_USERS} users x {SEED_ORDERS_PER_USER} orders in {took:.0f} s")
        for scenario in (scenario_a, scenario_b):
            try:
                await scenario(url, bearer, tmp, args, report)
            except Exception as error:  # report, and go on with the next scenario
                print(f"\n{scenario.__name__} failed: {error!r}", flush=True)
                report.notes.append(f"{scenario.__name__} failed: {error!r}"[:300])
    print()
    print(f"Abuse scenario | {header(command)}")
    print(legend(args))
    print()
    print_report(report)
    print(f"wall time: {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
