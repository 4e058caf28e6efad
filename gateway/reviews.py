"""Staff marking a report verified (it happened as reported) or wrong (it did not): the mark is
kept on the report with who and when, every mark goes to the audit log, and the report's open
verification alert is resolved by it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .alerts import resolve
from .models import Alert, AlertKind, AlertStatus, Contact, Report, ReportStatus

MARKS = (ReportStatus.verified, ReportStatus.wrong)


def mark_report(session: Session, report: Report, status: ReportStatus, by: Contact, now: datetime,
                note: str | None = None) -> None:
    """Mark a report verified or wrong (a later mark replaces an earlier one)."""
    if status not in MARKS:
        raise ValueError(f"a report is marked verified or wrong, not {status.value}")
    note = (note or "").strip()[:200] or None
    before = report.status
    report.status, report.reviewed_by_id, report.reviewed_at, report.review_note = status, by.id, now, note
    audit.record(session, actor_id=by.id, entity="report", entity_id=report.id, action=status.value,
                 summary=f"{report.form} report {report.id}", at=now,
                 changes={"status": [before.value, status.value], **({"note": [None, note]} if note else {})})
    alerts = session.scalars(select(Alert).where(
        Alert.report_id == report.id, Alert.kind == AlertKind.verify, Alert.status != AlertStatus.resolved))
    for alert in alerts:
        resolve(alert, by, now, f"report marked {status.value}" + (f": {note}" if note else ""))
    session.flush()
