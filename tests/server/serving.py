"""Start the real `ordercenter serve` in a subprocess on a loopback port, for tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from db.engine import normalize_url

ORDERCENTER = str(Path(sys.executable).parent / "ordercenter")
SECRET = "server-test-secret-long-enough-for-hs256"


async def _admin(admin_url: str, statement: str) -> None:
    engine = create_async_engine(normalize_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (its URL, for a server to migrate), dropped after."""
    name = f"ordercenter_srv_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield (
            make_url(normalize_url(admin_url))
            .set(drivername="postgresql", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    url: str
    demo_token: str
    process: subprocess.Popen[bytes]
    env: dict[str, str]


@contextmanager
def running_server(
    *,
    users: int = 5,
    orders_per_user: int = 5,
    database_url: str | None = None,
    seed: bool = True,
    extra_env: dict[str, str] | None = None,
    port: int | None = None,
    workers: int = 1,
) -> Iterator[ServerProcess]:
    """A server on a seeded database (a fresh SQLite file unless ``database_url``);
    stopped with SIGTERM on exit. ``seed=False`` serves the database as it is."""
    with tempfile.TemporaryDirectory(prefix="oc-server-") as tmp:
        env = {
            **os.environ,
            "ORDERCENTER_DATABASE_URL": database_url or f"sqlite:///{Path(tmp) / 'oc.db'}",
            "ORDERCENTER_JWT_SECRET": SECRET,
            "ORDERCENTER_ENV": "test",
            "ORDERCENTER_LOG_LEVEL": "warning",
            **(extra_env or {}),
        }
        if seed:
            command = [
                ORDERCENTER,
                "seed",
                f"--users={users}",
                f"--orders-per-user={orders_per_user}",
            ]
            subprocess.run([*command, "--no-progress"], env=env, check=True, timeout=120)
        token = subprocess.run(
            [ORDERCENTER, "token", "demo"],
            env=env,
            check=True,
            timeout=60,
            capture_output=True,
            text=True,
        ).stdout.strip()
        port = port or free_port()
        extra = ["--workers", str(workers)]
        with serving_process(env, port, extra=extra) as process:
            url = f"http://127.0.0.1:{port}"
            yield ServerProcess(url=url, demo_token=token, process=process, env=env)


START_SECONDS = 90


@contextmanager
def serving_process(
    env: dict[str, str], port: int, *, output: Path | None = None, extra: list[str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`ordercenter serve` on 127.0.0.1:``port``, once it answers /healthz (within
    START_SECONDS, or it failed to start); stopped with
    SIGTERM (killed after 15 s) on exit. ``output``: a file for its stdout and stderr."""
    command = [ORDERCENTER, "serve", "--host", "127.0.0.1", "--port", str(port), *(extra or [])]
    if output is None:
        process = subprocess.Popen(command, env=env)
    else:
        with output.open("wb") as sink:
            process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        # Generous: a liveness guard, not a speed check. Two workers importing the app on a
        # machine busy with other tests took over 30 s to answer (a flaky "did not start").
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                said = "" if output is None else ":\n" + output.read_text(errors="replace")
                raise RuntimeError(f"server did not start (exit code {process.poll()}){said}")
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
