"""What GET /health and GET /metrics read of the running system.

Everything here must stay cheap enough for a load balancer to ask every second: MIN and COUNT
over indexed columns of the few rows that are open or pending, a statement timeout on PostgreSQL,
and Redis asked through a client of its own with one-second timeouts, in two round trips.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry
from sqlalchemy import case, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .models import Alert, AlertStatus, DueItem, DueStatus, OutgoingKind, OutgoingMessage, OutgoingStatus

PROBE_TIMEOUT = 1.0  # seconds to connect to Redis, and to wait for each answer
STATEMENT_TIMEOUT_MS = 2000  # PostgreSQL cancels a health query that takes longer
PENDING = (OutgoingStatus.queued, OutgoingStatus.sending, OutgoingStatus.retrying)
OPEN_ALERTS = (AlertStatus.open, AlertStatus.acknowledged)
AGE_BANDS = (  # (younger than, name): an alert's age band; the last takes the rest
    (timedelta(hours=1), "under_1h"),
    (timedelta(days=1), "1h_to_1d"),
    (timedelta(days=7), "1d_to_7d"),
)
OLDEST_BAND = "over_7d"


@dataclass
class QueueState:
    depths: dict[str, int]
    oldest_ages: dict[str, float | None]  # seconds since the head job was enqueued; None: empty

    @property
    def oldest_age(self) -> float | None:
        ages = [a for a in self.oldest_ages.values() if a is not None]
        return max(ages) if ages else None


@dataclass
class State:
    """What the database says of the work waiting: due care, pending SMS, open alerts."""

    oldest_due_on: date | None
    oldest_due_age_seconds: float | None
    oldest_unsent_reminder_age_seconds: float | None
    pending_outgoing: dict[str, tuple[int, float | None]]  # status -> (count, age of the oldest)
    due_backlog: int | None = None  # counted for /metrics only
    alerts_by_age: dict[tuple[str, str], int] = field(default_factory=dict)  # (status, band) -> count


class Probe:
    """Reads the RQ queues through a Redis client of its own, with short timeouts and no retries,
    made from REDIS_URL (and made again if the setting changes)."""

    def __init__(self) -> None:
        self._url = ""
        self._client: Redis | None = None

    def client(self, url: str) -> Redis:
        """The probe's client for url, made on first use."""
        if self._client is None or self._url != url:
            self._client = Redis.from_url(url, socket_connect_timeout=PROBE_TIMEOUT, socket_timeout=PROBE_TIMEOUT,
                                          retry=Retry(NoBackoff(), 0))
            self._url = url
        return self._client

    def queue_state(self, runtime) -> QueueState | None:
        """Each RQ queue's depth and the age of its head job; None when Redis does not answer."""
        from rq.job import Job
        from rq.utils import utcparse

        from .queue import BATCHED, batch_key  # here: the queue module counts jobs in the metrics, which read this one

        client = self.client(runtime.settings.REDIS_URL)
        queues = runtime.queues.queues  # purpose -> rq.Queue
        try:
            with client.pipeline(transaction=False) as pipe:
                for queue in queues.values():
                    pipe.llen(queue.key)
                    pipe.lindex(queue.key, 0)
                for name in BATCHED:
                    pipe.llen(batch_key(name))
                answers = pipe.execute()
            batched = dict(zip(BATCHED, answers[2 * len(queues):]))
            answers = answers[:2 * len(queues)]
            heads = answers[1::2]
            with client.pipeline(transaction=False) as pipe:
                for head in heads:
                    if head:
                        pipe.hget(Job.key_for(head.decode()), "enqueued_at")
                    else:
                        pipe.echo("")
                stamps = pipe.execute()
        except RedisError:
            return None
        now = datetime.now(timezone.utc)  # RQ stamps jobs with the wall clock
        ages: dict[str, float | None] = {}
        for name, stamp in zip(queues, stamps):
            try:
                enqueued = utcparse(stamp.decode()).replace(tzinfo=timezone.utc) if stamp else None
            except ValueError:
                enqueued = None
            ages[name] = age_seconds(now, enqueued)
        depths = dict(zip(queues, answers[0::2]))
        for name, waiting in batched.items():  # a batch's ids wait as jobs of their queue
            depths[BATCHED[name]] += waiting
        return QueueState(depths=depths, oldest_ages=ages)


def age_seconds(now: datetime, then: datetime | None) -> float | None:
    """Seconds from then to now (never negative); None for no time."""
    return None if then is None else max(0.0, (now - then).total_seconds())


