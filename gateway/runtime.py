"""What a running Fieldline holds: settings, database, form pack and clock, made once per app."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import current_app

from .clock import Clock
from .config import LANGUAGES, Settings
from .db import Database
from .formpack import FormPack, FormPackError, load_pack
from .handlers import load_handlers
from .queue import make_queues

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    pack: FormPack
    clock: Clock
    queues: Any

    @classmethod
    def from_settings(cls, settings: Settings) -> "Runtime":
        pack = load_pack(settings.FORMS_DIR or None, languages=LANGUAGES)
        handlers = load_handlers()
        for form in pack.forms.values():
            if form.handler not in handlers:
                raise FormPackError(
                    f"{form.source}: handler '{form.handler}' does not exist "
                    f"(one of {', '.join(sorted(handlers))})"
                )
        return cls(settings=settings, db=Database(settings.database_url), pack=pack, clock=Clock(settings.tz),
                   queues=make_queues(settings.REDIS_URL, settings.REQUIRE_REDIS))


def current_runtime() -> Runtime:
    return current_app.extensions["fieldline"]
