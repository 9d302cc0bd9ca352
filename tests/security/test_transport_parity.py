"""Transport parity: every rule of the operation pipeline holds on every transport.

A real server (uvicorn, production mode) is asked the same thing over HTTP POST, HTTP
GET (queries), graphql-transport-ws and the legacy graphql-ws, and must answer it the
same way: the same refusal code, or the same data. The cases are the holes a security
review found when the rules lived in the HTTP handler (issue 13, items 1-9); each fails
on a server whose WebSocket path skips the pipeline.

graphql-ws runs subscriptions only, and GET queries only: where a case's rule applies
before the operation's type is known (size, allow-list, parsing, shape) every transport
gets the same document; where it applies later (validation, cost) each gets the form of
the document it can run.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.auth import issue_token
from app.persisted import sha256_hex
from tests.conftest import PG_URL_VAR
from tests.server.serving import SECRET, ServerProcess, fresh_postgres_database, running_server
from tests.subscriptions.wsclient import LEGACY_WS, TRANSPORT_WS, WsClient

pytestmark = pytest.mark.server

POST, GET = "http-post", "http-get"
TRANSPORTS = (POST, GET, TRANSPORT_WS, LEGACY_WS)
DOCUMENT_BYTES = 8192  # the servers' document limit: small enough for a GET's URL

ALLOWED_QUERY = "query Me { viewer { handle } }"
# Replays the viewer's events from the first: a subscription that answers at once.
ALLOWED_SUBSCRIPTION = 'subscription Live { orderStatusChanged(after: "0") { cursor } }'
SECRET_QUERY = "query { viewer { paymentMethods { last4 } } }"
TAG = (
    'mutation($p: ID!) { tagProduct(input: {productId: $p, sourceVideoId: "vid_parity"}) '
    "{ taggedItem { id } userErrors { code } } }"
)
BUDGET_PER_MINUTE = 60


@dataclass(frozen=True)
class Outcome:
    """What a transport answered, reduced to what the rules decide."""

    codes: tuple[str, ...] = ()  # the errors' extensions.code, in order
    data: Any = None
    messages: tuple[str, ...] = ()


def _outcome(data: Any, errors: list[dict[str, Any]] | None) -> Outcome:
    errors = errors or []
    return Outcome(
        codes=tuple(str((e.get("extensions") or {}).get("code")) for e in errors),
        data=data,
        messages=tuple(str(e.get("message")) for e in errors),
    )


def token(user_id: int) -> str:
    return issue_token(user_id, secret=SECRET, ttl_seconds=3600)


async def ask(
    server: ServerProcess,
    transport: str,
    query: str | None,
    *,
    user_id: int = 1,
    variables: dict[str, Any] | None = None,
    extensions: dict[str, Any] | None = None,
    socket: WsClient | None = None,
) -> Outcome:
    """One operation over ``transport``; a socket may be passed to reuse a connection."""
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    if extensions is not None:
        payload["extensions"] = extensions
    headers = {"Authorization": f"Bearer {token(user_id)}"}
    if transport in (POST, GET):
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            if transport == POST:
                response = await http.post("/graphql", json=payload, headers=headers)
            else:
                params = {
                    k: v if isinstance(v, str) else json.dumps(v)
                    for k, v in payload.items()
                    if v is not None
                }
                response = await http.get("/graphql", params=params, headers=headers)
        body = response.json()
        return _outcome(body.get("data"), body.get("errors"))
    client = socket or await WsClient.open(server.url, token(user_id), protocol=transport)
    try:
        return await _over_socket(client, payload)
    finally:
        if socket is None:
            await client.close()


async def _over_socket(client: WsClient, payload: dict[str, Any]) -> Outcome:
    op_id = os.urandom(4).hex()
    kind = "subscribe" if client.protocol == TRANSPORT_WS else "start"
    await client.send({"id": op_id, "type": kind, "payload": payload})
    while True:
        message = await client.recv()
        # What is left of earlier operations on this connection (their last events,
        # their `complete`) is not this one's answer.
        if message.get("id") == op_id:
            break
    if message["type"] == "error":
        errors = message["payload"]
        return _outcome(None, errors if isinstance(errors, list) else [errors])
    assert message["type"] in ("next", "data"), message
    answer = message["payload"]
    # A live subscription goes on (these replay from the first event): stop it.
    await client.stop(op_id)
    return _outcome(answer.get("data"), answer.get("errors"))


def _write_allowlist(path: Path, documents: list[str]) -> Path:
    path.write_text(json.dumps({sha256_hex(d): d for d in documents}))
    return path


@pytest.fixture(scope="module")
def production_env() -> dict[str, str]:
    return {
        "ORDERCENTER_ENV": "production",
        "ORDERCENTER_COST_BUDGET_PER_MINUTE": str(BUDGET_PER_MINUTE),
        "ORDERCENTER_WS_MAX_PENDING_PER_ADDRESS": "3",
        "ORDERCENTER_MAX_DOCUMENT_BYTES": str(DOCUMENT_BYTES),
    }


@pytest.fixture(scope="module")
def server(production_env: dict[str, str]) -> Iterator[ServerProcess]:
    """Production mode, automatic persisted queries, a small budget."""
    with running_server(users=6, orders_per_user=3, extra_env=production_env) as running:
        yield running


@pytest.fixture(scope="module")
def allowlist_server(
    production_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    listed = _write_allowlist(
        tmp_path_factory.mktemp("allow") / "allowed.json", [ALLOWED_QUERY, ALLOWED_SUBSCRIPTION]
    )
    env = {
        **production_env,
        "ORDERCENTER_PERSISTED_QUERIES": "allowlist",
        "ORDERCENTER_PERSISTED_QUERIES_FILE": str(listed),
    }
    with running_server(users=3, orders_per_user=3, extra_env=env) as running:
        yield running


async def all_transports(server: ServerProcess, query: str, **kwargs: Any) -> dict[str, Outcome]:
    return {t: await ask(server, t, query, **kwargs) for t in TRANSPORTS}


# --- 1. The allow-list ---------------------------------------------------------------


async def test_allowlist_refuses_unregistered_documents_on_every_transport(
    allowlist_server: ServerProcess,
) -> None:
    outcomes = await all_transports(allowlist_server, SECRET_QUERY)
    for transport, outcome in outcomes.items():
        assert outcome.codes == ("PERSISTED_QUERY_NOT_ALLOWED",), (transport, outcome)
        assert outcome.data is None, transport


async def test_allowlist_refuses_an_unregistered_mutation_and_nothing_is_written(
    allowlist_server: ServerProcess,
) -> None:
    for transport in (POST, TRANSPORT_WS, LEGACY_WS):
        outcome = await ask(allowlist_server, transport, TAG, variables={"p": "UHJvZHVjdDox"})
        assert outcome.codes == ("PERSISTED_QUERY_NOT_ALLOWED",), (transport, outcome)
    database = allowlist_server.env["ORDERCENTER_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as db:
        tagged = db.execute(
            "SELECT count(*) FROM tagged_items WHERE source_video_id = ?", ("vid_parity",)
        )
        assert tagged.fetchone() == (0,)


async def test_allowlist_runs_registered_documents_by_hash_on_every_transport(
    allowlist_server: ServerProcess,
) -> None:
    by_hash = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(ALLOWED_QUERY)}}
    for transport in (POST, GET, TRANSPORT_WS):
        outcome = await ask(allowlist_server, transport, None, extensions=by_hash)
        assert outcome.codes == (), (transport, outcome)
        assert outcome.data == {"viewer": {"handle": "demo"}}, transport
    live = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(ALLOWED_SUBSCRIPTION)}}
    for transport in (TRANSPORT_WS, LEGACY_WS):
        outcome = await ask(allowlist_server, transport, None, extensions=live)
        assert outcome.codes == (), (transport, outcome)
        assert outcome.data["orderStatusChanged"]["cursor"], transport


# --- 2. The caller's cost budget -----------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_cost_budget_runs_out_the_same_on_every_transport(
    server: ServerProcess, transport: str
) -> None:
    # One user per transport: each starts with a full budget.
    user_id = 2 + TRANSPORTS.index(transport)
    # graphql-ws runs subscriptions only: one whose resolver refuses its argument
    # answers at once, after its cost was charged.
    query = (
        'subscription { orderStatusChanged(orderId: "no such order") { cursor } }'
        if transport == LEGACY_WS
        else "{ viewer { orders(first: 10) { totalCount } } }"
    )
    socket = None
    if transport in (TRANSPORT_WS, LEGACY_WS):
        socket = await WsClient.open(server.url, token(user_id), protocol=transport)
    try:
        outcomes = [
            await ask(server, transport, query, user_id=user_id, socket=socket)
            for _ in range(BUDGET_PER_MINUTE + 5)
        ]
    finally:
        if socket is not None:
            await socket.close()
    limited = [i for i, o in enumerate(outcomes) if "RATE_LIMITED" in o.codes]
    assert limited, f"{transport}: {len(outcomes)} operations, none refused for the budget"
    assert outcomes[limited[0]].codes == ("RATE_LIMITED",), transport
    assert outcomes[limited[0]].data is None, transport
    # Every operation costs at least 1 of the 60 a minute: the budget ran out within them.
    assert limited[0] <= BUDGET_PER_MINUTE + 2, transport


# --- 3. Unexpected errors are masked -------------------------------------------------


@pytest.fixture(scope="module")
def postgres_server(production_env: dict[str, str]) -> Iterator[ServerProcess]:
    admin = os.environ.get(PG_URL_VAR)
    if not admin:
        pytest.skip(f"masking parity needs PostgreSQL ({PG_URL_VAR} is not set)")
    with (
        fresh_postgres_database(admin) as url,
        running_server(
            users=3, orders_per_user=2, database_url=url, extra_env=production_env
        ) as running,
    ):
        yield running


async def test_a_database_failure_is_masked_on_every_transport(
    postgres_server: ServerProcess,
) -> None:
    """A signed token whose user id overflows PostgreSQL's integer column: the driver's
    error (with the statement and the table's columns) must not reach the client."""
    overflowing = 99_999_999_999_999_999
    for transport in TRANSPORTS:
        query = (
            ALLOWED_SUBSCRIPTION
            if transport in (TRANSPORT_WS, LEGACY_WS)
            else "{ viewer { handle } }"
        )
        if transport in (TRANSPORT_WS, LEGACY_WS):
            client = await WsClient.connect(postgres_server.url, transport)
            await client.init({"Authorization": f"Bearer {token(overflowing)}"})
            ack = await client.recv()
            assert ack["type"] == "connection_ack", ack
            try:
                outcome = await ask(postgres_server, transport, query, socket=client)
            finally:
                await client.close()
        else:
            outcome = await ask(postgres_server, transport, query, user_id=overflowing)
        assert outcome.codes == ("INTERNAL_SERVER_ERROR",), (transport, outcome)
        assert outcome.messages == ("Internal server error",), transport


# --- 4 and 5. Size before anything reads the document --------------------------------


@pytest.mark.parametrize(
    "shape",
    ["many operations", "one long comment", "one long string"],
)
async def test_a_megabyte_document_is_refused_unread_on_every_transport(
    server: ServerProcess, shape: str
) -> None:
    size = 1_000_000
    document = {
        "many operations": "{ a } " * (size // 6),
        "one long comment": "{ viewer { handle } } #" + "x" * size,
        "one long string": '{ viewer { order(number: "' + "x" * size + '") { number } } }',
    }[shape]
    for transport in (POST, TRANSPORT_WS, LEGACY_WS):
        outcome = await ask(server, transport, document)
        assert outcome.codes == ("DOCUMENT_TOO_LARGE",), (transport, outcome.codes)
    # A URL cannot carry a megabyte; the same rule at the size a GET can carry.
    just_over = "{ viewer { handle } } #" + "x" * DOCUMENT_BYTES
    for transport in TRANSPORTS:
        outcome = await ask(server, transport, just_over)
        assert outcome.codes == ("DOCUMENT_TOO_LARGE",), (transport, outcome.codes)


async def test_a_websocket_message_is_limited_like_an_http_body(server: ServerProcess) -> None:
    body = {"query": "{ viewer { handle } }", "variables": {"pad": "x" * 1_100_000}}
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post("/graphql", json=body)
    assert response.status_code == 413
    for protocol in (TRANSPORT_WS, LEGACY_WS):
        client = await WsClient.open(server.url, token(1), protocol=protocol)
        kind = "subscribe" if protocol == TRANSPORT_WS else "start"
        await client.send({"id": "big", "type": kind, "payload": body})
        assert await client.closed_code() == 1009, protocol


# --- 6. Sockets that never say who they are ------------------------------------------


async def test_pending_sockets_are_capped_per_address(server: ServerProcess) -> None:
    """ORDERCENTER_WS_MAX_PENDING_PER_ADDRESS=3 on this server."""
    pending = [await WsClient.connect(server.url, TRANSPORT_WS) for _ in range(3)]
    try:
        refused = await WsClient.connect(server.url, TRANSPORT_WS)
        assert await refused.closed_code() == 1013
        # One of them says who it is: the next one may wait for its init again.
        await pending[0].init({"Authorization": f"Bearer {token(1)}"})
        assert (await pending[0].recv())["type"] == "connection_ack"
        admitted = await WsClient.connect(server.url, LEGACY_WS)
        with pytest.raises(TimeoutError):
            await admitted.recv(0.5)  # not closed: it may still send connection_init
        await admitted.close()
    finally:
        for client in pending:
            await client.close()


# --- 7. No schema names in production errors -----------------------------------------


async def test_no_suggestions_in_production_on_any_transport(server: ServerProcess) -> None:
    for transport in TRANSPORTS:
        if transport == LEGACY_WS:
            query = "subscription { orderStatusChangd { cursor } }"
        else:
            query = "{ viewer { paymentMethodz { last4 } orderz } }"
        outcome = await ask(server, transport, query)
        assert outcome.codes, transport
        assert set(outcome.codes) == {"GRAPHQL_VALIDATION_FAILED"}, (transport, outcome)
        for message in outcome.messages:
            assert "Did you mean" not in message, (transport, message)
            assert "paymentMethods" not in message
            assert "orderStatusChanged" not in message


# --- 8. Card numbers, however written ------------------------------------------------


async def test_a_card_number_is_refused_in_a_mutation_on_every_transport_that_runs_one(
    server: ServerProcess,
) -> None:
    """Mutations run over POST and graphql-transport-ws (GET and graphql-ws refuse them
    by type): the same user error on both, and the number is stored nowhere."""
    answer = await ask(
        server,
        POST,
        "{ viewer { recentlyViewed(first: 1) { edges { node { product { id } } } } } }",
    )
    ids = [e["node"]["product"]["id"] for e in answer.data["viewer"]["recentlyViewed"]["edges"]]
    product = ids[0] if ids else "UHJvZHVjdDox"
    card = "4111.1111.1111\u200b1111"
    tag = TAG.replace("vid_parity", card)
    for transport in (POST, TRANSPORT_WS):
        outcome = await ask(server, transport, tag, variables={"p": product})
        assert outcome.codes == (), (transport, outcome)
        payload = outcome.data["tagProduct"]
        assert payload["taggedItem"] is None, transport
        assert [e["code"] for e in payload["userErrors"]] == ["INVALID"], transport
    database = server.env["ORDERCENTER_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as db:
        videos = [row[0] for row in db.execute("SELECT source_video_id FROM tagged_items")]
    assert not any(video and "1111" in video for video in videos)


# --- 9. Every refusal carries a code -------------------------------------------------


@pytest.mark.parametrize(
    ("name", "document", "code"),
    [
        (
            "fragment cycle",
            "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        ("syntax", "{ viewer { handle }", "GRAPHQL_PARSE_FAILED"),
        ("two operations, no name", "query A { a } query B { b }", "OPERATION_RESOLUTION_FAILURE"),
    ],
)
async def test_refusals_before_validation_carry_a_code_on_every_transport(
    server: ServerProcess, name: str, document: str, code: str
) -> None:
    outcomes = await all_transports(server, document)
    for transport, outcome in outcomes.items():
        assert outcome.codes == (code,), (name, transport, outcome)


async def test_validation_aborted_carries_a_code_on_every_transport(server: ServerProcess) -> None:
    fields = " ".join(["a"] * 2900)  # 2,900 errors: graphql-core stops at 100
    for transport in TRANSPORTS:
        root = "subscription" if transport == LEGACY_WS else "query"
        outcome = await ask(server, transport, f"{root} {{ {fields} }}")
        assert outcome.codes, transport
        assert set(outcome.codes) == {"GRAPHQL_VALIDATION_FAILED"}, (transport, outcome.codes[-3:])
        if transport != LEGACY_WS:  # graphql-ws sends the first error only
            assert "Validation aborted" in outcome.messages[-1], transport


# --- Answers are the same too --------------------------------------------------------


async def test_the_same_query_gets_the_same_answer_everywhere_it_can_run(
    server: ServerProcess,
) -> None:
    query = "{ viewer { handle orderTabs { tab count } } }"
    answers = {t: await ask(server, t, query) for t in (POST, GET, TRANSPORT_WS)}
    assert answers[POST].codes == ()
    assert answers[GET] == answers[POST] == answers[TRANSPORT_WS]
