"""casevote settings: one file, driven by environment variables.

Every value a deployment changes comes from the environment (see `.env.example`);
the helpers below fail loudly on a value they cannot read instead of guessing.
"""

import base64
import ipaddress
import os
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false).")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_aes_key(name: str) -> str:
    """WeChat's EncodingAESKey: empty, or 43 characters of base64 for 32 bytes. A bad one
    stops the start (every pushed event would otherwise fail)."""
    value = os.environ.get(name, "")
    if not value:
        return value
    try:
        size = len(base64.b64decode(value + "=", validate=True))
    except ValueError:
        size = 0
    if len(value) != 43 or size != 32:
        raise ImproperlyConfigured(f"{name} must be the 43 characters WeChat shows.")
    return value


def env_networks(name: str) -> list[str]:
    """Addresses or networks (203.0.113.7, 10.0.0.0/8, ::1): a bad one stops the start."""
    networks = env_list(name)
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {network!r} is not an address or network."
            ) from None
    return networks


def env_origin(name: str) -> str:
    """A site's origin, "https://vote.example.cn" (scheme and host, a port at most, no
    path, no trailing slash), or empty: a bad one stops the start."""
    raw = os.environ.get(name, "").strip()
    if raw and not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+", raw):
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not an origin: write it as https://vote.example.cn "
            "(scheme and host, no path and no trailing slash)."
        )
    return raw


def _env_number(name: str, default, parse, what: str):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return parse(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not {what}.") from None


def env_int(name: str, default: int) -> int:
    return _env_number(name, default, int, "an integer")


def env_float(name: str, default: float) -> float:
    return _env_number(name, default, float, "a number")


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see .env.example).")
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"  # noqa: S105

CSRF_FAILURE_VIEW = "casevote.views.csrf_failure"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # Django's admin with the staff sign-in's site as `admin.site` (signin/admin.py).
    "signin.apps.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    # django-axes and django-otp's TOTP devices, under Chinese headings (signin/apps.py).
    "signin.apps.SignInRecordsConfig",
    "django_otp",
    "signin.apps.TOTPDevicesConfig",
    "signin",
    "cases",
    "ballots",
    "reports",
    "tools",
]

MIDDLEWARE = [
    # Logs once which client address the site believes, and an X-Forwarded-For from an
    # unlisted proxy (ballots/network.py).
    "ballots.network.ProxyWatchMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Django's CSP middleware, building each policy once (casevote/middleware.py).
    "casevote.middleware.ContentSecurityPolicyMiddleware",
    "casevote.middleware.DatabaseUnavailableMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Below the CSP middleware: the pages with a WeChat share card allow WeChat's SDK host.
    "ballots.follow.share_csp.ShareCardPolicyMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "casevote.urls"

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
                "cases.context_processors.campaign",
            ],
        },
    },
]

WSGI_APPLICATION = "casevote.wsgi.application"

# Database: SQLite file in the project folder unless DATABASE_URL says otherwise.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock when a transaction starts, so two writers
    # queue on the busy timeout instead of failing with "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# django-axes first: it refuses a locked-out sign-in before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# One language. Django translates into LANGUAGE_CODE wherever nothing else is activated,
# so there is no LocaleMiddleware: it only chooses among several LANGUAGES, and cost
# every request more than any other middleware (make bench). A test checks that a
# browser asking for English still gets Chinese pages and a Chinese admin.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
    # Reporters' screenshots (reports/): private, served only to the committee through a
    # view that checks permission. Production may point this at a private bucket
    # (django-storages; README, Reports to the committee).
    "reports": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": os.environ.get(
                "CASEVOTE_PRIVATE_MEDIA_ROOT", str(BASE_DIR / "private-media")
            ),
            "base_url": "/no-public-url/",
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    },
}

