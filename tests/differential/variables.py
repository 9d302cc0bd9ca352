"""Arguments written in a document, some moved into variables.

hypothesis-graphql writes every argument as a literal; clients mostly send variables, and
the execution paths read the two differently (graphql-core coerces variables before the
run; the plans read them again per field). ``hoisted`` draws which arguments move.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    GraphQLInputType,
    NameNode,
    OperationDefinitionNode,
    TypeInfo,
    TypeInfoVisitor,
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
