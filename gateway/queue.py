"""The job queue: RQ on Redis when REDIS_URL is set, in-process otherwise.

Queues by purpose, in the order workers take them: 'urgent' (alerts and replies), 'checks'
(checks on accepted reports), 'bulk' (reminders, digests and summaries). Jobs are module-level
functions taking ids, enqueued only after the commit that wrote what they read.
"""
from __future__ import annotations

import importlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session

from .logs import log_fields
from .metrics import observe_job

log = logging.getLogger(__name__)
QUEUE_NAMES = ("urgent", "checks", "bulk")
_PENDING = "fieldline_pending_jobs"


class QueueUnavailable(RuntimeError):
    """REQUIRE_REDIS is set and Redis cannot be reached."""


@dataclass
class Job:
    queue: str
    func: str  # a dotted path such as 'worker.checks.check_report': gateway/ never imports worker/
    args: tuple
    job_id: str | None = None

    def resolve(self) -> Callable[..., Any]:
        module, _, name = self.func.rpartition(".")
        return getattr(importlib.import_module(module), name)


class InProcessQueues:
    """Runs each job at once in this process; for the embedded default without Redis."""

    mode = "embedded"

    def __init__(self) -> None:
        self.ran: list[Job] = []

    def enqueue(self, job: Job) -> None:
        started = time.perf_counter()
        ok = True
        try:
            job.resolve()(*job.args)
        except Exception:  # the job's own sweeper will find what it left undone
            log.exception("in-process job %s failed", job.func)
            ok = False
        job_done(job.func, job.job_id, job.args, job.queue, ok, time.perf_counter() - started)
        self.ran.append(job)

    def depths(self) -> dict[str, int]:
        return {name: 0 for name in QUEUE_NAMES}


@dataclass
class RQQueues:
    """One rq.Queue per purpose on one Redis connection."""

    redis: Redis
    queues: dict = field(default_factory=dict)
    mode = "rq"

    def __post_init__(self) -> None:
        from rq import Queue

        self.queues = {name: Queue(f"fieldline-{name}", connection=self.redis) for name in QUEUE_NAMES}

    def enqueue(self, job: Job, pipeline=None) -> None:
        """One round trip to Redis (RQ alone makes two when it is given no pipeline)."""
        if pipeline is None:
            with self.redis.pipeline() as pipeline:
                self.enqueue(job, pipeline=pipeline)
                pipeline.execute()
            return
        self.queues[job.queue].enqueue(
            job.func, args=job.args, job_id=job.job_id, result_ttl=600, failure_ttl=7 * 24 * 3600,
            pipeline=pipeline,
        )

    def enqueue_many(self, jobs: list[Job]) -> None:
        """All of them in one round trip to Redis (one MULTI/EXEC), or none."""
        with self.redis.pipeline() as pipeline:
            for job in jobs:
                self.enqueue(job, pipeline=pipeline)
            pipeline.execute()

    def depths(self) -> dict[str, int]:
        return {name: queue.count for name, queue in self.queues.items()}

    def ordered(self) -> list:
        return [self.queues[name] for name in QUEUE_NAMES]


def make_queues(redis_url: str, require_redis: bool = False):
    """RQ queues when REDIS_URL is set (checked with a ping), else in-process ones; a log line says which."""
    if not redis_url:
        if require_redis:
            raise QueueUnavailable("REQUIRE_REDIS=1 but REDIS_URL is not set")
        log.info("REDIS_URL is not set: jobs run in-process (embedded mode)")
        return InProcessQueues()
    redis = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)
    try:
        redis.ping()
    except RedisError as exc:
        if require_redis:
            raise QueueUnavailable(f"Redis at {redis_url} is not reachable: {exc}") from None
        log.warning("Redis at %s is not reachable now (%s); jobs will be enqueued when it is back, "
                    "and the sweepers pick up what was missed", redis.connection_pool.connection_kwargs.get("host"),
                    type(exc).__name__)
    else:
        log.info("jobs go to RQ on Redis")
    return RQQueues(redis)


def job_done(func: str, job_id: str | None, args: tuple, queue: str, ok: bool, seconds: float) -> None:
    """One log line and the metrics for a job that has run, by RQ or in-process: its name and
    ids (jobs take ids and plain values only), how it ended and how long it took."""
    name = func.rpartition(".")[2]
    outcome = "ok" if ok else "failed"
    log.info("job %s(%s) %s in %.0f ms", name, ", ".join(map(str, args)), outcome, seconds * 1000,
             extra=log_fields(event="job", job=name, job_id=job_id, args=list(args), queue=queue,
                              outcome=outcome, duration_ms=round(seconds * 1000, 1)))
    observe_job(name, ok, seconds)


def enqueue_after_commit(session: Session, queues, queue: str, func: str, *args: Any,
                         job_id: str | None = None) -> None:
    """Enqueue func(*args) once session's transaction has committed; dropped on rollback.

    If Redis is down at that moment the job is logged and left: the cron sweepers find the
    unchecked report or unsent message in the database and enqueue it again."""
    pending: list = session.info.setdefault(_PENDING, [])
    if not event.contains(session, "after_commit", _run_pending):  # once per session, for its life
        event.listen(session, "after_commit", _run_pending)
        event.listen(session, "after_soft_rollback", _drop_pending)
    pending.append((queues, Job(queue, func, args, job_id)))


def _run_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # only a savepoint was released (after_commit fires for those too): wait for the real commit
    pending = session.info.pop(_PENDING, [])
    start = 0
    while start < len(pending):  # a run of jobs for the same queues goes in one call, in order
        queues = pending[start][0]
        end = start + 1
        while end < len(pending) and pending[end][0] is queues:
            end += 1
        jobs = [job for _, job in pending[start:end]]
        start = end
        if len(jobs) > 1 and hasattr(queues, "enqueue_many"):
            try:
                queues.enqueue_many(jobs)
            except RedisError as exc:
                log.warning("could not enqueue %d jobs (%s); the sweepers will", len(jobs), type(exc).__name__)
            continue
        for job in jobs:
            try:
                queues.enqueue(job)
            except RedisError as exc:
                log.warning("could not enqueue %s (%s); the sweeper will", job.func, type(exc).__name__)


def _drop_pending(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:  # the outermost transaction rolled back
        session.info.pop(_PENDING, None)
