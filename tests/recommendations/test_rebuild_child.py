"""The rebuild's child process ends when the process that started it ends, even one
killed outright, and when it has been idle a while: it is never left behind, holding
memory, with nobody to work for."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db.seed import SeedSize, seed_database
from resolvers.recommendations.engine import DEFAULT_CONFIG
from resolvers.recommendations.rebuild import RebuildProcess

ROOT = Path(__file__).resolve().parents[2]

PARENT = """
import multiprocessing, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from resolvers.recommendations.rebuild import start_child

if __name__ == "__main__":
    pool = ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=start_child,
        initargs=(os.getpid(),),
    )
    print(pool.submit(os.getpid).result(), flush=True)
    time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by init) counts as gone.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def test_the_child_ends_when_its_parent_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert _alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 15
        while _alive(child):
            assert time.monotonic() < deadline, "the rebuild's child outlived its parent"
            time.sleep(0.1)
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


def test_a_child_whose_parent_ended_before_it_started_ends() -> None:
    """A server stopped while its child was still starting: the child's set-up already
    sees another parent, and ends at once."""
    code = (
        "import os, time\n"
        "from resolvers.recommendations.rebuild import start_child\n"
        "start_child(os.getppid() + 1_000_000)\n"  # a parent that is not its own
        "time.sleep(30)\n"
    )
    started = time.monotonic()
    child = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=30,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 20


def _children() -> set[int]:
    """The spawned worker processes this one started and has not reaped (not
    multiprocessing's resource tracker, which spawning starts too)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:  # ended meanwhile
            continue
        if parent == os.getpid() and b"spawn_main" in command:
            found.add(int(stat.parent.name))
    return found


async def test_an_idle_child_ends_and_the_next_build_starts_another(
    engine: AsyncEngine, database_url: str
) -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    await seed_database(engine, size=SeedSize(users=8, orders_per_user=4), now=now)
    before = _children()
    rebuilds = RebuildProcess(database_url, idle_seconds=0.5)
    try:
        first = await rebuilds.build(now.timestamp(), DEFAULT_CONFIG)
        child = _children() - before
        assert len(child) == 1, "one child builds"
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in child):
            assert time.monotonic() < deadline, "the idle child was kept"
            await asyncio.sleep(0.1)
        second = await rebuilds.build(now.timestamp(), DEFAULT_CONFIG)
        assert (_children() - before) - child, "the next build has a child of its own"
        assert (rebuilds.builds, rebuilds.children) == (2, 2)
        # The same behaviour read twice: the same model.
        assert first.popularity.tobytes() == second.popularity.tobytes()
        assert (first.co_behaviour != second.co_behaviour).nnz == 0
    finally:
        rebuilds.close()


STOPPED = """
import asyncio, signal, sys, time
from resolvers.recommendations.engine import DEFAULT_CONFIG
from resolvers.recommendations.rebuild import RebuildProcess

async def main(url: str, when: str) -> None:
    rebuilds = RebuildProcess(url, idle_seconds=0.3 if when == "idle" else 60)
    if when == "building":
        building = asyncio.ensure_future(rebuilds.build(time.time(), DEFAULT_CONFIG))
        await asyncio.sleep(0.3)  # the child is still starting: nothing built yet
    else:
        await rebuilds.build(time.time(), DEFAULT_CONFIG)
        if when == "idle":
            await asyncio.sleep(2)  # retired meanwhile
    started = time.monotonic()
    await rebuilds.stop()
    print(f"stopped in {time.monotonic() - started:.1f} s", flush=True)
    if when == "building":
        try:
            await building
        except Exception as error:
            print("the build ended with", type(error).__name__, flush=True)

if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
    # As uvicorn ends a server stopped by SIGTERM: the signal raised again once it has
    # shut down, so no exit handler runs.
    signal.raise_signal(signal.SIGTERM)
"""


@pytest.mark.parametrize("when", ["after a build", "idle", "building"])
async def test_a_stopped_rebuild_process_leaves_nothing_behind(
    engine: AsyncEngine, database_url: str, tmp_path: Path, when: str
) -> None:
    """What a server or worker stopped by SIGTERM leaves: no child, and none of the
    pool's semaphores for multiprocessing's resource tracker to find "leaked" (it used
    to warn of five on every such stop once a rebuild had run)."""
    await seed_database(engine, size=SeedSize(users=4, orders_per_user=2))
    script = tmp_path / "stopped.py"
    script.write_text(STOPPED)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        database_url,
        when.split()[-1],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    # Until every holder of its output (the tracker, a child) has let go of it.
    out, err = await asyncio.wait_for(process.communicate(), 120)
    output = out.decode() + err.decode()
    assert process.returncode == -signal.SIGTERM, output
    assert "stopped in" in output, output
    assert "leaked" not in output, output
    if when == "building":
        assert "the build ended with" in output, output
    seconds = float(output.split("stopped in ")[1].split()[0])
    assert seconds < 10, "stop waited for the build instead of ending it"
