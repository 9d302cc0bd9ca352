"""Our server, counting the SQL statements it runs: for statements-per-request figures.

``uvicorn --factory bench.counting:app_factory`` serves exactly ``app.main``'s
application (what ``ordercenter serve`` serves) with one addition: an SQLAlchemy
``before_cursor_execute`` listener on every engine in the process, and
``GET /__bench/statements`` answering how many statements ran so far (BEGIN, COMMIT
and ROLLBACK not counted). The timed runs use ``ordercenter serve`` itself; this
server only answers the few untimed requests the counts come from.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

_statements = 0


def _count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
    global _statements
    if not statement.lstrip()[:8].upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
        _statements += 1


event.listen(Engine, "before_cursor_execute", _count)


def app_factory() -> Any:
    from app.main import app_factory as ours

    inner = ours()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/__bench/statements":
            body = b'{"statements": %d}' % _statements
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await inner(scope, receive, send)

    return app
