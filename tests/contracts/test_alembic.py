"""db/revisions.py reads what Alembic reads, without Alembic: the same history and head
from the version files, and the same revision from a database (its version table)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from db import revisions
from db.migrate import alembic_config, upgrade


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def test_the_history_and_its_head_are_alembics() -> None:
    scripts = _scripts()
    alembics = {script.revision: script.down_revision for script in scripts.walk_revisions()}
    assert revisions.history() == alembics
    assert revisions.head_revision() == scripts.get_current_head()
    assert revisions.is_known_revision("0001")
    assert not revisions.is_known_revision("9999")


@pytest.mark.parametrize("target", ["0002", "head"])
def test_a_databases_revision_is_the_one_alembic_reads(tmp_path: Path, target: str) -> None:
    (tmp_path / "oc.db").touch()
    url = f"sqlite:///{tmp_path / 'oc.db'}"
    assert asyncio.run(revisions.current_revision(url)) is None  # never migrated: no table yet
    upgrade(url, target)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            alembics = MigrationContext.configure(connection).get_current_revision()
            assert revisions.read_revision(connection) == alembics
    finally:
        engine.dispose()
    assert asyncio.run(revisions.current_revision(url)) == alembics
    assert alembics == ("0002" if target == "0002" else revisions.head_revision())
