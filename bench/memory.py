"""Memory of Fieldline's processes over many messages: each gunicorn web worker and the RQ worker.

    .venv/bin/python bench/memory.py [--messages 100000] [--every 10000] [--concurrency 16]

Fieldline runs under gunicorn as bench/webhook.py runs it (deploy/gunicorn.conf.py, two gthread
workers of --threads threads, PostgreSQL database --database made ready by prepare_fieldline's
field day, Redis at --redis-url, emptied at the start and at the end, the console SMS backend),
beside one `fieldline worker`: the RQ worker that takes the jobs the webhook enqueues (the checks of
accepted reports, in batches; alerts for danger signs). make_worker gives it a SimpleWorker, which runs
each job in its own process instead of forking a work horse for it, so the process measured is
`fieldline worker` itself; a child it had at a sample would be measured and shown too.

This process posts --messages Twilio-signed messages of bench/webhook.py's field-day mix to
/sms/twilio at saturation (--concurrency requests in flight on keep-alive connections), in
chunks of --every, each chunk drawn with a seed of its own so that every MessageSid of the run
is unique, except the one message in ten the mix makes a provider's retry of an earlier one (the
same MessageSid, deduplicated by Fieldline as it should be). After each chunk it waits until the
RQ queues are drained (nothing queued, nothing started), then reads VmRSS and VmHWM (the peak
RSS) from /proc/<pid>/status of every gunicorn worker (the master's children) and of the RQ
worker. Printed: a line per sample, then each process's RSS at half the messages and at the end,
the growth between them, and its peak, against the targets (a web worker 120 MB, the RQ worker
150 MB; 1 MB = 1,000,000 bytes here), and what the database stored.

A quick run: --messages 5000 (samples every 500). Another run using the same database, Redis
database or port would be disturbed: pick others (--database, --redis-url, --port) to run beside
one.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.running import add_fieldline_options, quiet_field_day, refuse_if_busy, run, stop_on_sigterm  # noqa: E402
from bench.webhook import (  # noqa: E402
    ROOT, Server, field_day, make_servers, message_mix, pg_url, saturate,
    twilio_request, wait_ready,
)

TARGETS_MB = {"web": 120, "rq": 150}
QUEUES = ("fieldline-urgent", "fieldline-checks", "fieldline-bulk")


@dataclass
class Memory:
    rss: int  # bytes
    hwm: int


def memory_of(pid: int) -> Memory | None:
    """VmRSS and VmHWM of a live process, None when it is gone."""
    values = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                name, _, value = line.partition(":")
                if name in ("VmRSS", "VmHWM"):
                    values[name] = int(value.split()[0]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return Memory(values.get("VmRSS", 0), values.get("VmHWM", 0))


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def sample(web: Server, worker: Server) -> dict[tuple[str, int], Memory]:
    """Each gunicorn worker (the master's children), the RQ worker and any child of it."""
    for server in (web, worker):
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} exited with {server.process.returncode}; see its log")
    now = {("web", pid): memory_of(pid) for pid in children_of(web.process.pid)}
    now[("rq", worker.process.pid)] = memory_of(worker.process.pid)
    now.update({("rq horse", pid): memory_of(pid) for pid in children_of(worker.process.pid)})
    return {key: m for key, m in now.items() if m is not None}


def show(checkpoint: int, memories: dict[tuple[str, int], Memory], note: str) -> None:
    print(f"{checkpoint:9,}  " + "  ".join(f"{role} {pid} {mb(m.rss).strip()}" for (role, pid), m in memories.items())
          + f"   ({note})", flush=True)


def mb(size: float) -> str:
    return f"{size / 1e6:7.1f}"


class Drain:
    """Fieldline's RQ queues: empty, and nothing being worked on."""

    def __init__(self, redis):
        from rq import Queue
        from rq.registry import FailedJobRegistry, StartedJobRegistry

        self.redis = redis
        self.queues = [Queue(name, connection=redis) for name in QUEUES]
        self.started = [StartedJobRegistry(queue=q) for q in self.queues]
        self.failed = [FailedJobRegistry(queue=q) for q in self.queues]

    def pending(self) -> int:
        from gateway.queue import BATCHED, batch_key

        return (sum(q.count for q in self.queues) + sum(r.count for r in self.started)
                + sum(self.redis.llen(batch_key(func)) for func in BATCHED))  # checks waiting in their batch

    def wait(self, timeout: float, worker: Server) -> float:
        started = time.monotonic()
        while self.pending():
            if worker.process.poll() is not None:
                raise SystemExit(f"the RQ worker exited with {worker.process.returncode}; see its log")
            if time.monotonic() - started > timeout:
                raise SystemExit(f"the RQ queues were not drained within {timeout:.0f} s ({self.pending()} jobs left)")
            time.sleep(0.1)
        return time.monotonic() - started

    def wait_worker(self, worker: Server, timeout: float = 60) -> None:
        """Until the RQ worker has registered itself, its set-up done."""
        from rq import Worker

        deadline = time.monotonic() + timeout
        while not Worker.count(queue=self.queues[0]):
            if worker.process.poll() is not None:
                raise SystemExit(f"the RQ worker exited with {worker.process.returncode}; see its log")
            if time.monotonic() > deadline:
                raise SystemExit(f"the RQ worker did not start within {timeout:.0f} s; see its log")
            time.sleep(0.1)

    def failures(self) -> int:
        return sum(r.count for r in self.failed)


