"""Running the jobs: an RQ worker on all the queues, the cron process that enqueues tick(), and
the in-process ticker of `fieldline serve` in the embedded mode."""
from __future__ import annotations

import gc
import logging
import time

from redis import Redis

from gateway.queue import job_done

log = logging.getLogger(__name__)
TICK_JOB = "worker.tick.tick"


def make_worker(runtime, name: str | None = None):
    """An RQ worker taking 'urgent', then 'checks', then 'bulk'.

    A SimpleWorker runs jobs in its own process rather than forking one per job: sends are many
    and short, and a fork each would cost more than the send. Run several workers for more."""
    from rq import Queue, SimpleWorker

    class Worker(SimpleWorker):
        def perform_job(self, job, queue, *args, **kwargs) -> bool:
            started = time.perf_counter()
            ok = super().perform_job(job, queue, *args, **kwargs)
            job_done(job.func_name, job.id, job.args, queue.name, ok, time.perf_counter() - started)
            return ok

        def heartbeat(self, timeout=None, pipeline=None):
            # RQ sends a heartbeat's three commands one by one when not given a pipeline, three
            # times a job; the same commands in one round trip make each job's overhead smaller.
            if pipeline is not None:
                return super().heartbeat(timeout, pipeline)
            with self.connection.pipeline(transaction=False) as batch:
                super().heartbeat(timeout, batch)
                batch.execute()

    redis = Redis.from_url(runtime.settings.REDIS_URL)  # no socket timeout: workers block on BLPOP
    queues = [Queue(q.name, connection=redis) for q in runtime.queues.ordered()]
    return Worker(queues, connection=redis, name=name)


def settle_memory() -> None:
    """Leave what a worker process holds from its start (app, form pack, models, libraries) out of
    the garbage collector's full passes: a job that makes many objects (tick reading a day's due
    care) otherwise sets off passes over all of it, tens of milliseconds each. For a process that
    runs jobs until it stops (`fieldline worker`), once it is set up."""
    gc.collect()
    gc.freeze()


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


def start_embedded_ticker(app, interval: float = 60.0, stop=None):
    """In the embedded mode (no Redis, no cron process) run tick() in a daemon thread of this
    process at each minute boundary, so reminders and escalations happen in the demo and the
    simulator. Setting the threading.Event stop ends the thread."""
    import threading
    import time

    from . import tick as tick_module

    stop = stop or threading.Event()

    def loop() -> None:
        while not stop.wait(interval - time.time() % interval):
            try:
                with app.app_context():
                    tick_module.tick()
            except Exception:  # tick logs its own failures; this keeps the thread alive regardless
                log.exception("embedded tick failed")

    thread = threading.Thread(target=loop, name="fieldline-tick", daemon=True)
    thread.start()
    log.info("embedded mode: tick() runs in this process at each minute")
    return thread
