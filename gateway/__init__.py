"""Fieldline: SMS and USSD field reports in, records and replies out."""
from __future__ import annotations

import logging
from typing import Any, Mapping

from flask import Flask

from .config import Settings


def create_app(config: Mapping[str, Any] | Settings | None = None) -> Flask:
    """Build the app: settings (environment, .env, then config), database, form pack, channels."""
    if isinstance(config, Settings):
        settings = config
    else:
        settings = Settings.from_env()
        if config:
            settings = settings.with_overrides(config)
    logging.basicConfig(level=settings.LOG_LEVEL, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from .runtime import Runtime

    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secret_key(), MAX_CONTENT_LENGTH=64 * 1024)
    app.extensions["fieldline"] = Runtime.from_settings(settings)

    from .channels import dev, twilio

    app.register_blueprint(twilio.bp)
    if settings.DEV_CHANNEL:
        app.register_blueprint(dev.bp)
    return app
