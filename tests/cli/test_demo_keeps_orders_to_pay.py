"""`ordercenter demo` (make run) keeps the demo buyer's unpaid orders payable while it runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

import app.cli
from app.cli import demo_settings
from app.settings import Settings
from db.engine import create_session_factory
from db.models import Order, User
from db.seed import SeedSize, seed_database
from resolvers.context import Context
from resolvers.mutations.timeouts import apply_timeouts
from tests.cli.conftest import Cli

SEEDED_AT = datetime(2026, 6, 15, 12, tzinfo=UTC)


async def _unpaid_of_demo(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        statement = (
            select(func.count())
            .select_from(Order)
            .join(User, col(User.id) == col(Order.user_id))
            .where(col(User.handle) == "demo", col(Order.status) == "UNPAID")
        )
        return int((await conn.execute(statement)).scalar_one())


async def _sweep(engine: AsyncEngine, settings: Settings, moment: datetime) -> int:
    context = Context.for_request(
        viewer_id=None,
        sessions=create_session_factory(engine),
        rules=settings.rules,
        clock=lambda: moment,
    )
    return (await apply_timeouts(context)).cancelled


async def test_the_demo_sweeper_leaves_the_seeded_unpaid_orders_for_a_whole_session(
    engine: AsyncEngine,
) -> None:
    await seed_database(engine, size=SeedSize(users=5, orders_per_user=3), now=SEEDED_AT)
    assert await _unpaid_of_demo(engine) == 2
    demo = demo_settings(Settings(env="test"))
    # A minute in (the first sweep), a working day in, and a month later on the same database.
    for later in (timedelta(minutes=1), timedelta(hours=8), timedelta(days=30)):
        assert await _sweep(engine, demo, SEEDED_AT + later) == 0
        assert await _unpaid_of_demo(engine) == 2
    # What the demo's own settings prevent: the serving default cancels them at once.
    assert await _sweep(engine, Settings(env="test"), SEEDED_AT + timedelta(minutes=1)) >= 2
    assert await _unpaid_of_demo(engine) == 0


def test_ordercenter_demo_serves_with_the_demo_settings(
    ordercenter: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[Settings] = []

    def serve(settings: Settings, host: str, port: int, workers: int) -> None:
        served.append(settings)

    monkeypatch.setattr(app.cli, "_serve", serve)
    ordercenter.env(ORDERCENTER_DATABASE_URL=f"sqlite:///{tmp_path / 'demo.db'}")
    seeded = ordercenter.run("seed", "--users", "3", "--orders-per-user", "1", "--no-progress")
    assert seeded.exit_code == 0, seeded.output
    result = ordercenter.run("demo", "--port", "0")
    assert result.exit_code == 0, result.output
    assert served[-1].rules.unpaid_timeout >= timedelta(days=30)
    # Someone who wants to watch the sweeper at work still can.
    ordercenter.env(ORDERCENTER_UNPAID_ORDER_TIMEOUT_SECONDS="120")
    result = ordercenter.run("demo", "--port", "0")
    assert result.exit_code == 0, result.output
    assert served[-1].rules.unpaid_timeout == timedelta(seconds=120)


def test_demo_settings_keep_everything_else(tmp_path: Path) -> None:
    settings = Settings(env="test", port=8123, receipt_window_seconds=3600)
    demo: Any = demo_settings(settings)
    assert (demo.port, demo.receipt_window_seconds, demo.env) == (8123, 3600, "test")
