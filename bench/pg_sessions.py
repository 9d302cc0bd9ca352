"""A server's PostgreSQL sessions during a timed run: their CPU, and how many were opened.

Several servers share the benchmark's database (ours, the floors, the naive one), so a
backend is attributed to the server under test by its socket: pg_stat_activity's
``client_port`` of the backend is the local port of a TCP socket that one of the
server's processes holds (/proc/<pid>/fd and /proc/net/tcp; loopback only). Everything
runs on this machine, so each backend's CPU is read from /proc/<backend pid>/stat.

A ``Watch`` samples every ``INTERVAL`` seconds from its own connection (excluded):

- **CPU**: user + system time of the server's backends between ``start()`` and
  ``stop()``; a backend that appears in the window counts from zero (its start-up is
  part of what churn costs), one that ends in it with its last sample (so a backend
  that lives less than one interval is missed: the session counts below say whether
  there were any).
- **New sessions**: the server's backends first seen inside the window, and the
  database's own counter (pg_stat_database.sessions, PostgreSQL 14+) over the same
  window, which misses nothing but counts every client of the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

INTERVAL = 0.1
_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process, None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _socket_inodes(pids: list[int]) -> set[int]:
    inodes: set[int] = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:["):
                        inodes.add(int(target[8:-1]))
    return inodes


def local_ports(pids: list[int], remote_port: int) -> set[int]:
    """Local ports of the TCP sockets these processes hold to ``remote_port``."""
    inodes = _socket_inodes(pids)
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as handle:
            next(handle)
            for line in handle:
                parts = line.split()
                local, remote, inode = parts[1], parts[2], int(parts[9])
                if inode in inodes and int(remote.rsplit(":", 1)[1], 16) == remote_port:
                    ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


@dataclass
class Result:
    cpu_seconds: float  # the server's backends, in the window
    seconds: float  # the window
    backends_at_start: int
    new_backends: int  # the server's, first seen in the window
    new_sessions_db: int | None  # pg_stat_database.sessions over the window (everyone)


@dataclass
class Watch:
    """Samples the backends of the processes ``pids()`` returns (see the module doc)."""

    url: str  # plain postgresql:// URL of the benchmark's database
    pids: Any  # () -> list[int]: the server's processes, now
    pg_port: int = 5432
    _conn: Any = None
    _task: asyncio.Task[None] | None = None
    _ours: dict[int, bool] = field(default_factory=dict)  # backend pid -> the server's?
    _cpu: dict[int, float] = field(default_factory=dict)  # last sample of each of ours
    _first_seen: dict[int, float] = field(default_factory=dict)
    _from: dict[int, float] = field(default_factory=dict)
    _window: tuple[float, float] | None = None
    _sessions: list[int | None] = field(default_factory=list)
    # One connection: the sampling task and start()/stop() take turns on it.
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def __aenter__(self) -> Watch:
        import asyncpg

        self._conn = await asyncpg.connect(self.url)
        await self._sample()
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._conn.close()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(INTERVAL)
            await self._sample()

    async def _sample(self) -> None:
        async with self._lock:
            rows = await self._conn.fetch(
                "SELECT pid, client_port FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        now = time.monotonic()
        unknown = [r for r in rows if r["pid"] not in self._ours]
        if unknown:
            ports = local_ports(self.pids(), self.pg_port)
            for row in unknown:
                self._ours[row["pid"]] = row["client_port"] in ports
                self._first_seen[row["pid"]] = now
        for row in rows:
            pid = row["pid"]
            if self._ours[pid]:
                cpu = _cpu_seconds(pid)
                if cpu is not None:
                    self._cpu[pid] = cpu

    async def _db_sessions(self) -> int | None:
        with contextlib.suppress(Exception):  # PostgreSQL before 14: no such column
            async with self._lock:
                found = await self._conn.fetchval(
                    "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
                )
            return None if found is None else int(found)
        return None

    async def start(self) -> None:
        """The window opens: the CPU of the backends there now is the baseline."""
        await self._sample()
        self._from = dict(self._cpu)
        self._window = (time.monotonic(), float("inf"))
        self._sessions = [await self._db_sessions()]

    async def stop(self) -> Result:
        await self._sample()
        assert self._window is not None
        opened, closed = self._window[0], time.monotonic()
        # Statistics reach pg_stat_database when a backend is idle (at most once a
        # second): read the counter again after that.
        await asyncio.sleep(1.1)
        self._sessions.append(await self._db_sessions())
        cpu = sum(now - self._from.get(pid, 0.0) for pid, now in self._cpu.items())
        new = [
            pid
            for pid, ours in self._ours.items()
            if ours and opened < self._first_seen[pid] <= closed
        ]
        before, after = self._sessions
        return Result(
            cpu_seconds=cpu,
            seconds=closed - opened,
            backends_at_start=sum(1 for p in self._from),
            new_backends=len(new),
            new_sessions_db=None if before is None or after is None else after - before,
        )


@contextlib.asynccontextmanager
async def watching(url: str, pids: Any) -> AsyncIterator[Watch | None]:
    """A started ``Watch``, or None when PostgreSQL refuses it a session (the run goes
    on unwatched: its figures but these)."""
    import asyncpg

    try:
        watch = await Watch(url, pids).__aenter__()
    except (OSError, asyncpg.PostgresError):  # too many clients already, most likely
        yield None
        return
    try:
        yield watch
    finally:
        await watch.__aexit__()
