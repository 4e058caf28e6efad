"""Alerts to staff: dispatch_alert sends a new alert to the staff of its area; escalate_alerts
(every minute, from tick) sends one nobody acknowledged in time to the next level up."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from gateway.alerts import alert_recipients, alert_text, staff_levels
from gateway.digests import in_window
from gateway.models import Alert, AlertEvent, AlertKind, AlertStatus, OutgoingKind
from gateway.outbox import queue_sms
from gateway.roster import area_path
from gateway.runtime import current_runtime

log = logging.getLogger(__name__)
NO_STAFF = "no active staff to notify"
NO_HIGHER = "not acknowledged, and no higher level has staff to escalate to"
UNSENT_AFTER = timedelta(minutes=2)  # an alert still not sent after this lost its dispatch job
BATCH = 200


def dispatch_alert(alert_id: int) -> None:
    """Send an open alert to the staff of its area at its level; safe to run twice."""
    runtime = current_runtime()
    with runtime.db.session_scope() as session:
        alert = session.get(Alert, alert_id, with_for_update=True)
        if alert is None or alert.status is not AlertStatus.open:
            return
        notify_alert(session, runtime, alert, runtime.clock.now())


def notify_alert(session: Session, runtime, alert: Alert, now: datetime) -> int:
    """Queue the alert's SMS to each active staff member of its level, once each (the dedupe key is
    the alert, the level and the person), and note when; how many were queued."""
    area, staff = alert_recipients(session, alert)
    if not staff:
        if not any(event.note == NO_STAFF for event in alert.history):
            alert.history.append(AlertEvent(status=alert.status, at=now, note=NO_STAFF))
            log.warning("alert %s (%s): %s", alert.id, alert.kind.value, NO_STAFF)
        return 0
    queued = 0
    for contact in staff:
        message = queue_sms(
            session, runtime, to=contact.phone, body=alert_text(session, runtime.pack, alert, contact.language),
            kind=OutgoingKind.alert, now=now, contact_id=contact.id, alert_id=alert.id,
            dedupe_key=f"alert:{alert.id}:{alert.level}:{contact.id}",
        )
        queued += message is not None
    if queued:
        alert.notified_at = now
        alert.updated_at = now
        log.info("alert %s (%s, level %s) sent to %s staff of area %s", alert.id, alert.kind.value,
                 alert.level, queued, area.id)
    return queued


def escalate_alerts(session: Session, runtime, now: datetime) -> int:
    """Alerts nobody acknowledged in ESCALATE_AFTER (danger: ESCALATE_AFTER_DANGER_MINUTES) go one
    level up, with the step kept; at the top it is recorded once and the alert left where it is.
    Only danger escalates at night. Alerts whose dispatch was lost are sent too. How many moved."""
    settings = runtime.settings
    send_unsent(session, runtime, now)
    overdue = and_(Alert.kind == AlertKind.danger,
                   Alert.notified_at <= now - timedelta(minutes=settings.ESCALATE_AFTER_DANGER_MINUTES))
    if in_window(now.astimezone(settings.tz), settings.SEND_WINDOW):
        overdue = or_(overdue, and_(Alert.kind != AlertKind.danger,
                                    Alert.notified_at <= now - timedelta(minutes=settings.ESCALATE_AFTER_MINUTES)))
    alerts = session.scalars(
        select(Alert)
        .where(Alert.status == AlertStatus.open, Alert.notified_at.is_not(None), overdue,
               ~exists().where(AlertEvent.alert_id == Alert.id, AlertEvent.note == NO_HIGHER))
        .order_by(Alert.id)
        .limit(BATCH)
        .with_for_update(skip_locked=True, of=Alert)
    ).all()
    moved = 0
    for alert in alerts:
        levels = staff_levels(session, alert.village_id)
        if alert.level + 1 >= len(levels):
            alert.history.append(AlertEvent(status=alert.status, at=now, note=NO_HIGHER))
            log.info("alert %s (%s) at level %s: %s", alert.id, alert.kind.value, alert.level, NO_HIGHER)
            continue
        alert.level += 1
        area = levels[alert.level][0]
        alert.history.append(AlertEvent(status=alert.status, at=now, note=f"escalated to {area_path(session, area)}"[:200]))
        notify_alert(session, runtime, alert, now)
        moved += 1
    return moved


def send_unsent(session: Session, runtime, now: datetime) -> int:
    """Open alerts never sent (their dispatch job was lost, say with Redis down) are sent now;
    those that found no staff are not tried again. How many were sent."""
    alerts = session.scalars(
        select(Alert)
        .where(Alert.status == AlertStatus.open, Alert.notified_at.is_(None), Alert.created_at <= now - UNSENT_AFTER,
               ~exists().where(AlertEvent.alert_id == Alert.id, AlertEvent.note == NO_STAFF))
        .order_by(Alert.id)
        .limit(BATCH)
        .with_for_update(skip_locked=True, of=Alert)
    ).all()
    return sum(1 for alert in alerts if notify_alert(session, runtime, alert, now))
