"""The roster: areas as a tree and contacts imported from CSV, row by row with a report."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Iterable, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
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


def area_by_path(session: Session, path: str, *, create: bool = False, actor_id: int | None = None) -> Area:
    """'Kisumu/Nyando/Kanyagwal' -> the village; levels are district › township › village.

    With create, missing areas are added (and written to the audit log as done by actor_id)."""
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
            audit.record(session, actor_id=actor_id, entity="area", entity_id=area.id, action="added",
                         summary="/".join(parts[:depth + 1]), changes={"kind": [None, area.kind.value]})
        parent = area
    return parent


def _area_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise RosterError("the name is empty")
    if len(name) > 80:
        raise RosterError("the name is longer than 80 characters")
    if any(c in name for c in "/>›;"):
        raise RosterError("a name may not hold '/', '>', '›' or ';', which separate areas in paths")
    return name


def _sibling_named(session: Session, parent_id: int | None, name: str) -> Area | None:
    return session.scalar(select(Area).where(
        Area.parent_id.is_(None) if parent_id is None else Area.parent_id == parent_id, Area.name == name))


def _kind_under(parent: Area | None) -> AreaKind:
    if parent is None:
        return AreaKind.district
    if parent.kind is AreaKind.village:
        raise RosterError("a village has no areas under it")
    return KINDS[KINDS.index(parent.kind) + 1]


def add_area(session: Session, name: str, parent: Area | None, *, actor_id: int | None = None) -> Area:
    """A district (no parent), a township under a district or a village under a township."""
    name = _area_name(name)
    kind = _kind_under(parent)
    if _sibling_named(session, parent.id if parent else None, name) is not None:
        raise RosterError(f"'{name}' is already there")
    area = Area(name=name, kind=kind, parent=parent)
    session.add(area)
    session.flush()
    audit.record(session, actor_id=actor_id, entity="area", entity_id=area.id, action="added",
                 summary=area_path(session, area), changes={"kind": [None, kind.value]})
    return area


def rename_area(session: Session, area: Area, name: str, *, actor_id: int | None = None) -> bool:
    """Give an area a new name, unique among its siblings; False when the name is the same."""
    name = _area_name(name)
    if name == area.name:
        return False
    if _sibling_named(session, area.parent_id, name) is not None:
        raise RosterError(f"'{name}' is already there")
    old_path = area_path(session, area)
    area.name = name
    session.flush()
    audit.record(session, actor_id=actor_id, entity="area", entity_id=area.id, action="renamed",
                 summary=area_path(session, area), changes={"path": [old_path, area_path(session, area)]})
    return True


def move_area(session: Session, area: Area, parent: Area, *, actor_id: int | None = None) -> bool:
    """Put a village under another township, or a township under another district, with everything
    under it (households, people, staff who cover it); False when it is there already."""
    if area.kind is AreaKind.district:
        raise RosterError("a district is at the top of the tree")
    if _kind_under(parent) is not area.kind:
        above = KINDS[KINDS.index(area.kind) - 1].value
        raise RosterError(f"a {area.kind.value} goes under a {above}, not a {parent.kind.value}")
    if parent.id == area.parent_id:
        return False
    if _sibling_named(session, parent.id, area.name) is not None:
        raise RosterError(f"'{parent.name}' already has a {area.kind.value} named '{area.name}'")
    old_path = area_path(session, area)
    area.parent = parent
    session.flush()
    audit.record(session, actor_id=actor_id, entity="area", entity_id=area.id, action="moved",
                 summary=area_path(session, area), changes={"path": [old_path, area_path(session, area)]})
    return True


def area_path(session: Session, area: Area) -> str:
    names = []
    current: Area | None = area
    while current is not None:
        names.append(current.name)
        current = current.parent
    return "/".join(reversed(names))


def save_contact(
    session: Session, *, name: str, phone: str, role: str, areas: Iterable[str], language: str,
    region: str, create_areas: bool = True, actor_id: int | None = None, activate: bool = True,
) -> tuple[Contact, str]:
    """Add or update the contact with this phone; returns it and 'added', 'updated' or 'unchanged'.

    An existing contact is made active again (a re-import brings back one who returned) unless
    activate is False. An added or updated contact is written to the audit log as done by
    actor_id (None: the CLI)."""
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
    area_list = [area_by_path(session, p, create=create_areas, actor_id=actor_id) for p in paths]
    if role_value is Role.volunteer:
        for path, area in zip(paths, area_list):
            if area.kind is not AreaKind.village:
                raise RosterError(f"a volunteer's area must be a village (District/Township/Village), not '{path}'")
    if len({a.id for a in area_list}) != len(area_list):
        raise RosterError("the same area is listed twice")

    contact = session.scalar(select(Contact).where(Contact.phone == phone))
    action = "unchanged"
    before: dict = {}
    if contact is None:
        contact = Contact(name=name, phone=phone, role=role_value, language=language, active=True)
        session.add(contact)
        action = "added"
    else:
        old_areas = [link.area for link in contact.area_links]
        before = {"name": contact.name, "role": contact.role.value, "language": contact.language,
                  "active": contact.active, "areas": old_areas}
        active = True if activate else contact.active
        contact.name, contact.role, contact.language, contact.active = name, role_value, language, active
        if (before["name"], before["role"], before["language"], before["active"], [a.id for a in old_areas]) != (
                name, role_value.value, language, active, [a.id for a in area_list]):
            action = "updated"
    contact.area_links = [ContactArea(area_id=a.id, position=i) for i, a in enumerate(area_list)]
    session.flush()
    if action != "unchanged":
        if before:
            before["areas"] = [area_path(session, a) for a in before["areas"]]
        after = {"name": name, "role": role_value.value, "language": language, "active": contact.active,
                 "areas": [area_path(session, a) for a in area_list]}
        if action == "added":
            after["phone"] = phone
        audit.record(session, actor_id=actor_id, entity="contact", entity_id=contact.id, action=action,
                     summary=f"{name} ({phone})", changes=audit.changed(before, after))
    return contact, action


def change_phone(session: Session, contact: Contact, phone: str, region: str, *, actor_id: int | None = None) -> None:
    """Give a contact a new number; refused when it is not a phone number or belongs to another."""
    try:
        phone = normalize_phone(phone, region)
    except InvalidPhone as exc:
        raise RosterError(str(exc)) from None
    if phone == contact.phone:
        return
    other = session.scalar(select(Contact).where(Contact.phone == phone))
    if other is not None:
        raise RosterError(f"phone {phone} belongs to {other.name}")
    audit.record(session, actor_id=actor_id, entity="contact", entity_id=contact.id, action="updated",
                 summary=f"{contact.name} ({phone})", changes={"phone": [contact.phone, phone]})
    contact.phone = phone
    session.flush()


def set_active(session: Session, contact: Contact, active: bool, *, actor_id: int | None = None) -> bool:
    """Deactivate a contact who left (their messages are no longer taken, nothing is sent to them,
    they cannot sign in) or reactivate one; False when there was nothing to change."""
    if contact.active == active:
        return False
    contact.active = active
    audit.record(session, actor_id=actor_id, entity="contact", entity_id=contact.id,
                 action="reactivated" if active else "deactivated", summary=f"{contact.name} ({contact.phone})",
                 changes={"active": [not active, active]})
    session.flush()
    return True


def _read_csv(text: str) -> tuple[list[str], list[tuple[int, dict]]]:
    """The header, lower-cased, and (line, row) for each row; a CSV that csv cannot read (a field
    past its size limit) is a RosterError, not a crash."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        reader.fieldnames = [h.strip().lower() for h in (reader.fieldnames or [])]
        return reader.fieldnames, [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise RosterError(f"line {reader.line_num}: {exc}") from None


def import_roster(session: Session, source: TextIO, region: str, *, actor_id: int | None = None) -> ImportReport:
    """Import a CSV (name,phone,role,area,language); each row lands whole or not at all.

    A row may list several areas separated by ';'. Rows repeating an earlier row's phone are refused.
    Every added or updated contact is written to the audit log as done by actor_id (None: the CLI).
    """
    text = source.read()
    if text.startswith("\ufeff"):
        text = text[1:]  # spreadsheet exports often start with a byte-order mark
    if "\x00" in text:  # UTF-16 read as UTF-8 looks like this; no database keeps NUL in a name
        raise RosterError("the file holds NUL characters, so it is not a UTF-8 CSV; save it as 'CSV UTF-8'")
    header, rows = _read_csv(text)
    missing = [c for c in COLUMNS[:4] if c not in header]
    if missing:
        raise RosterError(f"the CSV has no column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}")
    report = ImportReport()
    seen: dict[str, int] = {}
    for line, row in rows:
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
                    actor_id=actor_id,
                )
            seen[key] = line
            result.action, result.phone = action, contact.phone
        except RosterError as exc:
            result.reason = str(exc)
        report.rows.append(result)
    return report
