"""On a busy port the server says so before any start-up work, and how to pick another."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import Cli


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_make_run_on_a_busy_port_says_which_variable_picks_another_before_any_work(
    ordercenter: Cli, tmp_path: Path, busy_port: int
) -> None:
    database = tmp_path / "demo.db"
    ordercenter.env(
        ORDERCENTER_DATABASE_URL=f"sqlite:///{database}", ORDERCENTER_PORT=str(busy_port)
    )
    result = ordercenter.run("demo")
    assert result.exit_code == 1, result.output
    assert f"cannot serve on 127.0.0.1:{busy_port}" in result.output
    assert f"ORDERCENTER_PORT={busy_port + 1} make run" in result.output
    # Refused first: no token printed, nothing migrated or seeded.
    assert "Bearer" not in result.output
    assert not database.exists()


def test_serve_on_a_busy_port_suggests_another_port(
    ordercenter: Cli, tmp_path: Path, busy_port: int
) -> None:
    database = tmp_path / "serve.db"
    ordercenter.env(ORDERCENTER_DATABASE_URL=f"sqlite:///{database}")
    result = ordercenter.run("serve", "--port", str(busy_port))
    assert result.exit_code == 1, result.output
    assert f"ordercenter serve --port {busy_port + 1}" in result.output
    assert "Errno" not in result.output
    assert not database.exists()
