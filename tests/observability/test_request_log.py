"""The request line: one per request, JSON in production, readable text in development.

Starts the real `ordercenter serve` (its own logging set-up, uvicorn's included) and
reads what it wrote: the line's fields, and that nothing a user sent (the token, a card
number in a variable, the variables themselves) is anywhere in the output.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.auth import issue_token
from app.request_log import viewer_hasher
from app.settings import Settings
from tests.server.serving import SECRET, free_port, serving_process

pytestmark = pytest.mark.server

CARD = "4111 1111 1111 1111"
VIEWER_ID = 4242
NOTE_QUERY = "query Note($note: String) { __typename }"


def serve(tmp_path: Path, **settings: str) -> Iterator[tuple[str, Path]]:
    """`ordercenter serve` on an empty database, its whole output in a file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERCENTER_")}
    env.update(
        ORDERCENTER_DATABASE_URL=f"sqlite:///{tmp_path / 'oc.db'}",
        ORDERCENTER_JWT_SECRET=SECRET,
        ORDERCENTER_LOG_LEVEL="info",
        **settings,
    )
    port = free_port()
    output = tmp_path / "server.log"
    with serving_process(env, port, output=output):
        yield f"http://127.0.0.1:{port}", output


@pytest.fixture
def production(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    yield from serve(tmp_path, ORDERCENTER_ENV="production")


@pytest.fixture
def development(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    yield from serve(tmp_path, ORDERCENTER_ENV="development")


def ask(url: str, method: str) -> tuple[httpx.Response, str]:
    """A signed-in query with a card number in its variables; the response and token."""
    token = issue_token(VIEWER_ID, secret=SECRET, ttl_seconds=600)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    variables = {"note": CARD}
    with httpx.Client(base_url=url, timeout=10) as client:
        if method == "GET":
            response = client.get(
                "/graphql",
                params={"query": NOTE_QUERY, "variables": json.dumps(variables)},
                headers=headers,
            )
        else:
            response = client.post(
                "/graphql", json={"query": NOTE_QUERY, "variables": variables}, headers=headers
            )
    assert response.status_code == 200, response.text
    return response, token


def lines_with(output: Path, marker: str, count: int) -> list[str]:
    # The server writes as it answers; give the pipe a moment to catch up.
    deadline = time.monotonic() + 5
    while True:
        lines = [ln for ln in output.read_text(errors="replace").splitlines() if marker in ln]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def assert_nothing_sent_is_logged(log: str, token: str) -> None:
    for trace in (token, token.split(".")[1], CARD, CARD.replace(" ", ""), "4111", "variables"):
        assert trace not in log, trace


def test_production_writes_one_json_line_per_request_and_nothing_sent(
    production: tuple[str, Path],
) -> None:
    url, output = production
    answers = [ask(url, method) for method in ("GET", "POST")]
    found: list[dict[str, Any]] = []
    for response, _ in answers:
        request_id = response.headers["X-Request-ID"]
        (line,) = lines_with(output, request_id, 1)
        found.append(json.loads(line))
    expected_viewer = viewer_hasher(Settings(jwt_secret=SECRET))(VIEWER_ID)
    for (response, _), line, method in zip(answers, found, ("GET", "POST"), strict=True):
        assert line["logger"] == "ordercenter.request"
        assert line["request_id"] == response.headers["X-Request-ID"]
        assert line["method"] == method
        assert line["path"] == "/graphql"
        assert line["transport"] == {"GET": "http-get", "POST": "http-post"}[method]
        assert line["operation"] == "Note"
        assert line["status"] == 200
        assert isinstance(line["duration_ms"], float | int)
        assert line["duration_ms"] >= 0
        assert line["viewer"] == expected_viewer
        assert len(line["viewer"]) == 16
        assert str(VIEWER_ID) not in line["viewer"]
    log = output.read_text(errors="replace")
    # Every line is JSON, uvicorn's own included, and its access line is not there:
    # the request line replaces it.
    for text in log.splitlines():
        assert isinstance(json.loads(text), dict), text
    assert "HTTP/1.1" not in log
    for _, token in answers:
        assert_nothing_sent_is_logged(log, token)


def test_development_writes_a_readable_line_per_request(
    development: tuple[str, Path],
) -> None:
    url, output = development
    response, token = ask(url, "POST")
    request_id = response.headers["X-Request-ID"]
    (line,) = lines_with(output, f"request_id={request_id}", 1)
    assert "ordercenter.request: POST /graphql 200 Note" in line
    assert "transport=http-post" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
    assert_nothing_sent_is_logged(output.read_text(errors="replace"), token)
