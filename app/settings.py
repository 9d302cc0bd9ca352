"""Runtime configuration: one pydantic-settings class, environment prefix ``ORDERCENTER_``."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from resolvers.context import Rules

# Known to everyone who reads this file: fine on a laptop, refused in production.
DEVELOPMENT_JWT_SECRET = "ordercenter-development-secret-do-not-use-in-production"  # noqa: S105
MIN_JWT_SECRET_BYTES = 32

log = logging.getLogger("ordercenter")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERCENTER_", extra="ignore")

    env: Literal["development", "production", "test"] = Field(
        default="development", description="Deployment mode; production refuses unsafe defaults."
    )
    database_url: str = Field(
        default="sqlite:///./ordercenter.db",
        description="SQLite file (aiosqlite) or PostgreSQL (asyncpg) URL.",
    )
    db_pool_size: int = Field(default=10, ge=1, description="PostgreSQL connection pool size.")
    jwt_secret: str = Field(
        default=DEVELOPMENT_JWT_SECRET, description="HS256 secret that signs bearer tokens."
    )
    jwt_ttl_seconds: int = Field(
        default=30 * 24 * 3600, ge=60, description="Lifetime of tokens from `ordercenter token`."
    )
    max_page_size: int = Field(
        default=100, ge=1, le=1000, description="Largest `first`/`last` a connection accepts."
    )
    default_page_size: int = Field(
        default=20, ge=1, description="Page size when neither `first` nor `last` is given."
    )
    payment_gateway: Literal["sandbox"] = Field(
        default="sandbox", description="Payment processor; the sandbox uses test tokens."
    )
    idempotency_ttl_seconds: int = Field(
        default=24 * 3600, ge=60, description="How long idempotency keys are remembered."
    )
    unpaid_order_timeout_seconds: int = Field(
        default=30 * 60, ge=60, description="Unpaid orders are cancelled after this long."
    )
    receipt_window_seconds: int = Field(
        default=7 * 24 * 3600,
        ge=60,
        description="Delivered orders complete by themselves after this long.",
    )
    sweep_interval_seconds: float = Field(
        default=60, ge=0, description="How often the server applies those timeouts; 0: never."
    )
    ws_keep_alive_seconds: float = Field(
        default=15, gt=0, description="Interval of WebSocket keep-alive pings."
    )
    ws_init_timeout_seconds: float = Field(
        default=10, gt=0, description="How long a WebSocket may wait before connection_init."
    )
    ws_max_operations: int = Field(
        default=20, ge=1, description="Concurrent operations per WebSocket connection."
    )
    ws_max_connections_per_user: int = Field(
        default=10, ge=1, description="Concurrent WebSocket connections per user."
    )
    subscriber_queue_size: int = Field(
        default=256,
        ge=1,
        description="Events buffered per subscriber; a slower one is cut off and resumes.",
    )
    bus_url: str = Field(
        default="memory://",
        description="Event bus: memory://, redis://host:port/db, or postgresql://… (LISTEN).",
    )
    graphiql: bool = Field(default=True, description="Serve GraphiQL to browsers at /graphql.")
    host: str = Field(default="127.0.0.1", description="Address `ordercenter serve` binds.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port `ordercenter serve` binds.")
    log_level: str = Field(default="info", description="Python logging level name.")

    @property
    def rules(self) -> Rules:
        return Rules(
            idempotency_ttl=timedelta(seconds=self.idempotency_ttl_seconds),
            unpaid_timeout=timedelta(seconds=self.unpaid_order_timeout_seconds),
            receipt_window=timedelta(seconds=self.receipt_window_seconds),
        )

    @property
    def uses_development_secret(self) -> bool:
        return self.jwt_secret == DEVELOPMENT_JWT_SECRET

    def check(self) -> None:
        """Refuse unsafe configurations before serving; warn loudly about weak ones."""
        if self.uses_development_secret:
            if self.env == "production":
                raise ValueError(
                    "ORDERCENTER_JWT_SECRET must be set in production: "
                    "the built-in development secret is public"
                )
            log.warning(
                "USING THE BUILT-IN DEVELOPMENT JWT SECRET: anyone can mint tokens. "
                "Set ORDERCENTER_JWT_SECRET before exposing this server."
            )
        elif self.env == "production" and len(self.jwt_secret.encode()) < MIN_JWT_SECRET_BYTES:
            # An empty secret would start a server that rejects every token; a short
            # one is guessable (RFC 7518 3.2: HS256 keys of at least 256 bits).
            raise ValueError(
                f"ORDERCENTER_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes "
                "in production"
            )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
