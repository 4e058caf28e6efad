"""Prometheus metrics: what happened, counted where it happens, and the state of things, read at
scrape time.

Counters and histograms live in the process that does the work (a gunicorn worker, an RQ worker).
With PROMETHEUS_MULTIPROC_DIR set (prometheus-client reads it from the environment, at import),
every process writes its counts to files in that directory and GET /metrics adds up the files of
all processes of the host: the gunicorn workers and the `fieldline worker` processes that share
the directory. Without it, /metrics shows this process's counts only (fine for `fieldline serve`).

Gauges of state (queue depth, the backlog of due care, open alerts by age) are not kept per
process: StateCollector reads them from Redis and the database when /metrics is scraped, with the
same cheap, indexed queries as /health.
"""
from __future__ import annotations

import logging
import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import REGISTRY as PROCESS_REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.exc import SQLAlchemyError

from . import health

log = logging.getLogger(__name__)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus-client itself, so read here as it does

INBOUND = Counter("fieldline_inbound_messages", "Inbound messages by channel and outcome "
                  "(accepted, rejected, ignored, failed, or duplicate for a provider's retry).",
                  ["channel", "outcome"])
REPLIES = Counter("fieldline_replies", "Replies composed for inbound messages, by channel.", ["channel"])
PARSE_ERRORS = Counter("fieldline_parse_errors", "Messages that could not be read, by error code.", ["code"])
OUTGOING = Counter("fieldline_outgoing_messages", "Outgoing SMS moved to a status, by status.", ["status"])
WEBHOOK_SECONDS = Histogram(
    "fieldline_webhook_seconds", "Time to answer a provider's webhook, by endpoint and HTTP status.",
    ["endpoint", "code"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 15),
)
JOBS = Counter("fieldline_jobs", "Jobs run, by job and outcome (ok, failed).", ["job", "outcome"])
JOB_SECONDS = Histogram("fieldline_job_seconds", "Time to run one job, by job.", ["job"],
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))


def count_inbound(channel: str, outcome: str, replied: bool) -> None:
    """One inbound message answered (or a provider's retry of one)."""
    INBOUND.labels(channel, outcome).inc()
    if replied:
        REPLIES.labels(channel).inc()


def count_outgoing(status: str, n: int = 1) -> None:
    """Outgoing messages moved to status (made, for 'queued')."""
    OUTGOING.labels(status).inc(n)


def observe_job(job: str, ok: bool, seconds: float) -> None:
    """One job run, by its function's name."""
    JOBS.labels(job, "ok" if ok else "failed").inc()
    JOB_SECONDS.labels(job).observe(seconds)


def prepare_multiprocess_dir() -> None:
    """Make PROMETHEUS_MULTIPROC_DIR if it is set and missing: a count written to a missing
    directory would fail the request or job that made it."""
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        os.makedirs(path, exist_ok=True)


class StateCollector:
    """Gauges read at scrape time from Redis and the database (see gateway.health)."""

    def __init__(self, runtime, probe):
        self.runtime = runtime
        self.probe = probe

    def collect(self):
        up = GaugeMetricFamily("fieldline_dependency_up", "1 if the dependency answered this scrape.",
                               labels=["dependency"])
        try:
            state = health.read_state(self.runtime)
        except SQLAlchemyError as exc:  # the database is down: say so, and show what Redis knows
            log.warning("metrics: the database did not answer (%s)", type(exc).__name__)
            state = None
        up.add_metric(["database"], 1 if state is not None else 0)
        queues = None
        if self.runtime.queues.mode == "rq":
            queues = self.probe.queue_state(self.runtime)
            up.add_metric(["redis"], 1 if queues is not None else 0)
        yield up
        if queues is not None:
            yield _per_queue("fieldline_queue_depth", "Jobs waiting in each RQ queue.", queues.depths)
            yield _per_queue("fieldline_queue_oldest_job_age_seconds",
                             "Age of the job at the head of each RQ queue (0 when it is empty).",
                             {name: age or 0.0 for name, age in queues.oldest_ages.items()})
        if state is not None:
            yield from _state_metrics(state)


def _per_queue(name: str, documentation: str, values: dict) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation, labels=["queue"])
    for queue, value in values.items():
        gauge.add_metric([queue], value)
    return gauge


def _state_metrics(state):
    backlog = GaugeMetricFamily("fieldline_due_care_backlog",
                                "Open due items whose day has come (care due, not yet reported done).")
    backlog.add_metric([], state.due_backlog)
    yield backlog
    oldest = GaugeMetricFamily("fieldline_due_care_oldest_age_seconds",
                               "Time since the oldest open due item fell due (0 when none is).")
    oldest.add_metric([], state.oldest_due_age_seconds or 0.0)
    yield oldest
    alerts = GaugeMetricFamily("fieldline_open_alerts", "Alerts not resolved, by status and age band.",
                               labels=["status", "age"])
    for (status, band), n in sorted(state.alerts_by_age.items()):
        alerts.add_metric([status, band], n)
    yield alerts
    pending = GaugeMetricFamily("fieldline_outgoing_pending", "Outgoing SMS not yet with the provider, by status.",
                                labels=["status"])
    oldest_pending = GaugeMetricFamily("fieldline_outgoing_oldest_pending_age_seconds",
                                       "Age of the oldest outgoing SMS in each pending status (0 when none).",
                                       labels=["status"])
    for status, (n, age) in sorted(state.pending_outgoing.items()):
        pending.add_metric([status], n)
        oldest_pending.add_metric([status], age or 0.0)
    yield pending
    yield oldest_pending


def render(runtime, probe) -> bytes:
    """The exposition text: every process's counts (or this one's) and the state read now."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROC_ENV):
        MultiProcessCollector(registry)
        text = b""
    else:
        text = generate_latest(PROCESS_REGISTRY)
    registry.register(StateCollector(runtime, probe))
    return text + generate_latest(registry)
