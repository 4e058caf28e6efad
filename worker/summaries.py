"""The monthly summary, from tick: on the first day of the month, inside the sending window, each
member of staff gets last month's figures for the villages under their areas, once."""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from gateway import summaries
from gateway.digests import existing_keys, in_window
from gateway.models import Contact, OptOut, OutgoingKind, Role
from gateway.outbox import queue_sms

log = logging.getLogger(__name__)


def send_monthly_summaries(session: Session, runtime, now: datetime) -> int:
    """Queue last month's summary to every active member of staff who has not had it; how many
    SMS were queued. The first SMS's dedupe key, 'summary:<contact>:<YYYY-MM>', makes it once."""
    settings = runtime.settings
    local = now.astimezone(settings.tz)
    if local.day != 1 or not in_window(local, settings.SEND_WINDOW):
        return 0
    first, last = summaries.previous_month(local.date())
    month = first.strftime("%Y-%m")
    staff = list(session.scalars(
        select(Contact).options(selectinload(Contact.area_links))
        .outerjoin(OptOut, OptOut.phone == Contact.phone)
        .where(Contact.role == Role.staff, Contact.active, OptOut.phone.is_(None))
        .order_by(Contact.id)
    ))
    keys = {contact.id: f"summary:{contact.id}:{month}" for contact in staff}
    done = existing_keys(session, keys.values())
    todo = [contact for contact in staff if keys[contact.id] not in done]
    if not todo:
        return 0
    figures = summaries.month_figures(session, runtime.pack, first, last, settings.tz)
    under = summaries.villages_under(session)
    queued = 0
    for contact in todo:
        village_ids = set().union(*(under.get(link.area_id, set()) for link in contact.area_links))
        villages = [figures[v] for v in village_ids if v in figures]
        if not villages:
            continue
        for n, body in enumerate(summaries.compose(runtime.pack, contact.language, month, villages), 1):
            key = keys[contact.id] if n == 1 else f"{keys[contact.id]}:{n}"
            if queue_sms(session, runtime, to=contact.phone, body=body, kind=OutgoingKind.summary, now=now,
                         contact_id=contact.id, dedupe_key=key) is None:
                break  # another tick is sending this one
            queued += 1
    log.info("monthly summary %s: %s SMS queued for %s staff", month, queued, len(todo))
    return queued
