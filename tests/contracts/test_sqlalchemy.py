"""SQLAlchemy's private parts that internals/ relies on for ``OneOfKeys`` (a column in
a list of keys bound as one parameter): ``_traverse_internals`` (its statement-cache
key), ``_is_implicitly_boolean`` and ``coercions.expect``."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from internals import OneOfKeys
from tests.contracts.pins import upgraded

SQLALCHEMY = upgraded("sqlalchemy")
things = Table("things", MetaData(), Column("id", Integer, primary_key=True), Column("n", Integer))


def test_it_compiles_to_an_expanding_in_on_sqlite_and_any_on_postgresql() -> None:
    statement = select(things.c.id).where(OneOfKeys(things.c.id))
    on_sqlite = str(statement.compile(dialect=sqlite.dialect()))
    on_postgresql = str(statement.compile(dialect=postgresql.dialect()))
    assert "things.id IN (__[POSTCOMPILE_keys])" in on_sqlite, SQLALCHEMY
    assert on_sqlite.rstrip().endswith(")"), SQLALCHEMY  # no "= 1" after it
    assert "things.id = ANY (%(keys)s::INTEGER[])" in on_postgresql, SQLALCHEMY


def test_its_cache_key_is_made_of_its_column_and_name() -> None:
    one = select(things.c.id).where(OneOfKeys(things.c.id))
    same = select(things.c.id).where(OneOfKeys(things.c.id))
    other_column = select(things.c.id).where(OneOfKeys(things.c.n))
    other_name = select(things.c.id).where(OneOfKeys(things.c.id, "ids"))
    key = one._generate_cache_key()
    assert key is not None, SQLALCHEMY  # cacheable at all
    assert key == same._generate_cache_key(), SQLALCHEMY
    assert key != other_column._generate_cache_key(), SQLALCHEMY
    assert key != other_name._generate_cache_key(), SQLALCHEMY


def test_an_orm_attribute_becomes_its_column() -> None:
    from sqlalchemy import ColumnElement
    from sqlalchemy.orm import InstrumentedAttribute

    from db.models import Order

    attribute = Order.id
    assert isinstance(attribute, InstrumentedAttribute)
    column = OneOfKeys(attribute).column
    assert isinstance(column, ColumnElement), SQLALCHEMY
    assert column.compare(Order.__table__.c.id), SQLALCHEMY  # type: ignore[attr-defined]
