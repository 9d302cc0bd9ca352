"""The served access log names each request's path, never its query string.

GET /graphql carries the operation and its variables in the query string; a card
number typed into a variable must not reach the log through it. This starts the real
`ordercenter serve` (uvicorn, its own logging config) and reads what it wrote.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.serving import SECRET, free_port, serving_process

pytestmark = pytest.mark.server

CARD = "4111 1111 1111 1111"
NOTE_QUERY = "query($note: String) { __typename }"
ORDER_MUTATION = (
    "mutation($input: UpdateOrderStatusInput!) { updateOrderStatus(input: $input) "
    "{ userErrors { code } } }"
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`ordercenter serve` on an empty database, its output (access log included) in a file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERCENTER_")}
    env.update(
        ORDERCENTER_DATABASE_URL=f"sqlite:///{tmp_path / 'oc.db'}",
        ORDERCENTER_JWT_SECRET=SECRET,
        ORDERCENTER_ENV="test",
        ORDERCENTER_LOG_LEVEL="info",
    )
    port = free_port()
    output = tmp_path / "server.log"
    with serving_process(env, port, output=output):
        yield f"http://127.0.0.1:{port}", output


def _access_lines(output: Path, marker: str) -> list[str]:
    # uvicorn writes access lines as it answers; give the pipe a moment to catch up.
    deadline = time.monotonic() + 5
    while True:
        lines = [ln for ln in output.read_text(errors="replace").splitlines() if marker in ln]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_access_log_lines_carry_no_query_string(served: tuple[str, Path]) -> None:
    url, output = served
    variables = {"note": CARD, "input": {"orderId": "x", "status": "IN_TRANSIT", "note": CARD}}
    with httpx.Client(base_url=url, timeout=10) as client:
        for document in (NOTE_QUERY, ORDER_MUTATION):
            response = client.get(
                "/graphql",
                params={"query": document, "variables": json.dumps(variables)},
                headers={"Accept": "application/json"},
            )
            assert response.status_code < 500, response.text
        client.get("/healthz", params={"card": CARD})
    graphql_lines = _access_lines(output, '"GET /graphql HTTP/1.1"')
    assert len(graphql_lines) == 2, output.read_text(errors="replace")
    assert _access_lines(output, '"GET /healthz HTTP/1.1" 200')
    log = output.read_text(errors="replace")
    assert "?" not in "".join(ln for ln in log.splitlines() if '"GET /' in ln)
    for trace in (CARD, CARD.replace(" ", ""), "4111+1111", "4111%20", "variables", "query="):
        assert trace not in log, trace
