"""Two real `ordercenter worker` processes on one PostgreSQL database: one sweeps; when it
is killed with SIGKILL (no chance to release anything itself) the other takes over."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from db.engine import SessionFactory, create_engine, create_session_factory
from db.models import Order
from tests.conftest import PG_URL_VAR
from tests.factories import make_order, make_product, make_shop, make_user
from tests.server.serving import ORDERCENTER, SECRET, fresh_postgres_database

pytestmark = pytest.mark.server

LEADING = "leading: sweeping"
STANDING_BY = "another worker leads; standing by"
SWEPT = "timeouts: cancelled 1 unpaid"
# Lock polls and sweeps every 0.2 s: a takeover well within this is the feature working.
TAKEOVER_SECONDS = 10.0


@contextmanager
def worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as sink:
        process = subprocess.Popen([ORDERCENTER, "worker"], env=env, stderr=sink, stdout=sink)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=15)


def wait_for_line(log: Path, text: str, seconds: float, process: subprocess.Popen[bytes]) -> float:
    """Seconds until ``text`` appears in the log; fails after ``seconds``."""
    start = time.monotonic()
    while text not in log.read_text(errors="replace"):
        assert process.poll() is None, f"worker exited:\n{log.read_text()}"
        assert time.monotonic() - start < seconds, f"no {text!r} in:\n{log.read_text()}"
        time.sleep(0.05)
    return time.monotonic() - start


async def overdue_order(sessions: SessionFactory) -> Order:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    return await make_order(sessions, buyer=buyer, shop=shop, products=[product])


async def wait_cancelled(sessions: SessionFactory, order: Order, seconds: float = 15) -> None:
    async with asyncio.timeout(seconds):
        while True:
            async with sessions() as session:
                row = await session.get(Order, order.id, populate_existing=True)
            assert row is not None
            if row.status == "CANCELLED":
                return
            await asyncio.sleep(0.1)


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL database at the latest migration."""
    admin_url = os.environ.get(PG_URL_VAR)
    if not admin_url:
        pytest.skip(f"leader election needs PostgreSQL: set {PG_URL_VAR}")
    with fresh_postgres_database(admin_url) as url:
        env = {**os.environ, "ORDERCENTER_DATABASE_URL": url, "ORDERCENTER_LOG_LEVEL": "warning"}
        subprocess.run([ORDERCENTER, "migrate"], env=env, check=True, timeout=60)
        yield url


async def test_one_worker_leads_and_another_takes_over_when_it_is_killed(
    database: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "ORDERCENTER_DATABASE_URL": database,
        "ORDERCENTER_JWT_SECRET": SECRET,
        "ORDERCENTER_ENV": "test",
        "ORDERCENTER_LOG_LEVEL": "info",
        "ORDERCENTER_SWEEP_INTERVAL_SECONDS": "0.2",
        "ORDERCENTER_WORKER_POLL_SECONDS": "0.2",
    }
    engine = create_engine(database)
    sessions = create_session_factory(engine)
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    try:
        with ExitStack() as stack:
            first = stack.enter_context(worker(env, first_log))
            wait_for_line(first_log, LEADING, 30, first)
            second = stack.enter_context(worker(env, second_log))
            wait_for_line(second_log, STANDING_BY, 30, second)

            await wait_cancelled(sessions, await overdue_order(sessions))
            wait_for_line(first_log, SWEPT, 5, first)
            # Several sweeps have run by now; the standby ran none.
            await asyncio.sleep(1)
            assert LEADING not in second_log.read_text()
            assert "timeouts:" not in second_log.read_text()

            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            took_over = wait_for_line(second_log, LEADING, TAKEOVER_SECONDS, second)
            await wait_cancelled(sessions, await overdue_order(sessions))
            wait_for_line(second_log, SWEPT, 5, second)

            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=15) == 0
    finally:
        await engine.dispose()
    assert took_over < TAKEOVER_SECONDS
