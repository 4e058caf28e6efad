"""One message's way through: store raw, parse, handle, reply. Every channel calls receive()."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, literal, select, text, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from . import metrics, sql
from .db import storable, take_key
from .formpack import Form
from .handlers import HANDLERS, Context, Refusal, Reply
from .logs import log_fields
from .models import Contact, Household, InboundMessage, MessageStatus, Person
from .optouts import opt_in, opt_out, opt_out_change
from .parsers import ParseContext, ParseError, Parsed, parse
from .people import keep_read_ahead, read_ahead
from .queue import enqueue_after_commit
from .phones import InvalidPhone, mask_phone, normalize_phone
from .replies import echo, parse_refusal, render, render_refusal
from .runtime import Runtime

log = logging.getLogger(__name__)
CHECK_JOB = "worker.checks.check_report"
# STOP and START confirmations, until the pack's _messages.yaml carries 'opted_out' and 'opted_in'
OPT_REPLIES = {"STOP": "opted_out", "START": "opted_in"}  # templates in _messages.yaml


@dataclass(slots=True)
class RawMessage:
    """An inbound message as stored, and its outcome once known: what intake and the handlers
    read and set of its row, without an ORM object's cost (it is written with one statement)."""

    id: int
    channel: str | None = None
    provider_id: str | None = None
    sender: str | None = None
    receiver: str | None = None
    body: str | None = None
    received_at: datetime | None = None
    contact_id: int | None = None
    status: MessageStatus | None = None
    error: str | None = None
    form: str | None = None
    language: str | None = None
    reply: str | None = None
    record_type: str | None = None
    record_id: str | None = None


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
    def of(cls, message: RawMessage, duplicate: bool = False) -> "Outcome":
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


class StillWriting(RuntimeError):
    """Another request holds this provider id and has not finished; the provider should retry."""


def receive(
    session: Session, runtime: Runtime, *, channel: str, provider_id: str, sender: str,
    receiver: str, body: str, opt_out_type: str | None = None,
) -> Outcome:
    """Store the raw message (once per provider id), then answer it. The caller commits.

    A refusal undoes what the handler wrote (a savepoint) and forgets the session's objects; a
    failed handler rolls the session's transaction back (see _start_over): give receive a
    session with nothing of the caller's own pending in it.

    STOP and START (or the provider's OptOutType) opt the sender out of or back into every
    message Fieldline sends; they are answered before any parsing."""
    region = runtime.settings.DEFAULT_REGION
    try:
        phone = normalize_phone(sender, region)
    except InvalidPhone:
        phone = storable(sender.strip()[:40]) or "unknown"
    provider_id = storable(provider_id)
    change = opt_out_change(body, opt_out_type)
    today = runtime.clock.today()
    reading = None if change is not None else _read(runtime, body, today)
    contact, message = _sender_and_raw(session, {
        "channel": channel, "provider_id": provider_id, "sender": phone, "receiver": storable(receiver[:40]),
        "body": storable(body), "received_at": runtime.clock.now(),
    }, _subject(runtime, reading))
    if message is not None:
        from_provider = (opt_out_type or "").strip().upper() == change
        if change is None or not _opt_out_or_in(session, runtime, message, contact, change, from_provider):
            message = _answer(session, runtime, message, contact, reading or _read(runtime, body, today), today)
    if message is None:  # a retry of a message stored before: the same answer, nothing done again
        row = _STORED.first(session, {"channel": channel, "provider_id": provider_id})
        stored = dict(zip(OUTCOME_COLUMNS, row)) if row is not None else None
        if stored is None or stored["status"] is None:  # its first delivery has not committed yet
            raise StillWriting(provider_id)
        outcome = Outcome.of(RawMessage(**stored), duplicate=True)
    else:
        _SAVE_OUTCOME.later(session, {name: getattr(message, name) for name in OUTCOME_COLUMNS})
        outcome = Outcome.of(message)
    _log_outcome(outcome, channel, phone, provider_id)
    return outcome


# statements on every message's path, built once (building one costs about what running it does)
CONTACT_COLUMNS = ("id", "name", "phone", "role", "language", "active")
_CONTACT_BY_PHONE = sql.Prepared(
    select(*sql.columns_of(Contact, *CONTACT_COLUMNS)).where(Contact.phone == bindparam("phone")))
RAW_COLUMNS = ("channel", "provider_id", "sender", "receiver", "body", "received_at", "contact_id")
OUTCOME_COLUMNS = ("id", "reply", "status", "form", "error", "language", "record_type", "record_id")
_STORED = sql.Prepared(
    select(*sql.columns_of(InboundMessage, *OUTCOME_COLUMNS))
    .where(InboundMessage.channel == bindparam("channel"), InboundMessage.provider_id == bindparam("provider_id")))
