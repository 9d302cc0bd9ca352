"""What an API process loads: the Redis client (~9 MiB resident) only when a setting
names Redis; never Alembic (~8 MiB: `serve --no-migrate` and /readyz read revisions
without it), nor asyncpg on SQLite. Part of keeping `ordercenter serve` under 150 MiB
(bench/memory.py).

Each check runs in a fresh interpreter, as the `ordercenter` command starts: its CLI
and its database check, the application built by the factory `ordercenter serve`
uses, and its lifespan with a readiness probe.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import asyncio, json, sys
import httpx
from app.cli import require_database
from app.main import app_factory
from app.settings import Settings

settings = Settings(
    env="test",
    jwt_secret="x" * 40,
    database_url=sys.argv[1],
    background="worker",
    bus_url=sys.argv[2],
    rate_limit_url=sys.argv[3],
)
app = app_factory(settings)

async def serve_briefly():
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            ready = await client.get("/readyz")
        assert ready.json()["migrations"] == "ok", ready.text

if sys.argv[4] == "start":
    require_database(settings)
    asyncio.run(serve_briefly())
watched = ("redis", "numpy", "scipy", "alembic", "asyncpg")
print(json.dumps(sorted(m for m in watched if m in sys.modules)))
"""


def loaded(database_url: str, bus_url: str, rate_limit_url: str, *, start: bool) -> list[str]:
    """Modules of interest loaded once the app is built (and started, when ``start``)."""
    how = "start" if start else "build"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, database_url, bus_url, rate_limit_url, how],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_api_process_on_sqlite_and_memory_bus_loads_none_of_them(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'oc.db'}"
    subprocess.run(
        [str(Path(sys.executable).parent / "ordercenter"), "migrate"],
        env={"ORDERCENTER_DATABASE_URL": database, "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert loaded(database, "memory://", "memory://", start=True) == []


def test_a_redis_budget_loads_the_client_when_the_app_is_built(tmp_path: Path) -> None:
    # The probe tells a loaded module from one that is not (the Redis bus loads it when
    # it first connects). Built, not started: nothing connects to the closed port 1.
    database = f"sqlite:///{tmp_path / 'oc.db'}"
    assert loaded(database, "memory://", "redis://127.0.0.1:1/0", start=False) == ["redis"]
