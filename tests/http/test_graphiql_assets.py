"""GraphiQL is served from vendored assets only: no CDN, no server, no database needed."""

from __future__ import annotations

import warnings
from html.parser import HTMLParser

import pytest
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning
from starlette.routing import Mount

# Starlette >= 1.x warns at import time when its TestClient falls back to ``httpx`` instead of
# ``httpx2``; with filterwarnings=error that would fail collection. Silence only that warning,
# only here (a no-op once httpx2 is installed).
with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore",
        message=r"Using `httpx` with `starlette\.testclient` is deprecated",
        category=StarletteDeprecationWarning,
    )
    from starlette.testclient import TestClient

from app.graphiql import (
    GRAPHIQL_STATIC_DIR,
    STATIC_URL_PREFIX,
    graphiql_html,
    static_app,
)


class _AssetRefs(HTMLParser):
    """Collects every ``src``/``href`` of <script>, <link>, <img> and <iframe> tags."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag not in {"script", "link", "img", "iframe"}:
            return
        for name, value in attrs:
            if name in {"src", "href"} and value is not None:
                self.refs.append((tag, value))

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def _refs(html: str) -> _AssetRefs:
    parser = _AssetRefs()
    parser.feed(html)
    parser.close()
    return parser


def _asset_names(html: str) -> list[str]:
    prefix = STATIC_URL_PREFIX + "/"
    return [ref.removeprefix(prefix) for _, ref in _refs(html).refs]


def test_page_references_scripts_and_stylesheet() -> None:
    refs = _refs(graphiql_html())
    tags = {tag for tag, _ in refs.refs}
    assert tags == {"script", "link"}
    assert len(refs.refs) >= 4  # react, react-dom, graphiql js + css
    assert refs.title == "Order Center \u2014 GraphiQL"


@pytest.mark.parametrize("endpoint", ["/graphql", "/api/graphql"])
def test_page_loads_only_local_assets(endpoint: str) -> None:
    html = graphiql_html(endpoint)
    refs = _refs(html).refs
    assert refs
    for tag, ref in refs:
        assert not ref.startswith(("http://", "https://", "//")), (tag, ref)
        assert ref.startswith(STATIC_URL_PREFIX + "/"), (tag, ref)
    # No CDN anywhere in the page, not even in the inline script.
    for marker in ("http://", "https://", "unpkg", "jsdelivr", "cdnjs"):
        assert marker not in html


def test_every_referenced_asset_is_vendored() -> None:
    names = _asset_names(graphiql_html())
    assert names
    for name in names:
        path = GRAPHIQL_STATIC_DIR / name
        assert path.is_file(), path
        assert path.stat().st_size > 0, path
    assert (GRAPHIQL_STATIC_DIR / "LICENSES.txt").is_file()


def test_endpoint_is_embedded_safely() -> None:
    html = graphiql_html("/graphql</script><script>alert(1)</script>")
    assert "</script><script>alert(1)" not in html
    assert '"/graphql\\u003c/script\\u003e' in html
    assert '"/api/graphql"' in graphiql_html("/api/graphql")


def test_page_wires_headers_and_subscriptions() -> None:
    html = graphiql_html()
    assert "shouldPersistHeaders: true" in html
    assert "subscriptionUrl" in html
    assert '"wss:" : "ws:"' in html
    assert "Bearer <token from make run>" in html.replace("\\u003c", "<").replace("\\u003e", ">")


def test_static_app_serves_assets() -> None:
    app = Starlette(routes=[Mount(STATIC_URL_PREFIX, app=static_app())])
    name = _asset_names(graphiql_html())[0]
    with TestClient(app) as client:
        response = client.get(f"{STATIC_URL_PREFIX}/{name}")
        assert response.status_code == 200
        assert response.content == (GRAPHIQL_STATIC_DIR / name).read_bytes()
        assert client.get(f"{STATIC_URL_PREFIX}/no-such-file.js").status_code == 404
