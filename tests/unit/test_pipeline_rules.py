"""The pipeline's pure rules: byte-bounded caches, document admission, the error policy."""

from __future__ import annotations

import pytest
from graphql import GraphQLError, GraphQLSyntaxError, Source, parse

from resolvers.errors import InvalidArgument
from schema.bounded import WeighedLRU
from schema.documents import CACHE_BYTES, Documents, estimated_bytes
from schema.error_policy import ErrorPolicy


def test_weighed_lru_keeps_to_its_bytes_and_its_count() -> None:
    cache: WeighedLRU[str, int] = WeighedLRU(max_entries=3, max_bytes=100)
    for key in "abcd":
        cache.put(key, 0, 30)
    assert len(cache) == 3  # count: "a" went first
    assert "a" not in cache
    cache.get("b")  # used: now the most recent
    cache.put("e", 0, 60)  # 30 + 30 + 30 + 60 > 100: the least recent go until it fits
    assert "b" not in cache or "c" not in cache
    assert cache.bytes <= 100
    cache.put("huge", 0, 101)
    assert "huge" not in cache  # heavier than the whole cache: not kept at all
    assert cache.bytes <= 100


def test_replacing_an_entry_does_not_count_it_twice() -> None:
    cache: WeighedLRU[str, int] = WeighedLRU(max_entries=10, max_bytes=100)
    cache.put("a", 1, 60)
    cache.put("a", 2, 60)
    assert cache.bytes == 60
    assert cache.get("a") == 2


def documents() -> Documents:
    return Documents(max_bytes=65_536, max_tokens=3000)


def test_distinct_large_documents_stay_within_the_cache_budget() -> None:
    reader = documents()
    for n in range(100):
        # ~3,000 tokens: the heaviest syntax trees a client can send; 100 of them
        # weigh several times the cache.
        reader.read(f"query Q{n} {{ " + "a " * 1400 + "}")
    assert reader.cached_bytes <= CACHE_BYTES
    assert len(reader._readings) < 100


def test_the_estimate_is_not_below_what_a_syntax_tree_weighs() -> None:
    import tracemalloc

    text = "{ " + "viewer { orders { edges { node { id } } } } " * 100 + "}"
    tracemalloc.start()
    document = parse(text)
    weighed, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert document is not None
    assert estimated_bytes(text) >= weighed


def test_a_document_is_read_once() -> None:
    reader = documents()
    first = reader.admit("{ viewer { handle } }", None, None)
    assert reader.admit("{ viewer { handle } }", {}, None) is first


def test_a_syntax_error_is_read_once_and_kept() -> None:
    reader = documents()
    with pytest.raises(GraphQLSyntaxError) as first:
        reader.admit("{ viewer {", None, None)
    with pytest.raises(GraphQLSyntaxError) as second:
        reader.admit("{ viewer {", None, None)
    assert first.value is second.value


@pytest.mark.parametrize(
    ("text", "variables", "name", "code"),
    [
        ("{ a }" + " " * 70_000, None, None, "DOCUMENT_TOO_LARGE"),
        ("{ a } # " + "é" * 40_000, None, None, "DOCUMENT_TOO_LARGE"),  # bytes, not characters
        ("query A { a } query B { b }", None, None, "OPERATION_RESOLUTION_FAILURE"),
        ('{ a(b: "x\\u0000") }', None, None, "BAD_USER_INPUT"),
        ("query($v: String) { a(b: $v) }", {"v": "\x00"}, None, "BAD_USER_INPUT"),
        ("{ ...A } fragment A on Q { ...A }", None, None, "GRAPHQL_VALIDATION_FAILED"),
        ("{ a {} }", None, None, "GRAPHQL_VALIDATION_FAILED"),
    ],
)
def test_refusals_before_validation_are_coded(
    text: str, variables: object, name: str | None, code: str
) -> None:
    with pytest.raises(GraphQLError) as refused:
        documents().admit(text, variables, name)
    assert (refused.value.extensions or {}).get("code") == code


def test_naming_one_of_several_operations_is_fine() -> None:
    reading = documents().admit("query A { a } query B { b }", None, "B")
    assert reading.operations == 2


def test_the_token_limit_applies_while_lexing() -> None:
    with pytest.raises(GraphQLSyntaxError) as refused:
        Documents(max_bytes=65_536, max_tokens=10).admit("{ " + "a " * 20 + "}", None, None)
    assert ErrorPolicy().one(refused.value, None).extensions == {"code": "TOO_MANY_TOKENS"}


# --- The error policy ------------------------------------------------------------------


def test_unexpected_errors_are_masked_with_the_request_id() -> None:
    failure = GraphQLError(
        'relation "users" ... INSERT INTO users (id, handle)',
        path=["viewer"],
        original_error=OverflowError("value out of int32 range"),
    )
    masked = ErrorPolicy().one(failure, "req-1")
    assert masked.message == "Internal server error"
    assert masked.extensions == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-1"}
    assert masked.path == ["viewer"]
    assert masked.original_error is None


def test_client_errors_keep_their_code_and_message() -> None:
    error = GraphQLError("bad id", original_error=InvalidArgument("bad id", argument="id"))
    error.extensions = InvalidArgument("bad id", argument="id").extensions
    assert ErrorPolicy().one(error, None) is error


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (GraphQLSyntaxError(Source("{"), 1, "Expected Name, found <EOF>."), "GRAPHQL_PARSE_FAILED"),
        (GraphQLError("Cannot query field 'x' on type 'Query'."), "GRAPHQL_VALIDATION_FAILED"),
        (
            GraphQLError("Too many validation errors, error limit reached. Validation aborted."),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (GraphQLError("'Q' exceeds maximum operation depth of 15"), "QUERY_TOO_DEEP"),
        (GraphQLError("31 aliases found. Allowed: 30"), "TOO_MANY_ALIASES"),
        (
            GraphQLError("Variable '$n' got invalid value 'x'.", original_error=GraphQLError("x")),
            "BAD_USER_INPUT",
        ),
    ],
)
def test_every_expected_error_gets_a_code(error: GraphQLError, code: str) -> None:
    finished = ErrorPolicy().one(error, None)
    assert finished.extensions == {"code": code}
    assert ErrorPolicy().one(finished, None) is finished  # applying it twice changes nothing


def test_suggestions_are_dropped_only_when_asked() -> None:
    error = GraphQLError(
        "Cannot query field 'paymentMethodz' on type 'User'. Did you mean 'paymentMethods'?"
    )
    assert "Did you mean" in ErrorPolicy(suggestions=True).one(error, None).message
    hidden = ErrorPolicy(suggestions=False).one(error, None)
    assert hidden.message == "Cannot query field 'paymentMethodz' on type 'User'."
    enum = GraphQLError(
        "Value 'TO_PAYY' does not exist in 'OrderTab' enum. Did you mean the enum value 'TO_PAY'?"
    )
    assert "TO_PAY'" not in ErrorPolicy(suggestions=False).one(enum, None).message


def test_long_messages_are_cut() -> None:
    error = GraphQLError("'" + "x" * 70_000 + "' is not a valid id.", extensions={"code": "X"})
    cut = ErrorPolicy().one(error, None)
    assert len(cut.message) < 600
    assert cut.extensions == {"code": "X"}
    assert ErrorPolicy().one(cut, None) is cut
