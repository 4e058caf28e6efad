"""What the tests of tick, alerts and ACK/DONE share: running tick at a time, staff of an area, due
care made directly, and reading back the SMS Fieldline queued."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from gateway.models import Alert, DueItem, OutgoingKind, OutgoingMessage
from tests import factories
from tests.conftest import TZ

TOWNSHIP = "Kisumu/Nyando"
DISTRICT = "Kisumu"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def tick_at(app, when: datetime) -> dict:
    """Move the clock to when (local time) and run tick as the cron job would."""
    from worker.tick import tick

    runtime = app.extensions["fieldline"]
    runtime.clock.set(when)
    with app.app_context():
        return tick()


def staff(session, area: str, *, name: str = "Grace Achieng", language: str = "en", phone: str | None = None):
    return factories.contact(session, role="staff", areas=(area,), name=name, language=language, phone=phone)


def due(session, *, volunteer, person=None, household=None, schedule: str = "antenatal", item: str = "anc_26w",
        on: date) -> DueItem:
    """An open item due on a day, for a person or a household, as care.start makes them."""
    made = DueItem(schedule=schedule, item=item, person_id=person.id if person else None,
                   household_id=household.id if household else None, volunteer_id=volunteer.id,
                   due_on=on, window_start=on - timedelta(days=14), window_end=on + timedelta(days=7))
    session.add(made)
    session.flush()
    return made


def messages(session, kind: OutgoingKind | None = None, to: str | None = None) -> list[OutgoingMessage]:
    """The SMS queued so far (fresh from the database), oldest first."""
    session.expire_all()
    query = select(OutgoingMessage).order_by(OutgoingMessage.id)
    if kind is not None:
        query = query.where(OutgoingMessage.kind == kind)
    if to is not None:
        query = query.where(OutgoingMessage.to == to)
    return list(session.scalars(query))


def alerts(session) -> list[Alert]:
    session.expire_all()
    return list(session.scalars(select(Alert).order_by(Alert.id)))
