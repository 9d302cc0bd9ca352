"""Checks on each parsed document before validation, the limiters or resolvers see it.

- Shape. The depth and alias limiters (Strawberry's) and the cost estimate inline every
  fragment spread, recursively, wherever it occurs: a few hundred bytes of fragments
  that each spread the previous one twice expand to 2**n selections (minutes of CPU on
  the event loop for n = 25), and a chain of a few hundred fragments overflows Python's
  stack. The expansion is measured here, each fragment once and without recursion, and
  documents too big, too deeply nested or cyclic are refused. So are empty selection
  sets (``{}``, which graphql-core now parses), on which the depth limiter fails.
- NUL characters. PostgreSQL cannot store U+0000 in text and fails the statement; no
  string argument or variable may hold one, on any database.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    Visitor,
    visit,
)

# Selections once every spread is inlined; a document within the token limit and
# without fragments has a few thousand at most.
MAX_EXPANDED_SELECTIONS = 10_000
# Fields, inline fragments and fragment spreads inside one another.
MAX_NESTING = 100


@dataclass(frozen=True, slots=True)
class Shape:
    selections: int
    nesting: int


@dataclass(slots=True)
class _Local:
    """One definition's own selections, and the spreads it holds at which nesting."""

    selections: int = 0
    nesting: int = 0
    spreads: list[tuple[str, int]] = field(default_factory=list)
    empty: SelectionSetNode | None = None  # an empty selection set, if there is one


def _local(selection_set: SelectionSetNode) -> _Local:
    local = _Local()
    stack = [(selection_set, 1)]
    while stack:
        current, level = stack.pop()
        if not current.selections and local.empty is None:
            local.empty = current
        for selection in current.selections:
            local.selections += 1
            local.nesting = max(local.nesting, level)
            if isinstance(selection, FragmentSpreadNode):
                local.spreads.append((selection.name.value, level))
            else:
                inner: SelectionSetNode | None = getattr(selection, "selection_set", None)
                if inner is not None:
                    stack.append((inner, level + 1))
    return local


def _checked(local: _Local) -> _Local:
    if local.empty is not None:
        raise EmptySelectionSetError(local.empty)
    return local


def _expand(local: _Local, shapes: dict[str, Shape]) -> Shape:
    selections, nesting = local.selections, local.nesting
    for name, level in local.spreads:
        shape = shapes.get(name)
        if shape is not None:  # an unknown fragment: validation reports it
            selections += shape.selections
            nesting = max(nesting, level + shape.nesting)
    return Shape(selections, nesting)


class FragmentCycleError(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class EmptySelectionSetError(ValueError):
    def __init__(self, node: SelectionSetNode) -> None:
        super().__init__("empty selection set")
        self.node = node


def document_shape(document: DocumentNode) -> Shape:
    """Selections and nesting of all the document's operations, fragments inlined.

    FragmentCycleError for a fragment that spreads itself (directly or not),
    EmptySelectionSetError for a selection set without selections.
    """
    fragments = {
        d.name.value: _checked(_local(d.selection_set))
        for d in document.definitions
        if isinstance(d, FragmentDefinitionNode)
    }
    shapes: dict[str, Shape] = {}
    for root in fragments:
        if root in shapes:
            continue
        # Depth-first over the spreads, children before parents, with a stack.
        path = [root]
        pending: list[Iterator[tuple[str, int]]] = [iter(fragments[root].spreads)]
        while pending:
            step = next(pending[-1], None)
            if step is None:
                done = path.pop()
                pending.pop()
                shapes[done] = _expand(fragments[done], shapes)
                continue
            name = step[0]
            if name in path:
                raise FragmentCycleError(name)
            if name in shapes or name not in fragments:
                continue
            path.append(name)
            pending.append(iter(fragments[name].spreads))
    total = Shape(0, 0)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            shape = _expand(_checked(_local(definition.selection_set)), shapes)
            total = Shape(total.selections + shape.selections, max(total.nesting, shape.nesting))
    return total


def has_nul_literal(document: DocumentNode) -> bool:
    """Whether a string literal of the document holds U+0000."""
    return any("\x00" in node.value for node in _string_literals(document))


def _has_nul(variables: Any) -> bool:
    """Whether a variable's string (or key) holds U+0000."""
    stack = [variables]
    while stack:  # no recursion: variables may nest as deep as JSON allows
        value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


class _StringLiterals(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[StringValueNode] = []

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        self.found.append(node)


def _string_literals(document: DocumentNode) -> list[StringValueNode]:
    collect = _StringLiterals()
    visit(document, collect)
    return collect.found


def nul_refusal(literal_nul: bool, variables: Any) -> GraphQLError | None:
    """``literal_nul``: has_nul_literal of the document, read once with it."""
    if not literal_nul and not _has_nul(variables):
        return None
    return GraphQLError(
        "Strings may not contain NUL (U+0000) characters.",
        extensions={"code": "BAD_USER_INPUT"},
    )


def shape_refusal(document: DocumentNode) -> GraphQLError | None:
    """Why a parsed document may not go on to validation, or None."""
    try:
        shape = document_shape(document)
    except FragmentCycleError as cycle:
        return GraphQLError(
            f"Cannot spread fragment '{cycle.name}' within itself.",
            extensions={"code": "GRAPHQL_VALIDATION_FAILED"},
        )
    except EmptySelectionSetError as empty:
        return GraphQLError(
            "Selection sets may not be empty: select at least one field.",
            empty.node,
            extensions={"code": "GRAPHQL_VALIDATION_FAILED"},
        )
    if shape.selections > MAX_EXPANDED_SELECTIONS:
        return GraphQLError(
            f"With its fragments inlined this document has {shape.selections} selections;"
            f" the limit is {MAX_EXPANDED_SELECTIONS}.",
            extensions={"code": "QUERY_TOO_LARGE"},
        )
    if shape.nesting > MAX_NESTING:
        return GraphQLError(
            f"With its fragments inlined this document nests {shape.nesting} levels deep;"
            f" the limit is {MAX_NESTING}.",
            extensions={"code": "QUERY_TOO_DEEP"},
        )
    return None