# Each worker caches pages in its own memory ("default"); what every worker of every node
# must agree on lives in the "shared" cache (casevote/sharedcache.py): the content token
# that retires those copies (casevote/freshness.py), WeChat's tokens and their locks, the
# breaker, the tally, posters and the report look-up limit. In production it is Redis
# (CASEVOTE_SHARED_CACHE_URL=redis://host:6379/0, Django's RedisCache); without it, a
# folder on this machine (`make serve`; one machine only, and `check --deploy` says so).
# A malformed URL is a system-check error (casevote.E030): the site does not start.
CASEVOTE_SHARED_CACHE_URL = os.environ.get("CASEVOTE_SHARED_CACHE_URL", "").strip()
# Seconds to wait for Redis to connect or answer before the site degrades (the README's
# "When Redis is away"): short, so that a lost Redis never holds a request for long.
CASEVOTE_SHARED_CACHE_TIMEOUT = env_float("CASEVOTE_SHARED_CACHE_TIMEOUT", 0.5)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "shared": (
        {
            "BACKEND": "casevote.sharedcache.RedisSharedCache",
            "LOCATION": CASEVOTE_SHARED_CACHE_URL,
            "OPTIONS": {
                "socket_connect_timeout": CASEVOTE_SHARED_CACHE_TIMEOUT,
                "socket_timeout": CASEVOTE_SHARED_CACHE_TIMEOUT,
            },
        }
        if CASEVOTE_SHARED_CACHE_URL
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": os.environ.get("CASEVOTE_SHARED_CACHE_DIR", str(BASE_DIR / ".cache")),
        }
    ),
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # The level and logger on each line: a warning must read as one in gunicorn's log.
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # django-axes logs each sign-in's bookkeeping at INFO; failures and lockouts are WARNING.
    "loggers": {"axes": {"level": "WARNING"}},
}

# --- Security -----------------------------------------------------------------
# Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER=1 (it then trusts
# X-Forwarded-Proto: only do so when the proxy overwrites that header).
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Production turns these on (see .env.example); off by default so that a local
# http:// run (make serve, tests) works.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No inline script or style anywhere: everything comes from our own static files.
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
    "base-uri": ["'none'"],
    "object-src": ["'none'"],
}

# --- Staff sign-in (the admin) ----------------------------------------------------
# Lockout (django-axes): after CASEVOTE_LOGIN_FAILURE_LIMIT failed sign-ins for one account
# from one address, that account is refused from that address until
# CASEVOTE_LOGIN_LOCKOUT_MINUTES have passed without another try. Per account *and*
# address, so a guesser cannot lock the committee out from elsewhere, nor one office's
# NAT lock out everyone behind it; the address is the one the vote trusts
# (ballots.network: REMOTE_ADDR unless it is one of CASEVOTE_TRUSTED_PROXIES).
AXES_FAILURE_LIMIT = env_int("CASEVOTE_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("CASEVOTE_LOGIN_LOCKOUT_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "signin.lockout.client_ip"
AXES_LOCKOUT_CALLABLE = "signin.lockout.locked_out"
# A successful sign-in forgets that account's earlier failures from that address.
AXES_RESET_ON_SUCCESS = True
# Attempts are forgotten after the lockout period; the failure log keeps every failure
# (up to 1,000 per account) for the committee to read.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# Kept out of the stored form data and the logs, with axes' defaults.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp_token"]
# No banner on every manage.py command; failures and lockouts are still logged.
AXES_VERBOSE = False
# Two-factor sign-in (django-otp, TOTP): on, the admin asks for the code of a device
# registered to the account, and a session signed in with a password alone is refused.
# Off by default so that `make serve` and the tests sign in with a password; production
# turns it on once every staff account has a device (README, Staff sign-in protection).
CASEVOTE_STAFF_2FA = env_bool("CASEVOTE_STAFF_2FA", False)
# The name authenticator apps show next to the account.
OTP_TOTP_ISSUER = "投票组委会管理"

# The campaign's public name, shown in every page's header and <title>.
CASEVOTE_CAMPAIGN_NAME = os.environ.get(
    "CASEVOTE_CAMPAIGN_NAME", "全国城乡社区高质量发展典型案例候选展示投票"
)
# The site's public origin (https://vote.example.cn, no trailing slash): the absolute
# addresses in posters' QR codes and share cards come from it, never from a request's
# Host header. Empty: http://<first ALLOWED_HOSTS entry>:8000 (runserver), and
# `check --deploy` warns (cases.W010).
CASEVOTE_PUBLIC_ORIGIN = env_origin("CASEVOTE_PUBLIC_ORIGIN")

# --- Brushing alerts (ballots/alerts.py, manage.py watch_brushing) -------------
# Who hears when a case's verdict rises (docs/detection-alerts.md). Each channel is
# optional: empty means off. E-mail goes to these recipients (comma-separated) through
# Django's mail and the SMTP server below.
CASEVOTE_ALERT_EMAILS = env_list("CASEVOTE_ALERT_EMAILS")
# A WeChat Work (企业微信) group robot's whole webhook URL
# (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...): a secret, environment only.
CASEVOTE_ALERT_WECOM_WEBHOOK = os.environ.get("CASEVOTE_ALERT_WECOM_WEBHOOK", "")
# A channel that fails is retried at each round of the watcher, this many times in all.
CASEVOTE_ALERT_MAX_ATTEMPTS = env_int("CASEVOTE_ALERT_MAX_ATTEMPTS", 5)
# Seconds to wait for the robot's or the SMTP server's answer.
CASEVOTE_ALERT_TIMEOUT = env_float("CASEVOTE_ALERT_TIMEOUT", 10.0)
# Django's mail, over SMTP, from the standard variables EMAIL_HOST, EMAIL_PORT,
# EMAIL_HOST_USER, EMAIL_HOST_PASSWORD and EMAIL_USE_TLS. Django 6.1 configures mail
# through MAILERS (the EMAIL_* settings are deprecated), so they are read into it here.
MAILERS = {
    "default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": os.environ.get("EMAIL_HOST", "localhost"),
            "port": env_int("EMAIL_PORT", 25),
            "username": os.environ.get("EMAIL_HOST_USER", ""),
            "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
            "use_tls": env_bool("EMAIL_USE_TLS", False),
            "timeout": CASEVOTE_ALERT_TIMEOUT,
        },
    }
}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "webmaster@localhost")

