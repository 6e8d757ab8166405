"""Configuration classes; values come from the environment, never constants for secrets."""

from __future__ import annotations

import os


def normalise_database_url(url: str | None) -> str | None:
    """Point driver-less PostgreSQL URLs at psycopg 3; None means the SQLite default."""
    if not url:
        return None
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _int_env(name: str, default: int = 0) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


class Config:
    """Production-safe defaults."""

    #: `production` makes a missing SECRET_KEY fatal at start-up; anything else is development.
    APP_ENV = os.environ.get("APP_ENV", "development").strip().lower()
    #: None: create_app generates one once into instance/secret_key (never in production).
    SECRET_KEY = os.environ.get("SECRET_KEY")
    #: None: create_app uses SQLite in instance/service.db.
    SQLALCHEMY_DATABASE_URI = normalise_database_url(os.environ.get("DATABASE_URL"))
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    MAX_CONTENT_LENGTH = 20 * 1024 * 1024  # rosters are a few MB; anything larger is refused (413)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = 8 * 3600  # an officer's working day on one form
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_CN", "en")
    PASSWORD_HASH_METHOD: str | None = None  # None: werkzeug's default (scrypt)
    FIRMS_PER_PAGE = 25
    PLATFORM_NAME = os.environ.get("PLATFORM_NAME", "临平新城")
    #: Where export packs are kept (30 days); None: instance/exports.
    EXPORT_FOLDER = os.environ.get("EXPORT_FOLDER")
    #: A firm-list download of more firms than this is built in the background (about 1 s per 3,000).
    EXPORT_INLINE_LIMIT = int(os.environ.get("EXPORT_INLINE_LIMIT", "3000"))
    #: Reminder e-mails go out through this SMTP server when it is set; none are sent otherwise.
    MAIL_SERVER = os.environ.get("MAIL_SERVER")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "0") == "1"
    MAIL_SENDER = os.environ.get("MAIL_SENDER", "noreply@localhost")
    #: The address links in e-mails and the calendar feed point to, e.g. https://qy.example.cn.
    PUBLIC_URL = os.environ.get("PUBLIC_URL", "http://127.0.0.1:5000")
    #: How many proxies (nginx: 1) set each X-Forwarded-* header; 0 trusts none (werkzeug ProxyFix).
    PROXY_FIX_X_FOR = _int_env("PROXY_FIX_X_FOR")
    PROXY_FIX_X_PROTO = _int_env("PROXY_FIX_X_PROTO")
    PROXY_FIX_X_HOST = _int_env("PROXY_FIX_X_HOST")
    PROXY_FIX_X_PREFIX = _int_env("PROXY_FIX_X_PREFIX")
    #: Web worker processes serving the app (gunicorn.conf.py sets it); SQLite allows one.
    WEB_CONCURRENCY = _int_env("WEB_CONCURRENCY", 1)
    #: Failed sign-ins are counted here: Redis when REDIS_URL is set, else the app's database.
    REDIS_URL = os.environ.get("REDIS_URL")
    RATELIMIT_STORAGE_URI = REDIS_URL or "servicedb://"
    RATELIMIT_STRATEGY = "fixed-window"
    #: Prefix of every counter's key, so two apps can share one Redis.
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "service_app")
    #: Failed sign-ins allowed per account, and per client address, before sign-in is locked.
    LOGIN_LIMIT_PER_ACCOUNT = os.environ.get("LOGIN_LIMIT_PER_ACCOUNT", "5 per 15 minutes")
    LOGIN_LIMIT_PER_ADDRESS = os.environ.get("LOGIN_LIMIT_PER_ADDRESS", "20 per 15 minutes")
    #: How often a standby scheduler tries to become the leader, in seconds.
    SCHEDULER_LEADER_RETRY_SECONDS = float(os.environ.get("SCHEDULER_LEADER_RETRY_SECONDS", "5"))
    #: The scheduler's CPU niceness (0–19): its bulk jobs (large exports, the daily sweep, proposals)
    #: give way to officers' requests on a busy machine, and use what the web workers leave idle.
    SCHEDULER_NICE = _int_env("SCHEDULER_NICE", 10)


class TestConfig(Config):
    """Fast, isolated settings for the test suite."""

    TESTING = True
    WTF_CSRF_ENABLED = False
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # noqa: S105 - a method name; cheap hashing keeps tests fast
    SECRET_KEY = "test-secret-key"  # noqa: S105 - tests only
    SQLALCHEMY_DATABASE_URI = normalise_database_url(os.environ.get("TEST_DATABASE_URL"))
    SERVER_NAME = None
    APP_ENV = "testing"
    WEB_CONCURRENCY = 1
    PROXY_FIX_X_FOR = PROXY_FIX_X_PROTO = PROXY_FIX_X_HOST = PROXY_FIX_X_PREFIX = 0
    # Counters live in the test's rolled-back transaction; tests of Redis storage set their own.
    RATELIMIT_STORAGE_URI = "servicedb://"
