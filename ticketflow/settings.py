"""Django settings for TicketFlow, built from the environment (see ``ticketflow.config``).

Nothing else in the code base reads ``os.environ``: services and handlers read
``django.conf.settings``, which this module derives once, here.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from ticketflow.config import EventOptions, load_environment, local_secret
from ticketflow.routers import database_routers

ENV = load_environment()

BASE_DIR = Path(__file__).resolve().parent.parent
# Local state (SQLite files, the embedded broker's spool, the checkout's secret key). Importing
# settings creates nothing: whatever writes there first creates the folder it needs.
VAR_DIR = (ENV.TICKETFLOW_VAR or BASE_DIR / "var").resolve()

SECRET_KEY = ENV.DJANGO_SECRET_KEY or local_secret(VAR_DIR, "django")
TICKETFLOW_ENV = ENV.TICKETFLOW_ENV
DEBUG = ENV.TICKETFLOW_ENV == "development"
ALLOWED_HOSTS = [host.strip() for host in ENV.ALLOWED_HOSTS.split(",") if host.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in ENV.CSRF_TRUSTED_ORIGINS.split(",") if o.strip()]
PUBLIC_BASE_URL = ENV.PUBLIC_BASE_URL.rstrip("/")
# How many reverse proxies stand in front of us: forwarded headers are believed that far only.
NUM_PROXIES = ENV.NUM_PROXIES

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "csp",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_prometheus",
    "ticketflow.messaging",
    "relay",
    "apps.accounts",
    "apps.catalog",
    "apps.inventory",
    "apps.bookings",
    "apps.payments",
    "apps.notifications",
    "apps.checkin",
    "apps.waitingroom",
    "apps.demo",
    "apps.storefront",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "ticketflow.observability.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "ticketflow.urls"
WSGI_APPLICATION = "ticketflow.wsgi.application"
ASGI_APPLICATION = "ticketflow.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Databases ------------------------------------------------------------------------------
# Two aliases. "default" holds the relational contexts; "documents" the document contexts
# (MongoDB in production, a second PostgreSQL database in CI, SQLite when embedded).


def _sqlite(name: str) -> dict[str, object]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / name,
        "OPTIONS": {
            # WAL and IMMEDIATE transactions let web, relay and worker share one file without
            # "database is locked" errors under the embedded default's modest load.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        },
        "TEST": {"NAME": VAR_DIR / f"test_{name}"},
    }


def _postgres(name: str) -> dict[str, object]:
    options: dict[str, object] = {
        "connect_timeout": 5,
        "application_name": "ticketflow",
        # A request or handler waits at most 5 s for a row lock, then fails fast (and a
        # handler is retried) instead of piling up behind a stuck transaction.
        "options": "-c lock_timeout=5s",
    }
    if ENV.POSTGRES_POOL_SIZE:
        options["pool"] = {"min_size": 1, "max_size": ENV.POSTGRES_POOL_SIZE, "timeout": 10}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": ENV.POSTGRES_HOST,
        "PORT": ENV.POSTGRES_PORT,
        "USER": ENV.POSTGRES_USER,
        "PASSWORD": ENV.POSTGRES_PASSWORD or "",
        "NAME": name,
        # A pool hands connections out per request; without one, each thread keeps its own.
        "CONN_MAX_AGE": 0 if ENV.POSTGRES_POOL_SIZE else 60,
        "CONN_HEALTH_CHECKS": not ENV.POSTGRES_POOL_SIZE,
        "OPTIONS": options,
    }


def _mongo(uri: str) -> dict[str, object]:
    return {
        "ENGINE": "django_mongodb_backend",
        "HOST": uri,
        "NAME": ENV.MONGO_DB,
        "OPTIONS": {"serverSelectionTimeoutMS": 5000, "retryWrites": True},
    }


DATABASES = {
    "default": _postgres(ENV.POSTGRES_DB) if ENV.POSTGRES_HOST else _sqlite("ticketflow.sqlite3"),
}
if ENV.mongo_uri:
    DATABASES["documents"] = _mongo(ENV.mongo_uri)
elif ENV.POSTGRES_HOST and ENV.POSTGRES_DOCUMENTS_DB:
    DATABASES["documents"] = _postgres(ENV.POSTGRES_DOCUMENTS_DB)
else:
    DATABASES["documents"] = _sqlite("documents.sqlite3")

if DATABASES["documents"]["ENGINE"] == "django_mongodb_backend":
    INSTALLED_APPS.insert(INSTALLED_APPS.index("ticketflow.messaging"), "django_mongodb_backend")

# Which alias owns each bounded context. The routers, the event kernel (outbox, inbox) and
# the architecture tests all read this one map.
CONTEXT_DATABASES = {
    "accounts": "default",
    "inventory": "default",
    "bookings": "default",
    "catalog": "documents",
    "payments": "documents",
    "notifications": "documents",
    # Door scans lock one ticket row per scan and rely on unique constraints: relational.
    "checkin": "default",
    # The waiting room's projection of queue settings; the queues themselves are in Redis.
    "waitingroom": "default",
}

DATABASE_ROUTERS = database_routers(CONTEXT_DATABASES)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, seat claims ---------------------------------------------------------------------

# The embedded default's seat claims (ticketflow.seat_claims): a file every local process
# shares, since a per-process cache would let two web workers admit the same seat.
SEAT_CLAIMS_FILE = VAR_DIR / "claims.sqlite3"
# The embedded default's waiting-room queues (apps.waitingroom.store), shared the same way.
WAITING_ROOM_FILE = VAR_DIR / "waitingroom.sqlite3"
# Keys of side-by-side deployments (and test runs) on one Redis keep apart, as their topics do.
REDIS_NAMESPACE = ENV.KAFKA_NAMESPACE

REDIS_URL = ENV.redis_url
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "tf",
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
                # Threads beyond the pool's size wait for a connection instead of failing.
                "CONNECTION_POOL_CLASS": "redis.BlockingConnectionPool",
                "CONNECTION_POOL_KWARGS": {"max_connections": 100, "timeout": 5, "health_check_interval": 30},
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "ticketflow",
        }
    }
# Rate-limit counters (ticketflow.ratelimit) must be shared by every web process: Redis, or on
# the embedded default a file cache they all read.
CACHES["ratelimit"] = (
    {**CACHES["default"], "KEY_PREFIX": "tf"}
    if REDIS_URL
    else {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "ratelimit"),
    }
)

# --- Events ---------------------------------------------------------------------------------

TICKETFLOW_EVENTS: EventOptions = {
    "TRANSPORT": "kafka" if ENV.KAFKA_BOOTSTRAP_SERVERS else "inprocess",
    "BOOTSTRAP_SERVERS": ENV.KAFKA_BOOTSTRAP_SERVERS,
    "PARTITIONS": ENV.KAFKA_TOPIC_PARTITIONS,
    "REPLICATION_FACTOR": ENV.KAFKA_REPLICATION_FACTOR,
    "NAMESPACE": ENV.KAFKA_NAMESPACE,
    "RELAY_BATCH_SIZE": 500,
    "RELAY_POLL_INTERVAL": 0.5 if ENV.KAFKA_BOOTSTRAP_SERVERS else 0.1,
    "RELAY_LINGER_SECONDS": 0.005,
    "CONSUMER_MAX_ATTEMPTS": 4,
    "CONSUMER_BATCH_SIZE": ENV.CONSUMER_BATCH_SIZE,
    "OUTBOX_RETENTION_DAYS": 7,
    "INBOX_RETENTION_DAYS": 14,
    "CONSUMER_BACKOFF_SECONDS": 0.2,
}

# --- Sales ----------------------------------------------------------------------------------

# However long an event asks for, a hold never outlives this: unpaid seats go back on sale.
HOLD_MAX_MINUTES = 30

# One account may have at most this many bookings waiting for payment (PENDING or seats
# held) across all events; each event also caps the seats one buyer has of it (catalog's
# max_active_seats_per_buyer). Both are answered 409 at the door (docs/security.md).
MAX_UNPAID_BOOKINGS_PER_BUYER = 5

# --- Background work ------------------------------------------------------------------------

if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
else:
    CELERY_BROKER_URL = "filesystem://localhost//"
    _spool = VAR_DIR / "celery"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_spool / "queue"),
        "data_folder_out": str(_spool / "queue"),
        "processed_folder": str(_spool / "processed"),
        "control_folder": str(_spool / "control"),
        "store_processed": False,
    }
if REDIS_URL:
    # acks_late on Redis: a message a killed worker held comes back after the visibility
    # timeout (Kombu's default is an hour). Restores are checked every few seconds, not every
    # 100 (the default interval times the default throttle). Tasks running longer than the
    # timeout, or waiting longer for their countdown, are handed out again: every task here
    # is idempotent (the notification claim makes a second copy a no-op).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": ENV.CELERY_VISIBILITY_TIMEOUT,
        "unacked_restore_interval": max(1, min(10, ENV.CELERY_VISIBILITY_TIMEOUT // 6)),
        "unacked_restore_throttle": 1,
    }
CELERY_TASK_DEFAULT_QUEUE = ENV.CELERY_QUEUE
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# The saga's safety net, run by beat and by a thread of every relay and consumer process
# (ticketflow.messaging.sweeps), so holds expire and stuck bookings end while beat is down.
TICKETFLOW_SWEEPS: dict[str, dict[str, object]] = {
    "bookings.expire_overdue_holds": {"function": "apps.bookings.tasks.expire_overdue_holds", "every": 10.0},
    "bookings.time_out_pending": {"function": "apps.bookings.tasks.time_out_pending", "every": 30.0},
    "inventory.release_lapsed_holds": {
        "function": "apps.inventory.tasks.release_lapsed_holds",
        "every": 30.0,
    },
    "inventory.lapse_waitlist_offers": {
        "function": "apps.inventory.tasks.lapse_waitlist_offers",
        "every": 15.0,
    },
    "notifications.requeue_stuck": {
        "function": "apps.notifications.tasks.requeue_stuck_notifications",
        "every": 60.0,
    },
}
TICKETFLOW_SWEEPS_IN_WORKERS = True
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    **{name: {"task": name, "schedule": sweep["every"]} for name, sweep in TICKETFLOW_SWEEPS.items()},
    "reconcile-seat-claims": {"task": "inventory.reconcile_seat_claims", "schedule": 60.0},
    "payments-reconcile-pending": {"task": "payments.reconcile_pending", "schedule": 60.0},
    "prune-outbox-and-inbox": {"task": "messaging.prune", "schedule": 3600.0},
    # Reads admit lazily too, so the queue moves on if beat falls behind.
    "waitingroom-admit": {"task": "waitingroom.admit", "schedule": 2.0},
}
# A booking still PENDING this long after its request lost its booking.initiated or its
# seats.locked (dead-lettered, or an outage longer than this): it ends FAILED (timed_out).
BOOKING_PENDING_TIMEOUT = timedelta(minutes=5)
# Seats still LOCKED this long after their hold ran out lost their release (bookings'
# expiry normally releases them at once): inventory puts them back on sale itself.
HOLD_SWEEP_GRACE = timedelta(minutes=2)
# A notification SENDING for longer than this belongs to a worker that died mid-send.
NOTIFICATION_SEND_LEASE = timedelta(seconds=ENV.NOTIFICATION_SEND_LEASE_SECONDS)

# --- Mail -----------------------------------------------------------------------------------

DEFAULT_FROM_EMAIL = ENV.EMAIL_FROM
SERVER_EMAIL = ENV.EMAIL_FROM
if ENV.SMTP_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = ENV.SMTP_HOST
    EMAIL_PORT = ENV.SMTP_PORT
    EMAIL_HOST_USER = ENV.SMTP_USER
    EMAIL_HOST_PASSWORD = ENV.SMTP_PASSWORD
    EMAIL_USE_TLS = ENV.SMTP_USE_TLS
    EMAIL_TIMEOUT = 10
else:
    # Embedded default: every message lands as a file under var/mail to be read at leisure.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"

# --- Payments -------------------------------------------------------------------------------

# Mixed values, read by key (and by name in apps.payments.services._option).
PAYMENTS: dict[str, Any] = {
    "PROVIDER": "stripe" if ENV.STRIPE_SECRET_KEY else "simulated",
    "STRIPE_SECRET_KEY": ENV.STRIPE_SECRET_KEY,
    "STRIPE_PUBLISHABLE_KEY": ENV.STRIPE_PUBLISHABLE_KEY,
    "STRIPE_WEBHOOK_SECRET": ENV.STRIPE_WEBHOOK_SECRET,
    "STRIPE_API_BASE": ENV.STRIPE_API_BASE,
    "WEBHOOK_TOLERANCE_SECONDS": 300,
}

# --- Auth and API ---------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out address or account before a password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "storefront:login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.SignInJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # The browsable API is a development aid; production answers JSON only.
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        *([] if ENV.production else ["rest_framework.renderers.BrowsableAPIRenderer"]),
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "ticketflow.api.Pagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "ticketflow.schema.AutoSchema",
    "EXCEPTION_HANDLER": "ticketflow.errors.exception_handler",
    # Every throttle counts in ticketflow.ratelimit, shared with the pages; a view opts in by
    # naming a ``throttle_scope`` from RATE_LIMITS.
    "DEFAULT_THROTTLE_CLASSES": ["ticketflow.ratelimit.ScopedLimit"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "NUM_PROXIES": NUM_PROXIES,
}

# Requests per window, per scope (django-ratelimit's syntax: "30/m", "5/15m"), for the API
# and the pages alike (ticketflow.ratelimit). "login" counts per address, "login-account" per
# email address tried, whatever address it comes from.
RATE_LIMITS = {
    "login": "30/m",
    "login-account": "10/15m",
    "register": "20/m",
    "token-refresh": "30/m",
    "password-change": "5/15m",
    "booking": "60/m",
    "payment-refresh": "30/m",
}
RATELIMIT_USE_CACHE = "ratelimit"
RATELIMIT_CACHE_PREFIX = f"{REDIS_NAMESPACE}rl:"

# django-axes: failed session and admin sign-ins (and the API's, which authenticate the same
# way), in the database so a lockout survives a cache outage. Either ten failures from one
# address or ten against one account lock that address or account for 15 minutes.
AXES_FAILURE_LIMIT = 10
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
# The same client address as every rate limit (NUM_PROXIES honoured), the same email folding
# as the login, and a lockout answered as a page or the JSON error shape.
AXES_CLIENT_IP_CALLABLE = "apps.accounts.lockout.client_address"
AXES_USERNAME_CALLABLE = "apps.accounts.lockout.attempted_email"
AXES_LOCKOUT_CALLABLE = "apps.accounts.lockout.lockout_response"
AXES_SENSITIVE_PARAMETERS = ["password", "current_password", "new_password"]


SIMPLE_JWT = {
    "SIGNING_KEY": ENV.JWT_SECRET or local_secret(VAR_DIR, "jwt"),
    "ALGORITHM": "HS256",
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=ENV.JWT_ACCESS_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(hours=ENV.JWT_EXPIRY_HOURS),
    # Each refresh returns a new refresh token and blacklists the one spent (accounts.services.sign_in_refresh).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "AUDIENCE": "ticketflow-api",
    "ISSUER": PUBLIC_BASE_URL,
    # A token names a hash of the password it was issued under: a new password voids it.
    "CHECK_REVOKE_TOKEN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "sub",
}

# Email verification links stay valid this long (apps.accounts.services).
EMAIL_VERIFICATION_MAX_AGE = timedelta(days=7)

SPECTACULAR_SETTINGS = {
    "TITLE": "TicketFlow API",
    "DESCRIPTION": "Sell and manage event tickets without overselling.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # In production the schema and its docs page are for staff only.
    "SERVE_PERMISSIONS": [
        "rest_framework.permissions.IsAdminUser" if ENV.production else "rest_framework.permissions.AllowAny"
    ],
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from the drf-spectacular-sidecar package: the docs page works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # A ticket's status reads the same in the booking API and at the door: one enum.
    "ENUM_NAME_OVERRIDES": {
        "TicketStatusEnum": "apps.checkin.models.TicketStatus",
        "EventStatusEnum": "apps.catalog.models.EventStatus",
        "BookingTicketStatusEnum": "apps.bookings.models.BookingTicket.Status",
        "TransferStatusEnum": "apps.bookings.models.TicketTransfer.Status",
    },
}

# --- Internationalisation, static files -----------------------------------------------------

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# collectstatic fills it (the image does at build time). Outside production nothing is
# collected: WhiteNoise serves from the finders and looks files up per request, so the folder
# need not exist.
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if ENV.production
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not ENV.production
WHITENOISE_AUTOREFRESH = not ENV.production

# --- Security -------------------------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if ENV.production:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = ENV.HTTPS_REDIRECT
    # Probes and Prometheus speak plain HTTP inside the cluster.
    SECURE_REDIRECT_EXEMPT = [r"^health$", r"^metrics$"]
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
# X-Forwarded-Proto is a client's to forge unless a proxy we trust overwrites it.
if NUM_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Where /metrics and the detailed /health answer in production; anywhere else in development.
METRICS_ALLOWED_NETWORKS = (
    [network.strip() for network in ENV.METRICS_ALLOWED_NETWORKS.split(",") if network.strip()]
    if ENV.production
    else []
)

# A Content Security Policy (django-csp): our own scripts and styles only, plus what Stripe.js
# needs on the checkout page (its script, its frames, its API). Reported, not enforced, while
# DEBUG is on, so Django's debug pages keep their inline styles.
_STRIPE = ["https://js.stripe.com", "https://*.js.stripe.com"]
_CSP = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", *_STRIPE],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "https://*.stripe.com"],
        "font-src": ["'self'"],
        "connect-src": ["'self'", "https://api.stripe.com"],
        "frame-src": [*_STRIPE, "https://hooks.stripe.com"],
        "worker-src": ["'self'"],
        "manifest-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
if DEBUG:
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _CSP
else:
    CONTENT_SECURITY_POLICY = _CSP

# --- Observability --------------------------------------------------------------------------

PROMETHEUS_ENABLED = ENV.PROMETHEUS_ENABLED
PROMETHEUS_MULTIPROC_DIR = ENV.PROMETHEUS_MULTIPROC_DIR
PROMETHEUS_EXPORT_MIGRATIONS = False
# Read from the database on each scrape of /metrics (see ticketflow.metrics).
METRICS_COLLECTORS = [
    "apps.checkin.metrics.CheckinCollector",
    "apps.waitingroom.metrics.WaitingRoomCollector",
]
OTEL_EXPORTER_OTLP_ENDPOINT = ENV.OTEL_EXPORTER_OTLP_ENDPOINT
OTEL_SERVICE_NAME = ENV.OTEL_SERVICE_NAME

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "ticketflow.observability.LogContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "console": {
            "format": "%(asctime)s %(levelname)-7s %(name)s %(message)s [trace=%(trace_id)s]",
        },
    },
    "handlers": {
        "stream": {
            "class": "logging.StreamHandler",
            "formatter": ENV.LOG_FORMAT,
            "filters": ["context"],
        },
    },
    "root": {"handlers": ["stream"], "level": ENV.LOG_LEVEL.upper()},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "kafka": {"level": "WARNING"},
    },
}
