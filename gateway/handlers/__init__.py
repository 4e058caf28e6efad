"""Handlers: one per kind of action. They work through domain functions and return a Reply;
they never commit and never send SMS (the view owns the transaction)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy.orm import Session

from ..formpack import Form
from ..models import Contact
from ..parsers import Parsed

if TYPE_CHECKING:
    from ..intake import RawMessage
    from ..runtime import Runtime


@dataclass
class Reply:
    key: str  # a template of the form's replies
    values: dict[str, Any] = field(default_factory=dict)
    record: dict[str, str] | None = None  # {"type": "household", "id": "40213"}
    report_id: int | None = None


class Refusal(Exception):
    """The report contradicts what is known; nothing but the raw message is kept.

    code is the public error code (unknown_id, invalid_id, not_allowed, conflict, ...);
    reason names the reply template (the form's own first, then _messages.yaml).
    """

    def __init__(self, code: str, reason: str | None = None, **values: Any):
        super().__init__(code)
        self.code = code
        self.reason = reason or code
        self.values = values


@dataclass
class Context:
    session: Session
    runtime: "Runtime"
    sender: Contact
    message: "RawMessage"
    form: Form
    language: str
    today: date


Handler = Callable[[Context, Parsed], Reply]
HANDLERS: dict[str, Handler] = {}


def handler(name: str) -> Callable[[Handler], Handler]:
    """Register a function under the name that forms use in their 'handler' setting."""

    def register(fn: Handler) -> Handler:
        HANDLERS[name] = fn
        return fn

    return register


def load_handlers() -> dict[str, Handler]:
    from . import (  # noqa: F401  (importing registers them)
        alerts, births, events, family_planning, moves, pregnancy, registration, reminders, system, visits,
    )

    return HANDLERS