# --- Voting -------------------------------------------------------------------
# Which follow gate decides who may vote (see ballots/follow/__init__.py).
CASEVOTE_FOLLOW_BACKEND = os.environ.get(
    "CASEVOTE_FOLLOW_BACKEND", "ballots.follow.local.LocalFollowBackend"
)
# The local gate lets anyone declare they follow the account: a demonstration. With
# DEBUG off it is a system-check error (the server refuses to start) unless this says
# the site is a demonstration (`make serve` does; every page of that gate says so).
CASEVOTE_DEMO_GATE = env_bool("CASEVOTE_DEMO_GATE", False)
# New followers (identities) one address may create per hour, whichever gate.
CASEVOTE_FOLLOWS_PER_ADDRESS_HOURLY = env_int("CASEVOTE_FOLLOWS_PER_ADDRESS_HOURLY", 30)
# The WeChat gate (ballots.follow.wechat.WeChatFollowBackend): the official account's
# app id and secret (the secret from the environment only, never a file in the repo),
# where WeChat's API and authorisation page are (tests point them at a fake server),
# how long to wait for an answer, and how long a "still following" answer is reused.
CASEVOTE_WECHAT_APP_ID = os.environ.get("CASEVOTE_WECHAT_APP_ID", "")
CASEVOTE_WECHAT_APP_SECRET = os.environ.get("CASEVOTE_WECHAT_APP_SECRET", "")
CASEVOTE_WECHAT_API_BASE = os.environ.get("CASEVOTE_WECHAT_API_BASE", "https://api.weixin.qq.com")
CASEVOTE_WECHAT_AUTHORIZE_URL = os.environ.get(
    "CASEVOTE_WECHAT_AUTHORIZE_URL", "https://open.weixin.qq.com/connect/oauth2/authorize"
)
CASEVOTE_WECHAT_TIMEOUT = env_float("CASEVOTE_WECHAT_TIMEOUT", 5.0)
# All the WeChat calls of one request together (a callback makes up to four) end within
# this many seconds, well inside gunicorn's 30 s; after CASEVOTE_WECHAT_BREAKER_FAILURES
# outages within CASEVOTE_WECHAT_BREAKER_SECONDS, WeChat is not asked for that long.
CASEVOTE_WECHAT_DEADLINE = env_float("CASEVOTE_WECHAT_DEADLINE", 4.0)
CASEVOTE_WECHAT_BREAKER_FAILURES = env_int("CASEVOTE_WECHAT_BREAKER_FAILURES", 3)
CASEVOTE_WECHAT_BREAKER_SECONDS = env_int("CASEVOTE_WECHAT_BREAKER_SECONDS", 30)
# CASEVOTE_PUBLIC_ORIGIN (above) is also where WeChat sends visitors back to (the
# callback), never the request's Host: its host is the account's 网页授权域名. The
# MP_verify_*.txt file WeChat asks for when that domain is set is served at /<its name>
# from this path.
CASEVOTE_WECHAT_VERIFY_FILE = os.environ.get("CASEVOTE_WECHAT_VERIFY_FILE", "")
CASEVOTE_WECHAT_SUBSCRIPTION_CACHE_SECONDS = env_int(
    "CASEVOTE_WECHAT_SUBSCRIPTION_CACHE_SECONDS", 300
)
# The account's QR code on the gate: an image file the committee uploaded (PNG or
# JPEG), or the account's follow link (e.g. http://weixin.qq.com/r/...) drawn as a QR code.
CASEVOTE_WECHAT_QR_IMAGE = os.environ.get("CASEVOTE_WECHAT_QR_IMAGE", "")
CASEVOTE_WECHAT_QR_URL = os.environ.get("CASEVOTE_WECHAT_QR_URL", "")
# The account's 服务器配置 (message push to /wechat/events/): the Token WeChat signs with,
# and the EncodingAESKey when the account uses 安全模式 (empty: plaintext mode). Both
# from the environment only; a malformed key is reported by the system checks.
CASEVOTE_WECHAT_EVENT_TOKEN = os.environ.get("CASEVOTE_WECHAT_EVENT_TOKEN", "")
CASEVOTE_WECHAT_ENCODING_AES_KEY = env_aes_key("CASEVOTE_WECHAT_ENCODING_AES_KEY")
CASEVOTE_OFFICIAL_ACCOUNT_NAME = "民生周刊"
CASEVOTE_OFFICIAL_ACCOUNT_ID = "msweekly"
# Seconds a follow link (the QR code), a WeChat authorisation round trip and a ballot
# form stay valid.
CASEVOTE_FOLLOW_LINK_MAX_AGE = env_int("CASEVOTE_FOLLOW_LINK_MAX_AGE", 600)
CASEVOTE_FORM_MAX_AGE = env_int("CASEVOTE_FORM_MAX_AGE", 600)
# A ballot sent back sooner than this after its form was served was not read by a person.
CASEVOTE_MIN_DWELL_SECONDS = env_int("CASEVOTE_MIN_DWELL_SECONDS", 2)
# Ballots per hour from one address (IPv6: one /64) and from one /24. Generous:
# village Wi-Fi and carrier NAT put many honest voters behind one address.
CASEVOTE_IP_HOURLY_BUDGET = env_int("CASEVOTE_IP_HOURLY_BUDGET", 120)
CASEVOTE_SUBNET_HOURLY_BUDGET = env_int("CASEVOTE_SUBNET_HOURLY_BUDGET", 1000)
# Our own reverse proxies: only from these is X-Forwarded-For believed.
CASEVOTE_TRUSTED_PROXIES = env_networks("CASEVOTE_TRUSTED_PROXIES")
# Identity cookies are Secure unless DEBUG is on (local http://127.0.0.1 serving).
CASEVOTE_SECURE_COOKIES = env_bool("CASEVOTE_SECURE_COOKIES", not DEBUG)
# Days after a batch closes before anonymise_ballots may strip personal data.
CASEVOTE_RETENTION_DAYS = env_int("CASEVOTE_RETENTION_DAYS", 90)
# How long a worker reuses a rendered public page (invalidated at once by changes).
CASEVOTE_PAGE_CACHE_SECONDS = env_int("CASEVOTE_PAGE_CACHE_SECONDS", 300)
# How long a computed tally is reused before it is counted again.
CASEVOTE_RESULTS_CACHE_SECONDS = env_int("CASEVOTE_RESULTS_CACHE_SECONDS", 30)
# Up to this many valid ballots the monitoring page re-runs the detector itself when
# its newest stored run is out of date; above it, it shows the newest stored run
# (made by `detect_brushing --store` on a schedule).
CASEVOTE_MONITORING_LIVE_LIMIT = env_int("CASEVOTE_MONITORING_LIVE_LIMIT", 50_000)

