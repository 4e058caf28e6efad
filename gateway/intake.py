"""One message's way through: store raw, parse, handle, reply. Every channel calls receive()."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from . import metrics
from .db import storable
from .formpack import Form
from .handlers import HANDLERS, Context, Refusal, Reply
from .logs import log_fields
from .models import Contact, InboundMessage, MessageStatus
from .optouts import opt_in, opt_out, opt_out_change
from .parsers import ParseContext, ParseError, parse
from .queue import enqueue_after_commit
from .phones import InvalidPhone, mask_phone, normalize_phone
from .replies import echo, parse_refusal, render, render_refusal
from .runtime import Runtime

log = logging.getLogger(__name__)
CHECK_JOB = "worker.checks.check_report"
# STOP and START confirmations, until the pack's _messages.yaml carries 'opted_out' and 'opted_in'
OPT_REPLIES = {"STOP": "opted_out", "START": "opted_in"}  # templates in _messages.yaml


@dataclass(frozen=True)
class Outcome:
    """What became of one inbound message; the same for a provider's retry of it."""

    message_id: int
    reply: str
    status: str  # accepted | rejected | ignored | failed
    form: str | None = None
    error: str | None = None
    record: dict[str, str] | None = None
    duplicate: bool = False

    @classmethod
    def of(cls, message: InboundMessage, duplicate: bool = False) -> "Outcome":
        record = {"type": message.record_type, "id": message.record_id} if message.record_type else None
        return cls(
            message_id=message.id, reply=message.reply or "", status=message.status.value,
            form=message.form, error=message.error, record=record, duplicate=duplicate,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "reply": self.reply, "status": self.status, "form": self.form,
            "error": self.error, "record": self.record,
        }


def receive(
    session: Session, runtime: Runtime, *, channel: str, provider_id: str, sender: str,
    receiver: str, body: str, opt_out_type: str | None = None,
) -> Outcome:
    """Store the raw message (once per provider id), then answer it. The caller commits.

    STOP and START (or the provider's OptOutType) opt the sender out of or back into every
    message Fieldline sends; they are answered before any parsing."""
    region = runtime.settings.DEFAULT_REGION
    provider_id = storable(provider_id)
    try:
        phone = normalize_phone(sender, region)
    except InvalidPhone:
        phone = storable(sender.strip()[:40]) or "unknown"
    message = InboundMessage(
        channel=channel, provider_id=provider_id, sender=phone, receiver=storable(receiver[:40]),
        body=storable(body), received_at=runtime.clock.now(),
    )
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        existing = session.scalar(select(InboundMessage).where(
            InboundMessage.channel == channel, InboundMessage.provider_id == provider_id
        ))
        if existing is None or existing.status is None:
            raise  # the other writer has not finished; let the provider retry
        outcome = Outcome.of(existing, duplicate=True)
        _log_outcome(outcome, channel, phone, provider_id)
        return outcome
    change = opt_out_change(body, opt_out_type)
    from_provider = (opt_out_type or "").strip().upper() == change
    if change is None or not _opt_out_or_in(session, runtime, message, change, from_provider):
        _answer(session, runtime, message, body)
    outcome = Outcome.of(message)
    _log_outcome(outcome, channel, phone, provider_id)
    return outcome


def _log_outcome(outcome: Outcome, channel: str, phone: str, provider_id: str) -> None:
    """One line per inbound message, with its ids (never its body), and its count in the metrics."""
    status = "duplicate" if outcome.duplicate else outcome.status
    sender = mask_phone(phone)
    log.info("message %s on %s from %s: %s %s %s", outcome.message_id, channel, sender, status,
             outcome.form or "-", outcome.error or "",
             extra=log_fields(event="inbound", message_id=outcome.message_id, channel=channel,
                              provider_id=provider_id, sender=sender, status=status, form=outcome.form,
                              error=outcome.error, record=outcome.record))
    metrics.count_inbound(channel, status, replied=bool(outcome.reply) and not outcome.duplicate)


