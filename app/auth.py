"""Bearer-token authentication, Starlette style: the backend sets ``request.user``.

Tokens are JWTs verified by one ``TokenVerifier`` built from the settings, shared by
HTTP (``BearerTokenBackend``) and WebSocket (``connection_init``). Each configured
algorithm family has its own key and nothing else: HS* tokens are checked against
the shared secret only, RS*/PS*/ES* tokens against the public key (PEM file) or the
JWKS key their ``kid`` names only, so a public key can never serve as an HMAC secret
and ``alg: none`` is never accepted. ``exp`` and ``sub`` are required, ``nbf`` is
honoured, ``iss``/``aud`` are checked when configured, all with the configured leeway.

Nothing here logs a token: refusals are logged (at DEBUG) by the error's class only.
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
import orjson
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser
from starlette.requests import HTTPConnection

if TYPE_CHECKING:
    from app.settings import Settings

log = logging.getLogger("ordercenter.auth")

ALGORITHM = "HS256"
"""What ``issue_token`` (``ordercenter token``) signs with."""

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_CURVES = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
PUBLIC_KEY_ALGORITHMS = RSA_ALGORITHMS | frozenset(EC_CURVES)
SUPPORTED_ALGORITHMS = HMAC_ALGORITHMS | PUBLIC_KEY_ALGORITHMS
MAX_TOKEN_BYTES = 16_384
# Verified tokens remembered per process (a few hundred bytes each).
VERIFIED_TOKENS = 4096
_USER_ID = re.compile(r"[1-9][0-9]{0,17}")

PublicKey = RSAPublicKey | EllipticCurvePublicKey


class KeyConfigError(ValueError):
    """A key file is missing, unreadable, or holds something that must not be there."""


class TokenIssuingError(ValueError):
    """This server cannot mint tokens: only public keys are configured."""


@dataclass(frozen=True, slots=True)
class AuthenticatedViewer(BaseUser):
    """The caller a valid token names. Its row is loaded lazily by the viewer loader."""

    user_id: int

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return str(self.user_id)

    @property
    def identity(self) -> str:
        return str(self.user_id)


def issue_token(
    user_id: int,
    *,
    secret: str,
    ttl_seconds: int,
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": str(user_id), "iat": now, "exp": now + ttl_seconds}
    if issuer is not None:
        claims["iss"] = issuer
    if audience is not None:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def ensure_can_issue(settings: Settings) -> None:
    """TokenIssuingError unless this server accepts the HS256 tokens it would mint."""
    if ALGORITHM not in settings.jwt_algorithms:
        raise TokenIssuingError(
            f"this server accepts {', '.join(settings.jwt_algorithms)} tokens only: they come "
            "from your identity provider's private key, which it does not have. To mint "
            f"tokens here, add {ALGORITHM} to ORDERCENTER_JWT_ALGORITHMS and set "
            "ORDERCENTER_JWT_SECRET."
        )


def issue_token_for(settings: Settings, user_id: int) -> str:
    """A token for ``ordercenter token``, or TokenIssuingError when HS256 is not accepted."""
    ensure_can_issue(settings)
    return issue_token(
        user_id,
        secret=settings.jwt_secret,
        ttl_seconds=settings.jwt_ttl_seconds,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )


# --- Keys -------------------------------------------------------------------------------


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise KeyConfigError(f"cannot read {what} {path}: {error.strerror or error}") from None


def load_public_key(path: Path) -> PublicKey:
    """An RSA or EC public key from a PEM file (a bare key or an X.509 certificate)."""
    data = _read(path, "ORDERCENTER_JWT_PUBLIC_KEY_FILE")
    if b"PRIVATE KEY" in data:
        raise KeyConfigError(
            f"ORDERCENTER_JWT_PUBLIC_KEY_FILE {path} holds a private key: give the public "
            "key only (the private key belongs to whoever signs the tokens)"
        )
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            key: Any = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except ValueError:
        raise KeyConfigError(
            f"ORDERCENTER_JWT_PUBLIC_KEY_FILE {path} is not a PEM public key or certificate"
        ) from None
    if not isinstance(key, RSAPublicKey | EllipticCurvePublicKey):
        raise KeyConfigError(
            f"ORDERCENTER_JWT_PUBLIC_KEY_FILE {path}: only RSA and EC keys are supported"
        )
    return key


@dataclass(frozen=True, slots=True)
class _JwksKey:
    key: PublicKey
    algorithm: str | None  # the JWK's own "alg", when it names one


def load_jwks(path: Path) -> dict[str, _JwksKey]:
    """The signing keys of a JWKS file by ``kid``; refuses secret or private keys."""
    try:
        document = orjson.loads(_read(path, "ORDERCENTER_JWT_JWKS_FILE"))
    except orjson.JSONDecodeError:
        raise KeyConfigError(f"ORDERCENTER_JWT_JWKS_FILE {path} is not JSON") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise KeyConfigError(f'ORDERCENTER_JWT_JWKS_FILE {path} has no "keys" list')
    keys: dict[str, _JwksKey] = {}
    for index, entry in enumerate(entries):
        where = f"ORDERCENTER_JWT_JWKS_FILE {path}, key {index}"
        if not isinstance(entry, dict):
            raise KeyConfigError(f"{where} is not an object")
        if entry.get("kty") == "oct" or "d" in entry:
            raise KeyConfigError(
                f"{where} is a secret or private key: a JWKS file here holds public keys only"
            )
        if entry.get("use", "sig") != "sig":
            continue  # an encryption key: not ours to use
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid:
            raise KeyConfigError(f'{where} has no "kid": tokens select keys by kid')
        if kid in keys:
            raise KeyConfigError(f"{where}: kid {kid!r} appears twice")
        try:
            key = jwt.PyJWK(entry).key
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            log.warning("%s (kid %r) is unusable and ignored: %s", where, kid, error)
            continue
        if not isinstance(key, RSAPublicKey | EllipticCurvePublicKey):
            log.warning("%s (kid %r): only RSA and EC keys are supported; ignored", where, kid)
            continue
        algorithm = entry.get("alg")
        keys[kid] = _JwksKey(key, algorithm if isinstance(algorithm, str) else None)
    if not keys:
        raise KeyConfigError(f"ORDERCENTER_JWT_JWKS_FILE {path} has no usable signing key")
    return keys


def _fits(algorithm: str, key: PublicKey) -> bool:
    """Whether a public key may verify this algorithm (key type and EC curve agree)."""
    if algorithm in RSA_ALGORITHMS:
        return isinstance(key, RSAPublicKey)
    curve = EC_CURVES.get(algorithm)
    return curve is not None and isinstance(key, EllipticCurvePublicKey) and key.curve.name == curve


# --- Verification -----------------------------------------------------------------------


class TokenVerifier:
    """Checks bearer tokens; the one place that decides who a token names."""

    def __init__(
        self,
        *,
        algorithms: Collection[str],
        secret: str | None = None,
        public_key: PublicKey | None = None,
        jwks: Mapping[str, _JwksKey] | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        leeway_seconds: float = 30,
    ) -> None:
        unknown = set(algorithms) - SUPPORTED_ALGORITHMS
        if unknown:
            raise ValueError(f"unsupported JWT algorithms: {', '.join(sorted(unknown))}")
        self.algorithms = frozenset(algorithms)
        self._secret = secret.encode() if secret else None
        self._public_key = public_key
        self._jwks = dict(jwks or {})
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway_seconds
        # Tokens already verified, by their exact text: a client sends the same token on
        # every request, and verifying its signature again is most of what auth costs
        # (an RSA or EC signature far more than an HMAC). Only successes are kept, with
        # the time window they hold in; bounded, least recently used out first.
        self._verified: OrderedDict[str, tuple[AuthenticatedViewer, float, float]] = OrderedDict()
        self._hmac_only: tuple[bytes, list[str]] | None = None
        if self._secret and self.algorithms <= HMAC_ALGORITHMS:
            self._hmac_only = (self._secret, sorted(self.algorithms))

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenVerifier:
        algorithms = set(settings.jwt_algorithms)
        asymmetric = bool(algorithms & PUBLIC_KEY_ALGORITHMS)
        public_key = jwks = None
        if asymmetric and settings.jwt_public_key_file is not None:
            public_key = load_public_key(settings.jwt_public_key_file)
        if asymmetric and settings.jwt_jwks_file is not None:
            jwks = load_jwks(settings.jwt_jwks_file)
        return cls(
            algorithms=algorithms,
            secret=settings.jwt_secret if algorithms & HMAC_ALGORITHMS else None,
            public_key=public_key,
            jwks=jwks,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway_seconds=settings.jwt_leeway_seconds,
        )

    def _key_for(self, algorithm: str, kid: Any) -> bytes | PublicKey | None:
        if algorithm in HMAC_ALGORITHMS:
            return self._secret
        if isinstance(kid, str) and kid in self._jwks:
            found = self._jwks[kid]
            if found.algorithm is not None and found.algorithm != algorithm:
                return None
            return found.key if _fits(algorithm, found.key) else None
        if self._public_key is not None and _fits(algorithm, self._public_key):
            return self._public_key
        return None

    def _key_and_algorithms(self, token: str) -> tuple[bytes | PublicKey, list[str]]:
        """The key to verify ``token`` with, and the algorithms it may be signed with.

        Only what is configured, each with its own key: never "none", never a public key
        offered to HMAC. With HMAC alone there is one key for all of them, and PyJWT
        refuses any other algorithm itself: the header is not read a second time here.
        """
        if self._hmac_only is not None:
            return self._hmac_only
        header = jwt.get_unverified_header(token)
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self.algorithms:
            raise jwt.InvalidAlgorithmError("algorithm not accepted")
        key = self._key_for(algorithm, header.get("kid"))
        if key is None:
            raise jwt.InvalidKeyError("no key for this token")
        return key, [algorithm]

    def verify(self, token: str) -> AuthenticatedViewer | None:
        """The viewer a token names, or None for anything not signed, expired or malformed."""
        checked = self.check(token)
        return checked if isinstance(checked, AuthenticatedViewer) else None

    def check(self, token: str) -> AuthenticatedViewer | str:
        """The viewer a token names, or why not: "malformed", "expired" or "invalid"."""
        remembered = self._verified.get(token)
        if remembered is not None:
            viewer, not_before, expires = remembered
            now = time.time()
            if not_before - self.leeway <= now < expires + self.leeway:
                self._verified.move_to_end(token)
                return viewer
            del self._verified[token]  # expired (or not yet valid): verified afresh
        checked = self._check(token)
        if isinstance(checked, str):
            return checked
        viewer, claims = checked
        self._remember(token, viewer, claims)
        return viewer

    def _remember(self, token: str, viewer: AuthenticatedViewer, claims: Mapping[str, Any]) -> None:
        expires, not_before = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(expires, int | float) or not isinstance(not_before, int | float):
            return
        self._verified[token] = (viewer, float(not_before), float(expires))
        if len(self._verified) > VERIFIED_TOKENS:
            self._verified.popitem(last=False)

    def _check(self, token: str) -> tuple[AuthenticatedViewer, Mapping[str, Any]] | str:
        """The viewer and the verified claims, or why not."""
        if len(token) > MAX_TOKEN_BYTES:
            return "malformed"
        try:
            key, algorithms = self._key_and_algorithms(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                options={"require": ["exp", "sub"]},
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
            )
        except jwt.ExpiredSignatureError:
            return "expired"
        except jwt.DecodeError as error:
            if isinstance(error, jwt.InvalidSignatureError):
                return "invalid"
            log.debug("bearer token refused: %s", type(error).__name__)
            return "malformed"
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            log.debug("bearer token refused: %s", type(error).__name__)
            return "invalid"
        subject = claims.get("sub")
        if not isinstance(subject, str) or not _USER_ID.fullmatch(subject):
            log.debug("bearer token refused: sub is not a user id")
            return "invalid"
        return AuthenticatedViewer(int(subject)), claims


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def identify(verifier: TokenVerifier, authorization: str | None) -> AuthenticatedViewer | str:
    """Who an Authorization value names, or why nobody: "missing", "malformed",
    "expired" or "invalid". The one decision for HTTP and WebSocket alike."""
    if authorization is None or not authorization.strip():
        return "missing"
    token = bearer_token(authorization)
    if token is None:
        return "malformed"
    return verifier.check(token)


class SignedOut(BaseUser):
    """A caller whose token was refused; ``auth_problem`` says why."""

    def __init__(self, auth_problem: str) -> None:
        self.auth_problem = auth_problem

    @property
    def is_authenticated(self) -> bool:
        return False

    @property
    def display_name(self) -> str:
        return ""


class BearerTokenBackend(AuthenticationBackend):
    def __init__(self, verifier: TokenVerifier) -> None:
        self._verifier = verifier

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        identified = identify(self._verifier, conn.headers.get("authorization"))
        if identified == "missing":
            return None
        if isinstance(identified, str):
            # A refused token is treated as no token: fields that need a viewer answer
            # UNAUTHENTICATED (saying why), public fields still work.
            return AuthCredentials([]), SignedOut(identified)
        return AuthCredentials(["authenticated"]), identified
