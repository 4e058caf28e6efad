"""The audit log: every change to the roster, the area tree and a report's review mark, with who
made it and when. Domain functions write it in the same transaction as the change."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from sqlalchemy.orm import Session

from .models import AuditEntry, utcnow


def changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """{field: [before, after]} for each field whose value differs."""
    return {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}


def record(
    session: Session, *, actor_id: int | None, entity: str, entity_id: int, action: str, summary: str,
    changes: Mapping[str, Any] | None = None, at: datetime | None = None,
) -> AuditEntry:
    """Add one entry to the log; the caller commits it with the change it describes."""
    entry = AuditEntry(actor_id=actor_id, entity=entity, entity_id=entity_id, action=action,
                       summary=summary[:200], changes=dict(changes or {}), at=at or utcnow())
    session.add(entry)
    return entry
