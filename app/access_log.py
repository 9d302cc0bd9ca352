"""Access-log lines without query strings.

A GET /graphql carries the whole operation and its variables in the query string,
and variables are what users typed (a card number pasted into a note, a token).
uvicorn's access logger would write them all; this filter keeps the path only.
"""

from __future__ import annotations

import logging

ACCESS_LOGGER = "uvicorn.access"


class WithoutQueryString(logging.Filter):
    """Cuts everything from '?' off the path of uvicorn's access records.

    uvicorn logs them as ``'%s - "%s %s HTTP/%s" %d'`` with ``record.args`` =
    (client address, method, path with query string, HTTP version, status).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path, _, _ = args[2].partition("?")
            record.args = (*args[:2], path, *args[3:])
        return True


def install() -> None:
    """Adds the filter to uvicorn's access logger, once however often it is called.

    On the logger itself, not a handler: logging.config.dictConfig (which uvicorn
    runs) replaces a logger's handlers but keeps its filters.
    """
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, WithoutQueryString) for f in logger.filters):
        logger.addFilter(WithoutQueryString())
