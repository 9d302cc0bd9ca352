"""The `ordercenter` console script end to end: seed, mint a token, serve, shut down.

These start real processes (and a real uvicorn bound to 127.0.0.1 on a free port).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.server

ORDERCENTER = Path(sys.executable).parent / "ordercenter"
SECRET = "server-test-secret-that-is-long-enough-for-hs256"
STARTUP_TIMEOUT = 30.0
SHUTDOWN_TIMEOUT = 15.0
COMMAND_TIMEOUT = 120.0

VIEWER_QUERY = """
{
  viewer {
    handle
    orders(first: 5) { totalCount edges { node { number status } } }
  }
}
"""


def _clean_environ(**overrides: str) -> dict[str, str]:
    """This process's environment without any ORDERCENTER_* leaking in, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERCENTER_")}
    env.update(overrides)
    return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ORDERCENTER), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=True,
    )


@pytest.fixture
def server_env(tmp_path: Path) -> dict[str, str]:
    assert ORDERCENTER.is_file(), f"console script missing: {ORDERCENTER}"
    return _clean_environ(
        ORDERCENTER_DATABASE_URL=f"sqlite:///{tmp_path / 'oc.db'}",
        ORDERCENTER_JWT_SECRET=SECRET,
        ORDERCENTER_ENV="test",
    )


class Server:
    def __init__(self, process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
        self.process = process
        self.base_url = base_url
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def seeded_server(server_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[Server, str]]:
    """A seeded database served by `ordercenter serve`, and a token for @demo."""
    _run(["seed", "--users", "5", "--orders-per-user", "5", "--no-progress"], server_env)
    token = _run(["token", "demo"], server_env).stdout.strip()
    assert token.count(".") == 2, token

    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(ORDERCENTER), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=server_env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        _wait_until_healthy(server)
        yield server, token
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=SHUTDOWN_TIMEOUT)


def _wait_until_healthy(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    with httpx.Client(base_url=server.base_url, timeout=2.0) as client:
        while True:
            if server.process.poll() is not None:
                pytest.fail(
                    f"server exited early ({server.process.returncode}):\n{server.output()}"
                )
            try:
                if client.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server not healthy after {STARTUP_TIMEOUT}s:\n{server.output()}")
            time.sleep(0.1)


def test_served_api_graphiql_and_graceful_shutdown(seeded_server: tuple[Server, str]) -> None:
    server, token = seeded_server
    with httpx.Client(base_url=server.base_url, timeout=10.0) as client:
        health = client.get("/healthz")
        assert health.json() == {"status": "ok"}

        response = client.post(
            "/graphql",
            json={"query": VIEWER_QUERY},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        viewer = body["data"]["viewer"]
        assert viewer["handle"] == "demo"
        assert viewer["orders"]["totalCount"] >= 1
        assert viewer["orders"]["edges"]

        anonymous = client.post("/graphql", json={"query": VIEWER_QUERY})
        assert anonymous.status_code == 200
        assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

        page = client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "graphiql" in page.text.lower()
        assets = re.findall(r'(?:src|href)="(/graphiql/static/[^"]+)"', page.text)
        assert "/graphiql/static/graphiql.min.js" in assets
        for asset in assets:
            served = client.get(asset)
            assert served.status_code == 200, asset
            assert served.content, asset

    server.process.send_signal(signal.SIGTERM)
    returncode = server.process.wait(timeout=SHUTDOWN_TIMEOUT)
    output = server.output()
    # uvicorn shuts down gracefully, then re-raises the signal it caught, so a clean
    # SIGTERM shutdown ends "killed by SIGTERM" after the lifespan has finished.
    assert returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete." in output
    assert "Traceback" not in output


@pytest.mark.parametrize("secret", [None, "", "too-short"], ids=["unset", "empty", "short"])
def test_serve_refuses_production_without_a_real_jwt_secret(
    tmp_path: Path, secret: str | None
) -> None:
    database = tmp_path / "oc.db"
    env = _clean_environ(
        ORDERCENTER_DATABASE_URL=f"sqlite:///{database}",
        ORDERCENTER_ENV="production",
    )
    if secret is not None:
        env["ORDERCENTER_JWT_SECRET"] = secret
    port = _free_port()
    result = subprocess.run(
        [str(ORDERCENTER), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    assert result.returncode != 0
    assert "ORDERCENTER_JWT_SECRET" in result.stderr
    assert "Uvicorn running" not in result.stdout + result.stderr
    # It stopped before doing anything: no migration ran, nothing is listening.
    assert not database.exists()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))
