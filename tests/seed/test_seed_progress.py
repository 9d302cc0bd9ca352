"""Seed progress that means something: each bar starts before its rows are written and
moves while they are, even at the demo's size (not 0 then 100 % in one jump)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from db.engine import create_engine
from db.models import metadata
from db.seed import SeedSize, seed_database

NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)


async def test_every_stage_starts_at_zero_and_orders_move_in_steps(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'seed.db'}")
    calls: dict[str, list[tuple[int, int]]] = defaultdict(list)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        await seed_database(
            engine,
            size=SeedSize(users=20, orders_per_user=20),
            now=NOW,
            progress=lambda stage, done, total: calls[stage].append((done, total)),
        )
    finally:
        await engine.dispose()
    assert {"users", "products", "orders", "tagged_items", "recommendations"} <= set(calls)
    for stage, steps in calls.items():
        total = steps[0][1]
        # Reported before the work: a bar made at the first call times the work itself.
        assert steps[0] == (0, total), (stage, steps)
        assert steps[-1] == (total, total), (stage, steps)
        done = [d for d, _ in steps]
        assert done == sorted(done), (stage, steps)
    orders = calls["orders"]
    assert orders[-1][0] == 400
    # The demo-sized run writes its orders in steps, not in one flush at the end.
    assert len({d for d, total in orders if 0 < d < total}) >= 10, orders
