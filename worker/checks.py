"""Checks on accepted reports, run by a job after intake: a report that fails one is flagged for
staff review with its reasons, never deleted. A sample of visits and events goes to a supervisor
to verify in person. The sweeper finds reports whose check was never enqueued (Redis was down)."""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Callable

from redis.exceptions import RedisError
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from gateway.alerts import raise_alert
from gateway.formpack import Form, FormPack
from gateway.intake import CHECK_JOB
from gateway.models import (
    AlertKind,
    Contact,
    Household,
    Person,
    PersonStatus,
    Pregnancy,
    PregnancyStatus,
    Report,
    ReportStatus,
    Role,
)
from gateway.people import covered_village_ids
from gateway.queue import Job
from gateway.runtime import Runtime, current_runtime
from gateway.schedules import Schedule

log = logging.getLogger(__name__)

SWEEP_AFTER = timedelta(minutes=1)  # a check enqueued at intake has surely run by then
SWEEP_BATCH = 1000
BURST_WINDOW = timedelta(hours=1)
MIN_DUPLICATE_WINDOW = timedelta(days=1)
MAX_WEEKS = 44
# Handlers whose reports state a pregnancy or its end, and so need a woman and a possible gestation.
PREGNANCY_HANDLERS = frozenset({"record_pregnancy", "record_anc", "record_birth", "record_loss"})
# Handlers whose reports change whether a person is here; they are not reports *to* a gone person.
STATUS_HANDLERS = frozenset({"record_death", "record_move_out", "record_move_in"})
# Visits and events, the reports a supervisor may be asked to verify in person.
SAMPLED_HANDLERS = frozenset({
    "record_visit", "record_pregnancy", "record_anc", "record_pnc", "record_birth", "record_loss",
    "record_danger", "record_death", "record_fp",
})


@dataclass(frozen=True)
class Checked:
    """What every check reads: the report, its form (None if the pack no longer has it), its sender."""

    session: Session
    runtime: Runtime
    report: Report
    form: Form | None
    sender: Contact

    @property
    def handler(self) -> str | None:
        return self.form.handler if self.form else None

    @property
    def person(self) -> Person | None:
        return self.session.get(Person, self.report.person_id) if self.report.person_id else None


Check = Callable[[Checked], "str | None"]


def check_report(report_id: int) -> None:
    """Run the checks on one report; does nothing if it is missing or was checked already."""
    runtime = current_runtime()
    with runtime.db.session_scope() as session:
        # the row lock makes a second copy of this job wait, then find the report checked
        report = session.get(Report, report_id, with_for_update=True)
        if report is None or report.checked_at is not None:
            return
        now = runtime.clock.now()
        if report.status is ReportStatus.accepted:  # staff may have marked it already
            _check(Checked(session, runtime, report, runtime.pack.forms.get(report.form),
                           session.get(Contact, report.sender_id)), now)
        report.checked_at = now


def _check(checked: Checked, now: datetime) -> None:
    report = checked.report
    reasons = [reason for check in CHECKS if (reason := check(checked))]
    if reasons:
        report.status = ReportStatus.flagged
        report.flag_reason = "; ".join(reasons)[:200]
        log.info("report %s (%s) flagged: %s", report.id, report.form, report.flag_reason)
    elif checked.handler in SAMPLED_HANDLERS and in_verify_sample(report.id, checked.runtime.settings.VERIFY_SAMPLE):
        _ask_to_verify(checked, now)


def _ask_to_verify(checked: Checked, now: datetime) -> None:
    """A verify alert to the staff of the person's village, to see in person that it happened."""
    report, person = checked.report, checked.person
    if person is None:  # a household visit: an alert needs a person to find its staff
        return
    alert = raise_alert(
        checked.session, checked.runtime, AlertKind.verify, person,
        f"verify in person: {report.form} report {report.id} of {report.reported_on.isoformat()}",
        now, report_id=report.id,
    )
    log.info("report %s (%s) sampled for verification: alert %s", report.id, report.form, alert.id)


