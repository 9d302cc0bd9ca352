"""An UNAUTHENTICATED answer says why: no token, not a bearer token, expired, or invalid.

Same code for all four (clients branch on the code), a ``reason`` in extensions, and
never more detail than that (which key or claim failed would help a forger).
"""

from __future__ import annotations

import httpx
import pytest

from app.auth import issue_token
from db.engine import SessionFactory
from resolvers.errors import SIGN_IN
from tests.conftest import TEST_SECRET
from tests.factories import make_user

VIEWER = {"query": "{ viewer { handle } }"}


async def _refusal(client: httpx.AsyncClient, authorization: str | None) -> dict[str, object]:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await client.post("/graphql", json=VIEWER, headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert isinstance(error, dict)
    return error


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("Token abc.def.ghi", "malformed"),
        ("Bearer", "malformed"),
        ("Bearer not-a-jwt", "malformed"),
        (f"Bearer {issue_token(1, secret=TEST_SECRET, ttl_seconds=-3600)}", "expired"),
        (
            "Bearer "
            + issue_token(1, secret="another-secret-long-enough-for-hs256", ttl_seconds=60),
            "invalid",
        ),
    ],
    ids=["no header", "empty", "other scheme", "no token", "not a jwt", "expired", "forged"],
)
async def test_each_reason_is_told_apart(
    client: httpx.AsyncClient, sessions: SessionFactory, authorization: str | None, reason: str
) -> None:
    await make_user(sessions, handle="ada")  # user 1 exists: only the token is wrong
    error = await _refusal(client, authorization)
    assert error["extensions"] == {"code": "UNAUTHENTICATED", "reason": reason}
    assert error["message"] == SIGN_IN[reason]
    if authorization and " " in authorization:
        assert authorization.split(" ", 1)[1] not in str(error)


async def test_a_signed_token_of_nobody_is_invalid(client: httpx.AsyncClient) -> None:
    error = await _refusal(
        client, f"Bearer {issue_token(424242, secret=TEST_SECRET, ttl_seconds=60)}"
    )
    assert error["extensions"] == {"code": "UNAUTHENTICATED", "reason": "invalid"}


async def test_public_fields_still_answer_with_a_refused_token(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "{ __typename }"},
        headers={"Authorization": "Bearer not-a-jwt"},
    )
    assert response.json() == {
        "data": {"__typename": "Query"},
        "extensions": response.json()["extensions"],
    }
