"""Persisted operations: Apollo's Automatic Persisted Queries, or a production allow-list.

A request names its document by hash in ``extensions.persistedQuery`` =
``{"version": 1, "sha256Hash": "<hex>"}``, with or without the ``query`` itself.

``apq`` (the default): a request with the query registers it once its hash checks out
(400 otherwise); later requests send the hash alone. An unknown hash answers a
GraphQL error ``PersistedQueryNotFound`` (``PERSISTED_QUERY_NOT_FOUND``; status 200
under ``application/json``, 400 under ``application/graphql-response+json``), which
Apollo clients answer by retrying with the full query. Registered documents live in a
per-process LRU bounded by count and by bytes.

``allowlist``: only the documents of ``ORDERCENTER_PERSISTED_QUERIES_FILE`` run, by
hash or in full; anything else is refused with 403 and ``PERSISTED_QUERY_NOT_ALLOWED``
(a policy refusal: retrying cannot help, so it is not NOT_FOUND). Nothing registers.

``off``: the extension is ignored when a query comes with it; a hash alone answers
``PersistedQueryNotSupported`` (``PERSISTED_QUERY_NOT_SUPPORTED``), upon which Apollo
clients stop sending hashes.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson
from graphql import GraphQLError

from schema.bounded import WeighedLRU

if TYPE_CHECKING:
    from app.settings import Settings

Mode = Literal["off", "apq", "allowlist"]

APQ_VERSION = 1
MAX_ENTRIES = 10_000
MAX_BYTES = 8 * 1024 * 1024  # see schema.documents.CACHE_BYTES
_SHA256 = re.compile(r"[0-9a-f]{64}")

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
NOT_ALLOWED = "PERSISTED_QUERY_NOT_ALLOWED"
HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
BAD_REQUEST = "BAD_PERSISTED_QUERY"


class PersistedQueryError(Exception):
    """The request's document cannot be had; nothing is executed.

    ``status`` None: a GraphQL request error, answered like any unexecuted request
    (200 under application/json); otherwise the HTTP status to answer with.
    """

    def __init__(self, message: str, code: str, status: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status

    def graphql_error(self) -> GraphQLError:
        return GraphQLError(self.message, extensions={"code": self.code})


def sha256_hex(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def load_allowlist(path: Path) -> dict[str, str]:
    """The allow-list file: a JSON object of sha256 hex -> document, every hash checked."""
    try:
        entries = orjson.loads(path.read_bytes())
    except OSError as error:
        raise ValueError(
            f"cannot read ORDERCENTER_PERSISTED_QUERIES_FILE {path}: {error.strerror or error}"
        ) from None
    except orjson.JSONDecodeError:
        raise ValueError(f"ORDERCENTER_PERSISTED_QUERIES_FILE {path} is not JSON") from None
    if not isinstance(entries, dict):
        raise ValueError(
            f"ORDERCENTER_PERSISTED_QUERIES_FILE {path} must be a JSON object {{sha256: document}}"
        )
    allowed: dict[str, str] = {}
    for key, document in entries.items():
        if not isinstance(document, str) or not document.strip():
            raise ValueError(f"persisted query {key!r} in {path}: the document must be a string")
        digest = sha256_hex(document)
        if key.lower() != digest:
            raise ValueError(
                f"persisted query {key!r} in {path}: its document hashes to {digest}; "
                "regenerate the file with `ordercenter persisted-queries hash`"
            )
        allowed[digest] = document
    return allowed


class QueryCache:
    """Registered documents by hash, least recently used first out; bounded twice."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self._documents: WeighedLRU[str, str] = WeighedLRU(
            max_entries=max_entries, max_bytes=max_bytes
        )

    def __len__(self) -> int:
        return len(self._documents)

    @property
    def bytes(self) -> int:
        return self._documents.bytes

    def get(self, digest: str) -> str | None:
        return self._documents.get(digest)

    def put(self, digest: str, document: str) -> None:
        self._documents.put(digest, document, len(document.encode()))


def _requested_hash(persisted: Any) -> str:
    if not isinstance(persisted, dict):
        raise PersistedQueryError(
            "`extensions.persistedQuery` must be an object.", BAD_REQUEST, 400
        )
    if persisted.get("version") != APQ_VERSION:
        raise PersistedQueryError(
            f"Unsupported persisted query version; this server speaks version {APQ_VERSION}.",
            BAD_REQUEST,
            400,
        )
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest.lower()):
        raise PersistedQueryError(
            "`extensions.persistedQuery.sha256Hash` must be 64 hexadecimal digits.",
            BAD_REQUEST,
            400,
        )
    return digest.lower()


def names_persisted_query(extensions: Any) -> bool:
    """Whether a request's extensions ask for a persisted query (it may omit `query`)."""
    return isinstance(extensions, dict) and extensions.get("persistedQuery") is not None


class PersistedQueries:
    def __init__(self, mode: Mode = "apq", allowlist: dict[str, str] | None = None) -> None:
        if mode == "allowlist" and allowlist is None:
            raise ValueError("allow-list mode needs the allow-list")
        self.mode = mode
        self.allowlist = allowlist or {}
        self.cache = QueryCache()

    @classmethod
    def from_settings(cls, settings: Settings) -> PersistedQueries:
        allowlist = None
        if settings.persisted_queries == "allowlist":
            if settings.persisted_queries_file is None:
                raise ValueError(
                    "ORDERCENTER_PERSISTED_QUERIES=allowlist needs "
                    "ORDERCENTER_PERSISTED_QUERIES_FILE"
                )
            allowlist = load_allowlist(settings.persisted_queries_file)
        return cls(settings.persisted_queries, allowlist)

    def _not_allowed(self) -> PersistedQueryError:
        return PersistedQueryError(
            "This server runs registered operations only; this one is not registered.",
            NOT_ALLOWED,
            403,
        )

    def resolve(self, query: str | None, extensions: dict[str, Any] | None) -> str:
        """The document to execute for a request's ``query`` and ``extensions``."""
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        if persisted is None:
            if query is None:
                raise PersistedQueryError("`query` must be a non-empty string.", BAD_REQUEST, 400)
            if self.mode == "allowlist" and sha256_hex(query) not in self.allowlist:
                raise self._not_allowed()
            return query
        digest = _requested_hash(persisted)
        if self.mode == "off":
            if query is None:
                raise PersistedQueryError("PersistedQueryNotSupported", NOT_SUPPORTED, None)
            return query
        if query is not None:
            if sha256_hex(query) != digest:
                raise PersistedQueryError(
                    "provided sha does not match query: `sha256Hash` must be the SHA-256 "
                    "of `query` exactly as sent.",
                    HASH_MISMATCH,
                    400,
                )
            if self.mode == "allowlist":
                if digest not in self.allowlist:
                    raise self._not_allowed()
            else:
                self.cache.put(digest, query)
            return query
        found = self.allowlist.get(digest) if self.mode == "allowlist" else self.cache.get(digest)
        if found is None:
            if self.mode == "allowlist":
                raise self._not_allowed()
            raise PersistedQueryError("PersistedQueryNotFound", NOT_FOUND, None)
        return found