def _answer(session: Session, runtime: Runtime, message: InboundMessage, text: str) -> None:
    """Parse text (the body as it came, which the parser reads NUL in as a separator) and answer it."""
    pack = runtime.pack
    contact = session.scalar(select(Contact).where(Contact.phone == message.sender))
    message.contact_id = contact.id if contact else None
    today = runtime.clock.today()
    ctx = ParseContext(today=today, region=runtime.settings.DEFAULT_REGION, date_order=runtime.settings.DATE_ORDER)
    try:
        parsed = parse(text, pack, ctx)
        parse_error = None
    except ParseError as exc:
        parsed, parse_error = None, exc
        metrics.PARSE_ERRORS.labels(exc.code).inc()

    if contact is None or not contact.active:
        lang = _guess_language(parsed, parse_error, runtime)
        reason = "unknown_sender" if contact is None else "inactive_sender"
        _finish(message, MessageStatus.ignored, lang, render(pack, None, reason, lang, {}),
                error="unknown_sender" if contact is None else "not_allowed",
                form=parsed.form if parsed else None)
        return
    lang = contact.language
    if parse_error is not None:
        _finish(message, MessageStatus.rejected, lang, parse_refusal(pack, parse_error, lang, contact.role.value),
                error=parse_error.code, form=parse_error.form if parse_error.code != "unknown_keyword" else None)
        return
    form = pack.forms[parsed.form]
    if contact.role.value not in form.roles:
        _finish(message, MessageStatus.rejected, lang, render(pack, form, "not_allowed", lang, {}),
                error="not_allowed", form=form.code)
        return
    hctx = Context(session=session, runtime=runtime, sender=contact, message=message, form=form,
                   language=lang, today=today)
    try:
        with session.begin_nested():
            reply = HANDLERS[form.handler](hctx, parsed)
    except Refusal as refusal:
        values = {k: echo(v) if k == "value" else v for k, v in refusal.values.items()}
        _finish(message, MessageStatus.rejected, lang, render_refusal(pack, form, refusal.reason, lang, values),
                error=refusal.code, form=form.code)
        return
    except DBAPIError as exc:
        if exc.connection_invalidated or not isinstance(exc, IntegrityError):
            raise  # the database itself is in trouble: nothing can be kept, the caller answers 503
        _fail(message, runtime, form, lang)
        return
    except Exception:
        _fail(message, runtime, form, lang)
        return
    _finish(message, MessageStatus.accepted, hctx.language,
            render(pack, form, reply.key, hctx.language, reply.values), form=form.code, reply=reply)
    if reply.report_id is not None:
        enqueue_after_commit(session, runtime.queues, "checks", CHECK_JOB, reply.report_id)


def _opt_out_or_in(session: Session, runtime: Runtime, message: InboundMessage, change: str,
                   from_provider: bool) -> bool:
    """Record STOP or START; False for a START word from a number that never stopped, which is
    then read as an ordinary message. Twilio answers STOP and START itself, so nothing goes back
    there; other channels get a short confirmation."""
    if change == "STOP":
        opt_out(session, message.sender, source="sms", at=runtime.clock.now())
    elif not opt_in(session, message.sender) and not from_provider:
        return False
    contact = session.scalar(select(Contact).where(Contact.phone == message.sender))
    message.contact_id = contact.id if contact else None
    lang = contact.language if contact else runtime.settings.DEFAULT_LANGUAGE
    reply = "" if message.channel == "twilio" else _opt_reply(runtime, change, lang)
    _finish(message, MessageStatus.accepted, lang, reply, form=change)
    return True


def _opt_reply(runtime: Runtime, change: str, lang: str) -> str:
    return render(runtime.pack, None, OPT_REPLIES[change], lang, {})


def _fail(message: InboundMessage, runtime: Runtime, form: Form, lang: str) -> None:
    log.exception("message %s: the %s handler failed; the message is kept", message.id, form.code)
    _finish(message, MessageStatus.failed, lang, render(runtime.pack, None, "failed", lang, {}),
            error="failed", form=form.code)


def _finish(
    message: InboundMessage, status: MessageStatus, lang: str, text: str, *, error: str | None = None,
    form: str | None = None, reply: Reply | None = None,
) -> None:
    message.status = status
    message.language = lang
    message.reply = text
    message.error = error
    message.form = form
    if reply is not None and reply.record:
        message.record_type = reply.record["type"]
        message.record_id = reply.record["id"]


def _guess_language(parsed, parse_error, runtime: Runtime) -> str:
    """An unknown sender is answered in the language of the keyword they used, if any."""
    if parsed is not None:
        return parsed.language
    if parse_error is not None and parse_error.language:
        return parse_error.language
    return runtime.settings.DEFAULT_LANGUAGE
