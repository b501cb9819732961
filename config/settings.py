"""Settings, read from the environment (12-factor).

Every variable is optional on the embedded default: SQLite under ``var/``, files under
``var/media``, Celery tasks run eagerly in-process. Production (``REGISTRY_ENVIRONMENT=production``)
refuses to start with development defaults for secrets.
"""

import secrets
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config.structured_logging import configure_structlog, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("REGISTRY_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

ENVIRONMENT = env.str("REGISTRY_ENVIRONMENT", default="development")
IS_PRODUCTION = ENVIRONMENT == "production"
DEBUG = env.bool("DEBUG", default=not IS_PRODUCTION)


def _development_secret_key() -> str:
    """A random key kept under var/ so sessions survive restarts of `make run`."""
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if IS_PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when REGISTRY_ENVIRONMENT=production")
    SECRET_KEY = _development_secret_key()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if IS_PRODUCTION else ["*"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Absolute base for URLs handed to clients (download and upload links); root-relative when empty.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="").rstrip("/")

INSTALLED_APPS = [
    "config.admin_apps.RegistryAdminConfig",  # django.contrib.admin, with a dashboard
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "config",  # before staticfiles: its `runserver` keeps static paths inside (404, not 500)
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "guardian",
    "strawberry_django",
    "django_celery_beat",
    "django_structlog",
    "accounts",
    "registry",
    "scanning",
    "webhooks",
    "deployments",
    "audit",
    "mlflow_compat",
    "usage",
    "cleanup",
]

MIDDLEWARE = [
    "config.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves collected static files (admin, GraphiQL) from gunicorn, with no web server in front.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.middleware.CallerLogContextMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'registry.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Each thread keeps its connection 60 s unless DATABASE_URL says (`?conn_max_age=0`: one per
# request), checked before reuse: connecting (and, on SQLite, reading the schema again) cost
# more than an MLflow or GraphQL read itself.
DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the dev server read while a streamed upload writes.
    DATABASES["default"].setdefault("OPTIONS", {})["init_command"] = "PRAGMA journal_mode=WAL;"
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
GUARDIAN_RAISE_403 = False
ANONYMOUS_USER_NAME = None  # guardian: anonymous callers get no object permissions

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
# WhiteNoise reads it at startup: empty until `collectstatic`, but there (no warning).
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)
# The project's own files: GraphiQL's scripts, so /graphql/ needs no CDN.
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- Object storage -----------------------------------------------------------------------
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
USE_S3 = bool(AWS_STORAGE_BUCKET_NAME)
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))
if USE_S3:
    default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="us-east-1"),
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default="path"),
            "signature_version": "s3v4",
            "querystring_expire": env.int("DOWNLOAD_URL_TTL_SECONDS", default=300),
            "default_acl": None,
            "file_overwrite": True,  # keys are content addresses: same key, same bytes
        },
    }
else:
    default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    }
STORAGES = {
    "default": default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STORAGE_BACKEND_NAME = "s3" if USE_S3 else "filesystem"
# The S3 endpoint as clients reach it, when it differs from AWS_S3_ENDPOINT_URL (the server's
# view, e.g. http://minio:9000 inside docker-compose): presigned URLs are signed for it.
AWS_S3_PUBLIC_ENDPOINT_URL = env.str("AWS_S3_PUBLIC_ENDPOINT_URL", default="")

# --- Uploads and downloads ----------------------------------------------------------------
# Stream request bodies to disk beyond 2.5 MB so server memory stays flat.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# A folder of the registry's own (beside MEDIA_ROOT, so a spooled file is moved, not copied),
# which the hourly sweep of orphaned spooled bodies reads; in compose a volume web and worker
# share.
FILE_UPLOAD_TEMP_DIR = env.str("FILE_UPLOAD_TEMP_DIR", default=str(VAR_DIR / "upload-tmp"))
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
# A spooled body nobody has written to for this long belongs to a dead request.
UPLOAD_TEMP_FILE_MAX_AGE_SECONDS = env.int("UPLOAD_TEMP_FILE_MAX_AGE_SECONDS", default=24 * 3600)
# Django's handlers read multipart bodies 64 KiB at a time; larger reads cost the server's
# request reader (gunicorn's) far fewer copies per byte.
FILE_UPLOAD_HANDLERS = ["registry.upload_handlers.MemoryUploadHandler",
                        "registry.upload_handlers.TemporaryUploadHandler"]
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 2**20
REGISTRY_MAX_FILE_SIZE = env.int("REGISTRY_MAX_FILE_SIZE", default=50 * 2**30)
REGISTRY_DEFAULT_QUOTA_BYTES = env.int("REGISTRY_DEFAULT_QUOTA_BYTES", default=1024 * 2**30)
REGISTRY_DEFAULT_QUOTA_FILES = env.int("REGISTRY_DEFAULT_QUOTA_FILES", default=100_000)
DOWNLOAD_URL_TTL_SECONDS = env.int("DOWNLOAD_URL_TTL_SECONDS", default=300)
UPLOAD_SESSION_TTL_SECONDS = env.int("UPLOAD_SESSION_TTL_SECONDS", default=24 * 3600)
UPLOAD_SESSIONS_MAX_OPEN_PER_USER = env.int("UPLOAD_SESSIONS_MAX_OPEN_PER_USER", default=50)
# Blobs re-hashed by each run of the periodic storage verification (least recently first).
STORAGE_VERIFY_SAMPLE_SIZE = env.int("STORAGE_VERIFY_SAMPLE_SIZE", default=100)

# --- Tokens --------------------------------------------------------------------------------
ACCESS_TOKEN_LIFETIME = timedelta(seconds=env.int("ACCESS_TOKEN_LIFETIME_SECONDS", default=1800))
REFRESH_TOKEN_LIFETIME = timedelta(
    seconds=env.int("REFRESH_TOKEN_LIFETIME_SECONDS", default=7 * 24 * 3600)
)
# API tokens: the expiry when `createApiToken` gives none, and the longest one allowed.
API_TOKEN_DEFAULT_LIFETIME = timedelta(days=env.int("API_TOKEN_DEFAULT_LIFETIME_DAYS", default=90))
API_TOKEN_MAX_LIFETIME = timedelta(days=env.int("API_TOKEN_MAX_LIFETIME_DAYS", default=365))
# Failed logins allowed within the window, per account and per client address (the cache
# keeps the counts); past either limit logins are refused with `too_many_attempts`.
LOGIN_FAILURE_LIMIT_PER_ACCOUNT = env.int("LOGIN_FAILURE_LIMIT_PER_ACCOUNT", default=5)
LOGIN_FAILURE_LIMIT_PER_ADDRESS = env.int("LOGIN_FAILURE_LIMIT_PER_ADDRESS", default=20)
LOGIN_FAILURE_WINDOW = timedelta(seconds=env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=900))

