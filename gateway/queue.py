"""The job queue: RQ on Redis when REDIS_URL is set, in-process otherwise.

Queues by purpose, in the order workers take them: 'urgent' (alerts and replies), 'checks'
(checks on accepted reports), 'bulk' (reminders, digests and summaries). Jobs are module-level
functions taking ids, enqueued only after the commit that wrote what they read.
"""
from __future__ import annotations

import atexit
import importlib
import logging
import os
import threading
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
    batched: bool = False  # see RQQueues.add_to_batches

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
    pusher: "BackgroundPusher | None" = None  # see push_in_background
    mode = "rq"

    def __post_init__(self) -> None:
        from rq import Queue

        self.queues = {name: Queue(f"fieldline-{name}", connection=self.redis) for name in QUEUE_NAMES}

    def push_in_background(self) -> None:
        """From now on the jobs a commit leaves (enqueue_after_commit) go to Redis from a thread
        of this process's own (see BackgroundPusher): for the web app's workers, whose requests
        then never wait on Redis. Not for a process that may end without running its exit
        handlers (an RQ job's work horse ends in os._exit)."""
        if self.pusher is None:
            self.pusher = BackgroundPusher(self.push)

    def push(self, jobs: list[Job]) -> None:
        """Jobs committed transactions left, in order, now: the batched ones' ids in one round
        trip (push_batches), the rest in another. The first RedisError is raised once both were tried."""
        failed = None
        for part, send in (([j for j in jobs if j.batched], self.push_batches),
                           ([j for j in jobs if not j.batched], self.enqueue_many)):
            if part:
                try:
                    send(part)
                except RedisError as exc:
                    failed = failed or exc
        if failed is not None:
            raise failed

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until the jobs handed to the background pusher are pushed (or failed to be); True
        if they were within timeout. At once without a background pusher."""
        return self.pusher is None or self.pusher.flush(timeout)

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

    def add_to_batches(self, jobs: list[Job]) -> None:
        """Jobs of a function that takes one id and runs many times a second (the check of each
        accepted report). Each id goes on a Redis list for its function, and an RQ job,
        run_batch, runs the function for the ids on the list in turn. Making and storing an RQ
        job costs more than the rest of a message's Redis work; this is one round trip, two when
        no run_batch is waiting already (a flag in Redis says so).

        Nothing waits for ever: run_batch clears the flag before it takes the first id, so an id
        pushed while it runs is either taken by it or sets the flag anew and enqueues the next
        run. A run that dies loses the ids it took; the function's sweeper finds their work
        undone in the database, as it does when Redis is down."""
        for job in jobs:
            _check_batched(job)
        self.push_batches(jobs)

    def push_batches(self, jobs: list[Job]) -> None:
        """add_to_batches' round trip to Redis, for jobs checked to be declared in BATCHED."""
        funcs = list(dict.fromkeys(job.func for job in jobs))
        with self.redis.pipeline(transaction=False) as pipeline:  # in order on one connection is enough
            for job in jobs:
                pipeline.rpush(batch_key(job.func), *job.args)
            for func in funcs:
                pipeline.set(batch_key(func) + ":waiting", 1, nx=True, ex=BATCH_WAITING_TTL)
            flags = pipeline.execute()[len(jobs):]
        for func, newly_set in zip(funcs, flags):
            if newly_set:
                self.enqueue_run_batch(func, next(job.queue for job in jobs if job.func == func))

    def enqueue_run_batch(self, func: str, queue: str) -> None:
        self.enqueue(Job(queue, RUN_BATCH, (func, queue)))

    def depths(self) -> dict[str, int]:
        """Jobs waiting in each queue, a batch's waiting ids counted as jobs of its queue."""
        with self.redis.pipeline(transaction=False) as pipeline:
            for queue in self.queues.values():
                pipeline.llen(queue.key)
            for func in BATCHED:
                pipeline.llen(batch_key(func))
            counts = pipeline.execute()
        depths = dict(zip(self.queues, counts))
        for func, waiting in zip(BATCHED, counts[len(self.queues):]):
            depths[BATCHED[func]] += waiting
        return depths

    def ordered(self) -> list:
        return [self.queues[name] for name in QUEUE_NAMES]


PUSH_LINGER = 0.02  # seconds a job handed to BackgroundPusher waits for others to go with it
PUSH_MOST = 200  # jobs that go at once, without waiting out PUSH_LINGER


