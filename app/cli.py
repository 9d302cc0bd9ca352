"""``ordercenter``: migrate, seed, serve, mint demo tokens, export the schema."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
import uvicorn
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from app import access_log, request_log
from app.auth import TokenIssuingError, ensure_can_issue, issue_token_for
from app.persisted_cli import persisted_queries
from app.settings import Settings, get_settings
from db.engine import create_engine
from db.models import User
from db.revisions import current_revision, head_revision, sqlite_path

log = logging.getLogger("ordercenter")
DEMO_HANDLE = "demo"


def upgrade(url: str) -> None:
    """Migrate the database at ``url`` to the newest revision."""
    # Imported here: Alembic stays resident once loaded (~8 MiB), and a process that
    # serves without migrating (`serve --no-migrate`) never needs it.
    from db.migrate import upgrade as alembic_upgrade

    alembic_upgrade(url)


def _configure_logging(settings: Settings) -> None:
    request_log.configure(settings)
    access_log.install()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Order Center: the GraphQL API behind a social-commerce app's Order Center.

    Configuration comes from ORDERCENTER_* environment variables (see the README).
    """
    _configure_logging(get_settings())


main.add_command(persisted_queries)


@main.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    settings = get_settings()
    upgrade(settings.database_url)
    click.echo("database is up to date")


@main.command()
@click.option("--users", default=50, show_default=True, help="How many users to create.")
@click.option("--orders-per-user", default=50, show_default=True, help="Average orders per buyer.")
@click.option("--seed", "rng_seed", default=7, show_default=True, help="Random seed.")
@click.option("--reset", is_flag=True, help="Delete all existing data first.")
@click.option("--if-empty", is_flag=True, help="Do nothing (successfully) on a non-empty DB.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def seed(
    users: int, orders_per_user: int, rng_seed: int, reset: bool, if_empty: bool, no_progress: bool
) -> None:
    """Fill the database with deterministic, realistic demo data."""
    from db.seed import DatabaseNotEmpty, SeedSize, seed_database

    if users < 3 or orders_per_user < 1:
        # The demo buyer, the operator and at least one seller.
        raise click.BadParameter("need at least 3 users and 1 order per user")
    settings = get_settings()
    upgrade(settings.database_url)

    async def run() -> Any:
        engine = create_engine(settings.database_url)
        bars: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if no_progress:
                return
            from tqdm import tqdm

            bar = bars.get(stage)
            if bar is None:
                bar = bars[stage] = tqdm(total=total, desc=f"{stage:>16}", unit="row", leave=True)
            bar.update(done - bar.n)
            if done >= total:
                bar.close()

        try:
            return await seed_database(
                engine,
                size=SeedSize(users=users, orders_per_user=orders_per_user),
                rng_seed=rng_seed,
                reset=reset,
                progress=progress,
            )
        finally:
            for bar in bars.values():
                bar.close()
            await engine.dispose()

    try:
        report = asyncio.run(run())
    except DatabaseNotEmpty as error:
        if if_empty:
            click.echo("database already has data; not seeding")
            return
        raise click.ClickException(f"{error}; pass --reset to replace it") from None
    click.echo(
        f"seeded {report.users} users, {report.shops} shops, {report.products} products, "
        f"{report.orders} orders ({report.order_items} items, {report.order_events} events)"
    )


def _where(settings: Settings) -> str:
    path = sqlite_path(settings.database_url)
    if path is not None:
        return str(path.resolve())
    return make_url(settings.database_url).render_as_string(hide_password=True)


def require_database(settings: Settings) -> None:
    """Refuse, saying what to run, when the database a command reads is missing or old.

    Opening a SQLite file that is not there would create an empty one in whatever folder
    the command runs from, and reading unmigrated tables fails with a driver traceback.
    """
    where = _where(settings)
    first = "run `ordercenter migrate` and then `ordercenter seed` (or `make run`) first"
    path = sqlite_path(settings.database_url)
    if path is not None and not path.exists():
        raise click.ClickException(
            f"no database at {where}: {first}, or point ORDERCENTER_DATABASE_URL at "
            "an existing one (a relative sqlite path is relative to the current folder)"
        )
    try:
        current = asyncio.run(current_revision(settings.database_url))
    except (OSError, SQLAlchemyError) as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise click.ClickException(f"cannot open the database at {where}: {reason}") from None
    if current is None:
        raise click.ClickException(f"the database at {where} was never migrated: {first}")
    if current != head_revision():
        raise click.ClickException(
            f"the database at {where} is at revision {current}, not the latest "
            f"({head_revision()}): run `ordercenter migrate` first"
        )