_SAVE_OUTCOME = sql.Prepared(
    update(InboundMessage).where(InboundMessage.id == bindparam("id"))
    .values({name: bindparam(name, type_=InboundMessage.__table__.c[name].type) for name in OUTCOME_COLUMNS[1:]}))


def _read(runtime: Runtime, text: str, today: date) -> tuple[Parsed | None, ParseError | None]:
    """text parsed (the body as it came, which the parser reads NUL in as a separator): the
    reading, or the error a volunteer can fix."""
    ctx = ParseContext(today=today, region=runtime.settings.DEFAULT_REGION,
                       date_order=runtime.settings.DATE_ORDER)
    try:
        return parse(text, runtime.pack, ctx), None
    except ParseError as exc:
        return None, exc


def _subject(runtime: Runtime, reading: tuple[Parsed | None, ParseError | None] | None) -> tuple | None:
    """(ID, Household or Person) of the subject the handler will look up first: the form's first
    ID field, if given and a household's or person's; else None."""
    parsed = reading[0] if reading is not None else None
    if parsed is None:
        return None
    for field in runtime.pack.forms[parsed.form].fields:
        if field.type == "id":
            value, kind = parsed.values.get(field.name), _SUBJECT_KINDS.get(field.kind)
            return None if value is None or kind is None else (value, kind)
    return None


_SUBJECT_KINDS = {"household": Household, "person": Person}  # an alert's ID is no subject


def _sender_and_raw(session: Session, values: dict[str, Any],
                    subject: tuple | None = None) -> tuple[Contact | None, RawMessage | None]:
    """The sender's contact, if they are on the roster, and the raw message stored with it (None
    if its provider id is stored already; see _store_raw). PostgreSQL does both in one statement,
    and in the same round trip reads ahead the subject the handler will look up first, if any
    (people.read_ahead); SQLite, in this process, in two statements."""
    if session.get_bind().dialect.name != "postgresql":
        contact = sql.load(session, Contact, CONTACT_COLUMNS, _CONTACT_BY_PHONE.first(session, {"phone": values["sender"]}))
        return contact, _store_raw(session, {**values, "contact_id": contact.id if contact else None})
    reads = [(_SENDER_AND_RAW, values)]
    if subject is not None and sql.in_pipeline(session):
        statement, params = read_ahead(*subject)
        reads.append((statement, {**params, "sender": values["sender"]}))
    rows = sql.first_rows(session, reads)
    new_id, *row = rows[0]
    contact = sql.load(session, Contact, CONTACT_COLUMNS, row if row[0] is not None else None)
    if contact is not None and len(rows) > 1:
        keep_read_ahead(session, *subject, contact, rows[1])
    values = {**values, "contact_id": contact.id if contact else None}
    return contact, None if new_id is None else _raw_message(new_id, values)


def _sender_and_raw_statement():
    """WITH sender AS (the contact), raw AS (INSERT .. SELECT .., sender's id .. ON CONFLICT DO
    NOTHING RETURNING id) SELECT raw's id, sender's columns, one row whether or not either is."""
    table = InboundMessage.__table__
    sender = select(*sql.columns_of(Contact, *CONTACT_COLUMNS)).where(Contact.phone == bindparam("sender")).cte("sender")
    given = [name for name in RAW_COLUMNS if name != "contact_id"]
    raw = (pg_insert(table)
           .from_select(given + ["contact_id"],
                        select(*(bindparam(name, type_=table.c[name].type) for name in given),
                               select(sender.c.id).scalar_subquery()))
           .on_conflict_do_nothing(index_elements=["channel", "provider_id"])
           .returning(table.c.id)
           .cte("raw"))
    one = select(literal(1).label("one")).subquery("one")
    return (select(select(raw.c.id).scalar_subquery(), *sender.c)
            .select_from(one.outerjoin(sender, true())))


_SENDER_AND_RAW = sql.Prepared(_sender_and_raw_statement())


def _raw_message(new_id: int, values: dict[str, Any]) -> RawMessage:
    return RawMessage(id=new_id, **values)


def _store_raw(session: Session, values: dict[str, Any]) -> RawMessage | None:
    """Insert the raw message in one statement; None if its provider id is stored already.

    A concurrent request with the same provider id waits on the unique index until this
    transaction ends, then finds the stored message and its reply. The message is not kept in
    the session: its outcome is written in one UPDATE when it is known."""
    new_id = take_key(session, InboundMessage.__table__, values, ["channel", "provider_id"])
    return None if new_id is None else _raw_message(new_id, values)


# a handler writes after a savepoint: a refusal undoes what it wrote and keeps the raw message.
# In pipelined() it is held back until a write is sent (a refusal before then undoes nothing on
# the server) and dropped if the handler returns first. It is not released: the commit ends it.
_HANDLING = sql.Prepared(text("SAVEPOINT handling"), savepoint=True)
_UNDO_HANDLING = sql.Prepared(text("ROLLBACK TO SAVEPOINT handling"), unprepared=True)


