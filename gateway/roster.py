"""The roster: areas as a tree and contacts imported from CSV, row by row with a report."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Iterable, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from .config import LANGUAGES
from .models import Area, AreaKind, Contact, ContactArea, Role
from .phones import InvalidPhone, normalize_phone

COLUMNS = ("name", "phone", "role", "area", "language")
KINDS = (AreaKind.district, AreaKind.township, AreaKind.village)


class RosterError(ValueError):
    """A row or value that cannot go into the roster; the message says why."""


@dataclass
class RowResult:
    line: int
    action: str  # added | updated | unchanged | refused
    name: str = ""
    phone: str = ""
    reason: str = ""


@dataclass
class ImportReport:
    rows: list[RowResult] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)

    @property
    def refused(self) -> list[RowResult]:
        return [r for r in self.rows if r.action == "refused"]

    def summary(self) -> str:
        return ", ".join(f"{self.count(a)} {a}" for a in ("added", "updated", "unchanged", "refused"))


def area_by_path(session: Session, path: str, *, create: bool = False) -> Area:
    """'Kisumu/Nyando/Kanyagwal' -> the village; levels are district › township › village."""
    parts = [p.strip() for p in path.replace(">", "/").replace("›", "/").split("/")]
    if not path.strip() or any(not p for p in parts):
        raise RosterError(f"area '{path}' is not a path like District/Township/Village")
    if len(parts) > len(KINDS):
        raise RosterError(f"area '{path}' has more than {len(KINDS)} levels")
    parent: Area | None = None
    for depth, name in enumerate(parts):
        if len(name) > 80:
            raise RosterError(f"area name '{name[:20]}...' is longer than 80 characters")
        area = session.scalar(select(Area).where(
            Area.parent_id.is_(None) if parent is None else Area.parent_id == parent.id,
            Area.name == name,
        ))
        if area is None:
            if not create:
                raise RosterError(f"area '{'/'.join(parts[:depth + 1])}' does not exist")
            area = Area(name=name, kind=KINDS[depth], parent=parent)
            session.add(area)
            session.flush()
        parent = area
    return parent


def area_path(session: Session, area: Area) -> str:
    names = []
    current: Area | None = area
    while current is not None:
        names.append(current.name)
        current = current.parent
    return "/".join(reversed(names))


def save_contact(
    session: Session, *, name: str, phone: str, role: str, areas: Iterable[str], language: str,
    region: str, create_areas: bool = True,
) -> tuple[Contact, str]:
    """Add or update the contact with this phone; returns it and 'added', 'updated' or 'unchanged'."""
    name = " ".join(name.split())
    if not name:
        raise RosterError("name is empty")
    if len(name) > 80:
        raise RosterError("name is longer than 80 characters")
    try:
        phone = normalize_phone(phone, region)
    except InvalidPhone as exc:
        raise RosterError(str(exc)) from None
    try:
        role_value = Role(role.strip().lower())
    except ValueError:
        raise RosterError(f"role '{role}' is not one of volunteer, staff, admin") from None
    language = language.strip().lower() or "en"
    if language not in LANGUAGES:
        raise RosterError(f"language '{language}' is not one of {', '.join(LANGUAGES)}")
    paths = [p for p in areas if p.strip()]
    if not paths and role_value is not Role.admin:
        raise RosterError(f"a {role_value.value} needs an area")
    area_list = [area_by_path(session, p, create=create_areas) for p in paths]
    if role_value is Role.volunteer:
        for path, area in zip(paths, area_list):
            if area.kind is not AreaKind.village:
                raise RosterError(f"a volunteer's area must be a village (District/Township/Village), not '{path}'")
    if len({a.id for a in area_list}) != len(area_list):
        raise RosterError("the same area is listed twice")

    contact = session.scalar(select(Contact).where(Contact.phone == phone))
    action = "unchanged"
    if contact is None:
        contact = Contact(name=name, phone=phone, role=role_value, language=language, active=True)
        session.add(contact)
        action = "added"
    else:
        before = (contact.name, contact.role, contact.language, contact.active, [l.area_id for l in contact.area_links])
        contact.name, contact.role, contact.language, contact.active = name, role_value, language, True
        if before != (name, role_value, language, True, [a.id for a in area_list]):
            action = "updated"
    contact.area_links = [ContactArea(area_id=a.id, position=i) for i, a in enumerate(area_list)]
    session.flush()
    return contact, action


def import_roster(session: Session, source: TextIO, region: str) -> ImportReport:
    """Import a CSV (name,phone,role,area,language); each row lands whole or not at all.

    A row may list several areas separated by ';'. Rows repeating an earlier row's phone are refused.
    """
    text = source.read()
    if text.startswith("\ufeff"):
        text = text[1:]  # spreadsheet exports often start with a byte-order mark
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in COLUMNS[:4] if c not in header]
    if missing:
        raise RosterError(f"the CSV has no column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}")
    reader.fieldnames = header
    report = ImportReport()
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        get = lambda k: (row.get(k) or "").strip()  # noqa: E731
        if not any(get(c) for c in COLUMNS):
            continue
        result = RowResult(line=line, action="refused", name=get("name"), phone=get("phone"))
        try:
            try:
                key = normalize_phone(get("phone"), region)
            except InvalidPhone as exc:
                raise RosterError(str(exc)) from None
            if key in seen:
                raise RosterError(f"phone {key} is already on line {seen[key]}")
            with session.begin_nested():
                contact, action = save_contact(
                    session, name=get("name"), phone=get("phone"), role=get("role"),
                    areas=get("area").split(";"), language=get("language"), region=region,
                )
            seen[key] = line
            result.action, result.phone = action, contact.phone
        except RosterError as exc:
            result.reason = str(exc)
        report.rows.append(result)
    return report
