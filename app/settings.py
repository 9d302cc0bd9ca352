"""Runtime configuration: one pydantic-settings class, environment prefix ``ORDERCENTER_``."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.auth import HMAC_ALGORITHMS, PUBLIC_KEY_ALGORITHMS, SUPPORTED_ALGORITHMS, TokenVerifier
from app.persisted import PersistedQueries
from db.engine import POSTGRES_POOL_SIZE
from domain.returns import DEFAULT_WINDOW as RETURN_WINDOW
from resolvers.context import Rules
from resolvers.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from schema.cost import CostModel
from schema.limits import Limits

# Known to everyone who reads this file: fine on a laptop, refused in production.
DEVELOPMENT_JWT_SECRET = "ordercenter-development-secret-do-not-use-in-production"  # noqa: S105
# The same, for the carriers `ordercenter simulate` plays: used only outside production
# and only when ORDERCENTER_CARRIER_WEBHOOK_SECRETS names no carrier at all.
DEVELOPMENT_CARRIER_SECRETS = {
    carrier: f"ordercenter-development-carrier-{carrier.lower()}-do-not-use"
    for carrier in ("UPS", "FedEx", "USPS", "DHL")
}
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
    db_pool_size: int = Field(
        default=POSTGRES_POOL_SIZE,
        ge=1,
        description="PostgreSQL connections per process (no overflow); requests beyond "
        "them wait in turn.",
    )
    jwt_secret: str = Field(
        default=DEVELOPMENT_JWT_SECRET, description="HS256 secret that signs bearer tokens."
    )
    jwt_ttl_seconds: int = Field(
        default=30 * 24 * 3600, ge=60, description="Lifetime of tokens from `ordercenter token`."
    )
    jwt_algorithms: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["HS256"],
        description="Accepted token algorithms (HS*, RS*, PS*, ES*), JSON list or commas.",
    )
    jwt_public_key_file: Path | None = Field(
        default=None, description="PEM public key (or certificate) for RS*/PS*/ES* tokens."
    )
    jwt_jwks_file: Path | None = Field(
        default=None, description="JWKS file; RS*/PS*/ES* tokens pick their key by `kid`."
    )
    jwt_issuer: str | None = Field(default=None, description="Required `iss`, when set.")
    jwt_audience: str | None = Field(default=None, description="Required `aud`, when set.")
    jwt_leeway_seconds: int = Field(
        default=30, ge=0, le=600, description="Clock skew allowed on `exp`, `nbf` and `iat`."
    )
    persisted_queries: Literal["off", "apq", "allowlist"] = Field(
        default="apq",
        description="off, apq (automatic persisted queries) or allowlist (registered only).",
    )
    persisted_queries_file: Path | None = Field(
        default=None, description="Allow-list mode: JSON object {sha256: document}."
    )
    compiled_plans: bool = Field(
        default=True,
        description="Answer queries seen before with compiled plans; false: graphql-core only.",
    )
    sql_plans: bool = Field(
        default=True,
        description="Let the database (PostgreSQL or SQLite) build a compiled plan's whole answer.",
    )
    max_page_size: int = Field(
        default=MAX_PAGE_SIZE,
        ge=1,
        le=1000,
        description="Largest `first`/`last` a connection accepts.",
    )
    default_page_size: int = Field(
        default=DEFAULT_PAGE_SIZE,
        ge=1,
        description="Page size when neither `first` nor `last` is given.",
    )
    payment_gateway: Literal["sandbox"] = Field(
        default="sandbox", description="Payment processor; the sandbox uses test tokens."
    )
    idempotency_ttl_seconds: int = Field(
        default=24 * 3600, ge=60, description="How long idempotency keys are remembered."
    )
    carrier_webhook_secrets: dict[str, str] = Field(
        default_factory=dict,
        description="Shared secret per carrier for POST /webhooks/carrier, as JSON "
        '(`{"UPS": "…"}`); carrier names compared without case.',
    )
    carrier_webhook_tolerance_seconds: int = Field(
        default=300,
        ge=1,
        le=3600,
        description="How far a webhook's signed timestamp may be from the server's clock.",
    )
    unpaid_order_timeout_seconds: int = Field(
        default=30 * 60, ge=60, description="Unpaid orders are cancelled after this long."
    )
    receipt_window_seconds: int = Field(
        default=7 * 24 * 3600,
        ge=60,
        description="Delivered orders complete by themselves after this long.",
    )
    review_edit_window_seconds: int = Field(
        default=30 * 24 * 3600,
        ge=0,
        description="How long after posting a buyer may edit a review.",
    )
    return_window_seconds: int = Field(
        default=int(RETURN_WINDOW.total_seconds()),
        ge=60,
        description="How long after delivery a buyer may ask to return an order's units.",
    )
    sweep_interval_seconds: float = Field(
        default=60, ge=0, description="How often the server applies those timeouts; 0: never."
    )
    background: Literal["inline", "worker"] = Field(
        default="inline",
        description="Who sweeps timeouts and refreshes recommendations: each API process "
        "(inline) or `ordercenter worker` (worker).",
    )
    worker_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often `ordercenter worker` looks for buyers to refresh and, "
        "while another worker leads, whether it can lead.",
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
    ws_max_pending_per_address: int = Field(
        default=64,
        ge=1,
        description="WebSockets one client address may hold open before connection_init.",
    )
    ws_max_pending: int = Field(
        default=1024,
        ge=1,
        description="WebSockets the process holds open before connection_init, all addresses.",
    )
    subscriber_queue_size: int = Field(
        default=256,
        ge=1,
        description="Events buffered per subscriber; a slower one is cut off and resumes.",
    )
    hub_poll_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How often each process re-reads events without a wake-up (lost ones).",
    )
    bus_url: str = Field(
        default="memory://",
        description="Event bus: memory://, redis://host:port/db, or postgresql://… (LISTEN).",
    )
    recommendation_debounce_seconds: float = Field(
        default=1.0,
        ge=0,
        description="A buyer's recommendations are recomputed this long after their last action.",
    )
    recommendation_model_max_age_seconds: float = Field(
        default=600.0,
        ge=0,
        description="The shared item-item model is rebuilt from everyone's behaviour this often.",
    )
    graphiql: bool | None = Field(
        default=None, description="Serve GraphiQL at /graphql; default: on except in production."
    )
    introspection: bool | None = Field(
        default=None, description="Allow introspection; default: on except in production."
    )
    web_app: bool | None = Field(
        default=None, description="Serve the web app at /; default: on except in production."
    )
    max_query_depth: int = Field(default=15, ge=1, description="Deepest selection allowed.")
    max_aliases: int = Field(default=30, ge=1, description="Aliases per operation.")
    max_tokens: int = Field(default=3000, ge=10, description="Tokens per document.")
    max_document_bytes: int = Field(
        default=65_536,
        ge=1024,
        le=1_048_576,
        description="Size of a document's text, checked before it is read, on every transport.",
    )
    suggestions: bool | None = Field(
        default=None,
        description="'Did you mean …?' hints in errors; default: on except in production.",
    )
    max_query_cost: int = Field(
        default=10_000, ge=1, description="Static cost limit of one operation."
    )
    cost_budget_per_minute: int = Field(
        default=100_000, ge=1, description="Cost a caller may spend per minute."
    )
    carrier_webhook_per_minute: int = Field(
        default=600,
        ge=1,
        description="Requests a minute one address may send to /webhooks/carrier "
        "(each counts, refused or not); kept where the budgets live (rate_limit_url).",
    )
    rate_limit_url: str = Field(
        default="memory://",
        description="Where budgets live: memory:// (per process) or redis:// (shared).",
    )
    metrics: bool | None = Field(
        default=None,
        description="Prometheus metrics; default: on except in production, where only "
        "ORDERCENTER_METRICS_PORT serves them.",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve metrics on this port (same host) instead of /metrics of the API's.",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to call the API from browsers."
    )
    host: str = Field(default="127.0.0.1", description="Address `ordercenter serve` binds.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port `ordercenter serve` binds.")
    log_level: str = Field(default="info", description="Python logging level name.")
    log_format: Literal["json", "text"] | None = Field(
        default=None,
        description="json: one JSON object a line; text: readable. Default: json in production.",
    )
    log_key: str | None = Field(
        default=None,
        description="HMAC key hashing viewer ids in logs; default: derived from the JWT secret.",
    )
    otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP collector URL for traces (`order-center[otlp]`); unset: no traces.",
    )

    @field_validator("jwt_algorithms", mode="before")
    @classmethod
    def _algorithm_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("jwt_algorithms")
    @classmethod
    def _known_algorithms(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("ORDERCENTER_JWT_ALGORITHMS names no algorithm")
        for name in value:
            if name not in SUPPORTED_ALGORITHMS:
                raise ValueError(
                    f"ORDERCENTER_JWT_ALGORITHMS: {name!r} is not accepted; choose from "
                    + ", ".join(sorted(SUPPORTED_ALGORITHMS))
                )
        return list(dict.fromkeys(value))

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else self.env != "production"

    @property
    def web_app_enabled(self) -> bool:
        return self.web_app if self.web_app is not None else self.env != "production"

    @property
    def demo_sign_in_enabled(self) -> bool:
        """The web app may mint demo tokens: in development only, whatever else is set."""
        return self.env == "development"

    @property
    def introspection_enabled(self) -> bool:
        return self.introspection if self.introspection is not None else self.env != "production"

    @property
    def suggestions_enabled(self) -> bool:
        return self.suggestions if self.suggestions is not None else self.env != "production"

    @property
    def metrics_exposure(self) -> Literal["off", "api", "port"]:
        """Where metrics are served; "off": neither served nor recorded.

        Production keeps them off the public port unless told: operation names and
        error rates are nobody else's business."""
        if self.metrics is False:
            return "off"
        if self.metrics_port is not None:
            return "port"
        if self.metrics or self.env != "production":
            return "api"
        return "off"

    @property
    def limits(self) -> Limits:
        return Limits(
            max_depth=self.max_query_depth,
            max_aliases=self.max_aliases,
            max_tokens=self.max_tokens,
            max_cost=self.max_query_cost,
            cost_model=CostModel(
                default_page_size=self.default_page_size, max_page_size=self.max_page_size
            ),
            introspection=self.introspection_enabled,
            max_document_bytes=self.max_document_bytes,
            suggestions=self.suggestions_enabled,
        )

    @property
    def rules(self) -> Rules:
        return Rules(
            idempotency_ttl=timedelta(seconds=self.idempotency_ttl_seconds),
            unpaid_timeout=timedelta(seconds=self.unpaid_order_timeout_seconds),
            receipt_window=timedelta(seconds=self.receipt_window_seconds),
            review_edit_window=timedelta(seconds=self.review_edit_window_seconds),
            return_window=timedelta(seconds=self.return_window_seconds),
        )

    @property
    def carrier_secrets(self) -> dict[str, str]:
        """Each carrier's webhook secret by lower-cased name; the development ones only
        outside production and when none is configured."""
        configured = self.carrier_webhook_secrets
        if not configured and self.env != "production":
            configured = DEVELOPMENT_CARRIER_SECRETS
        return {name.lower(): secret for name, secret in configured.items()}

    @property
    def json_logs(self) -> bool:
        return (self.log_format or ("json" if self.env == "production" else "text")) == "json"

    @property
    def uses_development_secret(self) -> bool:
        return self.jwt_secret == DEVELOPMENT_JWT_SECRET

    def check(self) -> None:
        """Refuse unsafe configurations before serving; warn loudly about weak ones."""
        algorithms = set(self.jwt_algorithms)
        if algorithms & HMAC_ALGORITHMS:
            self._check_secret()
        key_files = self.jwt_public_key_file is not None or self.jwt_jwks_file is not None
        if algorithms & PUBLIC_KEY_ALGORITHMS and not key_files:
            raise ValueError(
                "ORDERCENTER_JWT_ALGORITHMS names a public-key algorithm: set "
                "ORDERCENTER_JWT_PUBLIC_KEY_FILE or ORDERCENTER_JWT_JWKS_FILE"
            )
        if key_files and not algorithms & PUBLIC_KEY_ALGORITHMS:
            raise ValueError(
                "a JWT public key or JWKS file is set but ORDERCENTER_JWT_ALGORITHMS "
                "accepts none of RS256, ES256, …: add the algorithm your issuer signs with"
            )
        self._check_carrier_secrets()
        TokenVerifier.from_settings(self)  # reads the key files: fail now, not per request
        PersistedQueries.from_settings(self)  # reads and checks the allow-list file

    def _check_carrier_secrets(self) -> None:
        # A short shared secret lets anyone who guesses it deliver parcels by webhook.
        for carrier, secret in self.carrier_webhook_secrets.items():
            if self.env == "production" and len(secret.encode()) < MIN_JWT_SECRET_BYTES:
                raise ValueError(
                    f"ORDERCENTER_CARRIER_WEBHOOK_SECRETS: the secret of {carrier} must be "
                    f"at least {MIN_JWT_SECRET_BYTES} bytes in production"
                )
            if secret in DEVELOPMENT_CARRIER_SECRETS.values() and self.env == "production":
                raise ValueError(
                    f"ORDERCENTER_CARRIER_WEBHOOK_SECRETS: the secret of {carrier} is a "
                    "published development secret"
                )

    def _check_secret(self) -> None:
        if self.uses_development_secret:
            if self.env == "production":
                raise ValueError(
                    "ORDERCENTER_JWT_SECRET must be set in production: "
                    "the built-in development secret is public (or accept only public-key "
                    "tokens: ORDERCENTER_JWT_ALGORITHMS without HS*)"
                )
            log.warning(
                "USING THE BUILT-IN DEVELOPMENT JWT SECRET: anyone can mint tokens. "
                "Set ORDERCENTER_JWT_SECRET before exposing this server."
            )
            return
        # An empty secret would start a server that rejects every token; a short one
        # is guessable (RFC 7518 3.2: HS256 keys of at least 256 bits, HS512 512).
        needed = max(
            MIN_JWT_SECRET_BYTES * int(name[2:]) // 256
            for name in self.jwt_algorithms
            if name in HMAC_ALGORITHMS
        )
        if self.env == "production" and len(self.jwt_secret.encode()) < needed:
            raise ValueError(
                f"ORDERCENTER_JWT_SECRET must be at least {needed} bytes in production"
            )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
