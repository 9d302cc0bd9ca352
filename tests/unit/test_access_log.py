"""The access-log filter: the path stays, the query string goes, other records pass as is."""

from __future__ import annotations

import logging

import pytest

from app.access_log import WithoutQueryString

UVICORN_FORMAT = '%s - "%s %s HTTP/%s" %d'


def _record(message: str, args: tuple[object, ...] | None) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 0, message, args, None)


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/graphql?query=%7B__typename%7D&variables=%7B%22n%22%3A%224111%22%7D", "/graphql"),
        ("/graphql?", "/graphql"),
        ("/?a=1?b=2", "/"),
        ("/healthz", "/healthz"),
    ],
)
def test_the_query_string_is_cut_from_uvicorn_access_records(path: str, logged: str) -> None:
    record = _record(UVICORN_FORMAT, ("127.0.0.1:5000", "GET", path, "1.1", 200))
    assert WithoutQueryString().filter(record)
    assert record.getMessage() == f'127.0.0.1:5000 - "GET {logged} HTTP/1.1" 200'


@pytest.mark.parametrize("args", [None, ("only", "two"), ("a", "b", 3, "1.1", 200)])
def test_other_records_pass_unchanged(args: tuple[object, ...] | None) -> None:
    record = _record("something else", args)
    assert WithoutQueryString().filter(record)
    assert record.args == args
