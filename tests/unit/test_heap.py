"""A serving process hides its start-up objects from the cycle collector and collects
young objects less often (app.heap); these tests put the collector back afterwards."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from app import heap
from app.main import app_factory


@pytest.fixture
def collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_the_served_application_settles_the_heap(
    collector: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERCENTER_DATABASE_URL", "sqlite+aiosqlite:///:memory:")
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    app_factory()
    assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, 10, 10)
    # Everything alive at start-up (modules, the schema, the app) is out of every scan.
    assert gc.get_freeze_count() > 10_000