async def _user_id(settings: Settings, handle: str) -> int | None:
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            found = (
                await conn.execute(select(col(User.id)).where(col(User.handle) == handle))
            ).first()
    finally:
        await engine.dispose()
    return None if found is None or found[0] is None else int(found[0])


def _token_for(settings: Settings, handle: str) -> str:
    try:
        ensure_can_issue(settings)
    except TokenIssuingError as error:
        raise click.ClickException(f"cannot mint tokens: {error}") from None
    user_id = asyncio.run(_user_id(settings, handle))
    if user_id is None:
        raise click.ClickException(f"no user with handle {handle!r}; run `ordercenter seed` first")
    return issue_token_for(settings, user_id)


async def _first_handle(settings: Settings, role: str) -> str | None:
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            statement = (
                select(col(User.handle)).where(col(User.role) == role).order_by(col(User.id))
            )
            found = (await conn.execute(statement.limit(1))).first()
    finally:
        await engine.dispose()
    return None if found is None else str(found[0])


@main.command()
@click.argument("handle", required=False)
@click.option(
    "--role",
    type=click.Choice(["buyer", "seller", "operator"]),
    help="Instead of HANDLE: the first user with this role (its handle goes to stderr).",
)
def token(handle: str | None, role: str | None) -> None:
    """Print a bearer token for the user HANDLE (signed with the configured secret)."""
    settings = get_settings()
    if (handle is None) == (role is None):
        raise click.UsageError("give either HANDLE or --role")
    try:
        ensure_can_issue(settings)
    except TokenIssuingError as error:
        raise click.ClickException(f"cannot mint tokens: {error}") from None
    require_database(settings)
    if role is not None:
        handle = asyncio.run(_first_handle(settings, role))
        if handle is None:
            raise click.ClickException(f"no user with role {role}; run `ordercenter seed` first")
        click.echo(f"token for @{handle} ({role})", err=True)
    click.echo(_token_for(settings, handle or ""))


@main.command()
def sweep() -> None:
    """Apply order timeouts once (the server or the worker also does it every sweep interval)."""
    from app.bus import InProcessBus
    from db.engine import create_session_factory
    from resolvers.context import Context
    from resolvers.gateway import SandboxGateway
    from resolvers.mutations.timeouts import apply_timeouts

    settings = get_settings()
    require_database(settings)

    async def run() -> Any:
        engine = create_engine(settings.database_url)
        try:
            context = Context.for_request(
                viewer_id=None,
                sessions=create_session_factory(engine),
                events=InProcessBus(),
                gateway=SandboxGateway(),
                rules=settings.rules,
            )
            return await apply_timeouts(context)
        finally:
            await engine.dispose()

    report = asyncio.run(run())
    click.echo(f"cancelled {report.cancelled} unpaid and completed {report.completed} delivered")


@main.command()
def worker() -> None:
    """Sweep order timeouts and refresh recommendations until stopped (SIGTERM, Ctrl-C).

    Pair it with ORDERCENTER_BACKGROUND=worker on the API processes. On PostgreSQL run
    as many as you like: one leads, the others take over when it dies.
    """
    import signal

    from app.worker import run_worker

    settings = get_settings()
    require_database(settings)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await run_worker(settings, stop)

    asyncio.run(run())


@main.command()
@click.option(
    "--evaluate",
    "evaluate_only",
    is_flag=True,
    help="Instead: seed --seeds fresh temporary databases, hold out each buyer's latest "
    "order and score the engine against popularity and the implicit library's models "
    "(tuned on a validation split). Writes nothing to the configured database.",
)
@click.option(
    "--seeds",
    default=5,
    show_default=True,
    type=click.IntRange(min=1, max=10),
    help="Datasets --evaluate judges (seeds 7, 11, 13, 17, 19, ...).",
)
@click.option(
    "--users",
    default=1000,
    show_default=True,
    type=click.IntRange(min=3),
    help="Users per dataset --evaluate seeds (50 orders each on average).",
)
@click.option(
    "--current-database",
    is_flag=True,
    help="With --evaluate: the configured database instead, engine against popularity only.",
)
@click.option(
    "--k",
    default=10,
    show_default=True,
    type=click.IntRange(min=1),
    help="List length --evaluate scores.",
)
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def recommend(
    evaluate_only: bool, seeds: int, users: int, current_database: bool, k: int, no_progress: bool
) -> None:
    """Recompute everyone's recommendations from behaviour; dismissed ones stay hidden."""
    if evaluate_only and not current_database:
        _judge(seeds, users, k, no_progress)
        return
    from db.engine import create_session_factory
    from resolvers.recommendations.batch import evaluate_database, recompute_everyone

    settings = get_settings()
    require_database(settings)
    bars: list[Any] = []

    def phase(what: str) -> None:
        if not no_progress:
            click.echo(f"{what}…", err=True)

    def progress(done: int, total: int) -> None:
        if no_progress:
            return
        if not bars:
            from tqdm import tqdm

            label = "evaluating" if evaluate_only else "recommending"
            bars.append(tqdm(total=total, desc=f"{label:>16}", unit="user", leave=True))
        bars[0].update(done - bars[0].n)

    async def run() -> Any:
        engine = create_engine(settings.database_url)
        sessions = create_session_factory(engine)
        try:
            if evaluate_only:
                return await evaluate_database(sessions, k=k, progress=progress, phase=phase)
            return await recompute_everyone(sessions, progress=progress, phase=phase)
        finally:
            for bar in bars:
                bar.close()
            await engine.dispose()

    if evaluate_only:
        evaluation = asyncio.run(run())
        click.echo(f"held out the latest order of {evaluation.buyers} buyers")
        click.echo(evaluation.table())
        click.echo(f"engine hit-rate@{k} is {evaluation.lift:.2f}x the popularity baseline's")
        return
    report = asyncio.run(run())
    click.echo(
        f"recommended for {report.users} users: {report.rows} rows in {report.seconds:.1f} s"
    )


