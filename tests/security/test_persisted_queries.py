"""Persisted operations: Apollo's Automatic Persisted Queries over POST and GET, and the
production allow-list (only registered documents run), with its CLI helper.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from app.cli import main as cli
from app.persisted import QueryCache, sha256_hex
from db.engine import SessionFactory
from resolvers.ids import to_global_id
from tests.factories import make_product, make_shop
from tests.security.conftest import Apps, make_settings

GRAPHQL_RESPONSE = "application/graphql-response+json"
PRODUCT = "query Product($id: ID!) { product(id: $id) { title } }"
TYPENAME = "{ __typename }"


def persisted(document: str, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": sha256_hex(document)}}


async def post(
    client: httpx.AsyncClient,
    *,
    query: str | None = None,
    extensions: dict[str, Any] | None = None,
    variables: dict[str, Any] | None = None,
    accept: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {}
    if query is not None:
        body["query"] = query
    if extensions is not None:
        body["extensions"] = extensions
    if variables is not None:
        body["variables"] = variables
    headers = {} if accept is None else {"Accept": accept}
    return await client.post("/graphql", json=body, headers=headers)


async def get(
    client: httpx.AsyncClient,
    *,
    query: str | None = None,
    extensions: dict[str, Any] | None = None,
    variables: dict[str, Any] | None = None,
) -> httpx.Response:
    params: dict[str, str] = {}
    if query is not None:
        params["query"] = query
    if extensions is not None:
        params["extensions"] = json.dumps(extensions)
    if variables is not None:
        params["variables"] = json.dumps(variables)
    return await client.get("/graphql", params=params, headers={"Accept": "application/json"})


def data(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def refusal(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The single error of a request that was not executed."""
    assert response.status_code == status, response.text
    body = response.json()
    assert "data" not in body, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == code, error
    return error


@pytest.fixture
async def product_id(sessions: SessionFactory) -> str:
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop, title="Teapot")
    assert product.id is not None
    return to_global_id("Product", product.id)


# --- Automatic persisted queries -------------------------------------------------------


async def test_apq_register_then_send_the_hash_alone_over_post(apps: Apps, product_id: str) -> None:
    client = await apps.client(make_settings())
    variables = {"id": product_id}

    unknown = await post(client, extensions=persisted(PRODUCT), variables=variables)
    error = refusal(unknown, 200, "PERSISTED_QUERY_NOT_FOUND")
    assert error["message"] == "PersistedQueryNotFound"

    # What Apollo clients do next: the same request with the full query.
    registered = await post(
        client, query=PRODUCT, extensions=persisted(PRODUCT), variables=variables
    )
    assert data(registered) == {"product": {"title": "Teapot"}}

    again = await post(client, extensions=persisted(PRODUCT), variables=variables)
    assert data(again) == {"product": {"title": "Teapot"}}
    # Other variables with the same stored document.
    other = await post(
        client, extensions=persisted(PRODUCT), variables={"id": to_global_id("Product", 999)}
    )
    assert data(other) == {"product": None}


async def test_apq_over_get(apps: Apps, product_id: str) -> None:
    client = await apps.client(make_settings())
    variables = {"id": product_id}
    unknown = await get(client, extensions=persisted(PRODUCT), variables=variables)
    refusal(unknown, 200, "PERSISTED_QUERY_NOT_FOUND")

    registered = await get(
        client, query=PRODUCT, extensions=persisted(PRODUCT), variables=variables
    )
    assert data(registered) == {"product": {"title": "Teapot"}}
    again = await get(client, extensions=persisted(PRODUCT), variables=variables)
    assert data(again) == {"product": {"title": "Teapot"}}


async def test_apq_registered_over_post_runs_over_get(apps: Apps) -> None:
    client = await apps.client(make_settings())
    assert data(await post(client, query=TYPENAME, extensions=persisted(TYPENAME))) == {
        "__typename": "Query"
    }
    assert data(await get(client, extensions=persisted(TYPENAME))) == {"__typename": "Query"}


async def test_apq_hash_only_mutations_still_need_post(apps: Apps) -> None:
    client = await apps.client(make_settings())
    mutation = "mutation { __typename }"
    assert data(await post(client, query=mutation, extensions=persisted(mutation))) == {
        "__typename": "Mutation"
    }
    response = await get(client, extensions=persisted(mutation))
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


async def test_apq_not_found_is_400_for_graphql_response_json(apps: Apps) -> None:
    client = await apps.client(make_settings())
    response = await post(client, extensions=persisted(TYPENAME), accept=GRAPHQL_RESPONSE)
    refusal(response, 400, "PERSISTED_QUERY_NOT_FOUND")


