"""ORDERCENTER_BACKGROUND=worker: the API process neither sweeps nor refreshes nor loads
numpy/scipy; buyers' actions reach `ordercenter worker`, which does both.

Real processes: `ordercenter serve` and `ordercenter worker` on one seeded SQLite file,
whose unpaid orders are hours old, past the 30-minute timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.server.serving import ORDERCENTER, running_server
from tests.server.test_numeric_stack_on_demand import PAGE, VIEW, graphql, numeric_libraries

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc"),
]

FAST = {
    "ORDERCENTER_SWEEP_INTERVAL_SECONDS": "0.2",
    "ORDERCENTER_WORKER_POLL_SECONDS": "0.2",
    "ORDERCENTER_RECOMMENDATION_DEBOUNCE_SECONDS": "0.05",
}


def count(database_url: str, query: str) -> int:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(query)).scalar_one())
    finally:
        engine.dispose()


UNPAID = "SELECT count(*) FROM orders WHERE status = 'UNPAID'"
REQUESTS = "SELECT count(*) FROM recommendation_requests"


def wait_until(check: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.1)


def test_api_in_worker_mode_hands_background_work_to_the_worker() -> None:
    env = {"ORDERCENTER_BACKGROUND": "worker", **FAST}
    with running_server(users=5, orders_per_user=5, extra_env=env) as server:
        database_url = server.env["ORDERCENTER_DATABASE_URL"]
        unpaid = count(database_url, UNPAID)
        assert unpaid > 0

        page = graphql(server, PAGE)
        product = page["viewer"]["orders"]["edges"][0]["node"]["items"][0]["product"]["id"]
        viewed = graphql(server, VIEW, {"input": {"productId": product}})
        assert viewed["recordProductView"]["userErrors"] == []
        # The view is recorded for the worker (after the response: wait for it)...
        wait_until(lambda: count(database_url, REQUESTS) == 1, 10)
        # ...and, many debounces and sweep intervals later, nothing ran here.
        time.sleep(2)
        assert numeric_libraries(server.process.pid) == set()
        assert count(database_url, UNPAID) == unpaid
        assert count(database_url, REQUESTS) == 1

        worker = subprocess.Popen([ORDERCENTER, "worker"], env={**os.environ, **server.env})
        try:
            wait_until(lambda: count(database_url, REQUESTS) == 0, 60)
            wait_until(lambda: count(database_url, UNPAID) == 0, 30)
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=15) == 0
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        assert numeric_libraries(server.process.pid) == set()