def _judge(seeds: int, users: int, k: int, no_progress: bool) -> None:
    try:
        from resolvers.recommendations.judge import SEEDS, judge_seeds
    except ImportError as error:
        raise click.ClickException(
            f"--evaluate needs the implicit library ({error}); install the dev extra"
        ) from error

    def phase(what: str) -> None:
        if not no_progress:
            click.echo(f"{what}…", err=True)

    judgement = asyncio.run(judge_seeds(SEEDS[:seeds], users=users, k=k, phase=phase))
    click.echo(
        f"held out the latest order of {judgement.buyers} buyers over seeds "
        f"{', '.join(map(str, judgement.seeds))}; mean ± standard error over the seeds"
    )
    click.echo(judgement.table())
    click.echo(judgement.summary())
    click.echo("library settings chosen on each seed's validation split:")
    click.echo(judgement.settings())


@main.command()
@click.option(
    "--rate",
    default=2.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Steps (use-case calls: mostly status changes) per second.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Stop after this many seconds [default: run until Ctrl-C or SIGTERM].",
)
@click.option("--seed", "rng_seed", type=int, default=None, help="Seed the choice of orders.")
@click.option("--log-every", default=20, show_default=True, help="Log a line every N steps.")
@click.option(
    "--webhook-url",
    default=None,
    help="Post carrier scans to this server (e.g. http://127.0.0.1:8000) "
    "[default: to the webhook handler in this process].",
)
def simulate(
    rate: float,
    duration: float | None,
    rng_seed: int | None,
    log_every: int,
    webhook_url: str | None,
) -> None:
    """Act as sellers and carriers: move orders along their lifecycle, live.

    Ships orders awaiting shipment, places paid orders for random buyers now and then,
    through the same use-cases as the API, and has the carriers scan parcels (picked
    up, delivered) through the signed carrier webhook. Events go out on
    ORDERCENTER_BUS_URL; with memory:// (the default) a separate server still sees
    them, but only on its hub's slow poll (~2 s later).
    """
    from app.simulate import run_simulation

    settings = get_settings()
    require_database(settings)
    report = asyncio.run(
        run_simulation(
            settings,
            rate=rate,
            duration=duration,
            seed=rng_seed,
            log_every=log_every,
            webhook_url=webhook_url,
        )
    )
    click.echo(report.summary())


@main.command("export-schema")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("schema.graphql"),
    show_default=True,
)
def export_schema(output: Path) -> None:
    """Write the GraphQL SDL (the committed schema.graphql)."""
    from schema.definition import schema

    output.write_text(schema.as_str() + "\n", encoding="utf-8")
    click.echo(f"wrote {output}")


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    if workers > 1 and settings.metrics_exposure != "off":
        with tempfile.TemporaryDirectory(prefix="ordercenter-metrics-") as shared:
            # Before prometheus_client is first imported, here and in every worker (they
            # inherit the environment): each worker then writes its values to files there
            # that a scrape adds up. Fresh per run: an old run's counts must not count.
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = shared
            from app import metrics

            server = None
            if settings.metrics_exposure == "port":
                # One port for all workers: this process, which serves no requests, has it.
                server = metrics.serve_on_port(settings.host, settings.metrics_port or 0)
            try:
                _run_uvicorn(settings, host, port, workers)
            finally:
                if server is not None:
                    server.shutdown()
                    server.server_close()
        return
    _run_uvicorn(settings, host, port, workers)


