"""What every error looks like on its way out, whichever transport or execution path.

One function, ``ErrorPolicy.finish``, is applied where results leave: the schema's result
handling (every Strawberry run: HTTP, both WebSocket protocols, in-process) and the
live-event renderer of the direct lane. It

- masks errors the client did not cause: "Internal server error", INTERNAL_SERVER_ERROR
  and the request id, never a driver's message or a statement;
- gives every error an ``extensions.code`` (GRAPHQL_PARSE_FAILED and
  GRAPHQL_VALIDATION_FAILED as Apollo Server names them, BAD_USER_INPUT for variables,
  the limits' own codes for their refusals);
- in production, drops graphql-core's "Did you mean …?" suggestions, which would name
  fields, mutations and enum values that introspection is off to keep private;
- cuts messages at ``MAX_MESSAGE`` characters (they may quote what the client sent).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError

from resolvers.errors import ClientError

INTERNAL = "INTERNAL_SERVER_ERROR"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_USER_INPUT = "BAD_USER_INPUT"
MAX_MESSAGE = 500  # characters of an error message

# graphql-core appends its suggestions at the end of a message (utilities.did_you_mean).
_SUGGESTION = re.compile(r"\s*Did you mean .*\?$", re.DOTALL)

TOO_MANY_TOKENS = "TOO_MANY_TOKENS"
_TOKENS = re.compile(r"Document contains more than \d+ tokens\. Parsing aborted\.$")
# Strawberry's limiters and graphql-core's rules report bare messages; these name them.
_CODED_MESSAGES = (
    (re.compile(r"exceeds maximum operation depth of \d+$"), "QUERY_TOO_DEEP"),
    (re.compile(r"^\d+ aliases found\. Allowed: \d+$"), "TOO_MANY_ALIASES"),
    (re.compile(r"^GraphQL introspection has been disabled"), "INTROSPECTION_DISABLED"),
)


def is_expected(error: GraphQLError) -> bool:
    """Errors the client caused: syntax, validation, variables, and our ClientErrors."""
    original = error.original_error
    if original is None or isinstance(original, ClientError):
        return True
    # Variable coercion, before execution (so no path): graphql-core wraps the scalar's
    # own GraphQLError ("Variable '$n' has invalid value: Int cannot represent ...").
    if error.path is None and isinstance(original, GraphQLError):
        return True
    # A literal no scalar can read, e.g. an Int of 5,000 digits (int() refuses it):
    # validation reports it at the literal ("Expected value of type 'Int', but
    # encountered error ..."). Our own failures have a path, or no location at all.
    return (
        error.path is None
        and bool(error.nodes)
        and isinstance(original, ValueError | TypeError | OverflowError)
    )


def code_of(error: GraphQLError) -> str:
    """The code of an expected error: its own, or the kind of refusal it is."""
    code = (error.extensions or {}).get("code")
    if isinstance(code, str):
        return code
    if isinstance(error, GraphQLSyntaxError):
        return TOO_MANY_TOKENS if _TOKENS.search(error.message) else PARSE_FAILED
    for pattern, named in _CODED_MESSAGES:
        if pattern.search(error.message):
            return named
    if error.path is not None or isinstance(error.original_error, GraphQLError):
        return BAD_USER_INPUT  # variables, or an argument refused while executing
    return VALIDATION_FAILED


@dataclass(frozen=True, slots=True)
class ErrorPolicy:
    suggestions: bool = True  # off in production
    # Told each code given, as it is given (the app's metrics; schema/ knows no app).
    observe: Callable[[str], None] | None = None

    def finish(self, errors: Iterable[GraphQLError], request_id: str | None) -> list[GraphQLError]:
        return [self.one(error, request_id) for error in errors]

    def one(self, error: GraphQLError, request_id: str | None) -> GraphQLError:
        if not is_expected(error):
            if self.observe is not None:
                self.observe(INTERNAL)
            return _masked(error, request_id)
        code = code_of(error)
        if self.observe is not None:
            self.observe(code)
        message = error.message
        if not self.suggestions:
            message = _SUGGESTION.sub("", message)
        if len(message) > MAX_MESSAGE:
            # Messages quote what was sent (an id, a variable's value): never a whole
            # 64 KiB document or megabyte variable back.
            message = message[:MAX_MESSAGE] + "… (cut)"
        if message == error.message and (error.extensions or {}).get("code") == code:
            return error
        extensions: dict[str, Any] = {**(error.extensions or {}), "code": code}
        return _copy(error, message, extensions, error.original_error)


def _masked(error: GraphQLError, request_id: str | None) -> GraphQLError:
    extensions: dict[str, Any] = {"code": INTERNAL}
    if request_id is not None:
        extensions["requestId"] = request_id
    return _copy(error, "Internal server error", extensions, None)


def _copy(
    error: GraphQLError,
    message: str,
    extensions: dict[str, Any],
    original: Exception | None,
) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=original,
        extensions=extensions,
    )