# --- Tenancy -------------------------------------------------------------------------------
DEFAULT_TENANT_SLUG = env.str("DEFAULT_TENANT_SLUG", default="default")
# The scan policy of new tenants: "block" flagged files, or "warn" and keep them downloadable.
DEFAULT_SCAN_POLICY = env.str("DEFAULT_SCAN_POLICY", default="block")
if DEFAULT_SCAN_POLICY not in ("block", "warn"):
    raise ImproperlyConfigured("DEFAULT_SCAN_POLICY must be 'block' or 'warn'")

# --- GraphQL -------------------------------------------------------------------------------
STRAWBERRY_DJANGO = {
    "MUTATIONS_DEFAULT_HANDLE_ERRORS": True,
    "PAGINATION_DEFAULT_LIMIT": 100,
    "PAGINATION_MAX_LIMIT": 100,
}
GRAPHQL_MAX_PAGE_SIZE = 100
# What one document may cost (config/graphql_limits.py); each refusal has its own error code.
GRAPHQL_MAX_DOCUMENT_BYTES = env.int("GRAPHQL_MAX_DOCUMENT_BYTES", default=64 * 1024)
GRAPHQL_MAX_TOKENS = env.int("GRAPHQL_MAX_TOKENS", default=5000)
GRAPHQL_MAX_DEPTH = env.int("GRAPHQL_MAX_DEPTH", default=12)
GRAPHQL_MAX_ALIASES = env.int("GRAPHQL_MAX_ALIASES", default=30)
GRAPHQL_MAX_QUERY_COST = env.int("GRAPHQL_MAX_QUERY_COST", default=250_000)
# User regex filters (`regex`, `iRegex`): RE2 syntax, at most this long; on PostgreSQL each
# statement matching one is cancelled after this many milliseconds (`pattern_timeout`).
USER_PATTERN_MAX_LENGTH = env.int("USER_PATTERN_MAX_LENGTH", default=200)
USER_PATTERN_STATEMENT_TIMEOUT_MS = env.int("USER_PATTERN_STATEMENT_TIMEOUT_MS", default=2000)
# Introspection and "Did you mean" suggestions for callers without credentials.
GRAPHQL_ANONYMOUS_INTROSPECTION = env.bool("GRAPHQL_ANONYMOUS_INTROSPECTION",
                                           default=not IS_PRODUCTION)

# --- Celery --------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
# No broker configured: run tasks in-process, the embedded default.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    # Exact names are matched before patterns: the periodic scanning jobs only queue scans.
    "scanning.tasks.rescan_outdated_files_task": {"queue": "maintenance"},
    "scanning.tasks.requeue_stale_scans_task": {"queue": "maintenance"},
    "scanning.tasks.*": {"queue": "scanning"},
    "registry.tasks.*": {"queue": "maintenance"},
    "accounts.tasks.*": {"queue": "maintenance"},
    "webhooks.tasks.requeue_stale_webhook_deliveries_task": {"queue": "maintenance"},
    "audit.tasks.*": {"queue": "maintenance"},
    "cleanup.tasks.*": {"queue": "maintenance"},
    "webhooks.tasks.*": {"queue": "default"},
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
# Redis redelivers a task not acknowledged within this time (acks_late: a worker that died
# mid-task); keep it above the longest task's hard time limit.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT_SECONDS", default=3600),
}

