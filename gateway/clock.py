"""The one clock: 'now' in UTC and 'today' in the programme's time zone; tests move it."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo


class Clock:
    def __init__(self, tz: ZoneInfo):
        self.tz = tz

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def local_now(self) -> datetime:
        return self.now().astimezone(self.tz)

    def today(self) -> date:
        return self.local_now().date()


class FrozenClock(Clock):
    """A clock that stays where it is put; tests call set() and advance()."""

    def __init__(self, tz: ZoneInfo, at: datetime):
        super().__init__(tz)
        self.set(at)

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            at = at.replace(tzinfo=self.tz)
        self._now = at.astimezone(timezone.utc)

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)

    def now(self) -> datetime:
        return self._now
