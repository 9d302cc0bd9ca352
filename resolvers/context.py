"""What every resolver gets: the viewer, sessions, this request's loaders and services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from domain.returns import DEFAULT_WINDOW as RETURN_WINDOW
from domain.reviews import EDIT_WINDOW as REVIEW_EDIT_WINDOW
from resolvers.batching import BatchScheduler, tracked
from resolvers.events import EventPublisher, NoPublisher
from resolvers.gateway import PaymentGateway, SandboxGateway
from resolvers.loaders import Loaders, SessionFactory
from resolvers.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Rules:
    """Configurable business rules the use-cases apply."""

    idempotency_ttl: timedelta = timedelta(hours=24)
    unpaid_timeout: timedelta = timedelta(minutes=30)
    receipt_window: timedelta = timedelta(days=7)
    review_edit_window: timedelta = REVIEW_EDIT_WINDOW
    # How long after delivery a buyer may ask for a return (domain.returns).
    return_window: timedelta = RETURN_WINDOW


@dataclass(slots=True)
class Context:
    viewer_id: int | None
    sessions: SessionFactory
    loaders: Loaders
    max_page_size: int = MAX_PAGE_SIZE
    default_page_size: int = DEFAULT_PAGE_SIZE
    request_id: str = field(default_factory=lambda: uuid4().hex)
    events: EventPublisher = field(default_factory=NoPublisher)
    gateway: PaymentGateway = field(default_factory=SandboxGateway)
    rules: Rules = field(default_factory=Rules)
    clock: Callable[[], datetime] = utc_now
    hub: Any = None  # the process's SubscriptionHub, for subscriptions
    # The process's RecommendationRefresher: use-cases tell it when a buyer acted.
    refresher: Any = None
    budget: Any = None  # the per-caller query-cost budget (schema.limits.CostBudget)
    rate_key: str | None = None  # whose budget this request spends
    # Set by the WebSocket transport from the connection_init payload.
    connection_params: dict[str, Any] | None = None
    # Why there is no viewer although the caller tried (malformed, expired, invalid).
    auth_problem: str | None = None

    def refresh_loaders(self) -> None:
        """New loaders for the next subscription event: nothing cached goes stale."""
        self.loaders = Loaders(self.loaders.sessions, self.viewer_id, self.loaders.scheduler)

    def for_operation(self) -> Context:
        """A copy for one operation of a connection that carries several at once (a
        WebSocket), with loaders and a scheduler of its own: an operation stopped half
        way (a client's ``complete`` cancels it mid-read) never cancels, settles or
        abandons the reads of another one."""
        scheduler = BatchScheduler()
        sessions = tracked(self.loaders.scheduler.reads.factory, scheduler)
        loaders = Loaders(sessions, self.viewer_id, scheduler)
        return replace(self, sessions=sessions, loaders=loaders)

    @classmethod
    def for_request(
        cls,
        *,
        viewer_id: int | None,
        sessions: Callable[[], AsyncSession],
        max_page_size: int = MAX_PAGE_SIZE,
        default_page_size: int = DEFAULT_PAGE_SIZE,
        request_id: str | None = None,
        events: EventPublisher | None = None,
        gateway: PaymentGateway | None = None,
        rules: Rules | None = None,
        clock: Callable[[], datetime] = utc_now,
        hub: Any = None,
        budget: Any = None,
        rate_key: str | None = None,
        refresher: Any = None,
        auth_problem: str | None = None,
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
            events=events or NoPublisher(),
            gateway=gateway or SandboxGateway(),
            rules=rules or Rules(),
            clock=clock,
            hub=hub,
            refresher=refresher,
            budget=budget,
            rate_key=rate_key,
            auth_problem=auth_problem,
        )
