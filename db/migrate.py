"""Run the Alembic migration history programmatically (``ordercenter migrate``).

Reading which revision a database is at, and the newest one, is db/revisions.py's job:
it needs no Alembic, so an API process that does not migrate never loads it.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import normalize_url

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
