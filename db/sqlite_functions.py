"""SQL functions SQLite lacks, registered on each of its connections (db.engine).

SQLite has no base64 and writes floats with 15 significant digits; the SQL plans
(schema.sql_plans) need the exact texts the Python path writes: global ids and cursors
(base64url without padding), a float as orjson writes it in an answer, and as
``json.dumps`` writes it in a cursor.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import orjson


def b64url(text: Any) -> str | None:
    if text is None:
        return None
    raw = str(text).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def float_json(number: Any) -> str | None:
    return None if number is None else orjson.dumps(float(number)).decode()


def float_repr(number: Any) -> str | None:
    return None if number is None else json.dumps(float(number))


FUNCTIONS = {
    "ordercenter_b64url": b64url,
    "ordercenter_float_json": float_json,
    "ordercenter_float_repr": float_repr,
}


def register(dbapi_connection: Any) -> None:
    for name, function in FUNCTIONS.items():
        dbapi_connection.create_function(name, 1, function, deterministic=True)
