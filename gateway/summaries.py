"""The monthly summary: a month's figures per village, and the SMS that carry them to staff.

Figures per village for a month: routine visits, new pregnancies, births, antenatal and postnatal
care given on time out of the care whose window closed that month (declined and ended care is not
counted), care that became overdue, and reports flagged for review. One query a figure for all
villages, never one a village.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from .formpack import FormPack
from .models import (
    Alert,
    AlertKind,
    Area,
    AreaKind,
    Birth,
    DueItem,
    DueStatus,
    Household,
    Person,
    Pregnancy,
    Report,
    ReportStatus,
)
from .replies import render
from .sms import fit

MAX_SEGMENTS = 2
MAX_SMS = 4  # a member of staff over many villages gets this many, then a pointer to the dashboard
COUNTED = (DueStatus.open, DueStatus.done, DueStatus.overdue)  # muted and ended care is not due


@dataclass
class VillageMonth:
    village_id: int
    name: str
    visits: int = 0
    pregnancies: int = 0
    births: int = 0
    anc_done: int = 0
    anc_due: int = 0
    pnc_done: int = 0
    pnc_due: int = 0
    overdue: int = 0
    flagged: int = 0


def previous_month(day: date) -> tuple[date, date]:
    """The first and last day of the month before day's."""
    last = day.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def _schedules_cleared_by(pack: FormPack, handler: str) -> list[str]:
    return sorted({name for form in pack.forms.values() if form.handler == handler for name in form.clears})


def _forms_of(pack: FormPack, handler: str) -> list[str]:
    return [form.code for form in pack.forms.values() if form.handler == handler]


def month_figures(session: Session, pack: FormPack, first: date, last: date, tz: ZoneInfo) -> dict[int, VillageMonth]:
    """Every village's figures for the month from first to last (local dates)."""
    return figures_by_month(session, pack, [(first, last)], tz)[0]


def figures_by_month(
    session: Session, pack: FormPack, months: list[tuple[date, date]], tz: ZoneInfo,
    village_ids: Iterable[int] | None = None,
) -> list[dict[int, VillageMonth]]:
    """The figures of each village (or of those given) for each of consecutive months, each month
    as (first day, last day) in local dates, earliest first: one query a figure for all months."""
    wanted = None if village_ids is None else set(village_ids)
    villages = select(Area.id, Area.name).where(Area.kind == AreaKind.village)
    if wanted is not None:
        villages = villages.where(Area.id.in_(wanted))
    names = dict(session.execute(villages).all())
    figures = [{vid: VillageMonth(vid, name) for vid, name in names.items()} for _ in months]
    first, last = months[0][0], months[-1][1]
    ends = [datetime.combine(month_last + timedelta(days=1), time(), tz) for _, month_last in months]
    by_day = lambda column: case(*[(column <= m_last, i) for i, (_, m_last) in enumerate(months)])  # noqa: E731
    by_time = lambda column: case(*[(column < end, i) for i, end in enumerate(ends)])  # noqa: E731

    def add(attr: str, query, village_column) -> None:
        if wanted is not None:
            query = query.where(village_column.in_(wanted))
        sub = query.subquery()  # grouped outside, so that PostgreSQL sees one bucket expression
        columns = [sub.c.village_id, sub.c.month, func.count()]
        if "done" in sub.c:
            columns.append(func.sum(sub.c.done))
        for village_id, month, n, *done in session.execute(select(*columns).group_by(sub.c.village_id, sub.c.month)):
            found = figures[month].get(village_id) if month is not None else None
            if found is None:
                continue
            if done:
                setattr(found, f"{attr}_due", n)
                setattr(found, f"{attr}_done", done[0] or 0)
            else:
                setattr(found, attr, getattr(found, attr) + n)

    def per_report(*where):
        return (select(Household.village_id.label("village_id"), by_day(Report.reported_on).label("month"))
                .select_from(Report).join(Household, Household.id == Report.household_id)
                .where(Report.reported_on.between(first, last), *where))

    add("visits", per_report(Report.form.in_(_forms_of(pack, "record_visit"))), Household.village_id)
    add("flagged", per_report(Report.status == ReportStatus.flagged), Household.village_id)
    add("pregnancies", per_report().join(Pregnancy, Pregnancy.report_id == Report.id), Household.village_id)
    add("births", select(Household.village_id.label("village_id"), by_day(Birth.born_on).label("month"))
        .select_from(Birth).join(Person, Person.id == Birth.baby_id)
        .join(Household, Household.id == Person.household_id)
        .where(Birth.born_on.between(first, last)), Household.village_id)
    start = datetime.combine(first, time(), tz)
    add("overdue", select(Alert.village_id.label("village_id"), by_time(Alert.created_at).label("month"))
        .where(Alert.kind == AlertKind.overdue, Alert.created_at >= start, Alert.created_at < ends[-1]),
        Alert.village_id)
    for prefix, handler in (("anc", "record_anc"), ("pnc", "record_pnc")):
        add(prefix, select(Household.village_id.label("village_id"), by_day(DueItem.window_end).label("month"),
                           case((DueItem.status == DueStatus.done, 1), else_=0).label("done"))
            .select_from(DueItem).join(Person, Person.id == DueItem.person_id)
            .join(Household, Household.id == Person.household_id)
            .where(DueItem.schedule.in_(_schedules_cleared_by(pack, handler)),
                   DueItem.window_end.between(first, last), DueItem.status.in_(COUNTED)),
            Household.village_id)
    return figures


