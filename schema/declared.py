"""A field's data meaning, declared once, next to the field.

Every read field of a type backed by a table row says where its value comes from:

- ``column("number")``: a column of the object's row, shown the way the field's GraphQL
  type shows it (an enum's name, an ISO instant, a JSON number);
- ``money("subtotal_minor")``: integer minor units (a product of columns) and the row's
  currency;
- ``embedded(Address, name="ship_name", ...)``: an object made of the row's columns;
- ``node_id()``: the Relay global id of the row (implicit on ``Node`` types);
- ``derived(python, sql="...")``: a domain rule; its SQL is generated from the same
  domain function, by the generator ``schema.sql_plans`` knows under that name;
- a relation through a named loader (``schema.common.related`` / ``loaded``): the loader
  knows its table, key column and order (``resolvers.loaders.relation_of``).

From that one declaration come the Python value (``from_row``, made here), the compiled
plan's read (an attribute of the object, schema.plans) and the SQL expression
(schema.sql_plans). Adding a plain column field is one line in the type.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Self, TypeVar

import strawberry
from strawberry.types.base import StrawberryOptional, get_object_definition
from strawberry.types.field import StrawberryField
from strawberry.types.private import is_private

from resolvers.ids import to_global_id

# The metadata key under which a field keeps its declaration.
DATA = "ordercenter.data"

T = TypeVar("T")


@dataclass(frozen=True)
class Column:
    """The value of one column of the row."""

    name: str


@dataclass(frozen=True)
class MoneyOf:
    """Money: the product of ``factors`` (minor units, then multipliers) in ``currency``."""

    factors: tuple[str, ...]
    currency: str = "currency"


@dataclass(frozen=True)
class Embedded:
    """An object of ``type`` whose fields are columns of the row (field -> column)."""

    type: Any
    columns: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class NodeId:
    """The row's global id, under the GraphQL name of the type it is shown as."""


@dataclass(frozen=True)
class Derived:
    """A domain rule: ``python(row)`` here, and the SQL generator named ``sql``."""

    sql: str
    python: Callable[[Any], Any] | None = None


Declaration = Column | MoneyOf | Embedded | NodeId | Derived


def _field(declaration: Declaration, description: str) -> Any:
    return strawberry.field(description=description, metadata={DATA: declaration})


def column(name: str, *, description: str) -> Any:
    return _field(Column(name), description)


def money(*factors: str, currency: str = "currency", description: str) -> Any:
    return _field(MoneyOf(factors, currency), description)


def embedded(type_: Any, *, description: str, **columns: str) -> Any:
    return _field(Embedded(type_, tuple(columns.items())), description)


def node_id(*, description: str) -> Any:
    return _field(NodeId(), description)


def derived(python: Callable[[Any], Any], *, sql: str, description: str) -> Any:
    return _field(Derived(sql, python), description)


def rule(sql: str) -> dict[str, Any]:
    """``metadata=rule("name")`` for a field with its own resolver whose meaning is a
    domain rule or a listing: the SQL generator ``name`` answers it."""
    return {DATA: Derived(sql)}


def declaration_of(field: StrawberryField) -> Declaration | None:
    metadata: Mapping[Any, Any] = field.metadata or {}
    found = metadata.get(DATA)
    if isinstance(found, Column | MoneyOf | Embedded | NodeId | Derived):
        return found
    if field.python_name == "id" and field.base_resolver is None:
        return NodeId()  # a Node's id, declared on the interface
    return None


def _enum_class(field: StrawberryField) -> type[Enum] | None:
    field_type: Any = field.type
    if isinstance(field_type, StrawberryOptional):
        field_type = field_type.of_type
    enum_definition = getattr(field_type, "__strawberry_definition__", None)
    wrapped = getattr(enum_definition, "wrapped_cls", None)
    return wrapped if isinstance(wrapped, type) and issubclass(wrapped, Enum) else None


def _reader(cls: type, field: StrawberryField) -> Callable[[Any], Any] | None:
    declaration = declaration_of(field)
    if isinstance(declaration, Column):
        name = declaration.name
        enum = _enum_class(field)
        if enum is None:
            return lambda row: getattr(row, name)
        enum_class = enum

        def enum_value(row: Any) -> Any:
            stored = getattr(row, name)
            return None if stored is None else enum_class(stored)

        return enum_value
    if isinstance(declaration, MoneyOf):
        from schema.common import Money  # schema.common imports this module

        first, *multipliers = declaration.factors
        currency = declaration.currency

        def amount(row: Any) -> Any:
            minor = getattr(row, first)
            for factor in multipliers:
                minor *= getattr(row, factor)
            return Money.of(minor, getattr(row, currency))

        return amount
    if isinstance(declaration, Embedded):
        made, pairs = declaration.type, declaration.columns
        return lambda row: made(**{name: getattr(row, column) for name, column in pairs})
    if isinstance(declaration, NodeId):
        definition = get_object_definition(cls, strict=True)
        type_name = definition.name
        return lambda row: strawberry.ID(to_global_id(type_name, row.id))
    if isinstance(declaration, Derived) and declaration.python is not None:
        return declaration.python
    return None


class FromRow:
    """A Strawberry type backed by a row: ``from_row`` is made from its fields'
    declarations (every field without a resolver must have one)."""

    @classmethod
    def from_row(cls, row: Any) -> Self:
        readers = _READERS.get(cls)
        if readers is None:
            readers = _READERS[cls] = readers_of(cls)
        return cls(row=row, **{name: read(row) for name, read in readers})  # type: ignore[call-arg]


_READERS: dict[type, list[tuple[str, Callable[[Any], Any]]]] = {}


def readers_of(cls: type) -> list[tuple[str, Callable[[Any], Any]]]:
    definition = get_object_definition(cls, strict=True)
    readers = []
    init_fields = {f.name for f in dataclasses.fields(cls) if f.init}
    for field in definition.fields:
        if field.base_resolver is not None or field.python_name not in init_fields:
            continue
        if is_private(field.type):
            continue
        reader = _reader(cls, field)
        if reader is None:
            raise TypeError(f"{definition.name}.{field.python_name} declares no data meaning")
        readers.append((field.python_name, reader))
    return readers
