"""Running the jobs: an RQ worker on all the queues, and the cron process that enqueues tick()."""
from __future__ import annotations

import logging

from redis import Redis

log = logging.getLogger(__name__)
TICK_JOB = "worker.tick.tick"


def make_worker(runtime, name: str | None = None):
    """An RQ worker taking 'urgent', then 'checks', then 'bulk'.

    A SimpleWorker runs jobs in its own process rather than forking one per job: sends are many
    and short, and a fork each would cost more than the send. Run several workers for more."""
    from rq import Queue, SimpleWorker

    redis = Redis.from_url(runtime.settings.REDIS_URL)  # no socket timeout: workers block on BLPOP
    queues = [Queue(q.name, connection=redis) for q in runtime.queues.ordered()]
    return SimpleWorker(queues, connection=redis, name=name)


def make_cron(runtime):
    """An RQ cron scheduler enqueueing tick() at the start of every minute."""
    from rq.cron import CronScheduler

    redis = Redis.from_url(runtime.settings.REDIS_URL)
    scheduler = CronScheduler(connection=redis)
    scheduler.register(_tick_func(), queue_name="fieldline-checks", cron="* * * * *", job_timeout=300,
                       result_ttl=3600)
    return scheduler


def _tick_func():
    from .tick import tick

    return tick
