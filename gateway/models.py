"""The tables. Typed, NOT NULL unless said; UTC timestamps; str enums stored by value."""
from __future__ import annotations

import enum
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Base


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given; use UTC-aware datetimes")
            value = value.astimezone(timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


def str_enum(cls: type[enum.Enum]) -> Enum:
    return Enum(
        cls,
        native_enum=False,
        create_constraint=False,
        length=max(len(m.value) for m in cls),
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class AreaKind(str, enum.Enum):
    district = "district"
    township = "township"
    village = "village"


class Role(str, enum.Enum):
    volunteer = "volunteer"
    staff = "staff"
    admin = "admin"


class IdKind(str, enum.Enum):
    household = "household"
    person = "person"


class PersonStatus(str, enum.Enum):
    active = "active"
    moved_out = "moved_out"
    deceased = "deceased"


class MessageStatus(str, enum.Enum):
    """What became of an inbound message."""

    accepted = "accepted"
    rejected = "rejected"
    ignored = "ignored"
    failed = "failed"


class ReportStatus(str, enum.Enum):
    accepted = "accepted"
    flagged = "flagged"
    verified = "verified"
    wrong = "wrong"


class PregnancyStatus(str, enum.Enum):
    open = "open"
    delivered = "delivered"
    lost = "lost"
    ended = "ended"  # the woman died while pregnant


class AlertKind(str, enum.Enum):
    danger = "danger"
    loss = "loss"
    death = "death"
    overdue = "overdue"
    verify = "verify"


class AlertStatus(str, enum.Enum):
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"


class OutgoingStatus(str, enum.Enum):
    queued = "queued"
    sending = "sending"  # the intent is recorded and the provider is being asked
    retrying = "retrying"
    sent = "sent"
    delivered = "delivered"
    failed = "failed"
    stale = "stale"
    muted = "muted"
    duplicate = "duplicate"
    opted_out = "opted_out"


class OutgoingKind(str, enum.Enum):
    reply = "reply"
    reminder = "reminder"
    alert = "alert"
    summary = "summary"


class DueStatus(str, enum.Enum):
    open = "open"
    done = "done"
    muted = "muted"
    ended = "ended"
    overdue = "overdue"


class Area(Base):
    """A district, township or village; villages are the leaves that households belong to."""

    __tablename__ = "areas"
    __table_args__ = (UniqueConstraint("parent_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[AreaKind] = mapped_column(str_enum(AreaKind))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent: Mapped[Area | None] = relationship(remote_side=[id])


class ContactArea(Base):
    """A contact's villages (volunteers) or areas of responsibility (staff), in order."""

    __tablename__ = "contact_areas"
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    area: Mapped[Area] = relationship()


class Contact(Base):
    """A volunteer, staff member or admin, known by their phone number (E.164)."""

    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    role: Mapped[Role] = mapped_column(str_enum(Role))
    language: Mapped[str] = mapped_column(String(5))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # staff and admins sign in to the admin view with their phone number and this password
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    area_links: Mapped[list[ContactArea]] = relationship(
        order_by=ContactArea.position, cascade="all, delete-orphan"
    )

    @property
    def areas(self) -> list[Area]:
        return [link.area for link in self.area_links]


class ShortId(Base):
    """The one ID space that households and people share."""

    __tablename__ = "short_ids"
    value: Mapped[str] = mapped_column(String(12), primary_key=True)
    kind: Mapped[IdKind] = mapped_column(str_enum(IdKind))


class Household(Base):
    __tablename__ = "households"
    id: Mapped[int] = mapped_column(primary_key=True)
    short_id: Mapped[str] = mapped_column(ForeignKey("short_ids.value"), unique=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    head_name: Mapped[str] = mapped_column(String(80))
    registered_by_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_visit_on: Mapped[date | None] = mapped_column(Date)

    village: Mapped[Area] = relationship()


class Person(Base):
    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    short_id: Mapped[str] = mapped_column(ForeignKey("short_ids.value"), unique=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    sex: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[date] = mapped_column(Date)
    birth_date_estimated: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[PersonStatus] = mapped_column(str_enum(PersonStatus), default=PersonStatus.active)
    status_on: Mapped[date | None] = mapped_column(Date)  # the day they moved out or died
    reminders_off: Mapped[bool] = mapped_column(Boolean, default=False)
    mother_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    registered_by_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    household: Mapped[Household] = relationship()


class Pregnancy(Base):
    """A pregnancy from its report to its end; at most one open per woman."""

    __tablename__ = "pregnancies"
    __table_args__ = (
        Index(
            "uq_pregnancies_open_person", "person_id", unique=True,
            sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    lmp: Mapped[date] = mapped_column(Date)
    edd: Mapped[date] = mapped_column(Date)
    status: Mapped[PregnancyStatus] = mapped_column(str_enum(PregnancyStatus), default=PregnancyStatus.open)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"))
    ended_on: Mapped[date | None] = mapped_column(Date)
    ended_report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Birth(Base):
    """A live birth: the baby is a person of the mother's household."""

    __tablename__ = "births"
    id: Mapped[int] = mapped_column(primary_key=True)
    mother_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    baby_id: Mapped[int] = mapped_column(ForeignKey("people.id"), unique=True)
    pregnancy_id: Mapped[int | None] = mapped_column(ForeignKey("pregnancies.id"))
    born_on: Mapped[date] = mapped_column(Date)
    place: Mapped[str] = mapped_column(String(1))  # H home, F facility
    weight_kg: Mapped[float | None] = mapped_column(Float)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"))


class InboundMessage(Base):
    """Every message as it arrived, stored before anything else; one per provider id."""

    __tablename__ = "inbound_messages"
    __table_args__ = (UniqueConstraint("channel", "provider_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    provider_id: Mapped[str] = mapped_column(String(64))
    sender: Mapped[str] = mapped_column(String(40), index=True)
    receiver: Mapped[str] = mapped_column(String(40), default="")
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    status: Mapped[MessageStatus | None] = mapped_column(str_enum(MessageStatus))
    error: Mapped[str | None] = mapped_column(String(32))
    form: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(5))
    reply: Mapped[str | None] = mapped_column(Text)
    record_type: Mapped[str | None] = mapped_column(String(16))
    record_id: Mapped[str | None] = mapped_column(String(16))


class Report(Base):
    """An accepted report: the parsed values of one message, about one subject."""

    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    form: Mapped[str] = mapped_column(String(16))
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    sender_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"), unique=True)
    status: Mapped[ReportStatus] = mapped_column(str_enum(ReportStatus), default=ReportStatus.accepted)
    reported_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    flag_reason: Mapped[str | None] = mapped_column(String(200))
    # the last mark of a member of staff: verified or wrong, by whom and when
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str | None] = mapped_column(String(200))


class OutgoingMessage(Base):
    """An SMS Fieldline sends; every change of status is kept in OutgoingStatusChange."""

    __tablename__ = "outgoing_messages"
    __table_args__ = (
        Index("ix_outgoing_messages_status", "status"),
        Index("ix_outgoing_messages_to_created_at", "to", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    to: Mapped[str] = mapped_column(String(20))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), index=True)
    # one message per key at most: a day's digest, an alert to one person at one level
    dedupe_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    kind: Mapped[OutgoingKind] = mapped_column(str_enum(OutgoingKind))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[OutgoingStatus] = mapped_column(str_enum(OutgoingStatus), default=OutgoingStatus.queued)
    provider_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    error: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    history: Mapped[list[OutgoingStatusChange]] = relationship(
        order_by="OutgoingStatusChange.id", cascade="all, delete-orphan"
    )


class OptOut(Base):
    """A number that answered STOP (or that the provider reports as opted out): nothing is sent
    to it until it answers START."""

    __tablename__ = "opt_outs"
    phone: Mapped[str] = mapped_column(String(40), primary_key=True)
    opted_out_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(20))  # sms, provider


class OutgoingStatusChange(Base):
    __tablename__ = "outgoing_status_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outgoing_messages.id", ondelete="CASCADE"), index=True)
    status: Mapped[OutgoingStatus] = mapped_column(str_enum(OutgoingStatus))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    detail: Mapped[str | None] = mapped_column(String(200))


class Alert(Base):
    """Something a person must answer: danger signs, a loss or death, overdue care, a record to verify.

    Its id is the short number staff quote in ACK and DONE."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_status_created_at", "status", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AlertKind] = mapped_column(str_enum(AlertKind))
    status: Mapped[AlertStatus] = mapped_column(str_enum(AlertStatus), default=AlertStatus.open)
    village_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    due_item_id: Mapped[int | None] = mapped_column(ForeignKey("due_items.id"))
    reason: Mapped[str] = mapped_column(String(200))
    codes: Mapped[str | None] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(Integer, default=0)  # how far up the area tree it has gone
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # sent to the current level
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    history: Mapped[list[AlertEvent]] = relationship(order_by="AlertEvent.id", cascade="all, delete-orphan")


class AlertEvent(Base):
    """One change of an alert, with who made it and when."""

    __tablename__ = "alert_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    status: Mapped[AlertStatus] = mapped_column(str_enum(AlertStatus))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    note: Mapped[str | None] = mapped_column(String(200))


class DueItem(Base):
    """One piece of care that falls due: for a person or a household, on a day, within a window."""

    __tablename__ = "due_items"
    __table_args__ = (
        Index("ix_due_items_status_due_on", "status", "due_on"),
        # what the tick reads every minute: open care by day and volunteer, ranked from the index
        # alone, with what a digest needs of each item (PostgreSQL); partial, so it stays small
        # while done and ended items pile up
        Index(
            "ix_due_items_open_due_on_volunteer_id", "due_on", "volunteer_id", "id",
            sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'"),
            postgresql_include=["schedule", "item", "person_id", "household_id"],
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    schedule: Mapped[str] = mapped_column(String(32))
    item: Mapped[str] = mapped_column(String(32))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    due_on: Mapped[date] = mapped_column(Date)
    window_start: Mapped[date] = mapped_column(Date)
    window_end: Mapped[date] = mapped_column(Date)
    status: Mapped[DueStatus] = mapped_column(str_enum(DueStatus), default=DueStatus.open)
    cleared_by_report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """One change to the roster, the area tree or a report's review mark: who made it, when, and
    each changed field as [before, after]."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity_entity_id", "entity", "entity_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))  # None: the command line
    entity: Mapped[str] = mapped_column(String(20))  # contact, area, report
    entity_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20))  # added, updated, deactivated, renamed, moved, ...
    summary: Mapped[str] = mapped_column(String(200))  # what the entity was called at the time
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class SignInFailure(Base):
    """A failed sign-in to the admin view, kept while it counts towards the throttle; the key is
    'account:<phone>' or 'address:<ip>'."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_key_at", "key", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
