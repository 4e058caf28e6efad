"""The dashboard's figures: each village's month (from gateway.summaries), its households and
people, and an attention level with the reasons for it; the last twelve months for the chart."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.config import Settings
from gateway.formpack import FormPack
from gateway.models import Area, AreaKind, Household, Person, PersonStatus
from gateway.summaries import VillageMonth, figures_by_month

from .queries import area_paths
from .scope import Scope

GREEN, YELLOW, RED = "green", "yellow", "red"
COLUMNS = ("village", "township", "households", "people", "visits", "pregnancies", "births", "anc_on_time",
           "anc_due", "pnc_on_time", "pnc_due", "overdue", "flagged", "attention", "reasons")


@dataclass
class VillageRow:
    month: VillageMonth
    township: str
    households: int = 0
    people: int = 0
    level: str = GREEN
    reasons: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.month.name

    def csv_row(self) -> list:
        m = self.month
        return [m.name, self.township, self.households, self.people, m.visits, m.pregnancies, m.births, m.anc_done,
                m.anc_due, m.pnc_done, m.pnc_due, m.overdue, m.flagged, self.level, "; ".join(self.reasons)]


@dataclass
class MonthTotal:
    first: date
    visits: int = 0
    pregnancies: int = 0
    births: int = 0
    care_done: int = 0
    care_due: int = 0

    @property
    def on_time(self) -> float | None:
        return self.care_done / self.care_due if self.care_due else None


@dataclass
class Dashboard:
    first: date
    last: date
    rows: list[VillageRow]
    months: list[MonthTotal]

    def count(self, level: str) -> int:
        return sum(1 for row in self.rows if row.level == level)


def month_of(text: str | None, today: date) -> date:
    """The first day of 'YYYY-MM', or of this month when text is missing or not a month."""
    try:
        year, month = (int(part) for part in (text or "").split("-"))
        return date(year, month, 1)
    except ValueError:
        return today.replace(day=1)


def month_span(first: date) -> tuple[date, date]:
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, following - timedelta(days=1)


def months_back(first: date, n: int) -> list[tuple[date, date]]:
    """n months ending with first's month, earliest first."""
    months = []
    current = first
    for _ in range(n):
        months.append(month_span(current))
        current = (current - timedelta(days=1)).replace(day=1)
    return list(reversed(months))


def attention(month: VillageMonth, settings: Settings) -> tuple[str, list[str]]:
    """green, yellow or red for a village's month, and the reasons for a colour other than green."""
    levels: list[tuple[str, str]] = []
    due = month.anc_due + month.pnc_due
    if due:
        done = month.anc_done + month.pnc_done
        share = done / due
        text = f"{done} of {due} antenatal and postnatal care given on time ({share:.0%})"
        if share < settings.ATTENTION_ON_TIME_RED:
            levels.append((RED, text))
        elif share < settings.ATTENTION_ON_TIME_YELLOW:
            levels.append((YELLOW, text))
    if month.overdue:
        text = f"{month.overdue} overdue care"
        if settings.ATTENTION_OVERDUE_RED and month.overdue >= settings.ATTENTION_OVERDUE_RED:
            levels.append((RED, text))
        elif settings.ATTENTION_OVERDUE_YELLOW and month.overdue >= settings.ATTENTION_OVERDUE_YELLOW:
            levels.append((YELLOW, text))
    if settings.ATTENTION_FLAGGED_YELLOW and month.flagged >= settings.ATTENTION_FLAGGED_YELLOW:
        levels.append((YELLOW, f"{month.flagged} flagged records to review"))
    if not levels:
        return GREEN, []
    level = RED if any(lv == RED for lv, _ in levels) else YELLOW
    return level, [text for _, text in levels]


def build(session: Session, pack: FormPack, settings: Settings, scope: Scope, first: date) -> Dashboard:
    """The month starting on first for the villages in scope, and the twelve months up to it."""
    months = months_back(first, 12)
    village_ids = None if scope.everything else scope.village_ids
    per_month = figures_by_month(session, pack, months, settings.tz, village_ids)
    current = per_month[-1]
    households, people = _registry_counts(session, scope)
    parents = dict(session.execute(select(Area.id, Area.parent_id).where(
        Area.kind == AreaKind.village, scope.villages(Area.id))).all())
    townships = area_paths(session, {p for p in parents.values() if p is not None})
    rows = []
    for village_id, month in current.items():
        row = VillageRow(month, townships.get(parents.get(village_id), ""), households.get(village_id, 0),
                         people.get(village_id, 0))
        row.level, row.reasons = attention(month, settings)
        rows.append(row)
    order = {RED: 0, YELLOW: 1, GREEN: 2}
    rows.sort(key=lambda r: (order[r.level], r.township.lower(), r.name.lower()))
    totals = []
    for (month_first, _), figures in zip(months, per_month):
        total = MonthTotal(month_first)
        for m in figures.values():
            total.visits += m.visits
            total.pregnancies += m.pregnancies
            total.births += m.births
            total.care_done += m.anc_done + m.pnc_done
            total.care_due += m.anc_due + m.pnc_due
        totals.append(total)
    return Dashboard(months[-1][0], months[-1][1], rows, totals)


def _registry_counts(session: Session, scope: Scope) -> tuple[dict[int, int], dict[int, int]]:
    households = dict(session.execute(
        select(Household.village_id, func.count()).where(scope.villages(Household.village_id))
        .group_by(Household.village_id)).all())
    people = dict(session.execute(
        select(Household.village_id, func.count()).select_from(Person)
        .join(Household, Household.id == Person.household_id)
        .where(Person.status == PersonStatus.active, scope.villages(Household.village_id))
        .group_by(Household.village_id)).all())
    return households, people
