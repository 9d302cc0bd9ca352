"""What every resolver gets: the viewer, a session factory and this request's loaders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from resolvers.batching import BatchScheduler, tracked
from resolvers.loaders import Loaders, SessionFactory


@dataclass(slots=True)
class Context:
    viewer_id: int | None
    sessions: SessionFactory
    loaders: Loaders
    max_page_size: int = 100
    default_page_size: int = 20
    request_id: str = field(default_factory=lambda: uuid4().hex)

    @classmethod
    def for_request(
        cls,
        *,
        viewer_id: int | None,
        sessions: Callable[[], AsyncSession],
        max_page_size: int = 100,
        default_page_size: int = 20,
        request_id: str | None = None,
    ) -> Context:
        """A context with fresh loaders: nothing cached leaks between requests."""
        scheduler = BatchScheduler()
        request_sessions = tracked(sessions, scheduler)
        return cls(
            viewer_id=viewer_id,
            sessions=request_sessions,
            loaders=Loaders(request_sessions, viewer_id, scheduler),
            max_page_size=max_page_size,
            default_page_size=default_page_size,
            request_id=request_id or uuid4().hex,
        )
