"""Probes: ``/healthz`` says the process is alive, ``/readyz`` that it can serve.

Liveness touches nothing outside the process: an orchestrator restarts a process whose
liveness fails, and restarting every replica because the database blinked makes an
outage worse. Readiness names each part it checked, so a 503 says what to fix.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from db.revisions import head_revision, is_known_revision, revision_of

log = logging.getLogger("ordercenter")

# A probe that hangs is worse than one that fails: orchestrators time probes out after
# a second or a few, and a stuck connection attempt should read as "unreachable".
DATABASE_CHECK_SECONDS = 2.0


async def healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


def migration_state(current: str | None, head: str | None) -> str:
    """ "ok" when the database is at the code's head revision, otherwise what it is at."""
    if current == head:
        return "ok"
    if current is None:
        return f"not migrated: head {head}"
    if not is_known_revision(current):
        return f"unknown revision: at {current}, head {head} (newer code migrated it?)"
    return f"behind: at {current}, head {head}"


async def _database(engine: AsyncEngine) -> tuple[str, str]:
    try:
        current = await asyncio.wait_for(revision_of(engine), DATABASE_CHECK_SECONDS)
    except TimeoutError:
        return f"unreachable: no answer in {DATABASE_CHECK_SECONDS:g} s", "unknown"
    except Exception as error:
        log.warning("readiness: database unreachable (%s)", error)
        reason = str(getattr(error, "orig", None) or error).strip().splitlines() or [""]
        return f"unreachable: {type(error).__name__} {reason[0]}".strip(), "unknown"
    return "ok", migration_state(current, head_revision())


async def readyz(request: Request) -> Response:
    database, migrations = await _database(request.app.state.engine)
    bus = "ok" if request.app.state.bus.connected else "not connected"
    parts = {"database": database, "migrations": migrations, "bus": bus}
    ready = all(value == "ok" for value in parts.values())
    body = {"status": "ok" if ready else "unavailable", **parts}
    return JSONResponse(body, 200 if ready else 503)
