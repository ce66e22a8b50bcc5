"""Typed reading of TicketFlow's environment.

Every setting comes from an environment variable named as in the product README's table
where one exists (POSTGRES_*, MONGO_*, REDIS_*, KAFKA_BOOTSTRAP_SERVERS, JWT_*, SMTP_*,
STRIPE_*, ...). Anything left unset falls back to the embedded default: SQLite for both
database aliases, local-memory cache and the in-process event transport, so a laptop runs
the whole product with no services at all.

In production mode (``TICKETFLOW_ENV=production``) the embedded fallbacks are refused: a
missing or malformed variable stops start-up with a message that names it.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from pathlib import Path
from typing import Literal, TypedDict
from urllib.parse import quote

from django.core.exceptions import ImproperlyConfigured
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["debug", "info", "warning", "error", "critical"]

# Published in this repository, so never a signing key anywhere: a token or cookie signed with
# it proves nothing. Production refuses it; the embedded default uses local_secret() instead.
EMBEDDED_SECRET = "embedded-development-secret-not-for-production"  # noqa: S105

# Words that mark a value copied from .env.example or a tutorial rather than generated.
_PLACEHOLDER_MARKERS = ("change-me", "changeme", "placeholder", "example", "secret-key", "not-for-production")


class EventOptions(TypedDict):
    """``settings.TICKETFLOW_EVENTS``: how events travel (the kernel and the relay read it)."""

    TRANSPORT: Literal["kafka", "inprocess"]
    BOOTSTRAP_SERVERS: str | None
    PARTITIONS: int
    REPLICATION_FACTOR: int
    NAMESPACE: str
    RELAY_BATCH_SIZE: int
    RELAY_POLL_INTERVAL: float
    RELAY_LINGER_SECONDS: float
    CONSUMER_MAX_ATTEMPTS: int
    CONSUMER_BATCH_SIZE: int
    OUTBOX_RETENTION_DAYS: int
    INBOX_RETENTION_DAYS: int
    CONSUMER_BACKOFF_SECONDS: float


class Environment(BaseSettings):
    """The variables TicketFlow reads, with their embedded defaults."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", frozen=True)

    TICKETFLOW_ENV: Literal["development", "test", "production"] = "development"
    TICKETFLOW_VAR: Path | None = Field(
        default=None, description="Where embedded databases, spools and local state live."
    )
    DJANGO_SECRET_KEY: str | None = None
    ALLOWED_HOSTS: str = "localhost,127.0.0.1,[::1],testserver"
    CSRF_TRUSTED_ORIGINS: str = ""
    PUBLIC_BASE_URL: str = "http://localhost:8000"
    HTTPS_REDIRECT: bool = Field(
        default=True,
        description="In production, redirect plain HTTP to HTTPS (off only for a local plain-HTTP stack).",
    )
    METRICS_ALLOWED_NETWORKS: str = Field(
        default="127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7",
        description="In production, the networks /metrics and detailed /health answer (Prometheus, probes).",
    )
    NUM_PROXIES: int = Field(
        default=0,
        ge=0,
        le=5,
        description=(
            "Reverse proxies in front of the web process. Only that many X-Forwarded-For hops, and "
            "X-Forwarded-Proto, are believed; 0 means the peer address is the client."
        ),
    )

    POSTGRES_HOST: str | None = None
    POSTGRES_PORT: int = Field(default=5432, ge=1, le=65535)
    POSTGRES_USER: str = "ticketflow"
    POSTGRES_PASSWORD: str | None = None
    POSTGRES_DB: str = "ticketflow"
    POSTGRES_DOCUMENTS_DB: str | None = Field(
        default=None,
        description="Run the document contexts on a second PostgreSQL database instead of MongoDB.",
    )
    POSTGRES_POOL_SIZE: int = Field(
        default=0,
        ge=0,
        le=500,
        description=(
            "Connections in a psycopg pool per process and database (0: one persistent connection "
            "per thread). The ASGI web worker runs each request's sync code on a fresh thread, so "
            "it needs a pool."
        ),
    )

    MONGO_URI: str | None = None
    MONGO_HOST: str | None = None
    MONGO_PORT: int = Field(default=27017, ge=1, le=65535)
    MONGO_DB: str = "ticketflow"
    MONGO_INITDB_ROOT_USERNAME: str = "ticketflow"
    MONGO_INITDB_ROOT_PASSWORD: str | None = None
    MONGO_REPLICA_SET: str = "rs0"

    REDIS_URL: str | None = None
    REDIS_PASSWORD: str | None = None

    KAFKA_BOOTSTRAP_SERVERS: str | None = None
    KAFKA_TOPIC_PARTITIONS: int = Field(default=6, ge=1, le=1024)
    KAFKA_REPLICATION_FACTOR: int = Field(default=1, ge=1, le=16)
    KAFKA_NAMESPACE: str = Field(
        default="",
        description="Prefix for every topic and consumer group; empty in production.",
    )
    CONSUMER_BATCH_SIZE: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Most messages a Kafka consumer applies in one transaction (1: one per transaction).",
    )

    CELERY_QUEUE: str = Field(
        default="ticketflow", description="The Celery queue tasks go to and workers read."
    )
    CELERY_VISIBILITY_TIMEOUT: int = Field(
        default=40,
        ge=10,
        le=24 * 3600,
        description="Seconds before the Redis broker gives a killed worker's unacknowledged task to another.",
    )
    NOTIFICATION_SEND_LEASE_SECONDS: int = Field(
        default=30,
        ge=5,
        le=3600,
        description="Seconds an email may stay SENDING before another worker may take it over.",
    )

    JWT_SECRET: str | None = None
    JWT_EXPIRY_HOURS: int = Field(
        default=24,
        ge=1,
        le=24 * 30,
        description="How long a sign-in lasts unused: the refresh token's lifetime (rotated on each use).",
    )
    JWT_ACCESS_MINUTES: int = Field(default=15, ge=1, le=60, description="The access token's lifetime.")

    SMTP_HOST: str | None = None
    SMTP_PORT: int = Field(default=1025, ge=1, le=65535)
    SMTP_USER: str = ""
    SMTP_PASSWORD: str = ""
    SMTP_USE_TLS: bool = False
    EMAIL_FROM: str = "noreply@ticketflow.dev"

    STRIPE_SECRET_KEY: str | None = None
    STRIPE_PUBLISHABLE_KEY: str | None = None
    STRIPE_WEBHOOK_SECRET: str | None = None
    STRIPE_API_BASE: str | None = Field(
        default=None, description="Point the Stripe SDK at another host (stripe-mock in tests)."
    )

    PROMETHEUS_ENABLED: bool = True
    PROMETHEUS_MULTIPROC_DIR: str | None = Field(
        default=None, description="Shared by local processes so /metrics shows relay and consumers too."
    )
    LOG_LEVEL: LogLevel = "info"
    LOG_FORMAT: Literal["json", "console"] = "json"
    OTEL_EXPORTER_OTLP_ENDPOINT: str | None = None
    OTEL_SERVICE_NAME: str = "ticketflow"

    @field_validator("LOG_LEVEL", mode="before")
    @classmethod
    def _lowercase_level(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @property
    def production(self) -> bool:
        return self.TICKETFLOW_ENV == "production"

    @property
    def mongo_uri(self) -> str | None:
        """The MongoDB connection string, from MONGO_URI or assembled from MONGO_HOST."""
        if self.MONGO_URI:
            return self.MONGO_URI
        if not self.MONGO_HOST:
            return None
        credentials = ""
        if self.MONGO_INITDB_ROOT_PASSWORD:
            user = quote(self.MONGO_INITDB_ROOT_USERNAME, safe="")
            password = quote(self.MONGO_INITDB_ROOT_PASSWORD, safe="")
            credentials = f"{user}:{password}@"
        return (
            f"mongodb://{credentials}{self.MONGO_HOST}:{self.MONGO_PORT}/"
            f"?replicaSet={self.MONGO_REPLICA_SET}&authSource=admin"
        )

    @property
    def redis_url(self) -> str | None:
        """REDIS_URL, with REDIS_PASSWORD filled in when the URL carries none."""
        if not self.REDIS_URL:
            return None
        if self.REDIS_PASSWORD and "@" not in self.REDIS_URL:
            scheme, rest = self.REDIS_URL.split("://", 1)
            return f"{scheme}://:{quote(self.REDIS_PASSWORD, safe='')}@{rest}"
        return self.REDIS_URL

    def missing_for_production(self) -> list[str]:
        """Names of the variables production needs and this environment lacks."""
        required: dict[str, object] = {
            "DJANGO_SECRET_KEY": self.DJANGO_SECRET_KEY,
            "JWT_SECRET": self.JWT_SECRET,
            "POSTGRES_HOST": self.POSTGRES_HOST,
            "POSTGRES_PASSWORD": self.POSTGRES_PASSWORD,
            "REDIS_URL": self.REDIS_URL,
            "KAFKA_BOOTSTRAP_SERVERS": self.KAFKA_BOOTSTRAP_SERVERS,
            "SMTP_HOST": self.SMTP_HOST,
        }
        missing = [name for name, value in required.items() if not value]
        if not (self.mongo_uri or self.POSTGRES_DOCUMENTS_DB):
            missing.append("MONGO_URI or MONGO_HOST (or POSTGRES_DOCUMENTS_DB)")
        if self.STRIPE_SECRET_KEY and not self.STRIPE_WEBHOOK_SECRET:
            missing.append("STRIPE_WEBHOOK_SECRET")
        for name, value in (("DJANGO_SECRET_KEY", self.DJANGO_SECRET_KEY), ("JWT_SECRET", self.JWT_SECRET)):
            problem = weak_secret(value, min_length=32) if value else None
            if problem:
                missing.append(f"{name} ({problem})")
        passwords = {
            "POSTGRES_PASSWORD": self.POSTGRES_PASSWORD,
            "REDIS_PASSWORD": self.REDIS_PASSWORD,
            "MONGO_INITDB_ROOT_PASSWORD": self.MONGO_INITDB_ROOT_PASSWORD,
            "SMTP_PASSWORD": self.SMTP_PASSWORD,
            "STRIPE_WEBHOOK_SECRET": self.STRIPE_WEBHOOK_SECRET,
        }
        for name, value in passwords.items():
            problem = weak_secret(value, min_length=12) if value else None
            if problem:
                missing.append(f"{name} ({problem})")
        for name, value in (
            ("MONGO_URI", self.MONGO_URI),
            ("SMTP_USER", self.SMTP_USER),
            ("STRIPE_SECRET_KEY", self.STRIPE_SECRET_KEY),
        ):
            if value and any(marker in value.lower() for marker in _PLACEHOLDER_MARKERS):
                missing.append(f"{name} (a placeholder: set the real value)")
        return missing


def weak_secret(value: str, *, min_length: int) -> str | None:
    """Why ``value`` is no secret (a placeholder, too short, too few distinct characters), or None."""
    lowered = value.lower()
    if value == EMBEDDED_SECRET or any(marker in lowered for marker in _PLACEHOLDER_MARKERS):
        return "a placeholder: generate a real one"
    if len(value) < min_length:
        return f"must be at least {min_length} characters"
    if len(set(value)) < min(12, min_length // 2):
        return "too little entropy: generate a random one"
    return None


def local_secret(var_dir: Path, purpose: str) -> str:
    """A random key for this checkout, kept in ``var_dir/secret.key`` (created once, mode 0600).

    The embedded default signs sessions and tokens with it, so a key nobody else knows protects
    even a laptop install; each ``purpose`` (Django, JWT) gets its own key derived from it.
    """
    path = var_dir / "secret.key"
    var_dir.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    root = ""
    for _ in range(100):  # another process may have created the file and not written it yet
        root = path.read_text().strip()
        if root:
            break
        time.sleep(0.01)
    return hashlib.sha256(f"{purpose}:{root}".encode()).hexdigest()


def load_environment() -> Environment:
    """Read and validate the environment, or stop with a message naming each bad variable."""
    try:
        environment = Environment()
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc'])}: {issue['msg']} (got {issue.get('input')!r})"
            for issue in error.errors()
        )
        raise ImproperlyConfigured(f"TicketFlow cannot start, bad environment: {problems}") from None
    if environment.production:
        missing = environment.missing_for_production()
        if missing:
            raise ImproperlyConfigured(
                "TicketFlow cannot start in production mode; set or fix these environment variables: "
                + ", ".join(missing)
            )
    return environment