async def test_apq_stores_per_hash_not_per_caller(apps: Apps) -> None:
    """A hash names one document: anyone may use what anyone registered (it is public)."""
    app = apps.app(make_settings())
    one = await apps.client(app, address="192.0.2.1")
    two = await apps.client(app, address="192.0.2.2")
    data(await post(one, query=TYPENAME, extensions=persisted(TYPENAME)))
    assert data(await post(two, extensions=persisted(TYPENAME))) == {"__typename": "Query"}


async def test_a_hash_that_does_not_match_the_query_is_400(apps: Apps) -> None:
    client = await apps.client(make_settings())
    lying = persisted("{ viewer { handle } }")
    for response in (
        await post(client, query=TYPENAME, extensions=lying),
        await get(client, query=TYPENAME, extensions=lying),
    ):
        error = refusal(response, 400, "PERSISTED_QUERY_HASH_MISMATCH")
        assert "sha" in error["message"].lower()
    # Nothing was stored under the lying hash.
    refusal(await post(client, extensions=lying), 200, "PERSISTED_QUERY_NOT_FOUND")


@pytest.mark.parametrize(
    "extension",
    [
        {"version": 2, "sha256Hash": sha256_hex(TYPENAME)},
        {"version": 1, "sha256Hash": "abc"},
        {"version": 1, "sha256Hash": 12},
        {"version": 1},
        "not-an-object",
    ],
    ids=["version-2", "short-hash", "number-hash", "no-hash", "not-an-object"],
)
async def test_a_malformed_persisted_query_is_400(apps: Apps, extension: Any) -> None:
    client = await apps.client(make_settings())
    response = await post(client, extensions={"persistedQuery": extension})
    refusal(response, 400, "BAD_PERSISTED_QUERY")


async def test_the_hash_is_case_insensitive(apps: Apps) -> None:
    client = await apps.client(make_settings())
    upper = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(TYPENAME).upper()}}
    data(await post(client, query=TYPENAME, extensions=upper))
    assert data(await post(client, extensions=persisted(TYPENAME))) == {"__typename": "Query"}


async def test_without_query_or_extension_the_request_is_still_400(apps: Apps) -> None:
    client = await apps.client(make_settings())
    response = await post(client, extensions={"other": 1})
    assert response.status_code == 400
    assert "query" in response.json()["errors"][0]["message"]


async def test_with_persisted_queries_off_hashes_alone_are_not_supported(apps: Apps) -> None:
    client = await apps.client(make_settings(persisted_queries="off"))
    refusal(
        await post(client, extensions=persisted(TYPENAME)), 200, "PERSISTED_QUERY_NOT_SUPPORTED"
    )
    # The full query still runs, extension or not; nothing is stored.
    assert data(await post(client, query=TYPENAME, extensions=persisted(TYPENAME))) == {
        "__typename": "Query"
    }
    refusal(
        await post(client, extensions=persisted(TYPENAME)), 200, "PERSISTED_QUERY_NOT_SUPPORTED"
    )


def test_the_apq_cache_is_bounded_by_entries() -> None:
    cache = QueryCache(max_entries=2)
    cache.put("a", "{ a }")
    cache.put("b", "{ b }")
    assert cache.get("a") == "{ a }"  # now the most recently used
    cache.put("c", "{ c }")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("{ a }", None, "{ c }")
    assert len(cache) == 2


def test_the_apq_cache_is_bounded_by_bytes() -> None:
    cache = QueryCache(max_entries=100, max_bytes=100)
    for name in "abcde":
        cache.put(name, name * 20)
    assert cache.bytes == 100
    cache.put("f", "f" * 30)  # the two least recently used go
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, None, "c" * 20)
    assert cache.bytes == 90
    cache.put("huge", "x" * 101)  # larger than the whole cache: not kept, nothing evicted
    assert cache.get("huge") is None
    assert len(cache) == 4


# --- Allow-list ------------------------------------------------------------------------


@pytest.fixture
def allowlist(tmp_path: Path) -> Path:
    path = tmp_path / "persisted-queries.json"
    path.write_text(json.dumps({sha256_hex(d): d for d in (PRODUCT, TYPENAME)}))
    return path


@pytest.fixture
async def allowlisted(apps: Apps, allowlist: Path) -> httpx.AsyncClient:
    settings = make_settings(persisted_queries="allowlist", persisted_queries_file=allowlist)
    return await apps.client(settings)


