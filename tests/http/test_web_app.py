"""The web app as the server delivers it: the page, its files and documents, its policy, and
development sign-in (tests/browser drives it in Chromium)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.settings import Settings
from db.engine import create_session_factory
from tests.conftest import TEST_SECRET, token_for
from tests.factories import make_user

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "app" / "web" / "static"


@asynccontextmanager
async def served(engine: AsyncEngine, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    config = {"env": "test", "jwt_secret": TEST_SECRET, "database_url": "sqlite:///unused.db"}
    app = create_app(Settings(**{**config, **settings}), engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def policy(response: httpx.Response) -> dict[str, str]:
    parts = (
        part.strip().split(" ", 1)
        for part in response.headers["content-security-policy"].split(";")
    )
    return {part[0]: part[1] if len(part) > 1 else "" for part in parts}


async def test_the_page_loads_nothing_from_elsewhere_and_runs_no_inline_code_but_its_import_map(
    engine: AsyncEngine,
) -> None:
    async with served(engine) as client:
        page = await client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        rules = policy(page)
        assert rules["default-src"] == "'none'"
        assert rules["connect-src"] == "'self'"
        assert rules["style-src"] == "'self'"
        assert "unsafe" not in page.headers["content-security-policy"]
        # The one inline script is the import map, allowed by its hash and nothing else.
        inline = re.findall(r"<script type=\"importmap\">(.*?)</script>", page.text)
        assert len(inline) == 1
        digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
        assert rules["script-src"] == f"'self' 'sha256-{digest}'"
        assert page.text.count("<script") == 3  # the import map, graphql-ws, app.js
        # Every file the page names (and the import map maps to) is this server's own.
        urls = re.findall(r"(?:src|href)=\"([^\"]+)\"", page.text) + re.findall(
            r"\"(/web/[^\"]+)\"", inline[0]
        )
        assert urls
        for url in urls:
            if url == "data:,":
                continue
            assert url.startswith("/"), url
            assert not url.startswith("//"), url
            assert (await client.get(url)).status_code == 200, url


async def test_every_module_the_app_imports_is_served(engine: AsyncEngine) -> None:
    modules = sorted(WEB.glob("**/*.js"))
    async with served(engine) as client:
        for module in modules:
            if "vendor" in module.parts:
                continue
            for target in re.findall(r"from \"(\.[^\"]+)\"", module.read_text()):
                path = (module.parent / target).resolve().relative_to(WEB)
                response = await client.get(f"/web/static/{path}")
                assert response.status_code == 200, f"{module.name} imports {target}"


async def test_the_documents_the_app_sends_are_the_example_files(engine: AsyncEngine) -> None:
    async with served(engine) as client:
        for path in (ROOT / "examples").glob("*.graphql"):
            response = await client.get(f"/web/operations/{path.name}")
            assert response.status_code == 200
            assert response.content == path.read_bytes()
        assert (await client.get("/web/operations/../schema.graphql")).status_code == 404


async def test_production_serves_no_web_app_unless_enabled_and_never_mints_tokens(
    engine: AsyncEngine,
) -> None:
    await make_user(create_session_factory(engine), handle="demo")
    async with served(engine, env="production") as client:
        root = await client.get("/", follow_redirects=False)
        assert root.is_redirect
        assert (await client.get("/web/static/app.js")).status_code == 404
        assert (await client.get("/web/operations/Home.graphql")).status_code == 404
        assert (await client.get("/web/demo-users")).status_code == 404
        assert (await client.post("/web/sign-in", json={"handle": "demo"})).status_code == 404
    async with served(engine, env="production", web_app=True) as client:
        assert (await client.get("/")).status_code == 200
        assert (await client.get("/web/static/app.js")).status_code == 200
        assert (await client.get("/web/demo-users")).status_code == 404
        assert (await client.post("/web/sign-in", json={"handle": "demo"})).status_code == 404


async def test_only_development_mints_demo_tokens(engine: AsyncEngine) -> None:
    await make_user(create_session_factory(engine), handle="demo")
    async with served(engine, env="test") as client:
        assert (await client.get("/")).status_code == 200
        assert (await client.post("/web/sign-in", json={"handle": "demo"})).status_code == 404


async def test_development_sign_in_offers_demo_users_and_mints_a_working_token(
    engine: AsyncEngine,
) -> None:
    sessions = create_session_factory(engine)
    for n in range(6):
        await make_user(sessions, handle=f"buyer{n}")
    await make_user(sessions, handle="demo")
    await make_user(sessions, handle="seller0", role="seller")
    await make_user(sessions, handle="operator", role="operator")
    async with served(engine, env="development") as client:
        offered = (await client.get("/web/demo-users")).json()["users"]
        handles = [user["handle"] for user in offered]
        assert handles == ["demo", "buyer0", "buyer1", "buyer2", "seller0"]
        assert offered[0] == {
            "handle": "demo",
            "displayName": offered[0]["displayName"],
            "role": "buyer",
        }

        signed = await client.post("/web/sign-in", json={"handle": "seller0"})
        assert signed.status_code == 200
        token = signed.json()["token"]
        assert signed.json()["user"]["role"] == "seller"
        who = await client.post(
            "/graphql",
            json={"query": "{ viewer { handle } }"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert who.json()["data"] == {"viewer": {"handle": "seller0"}}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"handle": "operator"}, 404),  # exists, but is not offered
        ({"handle": "buyer5"}, 404),  # a buyer past the offered few
        ({"handle": "nobody"}, 404),
        ({"handle": 7}, 400),
        (["demo"], 400),
        ("not json", 400),
    ],
)
async def test_development_sign_in_refuses_anyone_not_offered(
    engine: AsyncEngine, body: Any, status: int
) -> None:
    sessions = create_session_factory(engine)
    for n in range(6):
        await make_user(sessions, handle=f"buyer{n}")
    await make_user(sessions, handle="operator", role="operator")
    async with served(engine, env="development") as client:
        if body == "not json":
            response = await client.post(
                "/web/sign-in", content=b"{", headers={"Content-Type": "application/json"}
            )
        else:
            response = await client.post("/web/sign-in", json=body)
        assert response.status_code == status
        assert "token" not in response.json()


async def test_the_app_s_documents_run_under_an_allow_list_made_from_examples(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """Production may allow only the documents the app sends: they are the example files,
    sent byte for byte, so `ordercenter persisted-queries hash examples/*.graphql` admits
    exactly them."""
    allowed = tmp_path / "persisted-queries.json"
    ordercenter = Path(sys.executable).parent / "ordercenter"
    examples = sorted(str(path) for path in (ROOT / "examples").glob("*.graphql"))
    command = [ordercenter, "persisted-queries", "hash", *examples, "-o", allowed]
    await asyncio.to_thread(subprocess.run, command, check=True)
    user = await make_user(create_session_factory(engine), handle="demo")
    headers = {"Authorization": f"Bearer {token_for(user.id)}"}
    async with served(
        engine, persisted_queries="allowlist", persisted_queries_file=str(allowed)
    ) as client:
        wallet = (ROOT / "examples" / "Wallet.graphql").read_text()
        body = {"query": wallet, "variables": {}, "operationName": "Wallet"}
        answered = await client.post("/graphql", json=body, headers=headers)
        assert answered.status_code == 200
        assert answered.json()["data"] == {"viewer": {"paymentMethods": []}}
        other = {"query": "{ viewer { handle } }"}
        assert (await client.post("/graphql", json=other, headers=headers)).status_code == 403
