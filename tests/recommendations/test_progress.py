"""`ordercenter recommend [--evaluate]` says what it is doing before its per-user bar can
move: reading and model building take seconds and used to show nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

import resolvers.recommendations.batch
import resolvers.recommendations.evaluate
from db.engine import SessionFactory
from db.seed import SeedSize, seed_database
from resolvers.recommendations.batch import evaluate_database, recompute_everyone
from tests.cli.conftest import Cli
from tests.cli.conftest import ordercenter as ordercenter  # the fixture

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SIZE = SeedSize(users=12, orders_per_user=6)


def _recording(module: Any, monkeypatch: pytest.MonkeyPatch, log: list[Any]) -> None:
    real = module.build_model

    def build_model(*args: Any, **kwargs: Any) -> Any:
        log.append("model built")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "build_model", build_model)


async def test_evaluation_announces_each_phase_before_it_runs_then_counts_from_zero(
    engine: AsyncEngine, sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_database(engine, size=SIZE, now=NOW)
    log: list[Any] = []
    _recording(resolvers.recommendations.evaluate, monkeypatch, log)
    evaluation = await evaluate_database(
        sessions,
        progress=lambda done, total: log.append((done, total)),
        phase=log.append,
    )
    n = evaluation.buyers
    assert log[:5] == [
        "reading everyone's behaviour",
        "holding out each buyer's latest order",
        "building the item-item model from the rest",
        "model built",
        (0, n),
    ]
    assert log[5:] == [(done, n) for done in range(1, n + 1)]


async def test_recompute_announces_each_phase_before_it_runs_then_counts_from_zero(
    engine: AsyncEngine, sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_database(engine, size=SIZE, now=NOW)
    log: list[Any] = []
    _recording(resolvers.recommendations.batch, monkeypatch, log)
    report = await recompute_everyone(
        sessions, now=NOW, progress=lambda done, total: log.append((done, total)), phase=log.append
    )
    assert log[:4] == [
        "reading everyone's behaviour",
        "building the item-item model",
        "model built",
        (0, report.users),
    ]
    assert log[-1] == (report.users, report.users)


def test_the_command_prints_the_phases_first(ordercenter: Cli, tmp_path: Path) -> None:
    ordercenter.env(ORDERCENTER_DATABASE_URL=f"sqlite:///{tmp_path / 'oc.db'}")
    seeded = ordercenter.run("seed", "--users", "12", "--orders-per-user", "6", "--no-progress")
    assert seeded.exit_code == 0, seeded.output
    result = ordercenter.run("recommend", "--evaluate", "--current-database")
    assert result.exit_code == 0, result.output
    output = result.output
    phases = ["reading everyone's behaviour…", "building the item-item model from the rest…"]
    assert all(phase in output for phase in phases), output
    assert output.index(phases[-1]) < output.index("held out the latest order")
    quiet = ordercenter.run("recommend", "--evaluate", "--current-database", "--no-progress")
    assert "…" not in quiet.output
