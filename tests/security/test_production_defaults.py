"""What ORDERCENTER_ENV=production changes: no introspection, no GraphiQL, masked errors,
a secret or public key it insists on; and the headers and CORS every mode sends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.auth import issue_token
from app.settings import DEVELOPMENT_JWT_SECRET, Settings
from db.engine import SessionFactory
from resolvers import orders
from tests.factories import make_user
from tests.security.conftest import Apps, make_settings

STRONG_SECRET = "a-production-secret-of-more-than-32-bytes-0123456789"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
INTROSPECTION = "{ __schema { types { name } } }"
ALLOWED_ORIGIN = "https://shop.example.test"


def production(**overrides: Any) -> Settings:
    return make_settings(**{"env": "production", "jwt_secret": STRONG_SECRET, **overrides})


# --- Introspection and GraphiQL --------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        INTROSPECTION,
        '{ __type(name: "Order") { fields { name } } }',
        "{ ...F } fragment F on Query { __schema { queryType { name } } }",
    ],
    ids=["schema", "type", "in-a-fragment"],
)
async def test_production_refuses_introspection(apps: Apps, query: str) -> None:
    client = await apps.client(production())
    response = await client.post("/graphql", json={"query": query})
    assert response.status_code == 200
    body = response.json()
    assert "data" not in body
    # One error per introspection field asked for, each with the code.
    assert body["errors"]
    for error in body["errors"]:
        assert error["extensions"]["code"] == "INTROSPECTION_DISABLED"
        assert "introspection" in error["message"].lower()
    assert "Order" not in response.text


async def test_production_still_answers_typename(apps: Apps) -> None:
    client = await apps.client(production())
    response = await client.post("/graphql", json={"query": "{ __typename }"})
    assert response.json()["data"] == {"__typename": "Query"}


async def test_introspection_can_be_turned_on_explicitly(
    apps: Apps, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERCENTER_INTROSPECTION", "true")
    client = await apps.client(production())
    response = await client.post("/graphql", json={"query": INTROSPECTION})
    assert response.status_code == 200
    names = {t["name"] for t in response.json()["data"]["__schema"]["types"]}
    assert {"Query", "Order", "User"} <= names


async def test_development_allows_introspection_by_default(apps: Apps) -> None:
    client = await apps.client(make_settings(env="development", jwt_secret=STRONG_SECRET))
    response = await client.post("/graphql", json={"query": INTROSPECTION})
    assert "errors" not in response.json()


async def test_production_serves_no_graphiql(apps: Apps) -> None:
    client = await apps.client(production())
    page = await client.get("/graphql", headers={"Accept": BROWSER})
    assert page.status_code == 404
    assert "graphiql" not in page.text.lower()


async def test_graphiql_can_be_turned_on_in_production(apps: Apps) -> None:
    client = await apps.client(production(graphiql=True))
    page = await client.get("/graphql", headers={"Accept": BROWSER})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()


# --- Masked errors ---------------------------------------------------------------------


async def test_production_masks_internal_errors(
    apps: Apps, sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await make_user(sessions, handle="ada")

    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("password=hunter2 at db.internal:5432")

    monkeypatch.setattr(orders, "tab_counts", broken)
    assert user.id is not None
    token = issue_token(user.id, secret=STRONG_SECRET, ttl_seconds=600)
    client = await apps.client(production())
    response = await client.post(
        "/graphql",
        json={"query": "{ viewer { handle orderTabs { tab count } } }"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    (error,) = response.json()["errors"]
    assert error["message"] == "Internal server error"
    assert error["extensions"] == {
        "code": "INTERNAL_SERVER_ERROR",
        "requestId": response.headers["x-request-id"],
    }
    for leak in ("hunter2", "db.internal", "RuntimeError", "Traceback", "orders.py"):
        assert leak not in response.text


# --- Refusing to start -----------------------------------------------------------------


def _ec_public_key_file(tmp_path: Path) -> Path:
    path = tmp_path / "issuer.pem"
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    path.write_bytes(
        key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"jwt_secret": DEVELOPMENT_JWT_SECRET}, "ORDERCENTER_JWT_SECRET must be set"),
        ({"jwt_secret": ""}, "at least 32 bytes"),
        ({"jwt_secret": "x" * 31}, "at least 32 bytes"),
        ({"jwt_secret": "x" * 40, "jwt_algorithms": ["HS512"]}, "at least 64 bytes"),
        ({"jwt_algorithms": ["ES256"]}, "ORDERCENTER_JWT_PUBLIC_KEY_FILE"),
        ({"persisted_queries": "allowlist"}, "ORDERCENTER_PERSISTED_QUERIES_FILE"),
    ],
    ids=["dev-secret", "empty", "short", "short-for-hs512", "no-key", "allowlist-no-file"],
)
def test_production_refuses_to_start_unsafely(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        production(**overrides).check()


def test_production_starts_with_a_public_key_and_no_secret(tmp_path: Path) -> None:
    settings = make_settings(
        env="production",
        jwt_secret=DEVELOPMENT_JWT_SECRET,  # unused: HS256 is not accepted
        jwt_algorithms=["ES256"],
        jwt_public_key_file=_ec_public_key_file(tmp_path),
    )
    settings.check()


def test_production_with_hs256_and_a_public_key_still_needs_the_secret(tmp_path: Path) -> None:
    settings = make_settings(
        env="production",
        jwt_secret=DEVELOPMENT_JWT_SECRET,
        jwt_algorithms=["HS256", "ES256"],
        jwt_public_key_file=_ec_public_key_file(tmp_path),
    )
    with pytest.raises(ValueError, match="ORDERCENTER_JWT_SECRET"):
        settings.check()


# --- Security headers ------------------------------------------------------------------


def assert_security_headers(response: httpx.Response) -> str:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["cache-control"] == "no-store"
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    return policy


async def test_security_headers_on_every_kind_of_response(apps: Apps) -> None:
    client = await apps.client(production(graphiql=True))
    api = await client.post("/graphql", json={"query": "{ __typename }"})
    refused = await client.post("/graphql", content=b"{", headers={"Content-Type": "text/plain"})
    health = await client.get("/healthz")
    page = await client.get("/graphql", headers={"Accept": BROWSER})
    assert (api.status_code, refused.status_code, health.status_code) == (200, 415, 200)
    assert page.headers["content-type"].startswith("text/html")

    api_policies = {assert_security_headers(r) for r in (api, refused, health)}
    assert api_policies == {"default-src 'none'; frame-ancestors 'none'"}
    # The page must load its own scripts and call the API; nothing from elsewhere.
    page_policy = assert_security_headers(page)
    assert page_policy not in api_policies
    assert "script-src 'self'" in page_policy
    assert "connect-src 'self'" in page_policy
    assert "*" not in page_policy


# --- CORS ------------------------------------------------------------------------------


@pytest.fixture
async def cors_client(apps: Apps) -> httpx.AsyncClient:
    return await apps.client(production(cors_origins=[ALLOWED_ORIGIN]))


async def test_an_allowed_origin_may_read_answers(cors_client: httpx.AsyncClient) -> None:
    response = await cors_client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Origin": ALLOWED_ORIGIN}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "retry-after" in response.headers["access-control-expose-headers"].lower()


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example.test", "https://shop.example.test.evil.test", "null"],
)
async def test_other_origins_get_no_cors_grant(cors_client: httpx.AsyncClient, origin: str) -> None:
    response = await cors_client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Origin": origin}
    )
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers


async def test_a_preflight_from_the_allowed_origin_works(cors_client: httpx.AsyncClient) -> None:
    response = await cors_client.options(
        "/graphql",
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed


async def test_a_preflight_from_another_origin_is_refused(
    cors_client: httpx.AsyncClient,
) -> None:
    response = await cors_client.options(
        "/graphql",
        headers={
            "Origin": "https://evil.example.test",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_no_cors_without_an_allow_list(apps: Apps) -> None:
    client = await apps.client(production())
    response = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Origin": ALLOWED_ORIGIN}
    )
    assert "access-control-allow-origin" not in response.headers
