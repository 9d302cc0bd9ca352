"""Which migration a database is at, and which is the newest, without loading Alembic.

An API process asks both on every ``/readyz`` and once before serving (``serve
--no-migrate``). Importing Alembic for that (it loads Mako, Pygments and SQLAlchemy's
other dialects with it) kept ~8 MiB resident in every API process for the life of it
(bench/memory.py); migrating (db/migrate.py) is the only thing that needs Alembic.

Both answers come from what Alembic itself reads: the version files'
``revision``/``down_revision`` assignments, and the one-row table it keeps the
database's revision in (tests/contracts/test_alembic.py holds them to Alembic's own).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_engine

VERSIONS_DIR = Path(__file__).parent / "migrations" / "versions"
# Alembic's defaults (db/migrations/env.py changes neither).
VERSION_TABLE = "alembic_version"
VERSION_COLUMN = "version_num"


class RevisionError(Exception):
    """The database records several revisions (a branched history): not ours."""


def _assigned(path: Path) -> dict[str, str | None]:
    """The module-level ``revision`` and ``down_revision`` of one version file."""
    found: dict[str, str | None] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        target: ast.expr | None = None
        value: ast.expr | None = None
        if isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            found[target.id] = ast.literal_eval(value) if value is not None else None
    return found


@functools.cache
def history() -> dict[str, str | None]:
    """Every revision of the migration history, with the one it follows (None: the first)."""
    revisions: dict[str, str | None] = {}
    for path in sorted(VERSIONS_DIR.glob("*.py")):
        assigned = _assigned(path)
        if "revision" in assigned:
            revision = assigned["revision"]
            if not isinstance(revision, str):
                raise ValueError(f"{path.name}: revision is not a string")
            revisions[revision] = assigned.get("down_revision")
    return revisions


def head_revision() -> str | None:
    """The newest revision of the migration history (the one no other follows)."""
    known = history()
    followed = set(known.values())
    heads = [revision for revision in known if revision not in followed]
    if len(heads) > 1:
        raise RevisionError(f"the migration history has several heads: {sorted(heads)}")
    return heads[0] if heads else None


def is_known_revision(revision: str) -> bool:
    """Whether this code's history has ``revision`` (a database newer than the code has not)."""
    return revision in history()


def read_revision(connection: Connection) -> str | None:
    """The revision recorded in the database; None when it was never migrated."""
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return None
    table = sa.table(VERSION_TABLE, sa.column(VERSION_COLUMN))
    rows = connection.execute(sa.select(table.c[VERSION_COLUMN])).scalars().all()
    if len(rows) > 1:
        raise RevisionError(f"the database records several revisions: {sorted(rows)}")
    return rows[0] if rows else None


async def revision_of(engine: AsyncEngine) -> str | None:
    """The revision of the database behind ``engine``; None when it was never migrated."""
    async with engine.connect() as conn:
        return await conn.run_sync(read_revision)


async def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at; None when it was never migrated."""
    path = sqlite_path(url)
    if path is not None:
        # Read-only: our engine's connect hook would switch the file to WAL, a write.
        read_only = sa.create_engine(f"sqlite:///file:{quote(str(path))}?mode=ro&uri=true")
        try:
            with read_only.connect() as connection:
                return read_revision(connection)
        finally:
            read_only.dispose()
    engine = create_engine(url)
    try:
        return await revision_of(engine)
    finally:
        await engine.dispose()


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (relative to the current folder, as SQLite opens it);
    None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)