# --- Scanning ------------------------------------------------------------------------------
# Past this a scan is recorded as an error (fail closed); a minute later its process is killed.
SCAN_TIME_LIMIT_SECONDS = env.int("SCAN_TIME_LIMIT_SECONDS", default=900)
# Pending files with no scan started for this long are queued again (a lost message).
SCAN_STALE_AFTER_SECONDS = env.int("SCAN_STALE_AFTER_SECONDS", default=1800)
# A file whose scans were interrupted this many times in a row (its worker crashed or was
# killed) is recorded as an error instead of being retried forever.
SCAN_MAX_ATTEMPTS = env.int("SCAN_MAX_ATTEMPTS", default=3)
# Files queued per run of the periodic rescan of files scanned by an older scanner version.
SCAN_RESCAN_BATCH_SIZE = env.int("SCAN_RESCAN_BATCH_SIZE", default=1000)

# --- Audit trail -------------------------------------------------------------------------
# Entries older than this many days are deleted by the purge-audit-entries beat job.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=365)

# --- Webhooks ------------------------------------------------------------------------------
# Webhook URLs must be https, unless this is off (the default while DEBUG is on).
WEBHOOK_REQUIRE_HTTPS = env.bool("WEBHOOK_REQUIRE_HTTPS", default=not DEBUG)
# Let deliveries reach 127.0.0.0/8 and ::1 (tests, a receiver on the same machine). Every
# other non-public address (private, link-local, cloud metadata, reserved) is always refused.
WEBHOOK_ALLOW_LOOPBACK = env.bool("WEBHOOK_ALLOW_LOOPBACK", default=False)
if IS_PRODUCTION and WEBHOOK_ALLOW_LOOPBACK:
    raise ImproperlyConfigured("WEBHOOK_ALLOW_LOOPBACK must be off in production")
WEBHOOK_CONNECT_TIMEOUT_SECONDS = env.float("WEBHOOK_CONNECT_TIMEOUT_SECONDS", default=3.0)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Attempts per delivery; the n-th retry waits BACKOFF * 2**(n-1) seconds, at most BACKOFF_MAX.
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=6)
WEBHOOK_RETRY_BACKOFF_SECONDS = env.int("WEBHOOK_RETRY_BACKOFF_SECONDS", default=30)
WEBHOOK_RETRY_BACKOFF_MAX_SECONDS = env.int("WEBHOOK_RETRY_BACKOFF_MAX_SECONDS", default=3600)
WEBHOOK_MAX_PER_TENANT = env.int("WEBHOOK_MAX_PER_TENANT", default=20)
# CA certificates (a PEM file) that receivers' certificates are checked against; empty:
# certifi's bundle.
WEBHOOK_CA_BUNDLE = env.str("WEBHOOK_CA_BUNDLE", default="")

# --- Cache ---------------------------------------------------------------------------------
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# GraphQL read queries answered from the cache until the next committed write
# (config/response_cache.py). The counter and answers must be shared by every process: on by
# default only with Redis.
GRAPHQL_RESPONSE_CACHE = env.bool("GRAPHQL_RESPONSE_CACHE", default=bool(REDIS_URL))
GRAPHQL_RESPONSE_CACHE_TIMEOUT = env.int("GRAPHQL_RESPONSE_CACHE_TIMEOUT", default=300)
GRAPHQL_RESPONSE_CACHE_MAX_BYTES = env.int("GRAPHQL_RESPONSE_CACHE_MAX_BYTES", default=1024 * 1024)

# --- Monitoring ----------------------------------------------------------------------------
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    from config import __version__
    from config.monitoring import init_sentry

    init_sentry(
        SENTRY_DSN,
        environment=ENVIRONMENT,
        release=env.str("SENTRY_RELEASE", default=f"model-registry@{__version__}"),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

# Bearer token that /metrics requires; without one, /metrics answers only outside production.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- Logs ----------------------------------------------------------------------------------
# JSON lines with the request id, tenant, user and token label; `console` for reading by eye.
LOG_FORMAT = env.str("LOG_FORMAT", default="console" if DEBUG else "json")
if LOG_FORMAT not in ("json", "console"):
    raise ImproperlyConfigured("LOG_FORMAT must be json or console")
configure_structlog()
LOGGING = logging_config(LOG_FORMAT, env.str("LOG_LEVEL", default="INFO"))
# django-structlog: the caller is bound by CallerLogContextMiddleware (tokens included), the
# request id was checked by RequestIdMiddleware, and the bound context travels with the tasks
# a request queues to a worker.
DJANGO_STRUCTLOG_USER_ID_FIELD = None
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True
DJANGO_STRUCTLOG_CELERY_ENABLED = not CELERY_TASK_ALWAYS_EAGER

if IS_PRODUCTION:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
