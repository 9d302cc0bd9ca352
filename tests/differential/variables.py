"""Arguments of a generated document: pointed at the world's rows, some moved into variables.

hypothesis-graphql writes every argument as a literal; clients mostly send variables, and
the execution paths read the two differently (graphql-core coerces variables before the
run; the plans read them again per field). ``hoisted`` draws which arguments move.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    GraphQLInputType,
    IntValueNode,
    NameNode,
    NullValueNode,
    OperationDefinitionNode,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    build_schema,
    parse_type,
    print_ast,
    value_from_ast,
    visit,
)
from hypothesis import strategies as st

from schema.definition import schema as live_schema

PARSED = build_schema(live_schema.as_str())


class _Hoist(Visitor):
    def __init__(self, type_info: TypeInfo, picks: list[bool]) -> None:
        super().__init__()
        self.type_info = type_info
        self.picks = picks
        self.seen = 0
        self.definitions: list[VariableDefinitionNode] = []
        self.values: dict[str, Any] = {}

    def enter_argument(self, node: ArgumentNode, *_: Any) -> Any:
        index = self.seen
        self.seen += 1
        input_type: GraphQLInputType | None = self.type_info.get_input_type()
        if input_type is None or index >= len(self.picks) or not self.picks[index]:
            return None
        if isinstance(node.value, VariableNode):
            return None
        name = f"v{index}"
        self.values[name] = value_from_ast(node.value, input_type)
        self.definitions.append(
            VariableDefinitionNode(
                variable=VariableNode(name=NameNode(value=name)),
                type=parse_type(str(input_type)),
                directives=(),
            )
        )
        return ArgumentNode(name=node.name, value=VariableNode(name=NameNode(value=name)))


def _count(document: DocumentNode) -> int:
    counter = _Hoist(TypeInfo(PARSED), [])
    visit(document, TypeInfoVisitor(counter.type_info, counter))
    return counter.seen


def hoist(document: DocumentNode, picks: list[bool]) -> tuple[str, dict[str, Any]]:
    """The document's text with the picked arguments as variables, and their values."""
    type_info = TypeInfo(PARSED)
    hoister = _Hoist(type_info, picks)
    changed = visit(document, TypeInfoVisitor(type_info, hoister))
    operation = changed.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    if hoister.definitions:
        operation = OperationDefinitionNode(
            operation=operation.operation,
            name=NameNode(value="Generated"),
            variable_definitions=tuple(hoister.definitions),
            directives=operation.directives,
            selection_set=operation.selection_set,
        )
        changed = DocumentNode(definitions=(operation, *changed.definitions[1:]))
    return print_ast(changed), hoister.values


def hoisted(document: DocumentNode) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    sites = _count(document)
    return st.lists(st.booleans(), min_size=sites, max_size=sites).map(
        lambda picks: hoist(document, picks)
    )


# Connections and the arguments that page them.
CONNECTIONS = ("orders", "payments", "taggedItems", "recentlyViewed", "recommendations")
VALID_SIZES = [1, 2, 3, 5, 20]
INVALID_SIZES = [0, 101, -1]


class _Retarget(Visitor):
    """Arguments that must name something of the world get, mostly, a value that does:
    a cursor of the very list paged, a real order number, a page size in range."""

    def __init__(self, draw: st.DrawFn, cursors: dict[str, list[str]], numbers: list[str]):
        super().__init__()
        self.draw = draw
        self.cursors = cursors
        self.numbers = numbers

    def _value(self, field: str, argument: str) -> ValueNode | None:
        draw = self.draw
        if field in CONNECTIONS and argument in ("after", "before"):
            wrong = [c for name, found in self.cursors.items() if name != field for c in found]
            cursor = draw(
                st.one_of(
                    st.sampled_from(self.cursors[field]),
                    st.sampled_from(self.cursors[field]),
                    st.sampled_from(self.cursors[field]),
                    st.sampled_from([*wrong, "not a cursor", ""]),
                )
            )
            return StringValueNode(value=cursor)
        if field in CONNECTIONS and argument in ("first", "last"):
            size = draw(
                st.one_of(*[st.sampled_from(VALID_SIZES)] * 5, st.sampled_from(INVALID_SIZES))
            )
            return IntValueNode(value=str(size))
        if field == "order" and argument == "number":
            number = draw(st.one_of(st.sampled_from(self.numbers), st.just("X" * 65)))
            return StringValueNode(value=number)
        return None

    def enter_field(self, node: FieldNode, *_: Any) -> Any:
        if not node.arguments:
            return None
        arguments = []
        for argument in node.arguments:
            value = self._value(node.name.value, argument.name.value)
            if value is not None and not isinstance(argument.value, NullValueNode):
                argument = ArgumentNode(name=argument.name, value=value)
            arguments.append(argument)
        return FieldNode(
            alias=node.alias,
            name=node.name,
            arguments=tuple(arguments),
            directives=node.directives,
            selection_set=node.selection_set,
        )


def retargeted(
    document: DocumentNode, cursors: dict[str, list[str]], numbers: list[str]
) -> st.SearchStrategy[DocumentNode]:
    @st.composite
    def build(draw: st.DrawFn) -> DocumentNode:
        changed: DocumentNode = visit(document, _Retarget(draw, cursors, numbers))
        return changed

    return build()