def villages_under(session: Session) -> dict[int, set[int]]:
    """Area id -> the villages under it (a village: itself), from one read of the area tree."""
    children: dict[int | None, list[tuple[int, AreaKind]]] = defaultdict(list)
    for area_id, kind, parent_id in session.execute(select(Area.id, Area.kind, Area.parent_id)):
        children[parent_id].append((area_id, kind))
    under: dict[int, set[int]] = {}

    def walk(area_id: int, kind: AreaKind) -> set[int]:
        found = {area_id} if kind is AreaKind.village else set()
        for child_id, child_kind in children.get(area_id, ()):
            found |= walk(child_id, child_kind)
        under[area_id] = found
        return found

    for area_id, kind in children[None]:
        walk(area_id, kind)
    return under


def compose(pack: FormPack, lang: str, month: str, villages: list[VillageMonth]) -> list[str]:
    """The SMS carrying these villages' figures, each at most two segments, at most MAX_SMS; one
    line a village, by name; villages beyond them are counted in a last line."""
    lines = [_line(pack, lang, v) for v in sorted(villages, key=lambda v: (v.name, v.village_id))]
    texts: list[str] = []
    i = 0
    while i < len(lines) and len(texts) < MAX_SMS:
        text = render(pack, None, "summary_head" if not texts else "summary_next", lang, {"month": month})
        last_sms = len(texts) == MAX_SMS - 1
        added = 0
        while i < len(lines):
            candidate = text + "\n" + lines[i]
            rest = len(lines) - i - 1
            closing = candidate + "\n" + render(pack, None, "summary_more", lang, {"count": rest}) if rest else candidate
            if added and not fit(closing if last_sms else candidate, MAX_SEGMENTS):
                break  # the first line always goes, so that a very long village name cannot stall it
            text = candidate
            i += 1
            added += 1
        if i < len(lines) and last_sms:
            text += "\n" + render(pack, None, "summary_more", lang, {"count": len(lines) - i})
        texts.append(text)
    return texts


def _line(pack: FormPack, lang: str, v: VillageMonth) -> str:
    ratio = lambda done, due: f"{done}/{due}" if due else "-"  # noqa: E731
    return render(pack, None, "summary_line", lang, {
        "village": v.name, "visits": v.visits, "pregnancies": v.pregnancies, "births": v.births,
        "anc": ratio(v.anc_done, v.anc_due), "pnc": ratio(v.pnc_done, v.pnc_due),
        "overdue": v.overdue, "flagged": v.flagged,
    })
