"""Static query cost, computed before execution, as large public GraphQL APIs do it.

Scalars and enums cost nothing; every object costs 1; a list multiplies what is
under it by its size: a connection by its ``first``/``last`` (or the default page
size), ``nodes`` by its number of ids, any other list by a fixed estimate. Variables
are resolved, fragments followed, aliases counted like any other field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    Visitor,
    get_named_type,
    get_operation_ast,
    is_leaf_type,
    visit,
)

from resolvers.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

# The only arguments whose values the cost reads (page sizes, id lists).
SIZING_ARGUMENTS = frozenset({"first", "last", "ids"})


def sizing_variables(document: DocumentNode) -> frozenset[str]:
    """The variables an operation's cost depends on: those passed to a sizing argument.

    Two requests that agree on these have the same cost, whatever their other
    variables (an order number, a search text).
    """
    names: set[str] = set()

    class Sizing(Visitor):
        def enter_argument(self, node: Any, *_: Any) -> None:
            if node.name.value in SIZING_ARGUMENTS and isinstance(node.value, VariableNode):
                names.add(node.value.name.value)

    visit(document, Sizing())
    return frozenset(names)


@dataclass(frozen=True, slots=True)
class CostModel:
    default_page_size: int = DEFAULT_PAGE_SIZE
    max_page_size: int = MAX_PAGE_SIZE
    list_estimate: int = 10


def _is_list(field_type: GraphQLOutputType) -> bool:
    inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    return isinstance(inner, GraphQLList)


class _Coster:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        model: CostModel,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.model = model

    def _int_argument(self, node: FieldNode, name: str) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value != name:
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, VariableNode):
                found = self.variables.get(value.name.value)
                return found if isinstance(found, int) and not isinstance(found, bool) else None
        return None

    def _id_count(self, node: FieldNode) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value == "ids":
                value = argument.value
                if isinstance(value, ListValueNode):
                    return len(value.values)
                if isinstance(value, VariableNode):
                    found = self.variables.get(value.name.value)
                    return len(found) if isinstance(found, list) else None
        return None

    def _multiplier(self, node: FieldNode, named: GraphQLNamedType) -> int:
        model = self.model
        if named.name.endswith("Connection"):
            size = self._int_argument(node, "first") or self._int_argument(node, "last")
            return min(max(size or model.default_page_size, 0), model.max_page_size)
        ids = self._id_count(node)
        if ids is not None:
            return ids
        return model.list_estimate

    def selection(
        self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType, seen: frozenset[str]
    ) -> int:
        if selection_set is None or not isinstance(
            parent, GraphQLObjectType | GraphQLInterfaceType
        ):
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, seen)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selection(selection.selection_set, target or parent, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue
                target = self.schema.get_type(fragment.type_condition.name.value)
                total += self.selection(fragment.selection_set, target or parent, seen | {name})
        return total

    def field(
        self,
        node: FieldNode,
        parent: GraphQLObjectType | GraphQLInterfaceType,
        seen: frozenset[str],
    ) -> int:
        name = node.name.value
        definition = parent.fields.get(name)
        if definition is None:  # introspection fields: bounded by depth and aliases
            return 0
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            return 0
        inner = self.selection(node.selection_set, named, seen)
        if named.name.endswith("Connection"):
            # Its `edges` list is the page itself: counted once, here.
            return 1 + self._multiplier(node, named) * max(inner, 1)
        if _is_list(definition.type) and not parent.name.endswith("Connection"):
            return 1 + self._multiplier(node, named) * inner
        return 1 + inner


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    model: CostModel,
) -> int:
    """The cost of the operation that would run; 0 if none can be chosen."""
    operation: OperationDefinitionNode | None = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    coster = _Coster(schema, fragments, variables or {}, model)
    return coster.selection(operation.selection_set, root, frozenset())