def _run_uvicorn(settings: Settings, host: str, port: int, workers: int) -> None:
    from app.main import app_factory
    from app.pipeline import REQUEST_BYTES

    # One worker runs in this process, so it can take these settings as they are (the
    # demo's differ from the environment's); more workers each read the environment.
    app: Any = "app.main:app_factory" if workers > 1 else functools.partial(app_factory, settings)
    # In JSON mode our request line replaces uvicorn's access line (app/request_log.py).
    uvicorn.run(
        app,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        access_log=not settings.json_logs,
        log_config=request_log.uvicorn_log_config(settings) or uvicorn.config.LOGGING_CONFIG,
        proxy_headers=False,
        timeout_graceful_shutdown=10,
        # Messages are small and many: compression cost ~40 KB and ~60 us per socket
        # in the fan-out benchmark for little gain.
        ws_per_message_deflate=False,
        # The app closes larger messages with 1009 itself; this keeps uvicorn from
        # buffering up to its own default of 16 MiB first. A frame's header needs room.
        ws_max_size=REQUEST_BYTES + 1024,
    )


def ensure_port_free(host: str, port: int, *, instead: str) -> None:
    """Refuse before any start-up work (and before printing a token) on a busy port,
    rather than let uvicorn fail with a bare '[Errno 98]' at the end."""
    if port == 0:
        return
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            # As uvicorn binds: a port left in TIME_WAIT by a stopped server is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        reason = error.strerror or str(error)
        raise click.ClickException(
            f"cannot serve on {host}:{port}: {reason} (is another server, perhaps an "
            f"earlier `make run`, still running?). Stop it, or serve on another port: "
            f"{instead}"
        ) from None


@main.command()
@click.option("--host", default=None, help="Bind address [default: ORDERCENTER_HOST].")
@click.option("--port", default=None, type=int, help="Port [default: ORDERCENTER_PORT].")
@click.option("--workers", default=1, show_default=True, help="Worker processes.")
@click.option("--no-migrate", is_flag=True, help="Do not migrate the database on start.")
def serve(host: str | None, port: int | None, workers: int, no_migrate: bool) -> None:
    """Serve the API (HTTP and WebSocket at /graphql)."""
    settings = get_settings()
    try:
        settings.check()
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    host, port = host or settings.host, port or settings.port
    ensure_port_free(host, port, instead=f"`ordercenter serve --port {port + 1}`")
    if no_migrate:
        require_database(settings)
    else:
        upgrade(settings.database_url)
    _serve(settings, host, port, workers)


# The seed's unpaid orders are hours old (each screen has something to show), older
# than the 30-minute timeout: a demo sweeping with it would cancel them a minute in.
DEMO_UNPAID_ORDER_TIMEOUT = timedelta(days=365)


def demo_settings(settings: Settings) -> Settings:
    """The settings `ordercenter demo` serves with: unpaid orders are kept for a year,
    so the demo keeps orders to pay for; ORDERCENTER_UNPAID_ORDER_TIMEOUT_SECONDS,
    when set, still wins."""
    if "unpaid_order_timeout_seconds" in settings.model_fields_set:
        return settings
    seconds = int(DEMO_UNPAID_ORDER_TIMEOUT.total_seconds())
    return settings.model_copy(update={"unpaid_order_timeout_seconds": seconds})


@main.command()
@click.option("--host", default=None, help="Bind address [default: ORDERCENTER_HOST].")
@click.option("--port", default=None, type=int, help="Port [default: ORDERCENTER_PORT].")
@click.pass_context
def demo(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Migrate, seed an empty database, print a demo token, and serve (`make run`)."""
    settings = demo_settings(get_settings())
    host, port = host or settings.host, port or settings.port
    ensure_port_free(host, port, instead=f"ORDERCENTER_PORT={port + 1} make run")
    upgrade(settings.database_url)
    fresh = asyncio.run(_user_id(settings, DEMO_HANDLE)) is None
    ctx.invoke(seed, if_empty=True)
    if fresh:
        # The seed's recommendations are placeholders; show the engine's from the start.
        ctx.invoke(recommend, evaluate_only=False, k=10, no_progress=False)
    demo_token = _token_for(settings, DEMO_HANDLE)
    url = f"http://{host}:{port}/graphql"
    demo_users = " (sign in as a demo user)" if settings.demo_sign_in_enabled else ""
    web_app = f"  Web app at http://{host}:{port}/{demo_users}\n"
    click.echo(
        "\n"
        + (web_app if settings.web_app_enabled else "")
        + f"  Order Center demo at {url}  (open it in a browser for GraphiQL)\n"
        f"  Demo token for @{DEMO_HANDLE}; paste this into GraphiQL's Headers tab:\n\n"
        f'  {{"Authorization": "Bearer {demo_token}"}}\n'
    )
    sys.stdout.flush()
    _serve(settings, host, port, 1)
