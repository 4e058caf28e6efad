"""tick(): the once-a-minute job (rq cron, or a thread of `fieldline serve` in the embedded mode).

Each step runs in its own transaction and a failing one does not stop the others. Two cron
processes may run tick in the same minute: with RQ, a Redis key per minute lets one of them
through; without it, the database still sends each digest, alert and summary once (dedupe keys)
and row locks keep two ticks off the same due item or alert.
"""
from __future__ import annotations

import importlib
import logging
import time as _time
from datetime import datetime
from typing import Callable

from redis.exceptions import RedisError

from gateway.runtime import current_runtime

from .alerts import escalate_alerts
from .reminders import mark_stale, send_digests
from .summaries import send_monthly_summaries

log = logging.getLogger(__name__)
LOCK_SECONDS = 120

# (name, step): a step takes (session, runtime, now) and returns a count
STEPS: tuple[tuple[str, Callable], ...] = (
    ("stale", mark_stale),
    ("digests", send_digests),
    ("escalated", escalate_alerts),
    ("summaries", send_monthly_summaries),
)
# (name, module, function): sweepers that open their own sessions and return a count
SWEEPS = (
    ("checks", "worker.checks", "sweep_unchecked"),
    ("outgoing", "worker.sending", "sweep_outgoing"),
)


def tick() -> dict:
    """Sweep lost checks and sends, turn stale care into alerts, send digests, escalate alerts and
    send the monthly summary; what each step did ({step: count, or 'failed'})."""
    runtime = current_runtime()
    now = runtime.clock.now()
    if not claim_minute(runtime, now):
        log.info("tick %s: another process has this minute", now.strftime("%H:%M"))
        return {"skipped": True}
    started = _time.monotonic()
    results: dict = {"checks": _sweep(*SWEEPS[0])}
    for name, step in STEPS:
        results[name] = _step(runtime, name, step, now)
    results["outgoing"] = _sweep(*SWEEPS[1])
    log.info("tick %s in %.0f ms: %s", now.strftime("%Y-%m-%d %H:%M"), (_time.monotonic() - started) * 1000,
             " ".join(f"{k}={v}" for k, v in results.items()))
    return results


def claim_minute(runtime, now: datetime) -> bool:
    """With RQ, the first tick of a minute sets a Redis key (SET NX EX) and the others see it; in the
    embedded mode, or with Redis unreachable, every tick runs (the database keeps sends single)."""
    if getattr(runtime.queues, "mode", "") != "rq":
        return True
    try:
        return bool(runtime.queues.redis.set(f"fieldline:tick:{now:%Y%m%d%H%M}", "1", nx=True, ex=LOCK_SECONDS))
    except RedisError as exc:
        log.warning("tick: Redis lock unavailable (%s); running anyway", type(exc).__name__)
        return True


def _step(runtime, name: str, step: Callable, now: datetime):
    try:
        with runtime.db.session_scope() as session:
            return step(session, runtime, now)
    except Exception:
        log.exception("tick: %s failed; the other steps go on", name)
        return "failed"


def _sweep(name: str, module: str, function: str):
    try:
        return getattr(importlib.import_module(module), function)()
    except Exception:
        log.exception("tick: the %s sweep failed; the other steps go on", name)
        return "failed"
