"""ACK and DONE: staff answer an alert by its number; who answered and when is kept."""
from __future__ import annotations

from .. import alerts
from ..models import Alert, AlertStatus, Contact
from ..parsers import Parsed
from . import Context, Refusal, Reply, handler

_LARGEST_ID = 2**31 - 1  # alert ids are 32-bit integers; a longer number names none


@handler("acknowledge_alert")
def acknowledge_alert(ctx: Context, parsed: Parsed) -> Reply:
    alert = _alert(ctx, parsed.values["alert"])
    if not alerts.acknowledge(alert, ctx.sender, ctx.runtime.clock.now()):
        return _already(ctx, alert)
    return Reply("acknowledged", {"alert": alert.id}, {"type": "alert", "id": str(alert.id)})


@handler("resolve_alert")
def resolve_alert(ctx: Context, parsed: Parsed) -> Reply:
    alert = _alert(ctx, parsed.values["alert"])
    if not alerts.resolve(alert, ctx.sender, ctx.runtime.clock.now(), parsed.values.get("note")):
        return _already(ctx, alert)
    return Reply("resolved", {"alert": alert.id}, {"type": "alert", "id": str(alert.id)})


def _alert(ctx: Context, number: str) -> Alert:
    """The alert a number names, locked against a second answer at the same moment, if the sender
    may answer it."""
    alert = ctx.session.get(Alert, int(number), with_for_update=True) if int(number) <= _LARGEST_ID else None
    if alert is None:
        raise Refusal("unknown_id", reason="unknown_alert", value=number)
    if not alerts.may_answer(ctx.session, ctx.sender, alert):
        raise Refusal("not_allowed", reason="alert_outside_areas", value=number)
    return alert


def _already(ctx: Context, alert: Alert) -> Reply:
    """An alert answered before: say by whom and when, change nothing."""
    event = alerts.last_change(alert, alert.status)
    by = ctx.session.get(Contact, event.by_id) if event and event.by_id else None
    at = event.at.astimezone(ctx.runtime.settings.tz).strftime("%Y-%m-%d %H:%M") if event else "-"
    key = "already_resolved" if alert.status is AlertStatus.resolved else "already_acknowledged"
    return Reply(key, {"alert": alert.id, "by": by.name if by else "-", "time": at},
                 {"type": "alert", "id": str(alert.id)})