def read_state(runtime, *, full: bool = True) -> State:
    """The database's side of /health (full=False: no counts) and of /metrics."""
    now = runtime.clock.now()
    today = now.astimezone(runtime.settings.tz).date()
    session = runtime.db.session()
    try:
        _limit_statements(session)
        oldest_due = session.scalar(select(func.min(DueItem.due_on)).where(
            DueItem.status == DueStatus.open, DueItem.due_on <= today))
        pending = {
            status.value: (n, age_seconds(now, oldest))
            for status, n, oldest in session.execute(
                select(OutgoingMessage.status, func.count(), func.min(OutgoingMessage.created_at))
                .where(OutgoingMessage.status.in_(PENDING)).group_by(OutgoingMessage.status))
        }
        oldest_reminder = session.scalar(select(func.min(OutgoingMessage.created_at)).where(
            OutgoingMessage.status.in_(PENDING), OutgoingMessage.kind == OutgoingKind.reminder))
        state = State(
            oldest_due_on=oldest_due,
            oldest_due_age_seconds=_since_day(oldest_due, now, runtime.settings.tz),
            oldest_unsent_reminder_age_seconds=age_seconds(now, oldest_reminder),
            pending_outgoing={s.value: pending.get(s.value, (0, None)) for s in PENDING},
        )
        if full:
            state.due_backlog = session.scalar(select(func.count()).select_from(DueItem).where(
                DueItem.status == DueStatus.open, DueItem.due_on <= today))
            state.alerts_by_age = _alerts_by_age(session, now)
        # it only read: a commit ends it as well as a rollback would, and psycopg keeps the
        # connection's prepared statements through a commit (a rollback makes it drop them all)
        session.commit()
        return state
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _limit_statements(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))


def _since_day(day: date | None, now: datetime, tz) -> float | None:
    """Seconds since the start of day in the programme's time zone."""
    if day is None:
        return None
    return age_seconds(now, datetime(day.year, day.month, day.day, tzinfo=tz))


def _alerts_by_age(session: Session, now: datetime) -> dict[tuple[str, str], int]:
    band = case(*[(Alert.created_at > now - age, name) for age, name in AGE_BANDS], else_=OLDEST_BAND)
    counts = {(s.value, b): 0 for s in OPEN_ALERTS for b in [n for _, n in AGE_BANDS] + [OLDEST_BAND]}
    for status, name, n in session.execute(
        select(Alert.status, band, func.count()).where(Alert.status.in_(OPEN_ALERTS)).group_by(Alert.status, band)
    ):
        counts[(status.value, name)] = n
    return counts


def report(runtime, probe: Probe) -> tuple[int, dict]:
    """The /health answer: 503 when the database, or Redis with REQUIRE_REDIS=1, does not answer;
    'degraded' (still 200) when Redis does not answer and is not required."""
    body: dict = {"status": "ok", "form_pack": {"version": runtime.pack.version}}
    state = _database_part(runtime, body)
    redis_ok = _queue_part(runtime, probe, body)
    if state is not None:
        body["due_care"] = {"oldest_open_due_on": state.oldest_due_on and state.oldest_due_on.isoformat(),
                            "oldest_open_age_seconds": _round(state.oldest_due_age_seconds)}
        body["reminders"] = {"oldest_unsent_age_seconds": _round(state.oldest_unsent_reminder_age_seconds)}
        body["outgoing"] = {status: {"count": n, "oldest_age_seconds": _round(age)}
                            for status, (n, age) in state.pending_outgoing.items()}
    if state is None or (not redis_ok and runtime.settings.REQUIRE_REDIS):
        body["status"] = "unavailable"
        return 503, body
    if not redis_ok:
        body["status"] = "degraded"  # messages are still taken; jobs wait for Redis and the sweeps
    return 200, body


def _database_part(runtime, body: dict) -> State | None:
    started = time.perf_counter()
    try:
        state = read_state(runtime, full=False)
    except SQLAlchemyError as exc:
        body["database"] = {"ok": False, "error": type(getattr(exc, "orig", None) or exc).__name__}
        return None
    body["database"] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
    return state


def _queue_part(runtime, probe: Probe, body: dict) -> bool:
    """The queue mode, and with RQ its depths and oldest job; False when Redis does not answer."""
    if runtime.queues.mode != "rq":
        body["redis"] = {"ok": None, "required": False}  # none configured: jobs run in-process
        body["queue"] = {"mode": runtime.queues.mode, "oldest_job_age_seconds": None}
        return True
    started = time.perf_counter()
    queues = probe.queue_state(runtime)
    body["redis"] = {"ok": queues is not None, "required": runtime.settings.REQUIRE_REDIS}
    body["queue"] = {"mode": "rq"}
    if queues is None:
        return False
    body["redis"]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    body["queue"].update(depths=queues.depths, oldest_job_age_seconds=_round(queues.oldest_age))
    return True


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
