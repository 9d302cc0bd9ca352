"""Reading a request's document: bounded in size and tokens, once per distinct text.

Every operation's text goes through ``Documents.admit`` before anything else looks at
it, whichever transport brought it (app/pipeline.py) and also when the schema is
called directly (``DocumentGate``):

1. size: a text over ``Limits.max_document_bytes`` is refused before a character of it is
   lexed (a one-megabyte comment is a single token, so the token limit alone lets it
   through, and lexing it blocks the event loop);
2. lexing and parsing under the token limit;
3. the shape checks of schema/document_limits.py (fragment cycles and bombs, empty
   selection sets, nesting);
4. per request: NUL characters in strings and variables, and which operation runs
   (several operations and no ``operationName`` is refused, not guessed).

Readings (the document or its refusal) and their validation errors are kept in one
cache bounded by bytes: the text plus an estimate of its syntax tree, which weighs
~300-450 bytes a node, several nodes a name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from graphql import DocumentNode, GraphQLError, OperationDefinitionNode, parse
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from schema.bounded import WeighedLRU
from schema.document_limits import has_nul_literal, nul_refusal, shape_refusal

CACHE_ENTRIES = 1024
CACHE_BYTES = 32 * 1024 * 1024
BYTES_PER_NAME = 1600  # measured: "{ a }" x 1000 is 1,000 names, 4,001 nodes, 1.3 MB
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")

TOO_LARGE = "DOCUMENT_TOO_LARGE"
WHICH_OPERATION = "OPERATION_RESOLUTION_FAILURE"


@dataclass(slots=True)
class Reading:
    """A text read once: its document, or why it cannot be run."""

    document: DocumentNode | None
    refusal: GraphQLError | None
    operations: int = 0
    # Whether a string literal holds U+0000: read once with the text, not per request.
    literal_nul: bool = False
    validation: dict[tuple[type[ASTValidationRule], ...], list[GraphQLError]] = field(
        default_factory=dict
    )


def estimated_bytes(text: str) -> int:
    """What the text of a document and its syntax tree weigh in memory, about."""
    return len(text) + BYTES_PER_NAME * len(_NAME.findall(text))


def too_large(size: int, limit: int) -> GraphQLError:
    return GraphQLError(
        f"The document is {size} bytes; the limit is {limit}. "
        "Send a smaller document, or register it as a persisted query.",
        extensions={"code": TOO_LARGE, "maxBytes": limit},
    )


def oversized(text: str, limit: int) -> int | None:
    """The text's size in bytes when it is over ``limit``, else None."""
    if len(text) <= limit // 4:  # at most 4 bytes a character: no need to encode
        return None
    size = len(text.encode("utf-8", "surrogatepass"))
    return size if size > limit else None


class Documents:
    def __init__(self, *, max_bytes: int, max_tokens: int) -> None:
        self.max_bytes = max_bytes
        self.max_tokens = max_tokens
        self._readings: WeighedLRU[str, Reading] = WeighedLRU(
            max_entries=CACHE_ENTRIES, max_bytes=CACHE_BYTES
        )

    @property
    def cached_bytes(self) -> int:
        return self._readings.bytes

    def read(self, text: str) -> Reading:
        """The reading of ``text``, which must be within the size limit."""
        reading = self._readings.get(text)
        if reading is None:
            reading = self._read(text)
            self._readings.put(text, reading, estimated_bytes(text))
        return reading

    def _read(self, text: str) -> Reading:
        try:
            document = parse(text, max_tokens=self.max_tokens)
        except GraphQLError as error:
            return Reading(None, error)
        refusal = shape_refusal(document)
        if refusal is not None:
            return Reading(None, refusal)
        operations = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
        return Reading(document, None, operations, literal_nul=has_nul_literal(document))

    def admit(self, text: str, variables: Any, operation_name: str | None) -> Reading:
        """The reading of a request's document; a coded GraphQLError if it may not run."""
        size = oversized(text, self.max_bytes)
        if size is not None:
            raise too_large(size, self.max_bytes)
        reading = self.read(text)
        if reading.refusal is not None:
            raise reading.refusal
        document = reading.document
        if document is None:  # pragma: no cover - a reading has one or the other
            raise RuntimeError("a reading without a document")
        refusal = nul_refusal(reading.literal_nul, variables)
        if refusal is not None:
            raise refusal
        if operation_name is None and reading.operations > 1:
            raise GraphQLError(
                "The document has several operations: say which in `operationName`.",
                extensions={"code": WHICH_OPERATION},
            )
        return reading

    def validation_errors(
        self,
        reading: Reading,
        schema: Any,
        rules: tuple[type[ASTValidationRule], ...],
    ) -> list[GraphQLError]:
        errors = reading.validation.get(rules)
        if errors is None:
            if reading.document is None:  # pragma: no cover - refused before validation
                raise RuntimeError("validating a refused document")
            errors = reading.validation[rules] = validate_document(schema, reading.document, rules)
        return errors


def document_gate(documents: Documents) -> type[SchemaExtension]:
    """The schema's parse and validate steps, from ``documents``' cache."""

    class DocumentGate(SchemaExtension):
        reading: Reading | None = None

        def on_parse(self) -> Iterator[None]:
            execution = self.execution_context
            if execution.query is not None:
                self.reading = documents.admit(
                    execution.query, execution.variables, execution.operation_name
                )
                execution.graphql_document = self.reading.document
            yield

        def on_validate(self) -> Iterator[None]:
            execution = self.execution_context
            if self.reading is not None:
                execution.pre_execution_errors = documents.validation_errors(
                    self.reading, execution.schema._schema, execution.validation_rules
                )
            yield

    return DocumentGate
