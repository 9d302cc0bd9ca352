"""The live delivery lag histogram (``metrics.observe_lag``): observations of one turn
of the event loop go in together, and none is lost or misplaced on the way."""

from __future__ import annotations

import asyncio
import time

import pytest

from app import metrics


def _lags() -> dict[str, float]:
    """EVENT_LAG's count, sum and the buckets used below, as a scrape reads them."""
    found: dict[str, float] = {}
    for family in metrics.EVENT_LAG.collect():
        for sample in family.samples:
            if sample.name.endswith("_count") or sample.name.endswith("_sum"):
                found[sample.name.rsplit("_", 1)[1]] = sample.value
            elif sample.name.endswith("_bucket") and sample.labels["le"] in ("0.005", "0.5"):
                found[sample.labels["le"]] = sample.value
    return found


def _moved(before: dict[str, float]) -> dict[str, float]:
    after = _lags()
    return {key: after[key] - before[key] for key in after}


async def test_a_turns_lags_are_all_counted_once_it_ends() -> None:
    before = _lags()
    now = time.time()
    metrics.observe_lag(now + 5)  # a clock ahead of ours: no negative lag
    for _ in range(998):
        metrics.observe_lag(now - 0.1)
    metrics.observe_lag(now - 2)  # a subscriber far behind
    await asyncio.sleep(0)  # a scrape runs in a later turn than the fan-out
    moved = _moved(before)
    assert moved["count"] == 1000
    assert moved["0.005"] == 1  # buckets are cumulative
    assert moved["0.5"] == 999
    assert 0.1 * 998 + 2 <= moved["sum"] < 0.1 * 998 + 2 + 1000 * 0.3


def test_outside_a_loop_a_lag_is_counted_at_once() -> None:
    before = _lags()
    metrics.observe_lag(time.time() - 0.3)
    moved = _moved(before)
    assert moved["count"] == 1
    assert moved["0.005"] == 0
    assert moved["0.5"] == 1


def test_lags_left_by_a_loop_that_stopped_are_counted_by_a_later_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(metrics, "LAGS_HELD", 3)
    before = _lags()

    loop = asyncio.new_event_loop()
    # Observed in the loop's last turn: the flush it schedules for the next never runs.
    loop.call_soon(lambda: metrics.observe_lag(time.time()))
    loop.call_soon(loop.stop)
    loop.run_forever()
    loop.close()
    assert _moved(before)["count"] == 0

    async def observe_more() -> None:
        for _ in range(2):
            metrics.observe_lag(time.time())  # the third held: flushed now
        metrics.observe_lag(time.time())  # and this one in its own turn
        await asyncio.sleep(0)

    asyncio.run(observe_more())
    assert _moved(before)["count"] == 4
