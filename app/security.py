"""Standard security headers on every HTTP response."""

from __future__ import annotations

from starlette.types import Message

# GraphiQL is our only page; its one inline script and styles are our own.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws: wss:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
API_POLICY = "default-src 'none'; frame-ancestors 'none'"


# In the order they are added, each unless the response set it itself; names lowercase,
# as ASGI servers and Starlette's responses write them.
_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
_POLICY, _CACHE = b"content-security-policy", b"cache-control"
_PAGE_POLICY, _API_POLICY = PAGE_POLICY.encode(), API_POLICY.encode()
_STATIC_PREFIX = "/graphiql/static/"


def secure(message: Message, path: str) -> None:
    """Adds the headers to an ``http.response.start`` message: one pass over the raw
    headers it has (this runs on every response, where a ``MutableHeaders`` per header
    cost ~30 us a response)."""
    headers = message["headers"] = list(message.get("headers", ()))
    present = set()
    content_type: bytes | None = None
    for name, value in headers:
        present.add(name)
        if name == b"content-type" and content_type is None:
            content_type = value
    html = content_type is not None and content_type.startswith(b"text/html")
    headers.extend(pair for pair in _ALWAYS if pair[0] not in present)
    if _POLICY not in present:
        headers.append((_POLICY, _PAGE_POLICY if html else _API_POLICY))
    if _CACHE not in present:
        # Answers carry private data; only the vendored assets may be cached.
        static = path.startswith(_STATIC_PREFIX)
        headers.append((_CACHE, b"public, max-age=86400" if static else b"no-store"))