# --- Reports to the committee (reports/) -------------------------------------------
# Screenshots per report, bytes per screenshot, and the largest image (pixels) opened.
CASEVOTE_REPORT_MAX_FILES = 3
CASEVOTE_REPORT_MAX_FILE_BYTES = env_int("CASEVOTE_REPORT_MAX_FILE_BYTES", 8 * 1024 * 1024)
CASEVOTE_REPORT_MAX_PIXELS = env_int("CASEVOTE_REPORT_MAX_PIXELS", 25_000_000)
# Reports per hour from one address (IPv6: /64) and from one /24; status look-ups per
# hour from one address.
CASEVOTE_REPORTS_PER_ADDRESS_HOURLY = env_int("CASEVOTE_REPORTS_PER_ADDRESS_HOURLY", 5)
CASEVOTE_REPORTS_PER_SUBNET_HOURLY = env_int("CASEVOTE_REPORTS_PER_SUBNET_HOURLY", 30)
CASEVOTE_REPORT_LOOKUPS_PER_ADDRESS_HOURLY = env_int(
    "CASEVOTE_REPORT_LOOKUPS_PER_ADDRESS_HOURLY", 30
)
# Days after a report is closed before anonymise_reports may remove its contact
# details and screenshots.
CASEVOTE_REPORT_RETENTION_DAYS = env_int("CASEVOTE_REPORT_RETENTION_DAYS", 90)