def stored(database: str) -> tuple[int, int]:
    """Messages of the run that were stored (the field day's own left out), and reports."""
    engine = create_engine(pg_url(database))
    with engine.connect() as conn:
        messages = conn.scalar(text("SELECT count(*) FROM inbound_messages WHERE provider_id NOT LIKE 'SMsetup%'"))
        reports = conn.scalar(text("SELECT count(*) FROM reports r JOIN inbound_messages m ON m.id = r.message_id "
                                   "WHERE m.provider_id NOT LIKE 'SMsetup%'"))
    engine.dispose()
    return messages, reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000, help="messages posted (default 100000)")
    parser.add_argument("--every", type=int, help="messages between samples (default a tenth of --messages)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (default 16)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (default 4)")
    parser.add_argument("--drain-timeout", type=float, default=900,
                        help="seconds to wait for the RQ queues to drain at a sample (default 900)")
    add_fieldline_options(parser, redis_for="the jobs")
    args = parser.parse_args()
    if args.messages < 1 or (args.every is not None and args.every < 1):
        parser.error("--messages and --every must be at least 1")
    every = args.every or max(1, args.messages // 10)
    checkpoints = list(range(every, args.messages, every)) + [args.messages]
    half = max((c for c in checkpoints if c <= args.messages // 2), default=checkpoints[0])
    stop_on_sigterm()

    from redis import Redis

    refuse_if_busy(args.database, args.port)
    quiet_field_day()
    population = field_day(args.database)
    redis = Redis.from_url(args.redis_url)
    redis.flushdb()
    drain = Drain(redis)
    web = make_servers(["fieldline"], args.threads, args.redis_url, fieldline_port=args.port,
                       fieldline_database=args.database)[0]
    worker = Server("worker", 0, "", [str(Path(sys.executable).parent / "fieldline"), "worker"], dict(web.env),
                    ROOT, None)
    logs = Path(tempfile.mkdtemp(prefix="fieldline-memory-bench-"))
    samples: dict[int, dict[tuple[str, int], Memory]] = {}
    sids: set[str] = set()
    posted = 0
    try:
        web.start(logs)
        worker.start(logs)
        wait_ready(web, twilio_request(args.port, web.path, "SMsetup-ready", population.volunteers[0], "HELP"))
        drain.wait_worker(worker)
        print(f"fieldline up on port {args.port} with one RQ worker (pid {worker.process.pid}); logs: "
              f"{logs / 'fieldline.log'}, {logs / 'worker.log'}", flush=True)
        print(f"{args.messages:,} messages at saturation, {args.concurrency} in flight; a sample every {every:,} "
              f"messages once the queues are drained (RSS, MB)", flush=True)
        show(0, sample(web, worker), "started, one request served")
        pids: dict[str, list[int]] = {}
        began = time.monotonic()
        for n, checkpoint in enumerate(checkpoints):
            messages = message_mix(population, checkpoint - posted, seed=1000 + n)
            sids.update(m[0] for m in messages)
            requests = [twilio_request(args.port, web.path, *m) for m in messages]
            rate, sent, statuses = asyncio.run(saturate(args.port, requests, args.concurrency, 1e9, warmup=0))
            if sent != len(requests):
                raise SystemExit(f"only {sent} of {len(requests)} messages were sent")
            posted = checkpoint
            drained = drain.wait(args.drain_timeout, worker)
            samples[checkpoint] = sample(web, worker)
            web_pids = sorted(pid for role, pid in samples[checkpoint] if role == "web")
            if pids.get("web") and web_pids != pids["web"]:
                print(f"  gunicorn's workers changed: {pids['web']} -> {web_pids} (see {logs / 'fieldline.log'})")
            pids["web"] = web_pids
            bad = {k: v for k, v in statuses.items() if k != 200}
            show(checkpoint, samples[checkpoint], f"{rate:.0f} msg/s, drained in {drained:.1f} s"
                 + (f", non-200: {bad}" if bad else ""))

        end = samples[checkpoints[-1]]
        print()
        print(f"{'process':16} {'RSS at ' + format(half, ','):>16} {'RSS at ' + format(checkpoints[-1], ','):>16} "
              f"{'growth':>8} {'peak (VmHWM)':>13} {'target':>7}")
        for (role, pid), last in end.items():
            middle = samples[half].get((role, pid))
            target = TARGETS_MB.get(role)
            verdict = "" if target is None else f"{target:5} {'ok' if last.hwm <= target * 1e6 else 'OVER'}"
            print(f"{role + ' ' + str(pid):16} {mb(middle.rss) if middle else '      -':>16} {mb(last.rss):>16} "
                  f"{(mb(last.rss - middle.rss) if middle else '     -'):>8} {mb(last.hwm):>13}  {verdict}")
        print("(MB; growth: the RSS at the end less the RSS at half the messages"
              + ("; a process without a figure at half was started since)" if any(k not in samples[half] for k in end)
                 else ")"))
        messages_stored, reports = stored(args.database)
        print(f"stored: {messages_stored:,} messages of {len(sids):,} distinct MessageSids posted "
              f"({args.messages - len(sids):,} retries), {reports:,} reports; failed jobs: {drain.failures()}; "
              f"{time.monotonic() - began:.0f} s in all")
    finally:
        web.stop()
        worker.stop()
        redis.flushdb()
        print(f"server logs: {logs / 'fieldline.log'}, {logs / 'worker.log'}")


if __name__ == "__main__":
    run(main)
