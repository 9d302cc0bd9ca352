"""The ASGI application: routes, middleware and the lifespan that owns the engine."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import FrameType

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute

from app import access_log, heap, metrics
from app.auth import BearerTokenBackend, TokenVerifier
from app.bus import make_bus
from app.edge import EdgeMiddleware
from app.graphiql import STATIC_URL_PREFIX, static_app
from app.graphql_http import GraphQLHTTPHandler
from app.health import healthz, readyz
from app.pipeline import OperationPipeline
from app.ratelimit import make_budget
from app.settings import Settings, get_settings
from app.tracing import Tracing
from app.web import routes as web_app_routes
from app.webhooks import CarrierWebhook
from app.worker import sweep_forever
from app.ws import GraphQLWebSocket
from db.engine import create_engine, create_session_factory
from resolvers.context import Context
from resolvers.gateway import SandboxGateway
from resolvers.recommendations.refresher import RecommendationRefresher
from resolvers.recommendations.requests import RefreshRequests
from resolvers.subscriptions.hub import SubscriptionHub
from schema.definition import build_schema

log = logging.getLogger("ordercenter")


async def root(_: Request) -> Response:
    return RedirectResponse("/graphql")


async def favicon(_: Request) -> Response:
    # Browsers ask for it on every GraphiQL visit; an empty answer keeps logs quiet.
    return Response(status_code=204)


def system_context(app: Starlette, settings: Settings) -> Context:
    """A context for the server's own work: no viewer, the app's bus and gateway."""
    return Context.for_request(
        viewer_id=None,
        sessions=app.state.sessions,
        events=app.state.bus,
        gateway=app.state.gateway,
        rules=settings.rules,
    )


def close_sockets_on_sigterm(websockets: GraphQLWebSocket) -> Callable[[], None]:
    """On SIGTERM, close WebSockets with 1001 first, then let uvicorn shut down.

    uvicorn would fail open sockets with 1012; 1001 (Going Away) is what tells
    clients to reconnect elsewhere. Returns a function that restores the handler.
    """
    try:
        previous = signal.getsignal(signal.SIGTERM)
    except ValueError:  # pragma: no cover - not the main thread
        return lambda: None
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    async def close_then_exit(signum: int, frame: FrameType | None) -> None:
        try:
            await websockets.close_all()
        except Exception:  # the shutdown must go on whatever happened
            log.exception("closing WebSockets on shutdown failed")
        if callable(previous):
            previous(signum, frame)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        task = loop.create_task(close_then_exit(signum, frame))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # pragma: no cover - not the main thread
        return lambda: None

    def restore() -> None:
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGTERM, previous)

    return restore


def cors(settings: Settings) -> list[Middleware]:
    """Browsers on the allow-listed origins may call the API; nobody else."""
    if not settings.cors_origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
            max_age=600,
        )
    ]


def create_app(
    settings: Settings | None = None,
    *,
    engine: AsyncEngine | None = None,
    tracing: Tracing | None = None,
) -> Starlette:
    """The application. Pass ``engine`` to share one (tests); otherwise it is made at start-up.
    ``tracing``: where spans go; by default as the settings say (app/tracing.py)."""
    settings = settings or get_settings()
    settings.check()
    tracing = tracing or Tracing.from_settings(settings)
    owns_engine = engine is None
    # Here, not only in the CLI: whatever serves this app (`uvicorn --factory`, each of
    # --workers' processes, an embedding) builds it after configuring its logging.
    access_log.install()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if owns_engine:
            app.state.engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
            app.state.sessions = create_session_factory(app.state.engine)
            answer_in_sql(app, settings)
            tracing.instrument(app.state.engine)
        await app.state.bus.connect()
        app.state.hub = SubscriptionHub(
            app.state.sessions,
            app.state.bus,
            queue_size=settings.subscriber_queue_size,
            poll_interval=settings.hub_poll_seconds,
        )
        await app.state.hub.start()
        inline = settings.background == "inline"
        # In worker mode `ordercenter worker` sweeps and refreshes; this process only
        # records who acted, and never loads the numeric stack.
        app.state.refresher = (
            RecommendationRefresher(
                app.state.sessions,
                debounce_seconds=settings.recommendation_debounce_seconds,
                model_max_age_seconds=settings.recommendation_model_max_age_seconds,
                observe=metrics.job_observer("recommendation_refresh"),
                # Full rebuilds, the first one too, read and build in a child process:
                # here, reading everyone's behaviour held this loop for about a second
                # (the examples' Home document at 16 clients: p99 809 ms against 57 ms
                # without it, bench/http_suite.py). Only with the engine made here from
                # the settings' URL: the child reads that database.
                rebuild_database_url=settings.database_url if owns_engine else None,
                first_build_apart=owns_engine,
            )
            if inline
            else RefreshRequests(app.state.sessions)
        )
        stop_metrics = metrics.start(app.state, settings)
        restore_sigterm = close_sockets_on_sigterm(websockets)
        sweeper = None
        if inline and settings.sweep_interval_seconds > 0:
            interval = settings.sweep_interval_seconds
            sweeper = asyncio.create_task(
                sweep_forever(lambda: system_context(app, settings), interval)
            )
        try:
            yield
        finally:
            if sweeper is not None:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
            restore_sigterm()
            await stop_metrics()
            await app.state.refresher.close()
            await app.state.hub.stop()
            await app.state.bus.close()
            for budget in (app.state.budget, app.state.webhook_budget):
                close_budget = getattr(budget, "close", None)
                if close_budget is not None:
                    await close_budget()
            if owns_engine:
                await app.state.engine.dispose()
            tracing.shutdown()

    pipeline = OperationPipeline(build_schema(settings.limits), settings, tracing)
    graphql = GraphQLHTTPHandler(pipeline)
    verifier = TokenVerifier.from_settings(settings)
    websockets = GraphQLWebSocket(pipeline, verifier)
    webhook_budget = make_budget(settings.rate_limit_url, settings.carrier_webhook_per_minute)
    carrier_webhook = CarrierWebhook(
        settings.carrier_secrets,
        settings.carrier_webhook_tolerance_seconds,
        lambda: system_context(app, settings),
        webhook_budget,
    )
    app = Starlette(
        routes=[
            Route("/graphql", graphql.handle, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", websockets),
            Route("/webhooks/carrier", carrier_webhook.handle, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            *metrics.routes(settings),
            # The web app answers / when it is on; otherwise / leads to GraphiQL.
            *web_app_routes(settings),
            Route("/", root, methods=["GET"]),
            Route("/favicon.ico", favicon, methods=["GET"]),
            Mount(STATIC_URL_PREFIX, app=static_app(), name="graphiql-static"),
        ],
        middleware=[
            Middleware(EdgeMiddleware, settings=settings),
            *cors(settings),
            Middleware(AuthenticationMiddleware, backend=BearerTokenBackend(verifier)),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.plans = graphql.plans
    app.state.bus = make_bus(settings.bus_url)
    app.state.hub = None
    app.state.refresher = None
    app.state.budget = make_budget(settings.rate_limit_url, settings.cost_budget_per_minute)
    app.state.webhook_budget = webhook_budget
    # One gateway per process: the sandbox remembers idempotency keys like a processor.
    app.state.gateway = SandboxGateway()
    if engine is not None:
        app.state.engine = engine
        app.state.sessions = create_session_factory(engine)
        answer_in_sql(app, settings)
        tracing.instrument(engine)
    return app


def answer_in_sql(app: Starlette, settings: Settings) -> None:
    """Let the database build compiled plans' answers (schema.sql_plans), unless told not
    to: PostgreSQL and SQLite both can."""
    if app.state.plans is not None:
        dialect = app.state.engine.dialect.name
        app.state.plans.sql_dialect = dialect if settings.sql_plans else None


def app_factory(settings: Settings | None = None) -> Starlette:
    """Entry point for ``uvicorn --factory app.main:app_factory`` (and ``ordercenter serve``)."""
    app = create_app(settings)
    heap.settle()
    return app
