"""What the signed-in person may see, in one place: admins everything; staff the areas under
theirs, and the villages, records, alerts and contacts in them. Every query of a page that shows
records goes through the signed-in person's Scope."""
from __future__ import annotations

from dataclasses import dataclass

from flask import abort, g
from flask_login import current_user
from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from gateway.models import Area, AreaKind, Contact, ContactArea, Role


@dataclass(frozen=True)
class Scope:
    """area_ids: every area under the person's areas, theirs included; None for admins (all)."""

    area_ids: frozenset[int] | None
    village_ids: frozenset[int] | None

    @property
    def everything(self) -> bool:
        return self.area_ids is None

    def villages(self, column) -> ColumnElement[bool]:
        """A condition: column (a village id) is one of the villages in scope."""
        return true() if self.village_ids is None else column.in_(self.village_ids)

    def areas(self, column) -> ColumnElement[bool]:
        return true() if self.area_ids is None else column.in_(self.area_ids)

    def contacts(self, column) -> ColumnElement[bool]:
        """A condition: column (a contact id) is someone working in an area in scope."""
        if self.area_ids is None:
            return true()
        return column.in_(select(ContactArea.contact_id).where(ContactArea.area_id.in_(self.area_ids)))

    def has_village(self, village_id: int | None) -> bool:
        return self.village_ids is None or village_id in self.village_ids


def scope_for(session: Session, contact: Contact) -> Scope:
    if contact.role is Role.admin:
        return Scope(None, None)
    if contact.role is not Role.staff:
        return Scope(frozenset(), frozenset())
    frontier = {link.area_id for link in contact.area_links}
    found: dict[int, AreaKind] = {}
    while frontier:
        rows = session.execute(select(Area.id, Area.kind).where(
            Area.id.in_(frontier) | Area.parent_id.in_(frontier))).all()
        new = {r.id: r.kind for r in rows if r.id not in found}
        found.update(new)
        frontier = {i for i, kind in new.items() if kind is not AreaKind.village}
    return Scope(frozenset(found), frozenset(i for i, kind in found.items() if kind is AreaKind.village))


def current_scope(session: Session) -> Scope:
    """The signed-in person's scope, worked out once a request."""
    if "admin_scope" not in g:
        g.admin_scope = scope_for(session, current_user.contact)
    return g.admin_scope


def found_in_scope(row, village_id: int | None, session: Session):
    """row, if it exists and its village is in the signed-in person's scope; else 404, so that
    staff cannot even learn that another area's record exists."""
    if row is None or not current_scope(session).has_village(village_id):
        abort(404)
    return row