class BackgroundPusher:
    """Hands jobs to Redis from a thread of its own, so that the request whose commit left them
    does not wait on Redis. The first job handed over waits PUSH_LINGER for others, and jobs
    handed over while a push is on its way go in the next one: a push costs the process about
    what a third of a message's other work does, and under load one carries tens of messages'
    jobs (a check waits a few hundredths of a second longer). flush() sends what is held at once.
    Redis down or slow holds up no request: a push that fails is logged, and what it carried is
    found undone by the sweepers (unchecked reports, unsent alerts and messages), as when Redis
    was down at the commit. So is what is still held if the process dies; at a normal exit it is
    pushed first."""

    def __init__(self, push: Callable[[list[Job]], None]) -> None:
        self._push = push
        self._start()
        atexit.register(self.flush, 2.0)

    def _start(self) -> None:
        self._pid = os.getpid()
        self._changed = threading.Condition()
        self._held: list[Job] = []
        self._pushing = False
        self._hurry = 0  # flushes waiting: no lingering meanwhile
        self._thread: threading.Thread | None = None

    def add(self, jobs: list[Job]) -> None:
        if self._pid != os.getpid():
            self._start()  # a forked child: the ids it inherited are its parent's to push
        with self._changed:
            held = self._held
            held.extend(jobs)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fieldline-push", daemon=True)
                self._thread.start()
            if len(held) == len(jobs) or len(held) >= PUSH_MOST:
                self._changed.notify_all()  # the pusher waits for a first job, or lingers; no flush waits for this

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._held)
                self._changed.wait_for(lambda: self._hurry or len(self._held) >= PUSH_MOST, PUSH_LINGER)
                jobs, self._held = self._held, []
                self._pushing = True
            try:
                self._push(jobs)
            except RedisError as exc:
                log.warning("could not enqueue %d job(s) (%s); the sweepers will", len(jobs), type(exc).__name__)
            except Exception:
                log.exception("enqueueing %d job(s) failed; the sweepers will enqueue them", len(jobs))
            finally:
                with self._changed:
                    self._pushing = False
                    self._changed.notify_all()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every job handed over so far is pushed, or failed to be; True if so within timeout."""
        if self._pid != os.getpid():
            return True  # nothing of this process's is held
        with self._changed:
            self._hurry += 1
            self._changed.notify_all()
            try:
                return self._changed.wait_for(lambda: not self._held and not self._pushing, timeout)
            finally:
                self._hurry -= 1


# functions that take one id and run many times a second, by queue: their ids wait in a Redis list
# (see RQQueues.add_to_batches), counted in their queue's depth
BATCHED = {"worker.checks.check_report": "checks"}
RUN_BATCH = "gateway.queue.run_batch"
BATCH_WAITING_TTL = 600  # seconds; a flag whose run_batch was lost stops holding new ones back
BATCH_TAKE = 50  # ids taken from Redis at a time
BATCH_RUN = 500  # ids one run_batch takes at most; then it leaves the rest to the next run


def _check_batched(job: Job) -> None:
    if BATCHED.get(job.func) != job.queue:
        raise ValueError(f"batched jobs must be declared in BATCHED: {job.func} on {job.queue}")


def batch_key(func: str) -> str:
    """The Redis list where func's ids wait."""
    return f"fieldline:batch:{func}"


def run_batch(func: str, queue: str) -> int:
    """The RQ job that runs func(id) for the ids waiting in func's batch, each timed, logged and
    counted as a job of its own; how many ran. One that fails is logged and the rest go on
    (its sweeper finds it). After BATCH_RUN ids, the next run takes the rest, perhaps on
    another worker, well inside RQ's time limit for one job."""
    from .runtime import current_runtime

    queues = current_runtime().queues
    key = batch_key(func)
    queues.redis.delete(key + ":waiting")  # first: an id pushed from now on enqueues another run
    target = Job(queue, func, ()).resolve()
    rq_queue = queues.queues[queue].name
    ran = 0
    while ran < BATCH_RUN and (ids := queues.redis.lpop(key, min(BATCH_TAKE, BATCH_RUN - ran))):
        for raw in ids:
            item = raw.decode("ascii", "replace")
            started = time.perf_counter()
            ok = True
            try:
                target(int(item))
            except Exception:
                log.exception("batched job %s(%s) failed; its sweeper will find it", func, item)
                ok = False
            job_done(func, None, (item,), rq_queue, ok, time.perf_counter() - started)
            ran += 1
    if ran == BATCH_RUN and queues.redis.llen(key) and queues.redis.set(
            key + ":waiting", 1, nx=True, ex=BATCH_WAITING_TTL):
        queues.enqueue_run_batch(func, queue)
    return ran


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
                         job_id: str | None = None, batched: bool = False) -> None:
    """Enqueue func(*args) once session's transaction has committed; dropped on rollback.
    batched: func takes one id and runs very often; see RQQueues.add_to_batches.

    If Redis is down at that moment the job is logged and left: the cron sweepers find the
    unchecked report or unsent message in the database and enqueue it again."""
    job = Job(queue, func, args, job_id, batched)
    if batched:
        _check_batched(job)
    session.info.setdefault(_PENDING, []).append((queues, job))


# listened for on every session (what a session's own listener costs to add, a message paid)
@event.listens_for(Session, "after_commit")
def _run_pending(session: Session) -> None:
    if _PENDING not in session.info or session.in_nested_transaction():
        return  # nothing waits, or only a savepoint was released (after_commit fires for those too)
    pending = session.info.pop(_PENDING, [])
    if any(getattr(queues, "pusher", None) is not None for queues, _ in pending):
        handed: dict[int, tuple[Any, list[Job]]] = {}
        for queues, job in pending:
            if getattr(queues, "pusher", None) is not None:
                handed.setdefault(id(queues), (queues, []))[1].append(job)
        for queues, jobs in handed.values():
            queues.pusher.add(jobs)  # pushed from its thread (RQQueues.push_in_background)
        pending = [(queues, job) for queues, job in pending if id(queues) not in handed]
    batches: dict[int, tuple[Any, list[Job]]] = {}
    for queues, job in pending:
        if job.batched and hasattr(queues, "add_to_batches"):
            batches.setdefault(id(queues), (queues, []))[1].append(job)
    for queues, jobs in batches.values():
        try:
            queues.add_to_batches(jobs)
        except RedisError as exc:
            log.warning("could not enqueue %s for %d id(s) (%s); the sweeper will",
                        ", ".join(dict.fromkeys(job.func for job in jobs)), len(jobs), type(exc).__name__)
    if batches:
        pending = [(queues, job) for queues, job in pending if id(queues) not in batches or not job.batched]
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


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:  # the outermost transaction rolled back
        session.info.pop(_PENDING, None)
