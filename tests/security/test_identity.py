"""Who a bearer token names: HS256 with the shared secret, RS256/ES256 with a PEM public
key or a JWKS file, and nothing else. Every refused token leaves the caller anonymous
(``viewer`` answers UNAUTHENTICATED); HTTP and WebSocket share one verifier.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import WebSocketRoute
from strawberry.exceptions import ConnectionRejectionError

from app.auth import TokenIssuingError, TokenVerifier, ensure_can_issue, issue_token_for
from app.cli import main as cli
from app.settings import DEVELOPMENT_JWT_SECRET, get_settings
from app.ws import GraphQLWebSocket
from db.engine import SessionFactory
from resolvers.context import Context
from tests.conftest import TEST_SECRET
from tests.factories import make_user
from tests.security.conftest import Apps, make_settings

ISSUER = "https://id.example.test/"
AUDIENCE = "order-center"
VIEWER = "{ viewer { handle } }"


@dataclass(frozen=True)
class Keys:
    rsa: rsa.RSAPrivateKey
    ec: ec.EllipticCurvePrivateKey
    stranger_rsa: rsa.RSAPrivateKey
    stranger_ec: ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class KeyFiles:
    rsa_pem: Path
    ec_pem: Path
    jwks: Path


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(
        rsa=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec=ec.generate_private_key(ec.SECP256R1()),
        stranger_rsa=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        stranger_ec=ec.generate_private_key(ec.SECP256R1()),
    )


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture
def files(tmp_path: Path, keys: Keys) -> KeyFiles:
    rsa_pem = tmp_path / "rsa.pem"
    rsa_pem.write_bytes(public_pem(keys.rsa))
    ec_pem = tmp_path / "ec.pem"
    ec_pem.write_bytes(public_pem(keys.ec))
    rsa_jwk = RSAAlgorithm.to_jwk(keys.rsa.public_key(), as_dict=True)
    ec_jwk = ECAlgorithm.to_jwk(keys.ec.public_key(), as_dict=True)
    assert isinstance(rsa_jwk, dict)
    assert isinstance(ec_jwk, dict)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(
        json.dumps(
            {
                "keys": [
                    {**rsa_jwk, "kid": "rsa-1", "use": "sig", "alg": "RS256"},
                    # No "alg": the key type and curve decide (P-256: ES256 only).
                    {**ec_jwk, "kid": "ec-1"},
                ]
            }
        )
    )
    return KeyFiles(rsa_pem, ec_pem, jwks)


def claims(user_id: int, **overrides: Any) -> dict[str, Any]:
    """Valid claims for ``user_id``; an override of None removes the claim."""
    now = int(time.time())
    values: dict[str, Any] = {"sub": str(user_id), "iat": now, "exp": now + 3600, **overrides}
    return {name: value for name, value in values.items() if value is not None}


def sign(payload: dict[str, Any], key: Any, algorithm: str, kid: str | None = None) -> str:
    return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid} if kid else None)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hmac_signed(payload: dict[str, Any], secret: bytes, algorithm: str = "HS256") -> str:
    """An HMAC token by hand: PyJWT itself refuses a PEM key as an HMAC secret."""
    header = _b64(json.dumps({"alg": algorithm, "typ": "JWT"}).encode())
    body = _b64(json.dumps(payload).encode())
    signing_input = f"{header}.{body}".encode()
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[algorithm]
    return f"{header}.{body}.{_b64(hmac.new(secret, signing_input, digest).digest())}"


def unsigned(payload: dict[str, Any]) -> str:
    return jwt.encode(payload, None, algorithm="none")


Configure = Callable[[KeyFiles], dict[str, Any]]
MakeToken = Callable[[int, Keys], str]


def hs256() -> Configure:
    return lambda f: {}


def rs256_pem() -> Configure:
    return lambda f: {"jwt_algorithms": ["RS256"], "jwt_public_key_file": f.rsa_pem}


def es256_pem() -> Configure:
    return lambda f: {"jwt_algorithms": ["ES256"], "jwt_public_key_file": f.ec_pem}


def jwks() -> Configure:
    return lambda f: {"jwt_algorithms": ["RS256", "ES256"], "jwt_jwks_file": f.jwks}


def hs256_and_rs256() -> Configure:
    return lambda f: {"jwt_algorithms": ["HS256", "RS256"], "jwt_public_key_file": f.rsa_pem}


def with_iss_aud(base: Configure, **extra: Any) -> Configure:
    return lambda f: {**base(f), "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, **extra}


def with_leeway(base: Configure, seconds: int) -> Configure:
    return lambda f: {**base(f), "jwt_leeway_seconds": seconds}


def ago(seconds: int) -> int:
    return int(time.time()) - seconds


ACCEPTED: list[Any] = [
    pytest.param(hs256(), lambda uid, k: sign(claims(uid), TEST_SECRET, "HS256"), id="hs256"),
    pytest.param(
        with_iss_aud(hs256()),
        lambda uid, k: sign(claims(uid, iss=ISSUER, aud=AUDIENCE), TEST_SECRET, "HS256"),
        id="hs256-iss-aud",
    ),
    pytest.param(
        with_iss_aud(hs256()),
        lambda uid, k: sign(claims(uid, iss=ISSUER, aud=[AUDIENCE, "x"]), TEST_SECRET, "HS256"),
        id="hs256-one-of-several-audiences",
    ),
    pytest.param(rs256_pem(), lambda uid, k: sign(claims(uid), k.rsa, "RS256"), id="rs256-pem"),
    pytest.param(es256_pem(), lambda uid, k: sign(claims(uid), k.ec, "ES256"), id="es256-pem"),
    pytest.param(
        jwks(), lambda uid, k: sign(claims(uid), k.rsa, "RS256", "rsa-1"), id="rs256-jwks"
    ),
    pytest.param(jwks(), lambda uid, k: sign(claims(uid), k.ec, "ES256", "ec-1"), id="es256-jwks"),
    pytest.param(
        with_iss_aud(jwks()),
        lambda uid, k: sign(claims(uid, iss=ISSUER, aud=AUDIENCE), k.rsa, "RS256", "rsa-1"),
        id="rs256-jwks-iss-aud",
    ),
    pytest.param(
        rs256_pem(),
        lambda uid, k: sign(claims(uid), k.rsa, "RS256", "any-kid"),
        id="pem-ignores-kid",
    ),
    pytest.param(
        hs256_and_rs256(),
        lambda uid, k: sign(claims(uid), TEST_SECRET, "HS256"),
        id="both-configured-hs256",
    ),
    pytest.param(
        hs256_and_rs256(),
        lambda uid, k: sign(claims(uid), k.rsa, "RS256"),
        id="both-configured-rs256",
    ),
    # Leeway (30 s by default) for clocks that disagree a little.
    pytest.param(
        hs256(),
        lambda uid, k: sign(claims(uid, exp=ago(20)), TEST_SECRET, "HS256"),
        id="expired-within-leeway",
    ),
    pytest.param(
        hs256(),
        lambda uid, k: sign(claims(uid, nbf=ago(-20)), TEST_SECRET, "HS256"),
        id="nbf-within-leeway",
    ),
    pytest.param(
        with_leeway(rs256_pem(), 120),
        lambda uid, k: sign(claims(uid, exp=ago(90)), k.rsa, "RS256"),
        id="expired-within-configured-leeway",
    ),
    pytest.param(
        hs256(),
        lambda uid, k: sign(claims(uid, nbf=ago(60)), TEST_SECRET, "HS256"),
        id="nbf-in-the-past",
    ),
]

REFUSED: list[Any] = [
    pytest.param(
        hs256(),
        lambda uid, k: sign(claims(uid, exp=ago(3600)), TEST_SECRET, "HS256"),
        id="expired",
    ),
    pytest.param(
        hs256(),
        lambda uid, k: sign(claims(uid, exp=ago(40)), TEST_SECRET, "HS256"),
        id="expired-beyond-leeway",
    ),
    pytest.param(
        with_leeway(hs256(), 0),
        lambda uid, k: sign(claims(uid, exp=ago(5)), TEST_SECRET, "HS256"),
        id="expired-without-leeway",
    ),
    pytest.param(
        hs256(),
        lambda uid, k: sign(claims(uid, exp=None), TEST_SECRET, "HS256"),
        id="no-exp",
    ),
    pytest.param(
        hs256(),
        lambda uid, k: sign(claims(uid, nbf=ago(-3600)), TEST_SECRET, "HS256"),
        id="nbf-in-the-future",
    ),
    pytest.param(
        rs256_pem(),
        lambda uid, k: sign(claims(uid, nbf=ago(-40)), k.rsa, "RS256"),
        id="nbf-beyond-leeway",
    ),
    pytest.param(
        with_iss_aud(hs256()),
        lambda uid, k: sign(
            claims(uid, iss="https://evil.test/", aud=AUDIENCE), TEST_SECRET, "HS256"
        ),
        id="wrong-iss",
    ),
    pytest.param(
        with_iss_aud(hs256()),
        lambda uid, k: sign(claims(uid, aud=AUDIENCE), TEST_SECRET, "HS256"),
        id="missing-iss",
    ),
    pytest.param(
        with_iss_aud(jwks()),
        lambda uid, k: sign(claims(uid, iss=ISSUER, aud="billing"), k.rsa, "RS256", "rsa-1"),
        id="wrong-aud",
    ),
    pytest.param(
        with_iss_aud(hs256()),
        lambda uid, k: sign(claims(uid, iss=ISSUER), TEST_SECRET, "HS256"),
        id="missing-aud",
    ),
    pytest.param(
        hs256(),
        lambda uid, k: sign(claims(uid, aud="billing"), TEST_SECRET, "HS256"),
        id="aud-when-none-configured",
    ),
    pytest.param(hs256(), lambda uid, k: unsigned(claims(uid)), id="alg-none"),
    pytest.param(rs256_pem(), lambda uid, k: unsigned(claims(uid)), id="alg-none-rs256-config"),
    pytest.param(
        hs256(),
        lambda uid, k: hmac_signed(claims(uid), TEST_SECRET.encode(), "HS512"),
        id="hs512-not-configured",
    ),
    pytest.param(
        rs256_pem(),
        lambda uid, k: sign(claims(uid), TEST_SECRET, "HS256"),
        id="hs256-when-only-rs256",
    ),
    pytest.param(
        rs256_pem(),
        lambda uid, k: sign(claims(uid), DEVELOPMENT_JWT_SECRET, "HS256"),
        id="dev-secret-when-only-rs256",
    ),
    # The classic confusion: the public key (which anyone may have) as an HMAC secret.
    pytest.param(
        rs256_pem(),
        lambda uid, k: hmac_signed(claims(uid), public_pem(k.rsa)),
        id="public-key-as-hmac-secret",
    ),
    pytest.param(
        hs256_and_rs256(),
        lambda uid, k: hmac_signed(claims(uid), public_pem(k.rsa)),
        id="public-key-as-hmac-secret-both-configured",
    ),
    pytest.param(
        jwks(),
        lambda uid, k: hmac_signed(claims(uid), public_pem(k.rsa)),
        id="public-key-as-hmac-secret-jwks",
    ),
    pytest.param(
        rs256_pem(),
        lambda uid, k: sign(claims(uid), k.stranger_rsa, "RS256"),
        id="rs256-other-key-pem",
    ),
    pytest.param(
        jwks(),
        lambda uid, k: sign(claims(uid), k.stranger_rsa, "RS256", "rsa-1"),
        id="rs256-other-key-jwks",
    ),
    pytest.param(
        es256_pem(),
        lambda uid, k: sign(claims(uid), k.stranger_ec, "ES256"),
        id="es256-other-key",
    ),
    pytest.param(
        es256_pem(),
        lambda uid, k: sign(claims(uid), k.rsa, "RS256"),
        id="rs256-when-only-es256",
    ),
    pytest.param(
        jwks(),
        lambda uid, k: sign(claims(uid), k.rsa, "RS256", "unknown"),
        id="jwks-unknown-kid",
    ),
    pytest.param(
        jwks(),
        lambda uid, k: sign(claims(uid), k.rsa, "RS256"),
        id="jwks-no-kid",
    ),
    pytest.param(
        jwks(),
        lambda uid, k: sign(claims(uid), k.rsa, "RS256", "ec-1"),
        id="jwks-kid-of-another-key-type",
    ),
    pytest.param(
        lambda f: {"jwt_algorithms": ["RS256", "RS512"], "jwt_jwks_file": f.jwks},
        lambda uid, k: sign(claims(uid), k.rsa, "RS512", "rsa-1"),
        id="jwks-key-pinned-to-another-alg",
    ),
    pytest.param(
        rs256_pem(),
        lambda uid, k: sign(claims(uid, sub="ada"), k.rsa, "RS256"),
        id="sub-not-a-user-id",
    ),
    pytest.param(
        rs256_pem(),
        lambda uid, k: sign(claims(uid, sub=None), k.rsa, "RS256"),
        id="no-sub",
    ),
]


async def ask_viewer(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    body.pop("extensions", None)
    return body


@pytest.mark.parametrize(("configure", "make_token"), ACCEPTED)
async def test_accepted_tokens_sign_the_viewer_in(
    apps: Apps,
    sessions: SessionFactory,
    keys: Keys,
    files: KeyFiles,
    configure: Configure,
    make_token: MakeToken,
) -> None:
    user = await make_user(sessions, handle="ada")
    assert user.id is not None
    client = await apps.client(make_settings(**configure(files)))
    assert await ask_viewer(client, make_token(user.id, keys)) == {
        "data": {"viewer": {"handle": "ada"}}
    }


@pytest.mark.parametrize(("configure", "make_token"), REFUSED)
async def test_refused_tokens_leave_the_caller_anonymous(
    apps: Apps,
    sessions: SessionFactory,
    keys: Keys,
    files: KeyFiles,
    configure: Configure,
    make_token: MakeToken,
) -> None:
    user = await make_user(sessions, handle="ada")
    assert user.id is not None
    client = await apps.client(make_settings(**configure(files)))
    body = await ask_viewer(client, make_token(user.id, keys))
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


# --- One verifier for HTTP and WebSocket -----------------------------------------------


def websocket_and_backend(app: Any) -> tuple[GraphQLWebSocket, Any]:
    (route,) = [r for r in app.routes if isinstance(r, WebSocketRoute)]
    (middleware,) = [m for m in app.user_middleware if m.cls is AuthenticationMiddleware]
    return route.app, middleware.kwargs["backend"]


async def test_http_and_websocket_share_one_verifier(apps: Apps, files: KeyFiles) -> None:
    app = apps.app(make_settings(**rs256_pem()(files)))
    websocket, backend = websocket_and_backend(app)
    assert isinstance(websocket, GraphQLWebSocket)
    assert isinstance(websocket.verifier, TokenVerifier)
    assert websocket.verifier is backend._verifier


async def connect(websocket: GraphQLWebSocket, sessions: SessionFactory, token: str) -> Context:
    """What connection_init does with ``token`` in its payload."""
    context = Context.for_request(viewer_id=None, sessions=sessions)
    context.connection_params = {"Authorization": f"Bearer {token}"}
    await websocket.on_ws_connect(context)
    return context


async def test_websocket_accepts_what_http_accepts(
    apps: Apps, sessions: SessionFactory, keys: Keys, files: KeyFiles
) -> None:
    user = await make_user(sessions, handle="ada")
    assert user.id is not None
    app = apps.app(make_settings(**with_iss_aud(jwks())(files)))
    websocket, _ = websocket_and_backend(app)
    good = sign(claims(user.id, iss=ISSUER, aud=AUDIENCE), keys.ec, "ES256", "ec-1")
    context = await connect(websocket, sessions, good)
    assert context.viewer_id == user.id

    for bad in (
        sign(claims(user.id, iss=ISSUER, aud=AUDIENCE), TEST_SECRET, "HS256"),
        sign(claims(user.id, iss=ISSUER, aud="billing"), keys.ec, "ES256", "ec-1"),
        sign(claims(user.id, iss=ISSUER, aud=AUDIENCE, exp=ago(3600)), keys.rsa, "RS256", "rsa-1"),
        hmac_signed(claims(user.id, iss=ISSUER, aud=AUDIENCE), public_pem(keys.rsa)),
        unsigned(claims(user.id, iss=ISSUER, aud=AUDIENCE)),
    ):
        with pytest.raises(ConnectionRejectionError):
            await connect(websocket, sessions, bad)


async def test_tokens_are_never_logged(
    apps: Apps,
    sessions: SessionFactory,
    keys: Keys,
    files: KeyFiles,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = await make_user(sessions, handle="ada")
    assert user.id is not None
    app = apps.app(make_settings(**with_iss_aud(jwks())(files)))
    client = await apps.client(app)
    websocket, _ = websocket_and_backend(app)
    tokens = [
        sign(claims(user.id, iss=ISSUER, aud=AUDIENCE), keys.rsa, "RS256", "rsa-1"),
        sign(claims(user.id, iss=ISSUER, aud="billing"), keys.rsa, "RS256", "rsa-1"),
        sign(claims(user.id), TEST_SECRET, "HS256"),
        "not.a.jwt",
    ]
    with caplog.at_level(logging.DEBUG):
        for token in tokens:
            await ask_viewer(client, token)
            with contextlib.suppress(ConnectionRejectionError):
                await connect(websocket, sessions, token)
    assert any(r.name == "ordercenter.auth" for r in caplog.records)  # refusals are logged
    for token in tokens:
        for part in token.split("."):
            if len(part) > 8:
                assert part not in caplog.text


# --- Configuration ---------------------------------------------------------------------


def test_a_private_key_is_refused_as_the_public_key(tmp_path: Path, keys: Keys) -> None:
    pem = tmp_path / "private.pem"
    pem.write_bytes(
        keys.rsa.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ValueError, match="private key"):
        make_settings(jwt_algorithms=["RS256"], jwt_public_key_file=pem).check()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]}, "secret or private"),
        ({"keys": []}, "no usable signing key"),
        ({"nokeys": True}, '"keys"'),
    ],
    ids=["symmetric-key", "empty", "not-a-jwks"],
)
def test_a_bad_jwks_file_is_refused(tmp_path: Path, document: Any, message: str) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match=message):
        make_settings(jwt_algorithms=["RS256"], jwt_jwks_file=path).check()


def test_a_jwks_private_key_is_refused(tmp_path: Path, keys: Keys) -> None:
    private = RSAAlgorithm.to_jwk(keys.rsa, as_dict=True)
    assert isinstance(private, dict)
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [{**private, "kid": "k"}]}))
    with pytest.raises(ValueError, match="secret or private"):
        make_settings(jwt_algorithms=["RS256"], jwt_jwks_file=path).check()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"jwt_algorithms": ["RS256"]}, "ORDERCENTER_JWT_PUBLIC_KEY_FILE"),
        ({"jwt_public_key_file": Path("/nonexistent/key.pem")}, "ORDERCENTER_JWT_ALGORITHMS"),
        (
            {"jwt_algorithms": ["RS256"], "jwt_public_key_file": Path("/nonexistent/key.pem")},
            "cannot read",
        ),
    ],
    ids=["algorithm-without-key", "key-without-algorithm", "missing-file"],
)
def test_inconsistent_key_settings_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_settings(**overrides).check()


@pytest.mark.parametrize("value", ["none", "None", "HS256,none", "RS1"])
def test_unknown_algorithms_are_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ORDERCENTER_JWT_ALGORITHMS", value)
    with pytest.raises(ValueError, match="ORDERCENTER_JWT_ALGORITHMS"):
        make_settings()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("RS256", ["RS256"]), ("HS256, ES256", ["HS256", "ES256"]), ('["ES256"]', ["ES256"])],
)
def test_algorithms_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    monkeypatch.setenv("ORDERCENTER_JWT_ALGORITHMS", value)
    assert make_settings().jwt_algorithms == expected


# --- Minting (`ordercenter token`) -----------------------------------------------------


async def test_minted_tokens_carry_the_configured_issuer_and_audience(
    apps: Apps, sessions: SessionFactory
) -> None:
    user = await make_user(sessions, handle="ada")
    assert user.id is not None
    settings = make_settings(jwt_issuer=ISSUER, jwt_audience=AUDIENCE)
    client = await apps.client(settings)
    token = issue_token_for(settings, user.id)
    assert await ask_viewer(client, token) == {"data": {"viewer": {"handle": "ada"}}}


def test_minting_needs_hs256(files: KeyFiles) -> None:
    settings = make_settings(**rs256_pem()(files))
    with pytest.raises(TokenIssuingError, match="identity provider"):
        ensure_can_issue(settings)


def test_ordercenter_token_fails_clearly_with_only_public_keys(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, files: KeyFiles
) -> None:
    monkeypatch.setenv("ORDERCENTER_DATABASE_URL", f"sqlite:///{tmp_path / 'unused.db'}")
    monkeypatch.setenv("ORDERCENTER_JWT_ALGORITHMS", "RS256")
    monkeypatch.setenv("ORDERCENTER_JWT_PUBLIC_KEY_FILE", str(files.rsa_pem))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["token", "demo"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code != 0
    assert "cannot mint tokens" in result.output
    assert "ORDERCENTER_JWT_ALGORITHMS" in result.output
    assert not (tmp_path / "unused.db").exists()  # refused before touching the database
