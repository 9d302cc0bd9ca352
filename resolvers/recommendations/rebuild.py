"""The full rebuild in a process of its own, at a lower CPU priority than the refreshes.

Read in the worker's own process, everyone's behaviour (about 200,000 rows at 1,000
buyers) held the event loop for seconds of Python, and the build's numpy and scipy
work held the GIL beside the buyers' own folds: on a loaded machine a buyer's update
queued behind the scheduled rebuild. Here the rebuild reads the database and builds
the model in a child process niced ``NICENESS`` steps down, so the operating system
gives the buyers' updates the CPU first and the worker's loop never waits for it; the
model comes back pickled (a few MiB) and is swapped in as before.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

from resolvers.recommendations.config import EngineConfig

if TYPE_CHECKING:
    from resolvers.recommendations.engine import Behaviour, IntArray, Model, Products

# How far below the worker the rebuild runs (0 is the default priority, 19 the lowest).
NICENESS = 10


# How often the child looks whether the process that started it is still there.
PARENT_CHECK_SECONDS = 1.0

# How long the child waits, idle, for the next build before it ends. Rebuilds come at
# most every model_max_age_seconds (ten minutes by default); kept between them, an idle
# child held ~110 MiB (numpy, scipy, the last build's heap) for nothing. Starting a new
# one costs about a second of CPU, at its lower priority.
IDLE_SECONDS = 60.0


def start_child(parent: int) -> None:
    """The child's set-up: a lower priority, and an end when ``parent`` (the process that
    started it) ends. A parent killed (SIGKILL, out of memory) never tells its executor's
    child to stop, and the child, which holds both ends of its work queue, would wait for
    work forever: one left behind by a server stopped mid-rebuild was still there twelve
    minutes later. The parent's pid comes from the parent itself: one that ended while
    the child was still starting is already gone when this runs."""
    os.nice(NICENESS)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        # Nothing of the child's to keep: its one job is the parent's.
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def build_from_database(database_url: str, now: float, config: EngineConfig) -> Model:
    """Everyone's behaviour read from ``database_url`` and the model built from it."""
    from db.engine import create_engine, create_session_factory
    from resolvers.recommendations.data import load_everything
    from resolvers.recommendations.engine import build_model

    async def read() -> tuple[Products, Behaviour, IntArray]:
        engine = create_engine(database_url, pool_size=1)
        try:
            return await load_everything(create_session_factory(engine))
        finally:
            await engine.dispose()

    products, behaviour, _ = asyncio.run(read())
    return build_model(products, behaviour, now, config)


class RebuildProcess:
    """The child process for the rebuilds: its imports are paid once per run of builds,
    and it ends once it has been idle ``idle_seconds``."""

    def __init__(self, database_url: str, idle_seconds: float = IDLE_SECONDS) -> None:
        self._database_url = database_url
        self._idle_seconds = idle_seconds
        self._pool: ProcessPoolExecutor | None = None
        # The pool's child processes, as they start (``stop`` ends a running build's).
        self._child_processes: set[multiprocessing.process.BaseProcess] = set()
        self._building = 0
        self._retiring: asyncio.TimerHandle | None = None
        self.builds = 0  # models built in the child so far
        self.children = 0  # child processes started so far

    def _cancel_retirement(self) -> None:
        """Cancels the idle child's retirement, if one is due (a build starts, or the
        child goes now)."""
        if self._retiring is not None:
            self._retiring.cancel()
            self._retiring = None

    async def build(self, now: float, config: EngineConfig) -> Model:
        self._cancel_retirement()
        if self._pool is None:
            # Spawned, not forked: a fork of a process running an event loop and threads
            # may inherit their locks held.
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=start_child,
                initargs=(os.getpid(),),
            )
            self.children += 1
        loop = asyncio.get_running_loop()
        self._building += 1
        try:
            # The pool starts its child as the first build is submitted, at once.
            before = set(multiprocessing.active_children())
            building = loop.run_in_executor(
                self._pool, build_from_database, self._database_url, now, config
            )
            self._child_processes |= set(multiprocessing.active_children()) - before
            model = await building
        except BrokenProcessPool:
            # The child died (killed, out of memory): the next rebuild starts a new one.
            self.close()
            raise
        finally:
            self._building -= 1
            if self._pool is not None and self._building == 0:
                # Cancelled by the next build to start, so it only ever ends an idle child.
                self._retiring = loop.call_later(self._idle_seconds, self.close)
        self.builds += 1
        return model

    def close(self) -> None:
        """Lets the child end once its build (if any) is done; the next build starts
        another."""
        self._cancel_retirement()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._child_processes = {p for p in self._child_processes if p.is_alive()}

    async def stop(self) -> None:
        """For good (a server or worker stopping): the child ended now, a running build
        with it, and the pool's queues released before this returns.

        Their semaphores are named, system-wide objects that multiprocessing removes
        when the queues are collected or at exit. A server stopped by SIGTERM does not
        run exit handlers (uvicorn raises the signal again once it has shut down, so
        the process ends by it), and the resource tracker then removed them itself,
        with a warning of "leaked semaphore objects" on every such stop."""
        self._cancel_retirement()
        pool, self._pool = self._pool, None
        for child in self._child_processes:
            if child.is_alive():
                child.terminate()  # its model would go unused
        self._child_processes = set()
        if pool is not None:
            # Joins the pool's own thread, which sees the child end and closes the
            # queues; with it gone, the queues are collected and their semaphores
            # removed.
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
