"""Chairtime's one settings module, driven by the environment (see config/env.py).

CHAIRTIME_ENV picks the defaults: "development" (the demo and local work), "test" (the
suite) or "production". Any single value can still be set by its own variable.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from config.env import ImproperSetting, env_bool, env_choice, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CHAIRTIME_VAR_DIR", str(BASE_DIR / "var")))
# Local state (the embedded database, test databases) lives here; a fresh clone has none.
VAR_DIR.mkdir(parents=True, exist_ok=True)

ENVIRONMENT = env_choice("CHAIRTIME_ENV", "development", ("development", "test", "production"))
IS_PRODUCTION = ENVIRONMENT == "production"

DEBUG = env_bool("CHAIRTIME_DEBUG", ENVIRONMENT == "development")
SECRET_KEY = env_str("CHAIRTIME_SECRET_KEY", "")
if not SECRET_KEY:
    if IS_PRODUCTION:
        raise ImproperSetting("CHAIRTIME_SECRET_KEY must be set in production")
    SECRET_KEY = "development-only-key-" + "x" * 40
ALLOWED_HOSTS = env_list("CHAIRTIME_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CHAIRTIME_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "template_partials",
    "axes",
    "django_q",
    "chairtime.core",
    "chairtime.tenancy",
    "chairtime.accounts",
    "chairtime.audit",
    "chairtime.marketing",
    "chairtime.clinical",
    "chairtime.billing",
    "chairtime.scheduling",
    "chairtime.patients",
    "chairtime.crm",
    "chairtime.care",
    "chairtime.messaging",
    "chairtime.waitlist",
    "chairtime.labs",
    "chairtime.frontdesk",
    "chairtime.analytics",
    "chairtime.simulation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "chairtime.accounts.middleware.SessionSecurityMiddleware",
    "chairtime.tenancy.middleware.ActiveBranchMiddleware",
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
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "chairtime.tenancy.context_processors.tenancy",
            ],
        },
    }
]

# --- Database ---------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'chairtime.sqlite3'}")
_database = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))
if _database["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the single writer; IMMEDIATE takes the write lock when a
    # transaction starts, so two writers queue on the busy timeout instead of failing with
    # "database is locked" half-way through (the read-then-write deadlock of DEFERRED).
    _database["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env_int("SQLITE_BUSY_TIMEOUT_SECONDS", 20, minimum=1),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        " PRAGMA foreign_keys=ON;",
    }
    # A file, not memory, so the worker process and the browser tests' server thread see
    # the same test database as the test itself.
    _database["TEST"] = {"NAME": str(VAR_DIR / env_str("SQLITE_TEST_NAME", "test.sqlite3"))}
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts and security --------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "analytics:home"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if ENVIRONMENT == "test":
    # Argon2 is deliberately slow; the suite creates thousands of users.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Lockout after repeated failures, counted per (username, address) pair: one person
# mistyping cannot lock out a whole clinic behind one shared address, and one address
# cannot lock out a user who logs in from elsewhere.
AXES_FAILURE_LIMIT = env_int("CHAIRTIME_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("CHAIRTIME_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
CHAIRTIME_PROXY_COUNT = env_int("CHAIRTIME_PROXY_COUNT", 0, minimum=0)
AXES_CLIENT_IP_CALLABLE = "chairtime.core.http.client_ip"
AXES_VERBOSE = False

# Idle timeout: the session lives SESSION_COOKIE_AGE past the last request.
SESSION_COOKIE_AGE = env_int("CHAIRTIME_SESSION_IDLE_MINUTES", 30, minimum=1) * 60
SESSION_SAVE_EVERY_REQUEST = True
# And however active, a session ends this long after login (a shared front-desk PC).
SESSION_MAX_AGE_SECONDS = env_int("CHAIRTIME_SESSION_MAX_HOURS", 12, minimum=1) * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

_secure_default = IS_PRODUCTION
SESSION_COOKIE_SECURE = env_bool("CHAIRTIME_SECURE_COOKIES", _secure_default)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("CHAIRTIME_SSL_REDIRECT", _secure_default)
SECURE_HSTS_SECONDS = env_int("CHAIRTIME_HSTS_SECONDS", 31536000 if _secure_default else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
if env_bool("CHAIRTIME_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content Security Policy: no inline script or style anywhere; everything is served
# from this origin (front-end libraries are vendored under static/vendor/).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# --- Languages, time, money -------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("zh-hans", _("Simplified Chinese")),
    ("vi", _("Vietnamese")),
    ("es", _("Spanish")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "chairtime_language"
USE_I18N = True
USE_TZ = True
# No USE_THOUSAND_SEPARATOR: it would also group ids rendered in templates ("1,000");
# figures are grouped explicitly with |intcomma, money with |money.
TIME_ZONE = "UTC"

# --- Static files -----------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# collectstatic is a production step; elsewhere files are served from static/ directly.
STATIC_ROOT = VAR_DIR / "staticfiles" if IS_PRODUCTION else None
# Outside production the files are served straight from static/ (no collectstatic step).
WHITENOISE_USE_FINDERS = not IS_PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if IS_PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Background work (django-q2, ORM broker: the same database, no extra server) -------
Q_CLUSTER = {
    "name": "chairtime",
    "orm": "default",
    "workers": env_int("CHAIRTIME_WORKERS", 2, minimum=1),
    "timeout": env_int("CHAIRTIME_TASK_TIMEOUT_SECONDS", 120, minimum=1),
    # A task not acknowledged within `retry` seconds (its worker died) is handed out again;
    # it must exceed the timeout so a slow task is not run twice.
    "retry": env_int("CHAIRTIME_TASK_RETRY_SECONDS", 180, minimum=2),
    "max_attempts": env_int("CHAIRTIME_TASK_MAX_ATTEMPTS", 5, minimum=1),
    "ack_failures": True,
    "catch_up": False,
    "poll": 0.5,
    "save_limit": 1000,
    "label": _("Background tasks"),
}
if Q_CLUSTER["retry"] <= Q_CLUSTER["timeout"]:  # type: ignore[operator]
    raise ImproperSetting("CHAIRTIME_TASK_RETRY_SECONDS must exceed CHAIRTIME_TASK_TIMEOUT_SECONDS")
# The waitlist's refill after a release is a queued task; the test suite runs no worker,
# so there it runs in the request after the commit instead (chairtime/waitlist/receivers.py).
WAITLIST_REFILL_INLINE = env_bool("CHAIRTIME_WAITLIST_REFILL_INLINE", ENVIRONMENT == "test")
# How often the day view and the meeting pages ask whether the book changed (ADR 14).
CHAIRTIME_LIVE_POLL_MS = env_int("CHAIRTIME_LIVE_POLL_MS", 10_000, minimum=250)

# --- Messaging (chairtime.messaging, ADR 10) ----------------------------------------------
# The transport per channel; "console" records to the outbox and sends nothing anywhere,
# so the demo and development never reach a real patient. A provider's address has no
# default: choosing its transport without one stops start-up.
MESSAGING_TRANSPORTS = {
    "sms": env_choice("CHAIRTIME_SMS_TRANSPORT", "console", ("console", "twilio")),
    "email": env_choice("CHAIRTIME_EMAIL_TRANSPORT", "console", ("console", "smtp")),
    "zalo": env_choice("CHAIRTIME_ZALO_TRANSPORT", "console", ("console", "zalo")),
    "wechat": env_choice("CHAIRTIME_WECHAT_TRANSPORT", "console", ("console", "wechat")),
}
MESSAGING_TWILIO = {
    "BASE_URL": env_str("CHAIRTIME_TWILIO_BASE_URL", ""),
    "ACCOUNT_SID": env_str("CHAIRTIME_TWILIO_ACCOUNT_SID", ""),
    "AUTH_TOKEN": env_str("CHAIRTIME_TWILIO_AUTH_TOKEN", ""),
    "FROM": env_str("CHAIRTIME_TWILIO_FROM", ""),
}
MESSAGING_ZALO = {
    "BASE_URL": env_str("CHAIRTIME_ZALO_BASE_URL", ""),
    "ACCESS_TOKEN": env_str("CHAIRTIME_ZALO_ACCESS_TOKEN", ""),
    "WEBHOOK_SECRET": env_str("CHAIRTIME_ZALO_WEBHOOK_SECRET", ""),
}
# Provider template ids per template code: "appointment_reminder=231234,staff_reply=231240"
MESSAGING_ZALO_TEMPLATES = env_list("CHAIRTIME_ZALO_TEMPLATES", [])
MESSAGING_WECHAT = {
    "BASE_URL": env_str("CHAIRTIME_WECHAT_BASE_URL", ""),
    "ACCESS_TOKEN": env_str("CHAIRTIME_WECHAT_ACCESS_TOKEN", ""),
    "WEBHOOK_SECRET": env_str("CHAIRTIME_WECHAT_WEBHOOK_SECRET", ""),
}
MESSAGING_WECHAT_TEMPLATES = env_list("CHAIRTIME_WECHAT_TEMPLATES", [])
# Where providers reach our webhooks (status callbacks, inbound): https://clinic.example
MESSAGING_PUBLIC_BASE_URL = env_str("CHAIRTIME_PUBLIC_BASE_URL", "")
MESSAGING_HTTP_TIMEOUT_SECONDS = env_int("CHAIRTIME_MESSAGING_HTTP_TIMEOUT_SECONDS", 10, minimum=1)
MESSAGING_DISPATCH: dict[str, float] = {
    "BATCH": env_int("CHAIRTIME_DISPATCH_BATCH", 20, minimum=1),
    # A claimed row belongs to its dispatcher this long; renewed just before each send, so
    # it must exceed the HTTP timeout (checked below).
    "LEASE_SECONDS": env_int("CHAIRTIME_DISPATCH_LEASE_SECONDS", 60, minimum=2),
    "POLL_SECONDS": env_int("CHAIRTIME_DISPATCH_POLL_MILLISECONDS", 1000, minimum=10) / 1000,
    "MAX_ATTEMPTS": env_int("CHAIRTIME_DISPATCH_MAX_ATTEMPTS", 8, minimum=1),
    "BACKOFF_SECONDS": env_int("CHAIRTIME_DISPATCH_BACKOFF_SECONDS", 30, minimum=1),
    "BACKOFF_CAP_SECONDS": env_int("CHAIRTIME_DISPATCH_BACKOFF_CAP_SECONDS", 3600, minimum=1),
    # An unknown outcome is looked up at the provider after this long (it needs a moment
    # to show a message it has just accepted).
    "RECONCILE_AFTER_SECONDS": env_int("CHAIRTIME_DISPATCH_RECONCILE_AFTER_SECONDS", 30, minimum=0),
}
if MESSAGING_DISPATCH["LEASE_SECONDS"] <= 2 * MESSAGING_HTTP_TIMEOUT_SECONDS:
    raise ImproperSetting(
        "CHAIRTIME_DISPATCH_LEASE_SECONDS must exceed twice CHAIRTIME_MESSAGING_HTTP_TIMEOUT_SECONDS"
    )
for _channel, _needs in (("sms", MESSAGING_TWILIO), ("zalo", MESSAGING_ZALO),
                         ("wechat", MESSAGING_WECHAT)):  # fmt: skip
    if MESSAGING_TRANSPORTS[_channel] != "console" and not _needs["BASE_URL"]:
        raise ImproperSetting(
            f"CHAIRTIME_{_channel.upper()}_TRANSPORT={MESSAGING_TRANSPORTS[_channel]} needs "
            f"CHAIRTIME_{MESSAGING_TRANSPORTS[_channel].upper()}_BASE_URL"
        )
EMAIL_HOST = env_str("CHAIRTIME_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("CHAIRTIME_EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("CHAIRTIME_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env_str("CHAIRTIME_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("CHAIRTIME_EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = MESSAGING_HTTP_TIMEOUT_SECONDS
DEFAULT_FROM_EMAIL = env_str("CHAIRTIME_EMAIL_FROM", "Chairtime <noreply@localhost>")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("CHAIRTIME_LOG_LEVEL", "WARNING")},
}

SILENCED_SYSTEM_CHECKS: list[str] = []
