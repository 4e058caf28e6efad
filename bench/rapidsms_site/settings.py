"""Django settings for the RapidSMS side of bench/webhook.py: the usual alternative, set up as its
documentation says for production, on the same PostgreSQL as the others.

One keyword handler saves each report and answers; replies go to a backend that drops them (the
HTTP backend would make one outbound HTTP request per reply), which favours RapidSMS."""
import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "bench-only-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "Africa/Nairobi"
ROOT_URLCONF = "urls"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rapidsms",
    "rapidsms.contrib.handlers",
    "rapidsms.contrib.default",
    "reports",
]
MIDDLEWARE = []  # none: the webhook needs no session, CSRF or auth middleware

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("RAPIDSMS_DB_NAME", "rapidsms_webhook_bench"),
        "USER": os.environ.get("RAPIDSMS_DB_USER", "postgres"),
        "HOST": os.environ.get("RAPIDSMS_DB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("RAPIDSMS_DB_PORT", "5432"),
        # persistent connections: without them each request opens one, 3-4 times slower
        "CONN_MAX_AGE": 60,
    }
}

INSTALLED_BACKENDS = {"http": {"ENGINE": "reports.backend.DroppingBackend"}}
RAPIDSMS_HANDLERS = ["reports.handlers.ReportHandler"]
DEFAULT_RESPONSE = "Sorry, that message was not understood. Send HELP for the formats."

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
