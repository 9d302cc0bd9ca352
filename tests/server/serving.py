"""Start the real `ordercenter serve` in a subprocess on a loopback port, for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ORDERCENTER = str(Path(sys.executable).parent / "ordercenter")
SECRET = "server-test-secret-long-enough-for-hs256"


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
def running_server(*, users: int = 5, orders_per_user: int = 5) -> Iterator[ServerProcess]:
    """A seeded SQLite database and a server on it; stopped (SIGTERM) on exit."""
    with tempfile.TemporaryDirectory(prefix="oc-server-") as tmp:
        env = {
            **os.environ,
            "ORDERCENTER_DATABASE_URL": f"sqlite:///{Path(tmp) / 'oc.db'}",
            "ORDERCENTER_JWT_SECRET": SECRET,
            "ORDERCENTER_ENV": "test",
            "ORDERCENTER_LOG_LEVEL": "warning",
        }
        seed = [ORDERCENTER, "seed", f"--users={users}", f"--orders-per-user={orders_per_user}"]
        subprocess.run([*seed, "--no-progress"], env=env, check=True, timeout=120)
        token = subprocess.run(
            [ORDERCENTER, "token", "demo"],
            env=env,
            check=True,
            timeout=60,
            capture_output=True,
            text=True,
        ).stdout.strip()
        port = free_port()
        process = subprocess.Popen(
            [ORDERCENTER, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start (exit code {process.poll()})")
                time.sleep(0.1)
            yield ServerProcess(url=url, demo_token=token, process=process, env=env)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
