"""Every read field's data meaning is declared once, and every path derives from it.

The SQL plans (schema.sql_plans) answer a document only if each of its fields has a
derivation; a field without one would silently send whole documents to a slower path.
This names any such field.
"""

from __future__ import annotations

from typing import Any

import pytest
import strawberry

from schema.declared import FromRow, column, derived, embedded, money, readers_of
from schema.definition import schema
from schema.sql_plans import derivation_gaps

# None left: a new gap fails. (A field that cannot have one yet would be listed here,
# with why, and documents with it would take the Python plan.)
KNOWN_GAPS: list[str] = []


def test_every_read_field_has_a_derivation() -> None:
    assert derivation_gaps(schema._schema) == KNOWN_GAPS


def _row_types() -> list[type[Any]]:
    found: list[type[Any]] = []
    todo: list[type[Any]] = [FromRow]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.append(sub)
            todo.append(sub)
    return found


class _Row:
    id = 7
    number = "A-1"
    title = "Tea"
    price_minor = 1999
    quantity = 3
    currency = "KWD"
    ship_city = "Oslo"


def test_each_row_type_declares_every_field_it_builds() -> None:
    # A field with neither a resolver nor a declaration would have no value in from_row.
    types = _row_types()
    names = {t.__name__ for t in types}
    assert {"Order", "OrderItem", "Product", "Payment", "User", "Recommendation"} <= names
    for row_type in types:
        readers = readers_of(row_type)
        assert "row" not in {name for name, _ in readers}, row_type


def test_a_plain_field_is_one_declaration() -> None:
    """What adding a column field takes: one line; from_row and the SQL follow."""

    @strawberry.type(description="An address part.")
    class Where:
        city: str = strawberry.field(description="City.")

    @strawberry.type(description="A test type.")
    class Thing(FromRow):
        number: str = column("number", description="A column.")
        price: Any = money("price_minor", "quantity", description="Money of two columns.")
        where: Where = embedded(Where, city="ship_city", description="Columns as an object.")
        shout: str = derived(lambda row: row.title.upper(), sql="shout", description="A rule.")
        row: strawberry.Private[Any]

    thing = Thing.from_row(_Row())
    assert thing.number == "A-1"
    assert (str(thing.price.amount), thing.price.currency_code) == ("5.997", "KWD")
    assert thing.where.city == "Oslo"
    assert thing.shout == "TEA"


def test_a_field_without_a_declaration_is_named() -> None:
    @strawberry.type(description="A test type.")
    class Forgotten(FromRow):
        plain: str = strawberry.field(description="No declaration.")
        row: strawberry.Private[Any]

    with pytest.raises(TypeError, match=r"Forgotten\.plain declares no data meaning"):
        readers_of(Forgotten)