async def test_allowlist_runs_registered_hashes(
    allowlisted: httpx.AsyncClient, product_id: str
) -> None:
    variables = {"id": product_id}
    expected = {"product": {"title": "Teapot"}}
    assert data(await post(allowlisted, extensions=persisted(PRODUCT), variables=variables)) == (
        expected
    )
    assert data(await get(allowlisted, extensions=persisted(PRODUCT), variables=variables)) == (
        expected
    )
    # A registered document sent in full runs too, with or without its hash.
    assert data(await post(allowlisted, query=PRODUCT, variables=variables)) == expected
    assert data(await post(allowlisted, query=TYPENAME, extensions=persisted(TYPENAME))) == {
        "__typename": "Query"
    }


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_allowlist_refuses_unregistered_full_queries(
    allowlisted: httpx.AsyncClient, method: str
) -> None:
    other = "{ viewer { handle } }"
    send = post if method == "POST" else get
    for extensions in (None, persisted(other)):
        response = await send(allowlisted, query=other, extensions=extensions)
        error = refusal(response, 403, "PERSISTED_QUERY_NOT_ALLOWED")
        assert "registered" in error["message"]
    # A registered document changed by one character is another document.
    refusal(await send(allowlisted, query=TYPENAME + " "), 403, "PERSISTED_QUERY_NOT_ALLOWED")
    # Sending it did not register it.
    refusal(
        await post(allowlisted, extensions=persisted(other)), 403, "PERSISTED_QUERY_NOT_ALLOWED"
    )


async def test_allowlist_refuses_unknown_hashes(allowlisted: httpx.AsyncClient) -> None:
    unknown = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    refusal(await post(allowlisted, extensions=unknown), 403, "PERSISTED_QUERY_NOT_ALLOWED")
    refusal(await get(allowlisted, extensions=unknown), 403, "PERSISTED_QUERY_NOT_ALLOWED")


async def test_allowlist_still_checks_hashes(allowlisted: httpx.AsyncClient) -> None:
    response = await post(
        allowlisted, query="{ viewer { handle } }", extensions=persisted(TYPENAME)
    )
    refusal(response, 400, "PERSISTED_QUERY_HASH_MISMATCH")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (json.dumps({"0" * 64: TYPENAME}), "hashes to"),
        (json.dumps([TYPENAME]), "JSON object"),
        ("{", "not JSON"),
        (json.dumps({sha256_hex(TYPENAME): 5}), "must be a string"),
    ],
    ids=["wrong-hash", "not-an-object", "not-json", "not-a-document"],
)
def test_a_bad_allowlist_file_stops_the_start(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "allow.json"
    path.write_text(content)
    settings = make_settings(persisted_queries="allowlist", persisted_queries_file=path)
    with pytest.raises(ValueError, match=message):
        settings.check()


# --- `ordercenter persisted-queries hash` ----------------------------------------------


def test_the_cli_prints_the_allowlist(tmp_path: Path) -> None:
    first = tmp_path / "product.graphql"
    first.write_text(PRODUCT + "\n")
    second = tmp_path / "typename.graphql"
    second.write_text(TYPENAME)
    result = CliRunner().invoke(cli, ["persisted-queries", "hash", str(first), str(second)])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed == {
        hashlib.sha256((PRODUCT + "\n").encode()).hexdigest(): PRODUCT + "\n",
        hashlib.sha256(TYPENAME.encode()).hexdigest(): TYPENAME,
    }


def test_the_cli_refuses_documents_the_schema_does_not_accept(tmp_path: Path) -> None:
    bad = tmp_path / "bad.graphql"
    bad.write_text("{ noSuchField }")
    result = CliRunner().invoke(cli, ["persisted-queries", "hash", str(bad)])
    assert result.exit_code != 0
    assert "noSuchField" in result.output


async def test_the_cli_output_is_a_working_allowlist(
    apps: Apps, tmp_path: Path, product_id: str
) -> None:
    document = tmp_path / "product.graphql"
    document.write_text(PRODUCT)
    output = tmp_path / "allow.json"
    runner = CliRunner()
    result = runner.invoke(cli, ["persisted-queries", "hash", "-o", str(output), str(document)])
    assert result.exit_code == 0, result.output
    typename = tmp_path / "typename.graphql"
    typename.write_text(TYPENAME)
    merged = runner.invoke(
        cli, ["persisted-queries", "hash", "--merge", "-o", str(output), str(typename)]
    )
    assert merged.exit_code == 0, merged.output
    assert set(json.loads(output.read_text())) == {sha256_hex(PRODUCT), sha256_hex(TYPENAME)}

    settings = make_settings(persisted_queries="allowlist", persisted_queries_file=output)
    client = await apps.client(settings)
    response = await post(client, extensions=persisted(PRODUCT), variables={"id": product_id})
    assert data(response) == {"product": {"title": "Teapot"}}
    refusal(await post(client, query="{ viewer { id } }"), 403, "PERSISTED_QUERY_NOT_ALLOWED")
