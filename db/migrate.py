"""Run the Alembic migration history programmatically (``ordercenter migrate``)."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_engine, normalize_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would choke on '%' in passwords.
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``; safe to run on every start."""
    command.upgrade(alembic_config(url), revision)


async def upgrade_async(engine: AsyncEngine, revision: str = "head") -> None:
    """Same as ``upgrade`` from inside a running event loop, on an existing engine."""

    def _run(connection: object) -> None:
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as conn:
        await conn.run_sync(_run)


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def head_revision() -> str | None:
    """The newest revision of the migration history."""
    return _scripts().get_current_head()


def is_known_revision(revision: str) -> bool:
    """Whether this code's history has ``revision`` (a database newer than the code has not)."""
    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:
        return False


def _read(connection: Connection) -> str | None:
    # Its "Context impl SQLiteImpl" lines mean nothing to someone asking for a token.
    chatty = logging.getLogger("alembic.runtime.migration")
    level = chatty.level
    chatty.setLevel(logging.WARNING)
    try:
        return MigrationContext.configure(connection).get_current_revision()
    finally:
        chatty.setLevel(level)


async def revision_of(engine: AsyncEngine) -> str | None:
    """The revision of the database behind ``engine``; None when it was never migrated."""
    async with engine.connect() as conn:
        return await conn.run_sync(_read)


async def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at; None when it was never migrated."""

    path = sqlite_path(url)
    if path is not None:
        # Read-only: our engine's connect hook would switch the file to WAL, a write.
        read_only = sa.create_engine(f"sqlite:///file:{quote(str(path))}?mode=ro&uri=true")
        try:
            with read_only.connect() as connection:
                return _read(connection)
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
