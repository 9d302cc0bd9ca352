"""A benchmark database kept between runs is seeded only when it holds nobody yet."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.databases import kept_state, plain_url
from db.engine import create_session_factory
from tests.factories import make_user

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


async def test_a_kept_database_is_told_apart(database_url: str, engine: AsyncEngine) -> None:
    url = plain_url(database_url)
    assert await kept_state(url) == "empty"  # migrated, nobody in it: seed it
    await make_user(create_session_factory(engine))
    assert await kept_state(url) == "seeded"  # used as it is
    elsewhere = make_url(url).set(database=f"oc_missing_{uuid.uuid4().hex[:8]}")
    assert await kept_state(elsewhere.render_as_string(False)) == "missing"
