"""Run `ordercenter` commands in-process against a chosen environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result

from app.cli import main as cli
from app.settings import get_settings

SECRET = "cli-test-secret-that-is-long-enough-for-hs256"


class Cli:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch

    def env(self, **variables: str | None) -> None:
        for name, value in variables.items():
            if value is None:
                self.monkeypatch.delenv(name, raising=False)
            else:
                self.monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    def run(self, *args: str) -> Result:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(cli, list(args))
        finally:
            get_settings.cache_clear()


@pytest.fixture
def ordercenter(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    runner = Cli(monkeypatch)
    runner.env(
        ORDERCENTER_ENV="test",
        ORDERCENTER_JWT_SECRET=SECRET,
        ORDERCENTER_LOG_LEVEL="warning",
        ORDERCENTER_DATABASE_URL=None,
        ORDERCENTER_PORT=None,
        ORDERCENTER_HOST=None,
        ORDERCENTER_UNPAID_ORDER_TIMEOUT_SECONDS=None,
    )
    yield runner
    get_settings.cache_clear()
