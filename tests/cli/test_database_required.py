"""Commands that read a database say which command to run first, and create nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.server.serving import free_port

READERS = {
    "token": ["token", "demo"],
    "token-role": ["token", "--role", "seller"],
    "sweep": ["sweep"],
    "recommend": ["recommend", "--no-progress"],
    "evaluate": ["recommend", "--evaluate", "--current-database", "--no-progress"],
    "simulate": ["simulate", "--duration", "1"],
    "serve-no-migrate": ["serve", "--no-migrate", "--port", "0"],
}


@pytest.mark.parametrize("args", READERS.values(), ids=READERS.keys())
def test_without_a_database_a_command_names_the_missing_file_and_creates_none(
    ordercenter: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    # A newcomer runs the command from another folder, with the default relative URL.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = ordercenter.run(*args)
    assert result.exit_code == 1, result.output
    assert f"no database at {elsewhere / 'ordercenter.db'}" in result.output
    assert "run `ordercenter migrate` and then `ordercenter seed`" in result.output
    assert "Traceback" not in result.output
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("args", READERS.values(), ids=READERS.keys())
def test_an_unmigrated_sqlite_file_is_refused_with_the_command_to_run(
    ordercenter: Cli, tmp_path: Path, args: list[str]
) -> None:
    database = tmp_path / "empty.db"
    database.touch()
    ordercenter.env(ORDERCENTER_DATABASE_URL=f"sqlite:///{database}")
    result = ordercenter.run(*args)
    assert result.exit_code == 1, result.output
    assert f"the database at {database} was never migrated" in result.output
    assert "run `ordercenter migrate`" in result.output
    assert "Traceback" not in result.output
    assert "sqlalchemy" not in result.output.lower()
    assert database.stat().st_size == 0


def test_an_unmigrated_postgresql_database_is_refused_too(
    ordercenter: Cli, postgres_url: str | None
) -> None:
    if postgres_url is None:
        pytest.skip("PostgreSQL variant: ORDERCENTER_TEST_DATABASE_URL is not set")
    # The test database has the tables (made without Alembic) but no migration record.
    ordercenter.env(ORDERCENTER_DATABASE_URL=postgres_url)
    result = ordercenter.run("token", "demo")
    assert result.exit_code == 1, result.output
    assert "was never migrated: run `ordercenter migrate`" in result.output


def test_an_unreachable_database_is_one_line_not_a_traceback(ordercenter: Cli) -> None:
    # Nothing listens on this loopback port: the connection is refused at once.
    ordercenter.env(ORDERCENTER_DATABASE_URL=f"postgresql://nobody@127.0.0.1:{free_port()}/none")
    result = ordercenter.run("token", "demo")
    assert result.exit_code == 1, result.output
    assert "cannot open the database at postgresql://nobody@127.0.0.1" in result.output
    assert "Traceback" not in result.output


def test_after_migrate_and_seed_the_token_is_printed(ordercenter: Cli, tmp_path: Path) -> None:
    ordercenter.env(ORDERCENTER_DATABASE_URL=f"sqlite:///{tmp_path / 'oc.db'}")
    migrated = ordercenter.run("migrate")
    assert migrated.exit_code == 0, migrated.output
    unseeded = ordercenter.run("token", "demo")
    assert unseeded.exit_code == 1
    assert "no user with handle 'demo'; run `ordercenter seed` first" in unseeded.output
    seeded = ordercenter.run("seed", "--users", "3", "--orders-per-user", "1", "--no-progress")
    assert seeded.exit_code == 0, seeded.output
    token = ordercenter.run("token", "demo")
    assert token.exit_code == 0, token.output
    assert token.output.count(".") == 2  # a JWT: header.payload.signature