def in_verify_sample(report_id: int, fraction: float) -> bool:
    """Whether a report is in the verification sample: the same answer every time it is asked."""
    digest = hashlib.sha256(f"verify-sample:{report_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < fraction * 2 ** 64


# -- the checks: each returns the reason it fails, or None ------------------------------------

def _earlier(report: Report):
    """Reports written before this one (the clock may give two the same instant; ids break the tie)."""
    return or_(Report.created_at < report.created_at,
               and_(Report.created_at == report.created_at, Report.id < report.id))


def duplicate(checked: Checked) -> str | None:
    """The same form about the same person (or household) inside the form's duplicate window."""
    report = checked.report
    if checked.form is None or (report.person_id is None and report.household_id is None):
        return None
    window = duplicate_window(checked.form, checked.runtime.pack)
    if not window:
        return None
    if report.person_id is not None:
        subject = Report.person_id == report.person_id
    else:
        subject = and_(Report.household_id == report.household_id, Report.person_id.is_(None))
    earlier = checked.session.scalar(
        select(Report.id)
        .where(Report.form == report.form, subject, _earlier(report),
               Report.created_at > report.created_at - window, Report.status != ReportStatus.wrong)
        .order_by(Report.created_at.desc(), Report.id.desc())
        .limit(1)
    )
    if earlier is None:
        return None
    return f"possible duplicate of report {earlier} (same {report.form} within {_days(window)})"


def outside_villages(checked: Checked) -> str | None:
    """Volunteers and staff report on the villages they cover; admins on any."""
    report = checked.report
    if report.household_id is None or checked.sender.role is Role.admin:
        return None
    village_id = checked.session.scalar(select(Household.village_id).where(Household.id == report.household_id))
    if village_id in covered_village_ids(checked.session, checked.sender):
        return None
    return "outside the sender's villages"


def male_pregnancy(checked: Checked) -> str | None:
    """A pregnancy, antenatal contact, birth or loss for a person registered as male."""
    if checked.handler not in PREGNANCY_HANDLERS:
        return None
    person = checked.person
    if person is None or person.sex != "M":
        return None
    return f"{checked.report.form} for a person registered as male"


def over_term(checked: Checked) -> str | None:
    """More than 44 weeks of pregnancy on the day the report speaks of."""
    if checked.handler not in PREGNANCY_HANDLERS or checked.report.person_id is None:
        return None
    found = _pregnancy_of(checked.session, checked.report)
    if found is None:
        return None
    pregnancy, on = found
    weeks = (on - pregnancy.lmp).days // 7
    if weeks <= MAX_WEEKS:
        return None
    return f"{weeks} weeks of pregnancy (over {MAX_WEEKS})"


def _pregnancy_of(session: Session, report: Report) -> tuple[Pregnancy, date] | None:
    """The pregnancy a report is about, and the day it speaks of."""
    ended = session.scalar(select(Pregnancy).where(Pregnancy.ended_report_id == report.id))
    if ended is not None:  # a birth or a loss: the gestation on the day it ended
        return ended, ended.ended_on or report.reported_on
    pregnancy = session.scalar(
        select(Pregnancy)
        .where(Pregnancy.person_id == report.person_id, Pregnancy.report_id <= report.id,
               Pregnancy.lmp <= report.reported_on,
               or_(Pregnancy.ended_on.is_(None), Pregnancy.ended_on >= report.reported_on))
        .order_by(Pregnancy.lmp.desc(), Pregnancy.id.desc())
        .limit(1)
    )
    return (pregnancy, report.reported_on) if pregnancy is not None else None


def person_gone(checked: Checked) -> str | None:
    """A report about a person who had died or moved out by the day it was made."""
    person = checked.person
    report = checked.report
    if person is None or person.status is PersonStatus.active or checked.handler in STATUS_HANDLERS:
        return None
    gone_on = person.status_on
    if gone_on is None or gone_on > report.reported_on:
        return None
    if gone_on == report.reported_on and not _after_status_report(checked, person):
        return None  # the same day, but made before the death or move was reported
    what = "deceased" if person.status is PersonStatus.deceased else "moved out"
    return f"the person is {what} since {gone_on.isoformat()}"


def _after_status_report(checked: Checked, person: Person) -> bool:
    codes = [f.code for f in checked.runtime.pack.forms.values() if f.handler in STATUS_HANDLERS]
    last = checked.session.scalar(
        select(func.max(Report.id)).where(Report.person_id == person.id, Report.form.in_(codes))
    )
    return last is not None and last < checked.report.id


def overlapping_pregnancy(checked: Checked) -> str | None:
    """A pregnancy reported while an earlier one had not ended (two PREG racing in, or a new LMP
    before the last birth or loss)."""
    if checked.handler != "record_pregnancy":
        return None
    session = checked.session
    this = session.scalar(select(Pregnancy).where(Pregnancy.report_id == checked.report.id))
    if this is None:
        return None
    earlier = session.scalars(
        select(Pregnancy).where(Pregnancy.person_id == this.person_id, Pregnancy.id < this.id)
    )
    for other in earlier:
        if other.lmp < _end(this) and this.lmp < _end(other):
            return f"overlaps the pregnancy of report {other.report_id}"
    return None


def _end(pregnancy: Pregnancy) -> date:
    if pregnancy.status is PregnancyStatus.open or pregnancy.ended_on is None:
        return date.max
    return pregnancy.ended_on


def burst(checked: Checked) -> str | None:
    """More than BURST_PER_HOUR reports from one sender within an hour up to this one."""
    limit = checked.runtime.settings.BURST_PER_HOUR
    report = checked.report
    if not limit:
        return None
    count = checked.session.scalar(
        select(func.count()).select_from(Report).where(
            Report.sender_id == report.sender_id, Report.created_at > report.created_at - BURST_WINDOW,
            or_(Report.id == report.id, _earlier(report)),
        )
    )
    if count <= limit:
        return None
    return f"burst of {count} reports from the sender in an hour (over {limit})"


CHECKS: tuple[Check, ...] = (
    duplicate, outside_villages, male_pregnancy, over_term, person_gone, overlapping_pregnancy, burst,
)


# -- the duplicate window ------------------------------------------------------------------

def duplicate_window(form: Form, pack: FormPack) -> timedelta:
    """How close two reports of a form about one subject may come before the later one is flagged.

    A form's options may set duplicate_window_days (0 turns the check off). Otherwise a form that
    clears due care gets the shortest window of those schedules' items, but at most half the
    spacing of their due days, so honest reports for consecutive items are never flagged; every
    other form (events) gets one day."""
    days = form.options.get("duplicate_window_days")
    if days is not None:
        return timedelta(days=days)
    windows = [_schedule_window(pack.schedules[name]) for name in form.clears if name in pack.schedules]
    return max(min(windows), MIN_DUPLICATE_WINDOW) if windows else MIN_DUPLICATE_WINDOW


def _schedule_window(schedule: Schedule) -> timedelta:
    due = sorted(item.at for item in schedule.items)
    spacing = min((b - a for a, b in zip(due, due[1:])), default=due[0])
    return min(spacing / 2, *(item.before + item.after for item in schedule.items))


def _days(window: timedelta) -> str:
    days = window / timedelta(days=1)
    return f"{days:g} day" + ("" if days == 1 else "s")


# -- the sweeper ---------------------------------------------------------------------------

def sweep_unchecked() -> int:
    """Enqueue again the checks of accepted reports left unchecked for over a minute, oldest
    first, at most SWEEP_BATCH at a time; how many were enqueued. Run every minute by tick."""
    runtime = current_runtime()
    cutoff = runtime.clock.now() - SWEEP_AFTER
    with runtime.db.session_scope() as session:
        ids = list(session.scalars(
            select(Report.id)
            .where(Report.status == ReportStatus.accepted, Report.checked_at.is_(None),
                   Report.created_at < cutoff)
            .order_by(Report.created_at, Report.id)
            .limit(SWEEP_BATCH)
        ))
    enqueued = 0
    for report_id in ids:
        try:
            runtime.queues.enqueue(Job("checks", CHECK_JOB, (report_id,)))
        except RedisError as exc:
            log.warning("sweep: could not enqueue the check of report %s (%s); the next sweep will",
                        report_id, type(exc).__name__)
            break
        enqueued += 1
    if ids:
        log.info("sweep: %s unchecked report(s) enqueued for checks", enqueued)
    return enqueued
