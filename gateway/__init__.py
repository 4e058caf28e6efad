"""Fieldline: SMS and USSD field reports in, records and replies out."""
from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from .config import Settings
from .logs import configure_logging


def create_app(config: Mapping[str, Any] | Settings | None = None) -> Flask:
    """Build the app: settings (environment, .env, then config), database, form pack, channels."""
    if isinstance(config, Settings):
        settings = config
    else:
        settings = Settings.from_env()
        if config:
            settings = settings.with_overrides(config)
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    from .runtime import Runtime

    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secret_key(), MAX_CONTENT_LENGTH=64 * 1024)
    app.extensions["fieldline"] = Runtime.from_settings(settings)

    from .channels import africastalking, dev, twilio

    app.register_blueprint(twilio.bp)
    app.register_blueprint(africastalking.bp)
    if settings.DEV_CHANNEL:
        app.register_blueprint(dev.bp)
    from . import ops

    ops.init_app(app)  # /health, /metrics and the webhooks' timing
    from admin import init_app as init_admin  # the web view is composed here, the one place that knows it

    init_admin(app, settings)
    if settings.PROXY_COUNT:
        # behind N proxies that set X-Forwarded-For/-Proto/-Host, trust exactly that many hops,
        # so client addresses (sign-in throttle, allow-lists) and URLs are the real ones
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.PROXY_COUNT
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    return app