def _start_over(session: Session, message: RawMessage) -> RawMessage | None:
    """Undo what a failed handler wrote: roll back, store the raw message again. None if a retry
    of the message took the provider id meanwhile."""
    values = {name: getattr(message, name) for name in RAW_COLUMNS}
    session.rollback()
    return _store_raw(session, values)


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


def _answer(session: Session, runtime: Runtime, message: RawMessage, contact: Contact | None,
            reading: tuple[Parsed | None, ParseError | None], today: date) -> RawMessage | None:
    """Handle the message as read (see _read) on the day today; the message as stored in the end
    (None: see _start_over)."""
    pack = runtime.pack
    parsed, parse_error = reading
    if parse_error is not None:
        metrics.PARSE_ERRORS.labels(parse_error.code).inc()

    if contact is None or not contact.active:
        lang = _guess_language(parsed, parse_error, runtime)
        reason = "unknown_sender" if contact is None else "inactive_sender"
        _finish(message, MessageStatus.ignored, lang, render(pack, None, reason, lang, {}),
                error="unknown_sender" if contact is None else "not_allowed",
                form=parsed.form if parsed else None)
        return message
    lang = contact.language
    if parse_error is not None:
        _finish(message, MessageStatus.rejected, lang, parse_refusal(pack, parse_error, lang, contact.role.value),
                error=parse_error.code, form=parse_error.form if parse_error.code != "unknown_keyword" else None)
        return message
    form = pack.forms[parsed.form]
    if contact.role.value not in form.roles:
        _finish(message, MessageStatus.rejected, lang, render(pack, form, "not_allowed", lang, {}),
                error="not_allowed", form=form.code)
        return message
    hctx = Context(session=session, runtime=runtime, sender=contact, message=message, form=form,
                   language=lang, today=today)
    _HANDLING.later(session)
    try:
        reply = HANDLERS[form.handler](hctx, parsed)
    except Refusal as refusal:
        sql.rollback_to(session, _HANDLING, _UNDO_HANDLING)
        session.expunge_all()  # what the handler read or changed may be undone: none of it is kept
        values = {k: echo(v) if k == "value" else v for k, v in refusal.values.items()}
        _finish(message, MessageStatus.rejected, lang, render_refusal(pack, form, refusal.reason, lang, values),
                error=refusal.code, form=form.code)
        return message
    except DBAPIError as exc:
        if exc.connection_invalidated or not isinstance(exc, IntegrityError):
            raise  # the database itself is in trouble: nothing can be kept, the caller answers 503
        return _fail(session, message, runtime, form, lang)
    except Exception:
        return _fail(session, message, runtime, form, lang)
    sql.drop_held(session, _HANDLING)  # still held: no write reached the server, none is undone now
    _finish(message, MessageStatus.accepted, hctx.language,
            render(pack, form, reply.key, hctx.language, reply.values), form=form.code, reply=reply)
    if reply.report_id is not None:
        enqueue_after_commit(session, runtime.queues, "checks", CHECK_JOB, reply.report_id, batched=True)
    return message


def _opt_out_or_in(session: Session, runtime: Runtime, message: RawMessage, contact: Contact | None,
                   change: str, from_provider: bool) -> bool:
    """Record STOP or START; False for a START word from a number that never stopped, which is
    then read as an ordinary message. Twilio answers STOP and START itself, so nothing goes back
    there; other channels get a short confirmation."""
    if change == "STOP":
        opt_out(session, message.sender, source="sms", at=runtime.clock.now())
    elif not opt_in(session, message.sender) and not from_provider:
        return False
    lang = contact.language if contact else runtime.settings.DEFAULT_LANGUAGE
    reply = "" if message.channel == "twilio" else _opt_reply(runtime, change, lang)
    _finish(message, MessageStatus.accepted, lang, reply, form=change)
    return True


def _opt_reply(runtime: Runtime, change: str, lang: str) -> str:
    return render(runtime.pack, None, OPT_REPLIES[change], lang, {})


def _fail(session: Session, message: RawMessage, runtime: Runtime, form: Form,
          lang: str) -> RawMessage | None:
    if sql.in_pipeline(session):
        # writes held back may be unsent, or one sent with others may be what failed: the message
        # goes again a statement at a time (its transaction rolled back whole), and fails there
        # if it fails again
        raise sql.RunAgainAlone(f"the {form.code} handler failed while its writes were held back")
    log.exception("message %s: the %s handler failed; the message is kept", message.id, form.code)
    message = _start_over(session, message)
    if message is not None:
        _finish(message, MessageStatus.failed, lang, render(runtime.pack, None, "failed", lang, {}),
                error="failed", form=form.code)
    return message


def _finish(
    message: RawMessage, status: MessageStatus, lang: str, text: str, *, error: str | None = None,
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

