"""Scale-out: two web instances (gunicorn, two workers each, on two loopback ports), three RQ
workers and two cron processes, all separate processes against one PostgreSQL and one Redis.

- the same MessageSid delivered to both instances at once makes one record, and both answer alike;
- a burst of 2,000 messages split across the instances makes exactly 2,000 reports, each answered
  with its own reply, and the workers check every one of them;
- two cron processes enqueue tick() in the same minute and each digest is sent once.

The instances run deploy/gunicorn.conf.py with LOG_FORMAT=json and PROMETHEUS_MULTIPROC_DIR, as
docs/deploy.md says to, so the test also reads their /health, /metrics and log lines.

TIMEZONE is chosen so that it is about noon there while the test runs: digests go out only inside
SEND_WINDOW (08:00-19:00), and the processes use the real clock, as they do in production.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from gateway import create_app
from gateway.db import Base
from gateway.models import DueItem, Household, InboundMessage, OutgoingKind, OutgoingMessage, Report
from tests import factories
from tests.conftest import AUTH_TOKEN, make_settings

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"),
    reason="the scale-out test needs PostgreSQL (set TEST_DATABASE_URL): several hosts cannot share a SQLite file",
)

ROOT = Path(__file__).resolve().parent.parent
METRICS_TOKEN = "scale-out-metrics-token"
VOLUNTEERS = 100  # each sends 20 of the burst: under BURST_PER_HOUR, so no report is flagged for it
VISITED = 1000  # households registered beforehand, each visited once in the burst
BURST = 2000  # half visits (V), half new households (HH)
START_TIMEOUT = 60  # seconds for every process to be up
BURST_TIMEOUT = 120  # seconds for the burst to be answered
DRAIN_TIMEOUT = 120  # seconds for the workers to check every report
TICK_TIMEOUT = 150  # seconds, from the crons' start, for a minute in which both enqueued tick


def noon_zone() -> str:
    """An Etc/GMT zone where it is now between 12:00 and 13:00 (Etc/GMT-3 is UTC+3)."""
    offset = 12 - datetime.now(timezone.utc).hour  # from -11 to +12 hours, all of which exist
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    app: object
    redis: Redis
    zone: str
    webs: list[str]  # base URLs
    logs: dict[str, Path]
    volunteers: list[tuple[int, str]]  # (id, phone)
    households: list[tuple[str, str, str]]  # (short id, head, the phone of a volunteer who visits it)
    crons_started: float = 0.0
    processes: list[subprocess.Popen] = field(default_factory=list)

    def session(self):
        return self.app.extensions["fieldline"].db.session_scope()

    @property
    def today(self):
        return datetime.now(ZoneInfo(self.zone)).date()


def _environment(database_url: str, redis_url: str, zone: str, metrics_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "PROMETHEUS_"))}
    env.update(
        PYTHONPATH=str(ROOT), DATABASE_URL=database_url, REDIS_URL=redis_url, SMS_BACKEND="console",
        TWILIO_ACCOUNT_SID="AC" + "0" * 32, TWILIO_AUTH_TOKEN=AUTH_TOKEN, PUBLIC_URL="", DEV_CHANNEL="0",
        TIMEZONE=zone, LOG_FORMAT="json", LOG_LEVEL="INFO", METRICS_TOKEN=METRICS_TOKEN, SECRET_KEY="scale-out",
        VERIFY_SAMPLE="0", SMS_RATE_PER_SECOND="50", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )
    return env


def _start(cluster: Cluster, name: str, command: list[str], env: dict, cwd: Path) -> None:
    log_path = cwd / f"{name}.log"
    cluster.logs[name] = log_path
    with open(log_path, "wb") as log:
        cluster.processes.append(subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                                  start_new_session=True))


def _wait(condition, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval)


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _seed(app, zone: str) -> tuple[list[tuple[int, str]], list[tuple[str, str, str]]]:
    """Volunteers of one village, households to visit, and for each volunteer a woman with care due today."""
    runtime = app.extensions["fieldline"]
    today = datetime.now(ZoneInfo(zone)).date()
    volunteers, households = [], []
    with runtime.db.session_scope() as session:
        people = [factories.contact(session, name=f"Volunteer {i}") for i in range(VOLUNTEERS)]
        for n in range(VISITED):
            by = people[n % VOLUNTEERS]
            home = factories.household(session, by, head=f"Home {n}")
            households.append((home.short_id, home.head_name, by.phone))
            if n < VOLUNTEERS:
                woman = factories.person(session, home, by, name=f"Mother {n}")
                session.add(DueItem(schedule="antenatal", item="anc_26w", person_id=woman.id, volunteer_id=by.id,
                                    due_on=today, window_start=today - timedelta(days=14),
                                    window_end=today + timedelta(days=7)))
        volunteers = [(v.id, v.phone) for v in people]
    return volunteers, households


def _signal(process: subprocess.Popen, sig: int) -> None:
    """sig to the process and the children it started (gunicorn's workers): its own session."""
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass  # gone already


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        _signal(process, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal(process, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster(database_url, tmp_path_factory):
    redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    redis = Redis.from_url(redis_url)
    redis.flushdb()
    zone = noon_zone()
    app = create_app(make_settings(database_url, REDIS_URL=redis_url, TIMEZONE=zone))
    volunteers, households = _seed(app, zone)
    work = tmp_path_factory.mktemp("scale_out")
    ports = [free_port(), free_port()]
    cluster = Cluster(app=app, redis=redis, zone=zone, webs=[f"http://127.0.0.1:{p}" for p in ports], logs={},
                      volunteers=volunteers, households=households)
    hosts = {name: _environment(database_url, redis_url, zone, work / f"metrics-{name}") for name in ("a", "b")}
    fieldline = [sys.executable, "-c", "from gateway.cli import main; main()"]
    try:
        for name, port in zip("ab", ports):
            _start(cluster, f"web-{name}", [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy/gunicorn.conf.py"),
                                            "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4"],
                   hosts[name], work)
        for i in range(3):  # the workers run beside web-a, and count into its metrics
            _start(cluster, f"worker-{i}", fieldline + ["worker"], hosts["a"], work)
        for name in "ab":
            _start(cluster, f"cron-{name}", fieldline + ["cron"], hosts[name], work)
        cluster.crons_started = time.time()
        for url in cluster.webs:
            _wait(lambda: _healthy(url), START_TIMEOUT, f"{url}/health")
        from rq import Worker

        _wait(lambda: len(Worker.all(connection=redis)) == 3, START_TIMEOUT, "three RQ workers")
        yield cluster
    finally:
        _stop(cluster.processes)
        with app.extensions["fieldline"].db.engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
        app.extensions["fieldline"].db.dispose()
        redis.flushdb()


# -- talking to the instances as Twilio does ----------------------------------------------------------

def post_sms(base: str, sid: str, phone: str, body: str) -> requests.Response:
    """POST /sms/twilio as Twilio would, signed for the URL this instance sees (PUBLIC_URL is unset)."""
    url = f"{base}/sms/twilio"
    params = {"MessageSid": sid, "SmsSid": sid, "AccountSid": "AC" + "0" * 32, "From": phone,
              "To": "+254700111222", "Body": body, "NumMedia": "0"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    # a connection of its own, as each of Twilio's requests comes: the instance's workers share them
    return requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=30)


def reply_of(response: requests.Response) -> str:
    assert response.status_code == 200, (response.status_code, response.text)
    message = ET.fromstring(response.content).find("Message")
    return message.text if message is not None else ""


def scrape(base: str) -> str:
    response = requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.text


def metric(text: str, name: str, **labels) -> float:
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def json_lines(path: Path) -> list[dict]:
    """Every line of a log written with LOG_FORMAT=json, each one JSON object."""
    return [json.loads(raw) for raw in path.read_text(errors="replace").splitlines() if raw.strip()]


# -- the tests ----------------------------------------------------------------------------------------

def test_both_instances_are_healthy_on_rq_with_one_form_pack(cluster):
    bodies = [requests.get(f"{url}/health", timeout=5).json() for url in cluster.webs]
    assert [b["status"] for b in bodies] == ["ok", "ok"]
    assert [b["queue"]["mode"] for b in bodies] == ["rq", "rq"]
    assert bodies[0]["form_pack"] == bodies[1]["form_pack"]


def test_the_same_sid_delivered_to_both_instances_at_once_makes_one_record(cluster):
    phone = cluster.volunteers[0][1]
    sids = [f"SMdup{n:029d}" for n in range(20)]

    def deliver_twice(n_sid):
        n, sid = n_sid
        barrier = threading.Barrier(2)

        def one(base):
            barrier.wait(timeout=10)
            return post_sms(base, sid, phone, f"HH Twin {n}")

        with ThreadPoolExecutor(2) as pool:
            return list(pool.map(one, cluster.webs))

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(deliver_twice, enumerate(sids)))
    with cluster.session() as session:
        for n, (sid, (first, second)) in enumerate(zip(sids, answers)):
            assert reply_of(first) == reply_of(second) != ""
            assert session.scalar(select(func.count()).select_from(InboundMessage)
                                  .where(InboundMessage.provider_id == sid)) == 1
            [home] = session.scalars(select(Household).where(Household.head_name == f"Twin {n}")).all()
            assert reply_of(first) == f"Household of Twin {n} registered in Kanyagwal. ID {home.short_id}"


def test_a_burst_split_across_both_instances_makes_every_report_and_its_reply(cluster):
    before = [scrape(url) for url in cluster.webs]
    messages = []  # (sid, instance, phone, body)
    for n in range(BURST):
        sid = f"SMburst{n:027d}"
        if n % 2 == 0:
            short_id, _, phone = cluster.households[n // 2]
            body = f"V {short_id}"
        else:
            phone = cluster.volunteers[n % VOLUNTEERS][1]
            body = f"HH Head {n}"
        messages.append((sid, cluster.webs[n % 2], phone, body))

    def timed(base, sid, phone, body):
        began = time.monotonic()
        response = post_sms(base, sid, phone, body)
        return response, time.monotonic() - began

    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(timed, base, sid, phone, body) for sid, base, phone, body in messages]
        results = [f.result(timeout=BURST_TIMEOUT) for f in futures]
    answered = time.monotonic() - started
    replies = [reply_of(response) for response, _ in results]
    latencies = sorted(seconds for _, seconds in results)

    next_visit = (cluster.today + timedelta(days=90)).isoformat()
    with cluster.session() as session:
        heads = dict(session.execute(select(Household.head_name, Household.short_id)
                                     .where(Household.head_name.like("Head %"))).all())
        for n, ((sid, _, _, body), reply) in enumerate(zip(messages, replies)):
            if n % 2 == 0:
                short_id, head, _ = cluster.households[n // 2]
                assert reply == f"Visit to household {short_id} ({head}) recorded. Next visit due {next_visit}", body
            else:
                assert reply == f"Household of Head {n} registered in Kanyagwal. ID {heads[f'Head {n}']}", body
        burst = select(Report.id).join(InboundMessage, InboundMessage.id == Report.message_id).where(
            InboundMessage.provider_id.like("SMburst%"))
        assert session.scalar(select(func.count()).select_from(burst.subquery())) == BURST
        assert session.scalar(select(func.count()).select_from(InboundMessage)
                              .where(InboundMessage.provider_id.like("SMburst%"))) == BURST
        assert len(heads) == BURST // 2

    def unchecked() -> int:
        with cluster.session() as session:
            return session.scalar(select(func.count()).select_from(Report).where(Report.checked_at.is_(None)))

    _wait(lambda: unchecked() == 0, DRAIN_TIMEOUT, "the workers to check every report", interval=0.5)
    drained = time.monotonic() - started
    health = []
    for _ in range(50):
        began = time.monotonic()
        requests.get(f"{cluster.webs[0]}/health", timeout=5).raise_for_status()
        health.append(time.monotonic() - began)
    print(f"\nscale-out: {BURST} messages answered by 2 instances in {answered:.1f} s ({BURST / answered:.0f}/s, "
          f"16 at a time; latency p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, "
          f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms); "
          f"all checked by 3 workers after {drained:.1f} s; /health p50 {sorted(health)[25] * 1000:.1f} ms")

    # each instance's /metrics adds up its two gunicorn workers (and, on host a, the RQ workers)
    after = [scrape(url) for url in cluster.webs]
    for b, a in zip(before, after):
        assert metric(a, "fieldline_inbound_messages_total", channel="twilio", outcome="accepted") - metric(
            b, "fieldline_inbound_messages_total", channel="twilio", outcome="accepted") == BURST // 2
    assert metric(after[0], "fieldline_jobs_total", job="check_report", outcome="ok") - metric(
        before[0], "fieldline_jobs_total", job="check_report", outcome="ok") >= BURST

    # one JSON line per message, from both gunicorn workers of each instance, with no body and no number
    phones = {phone for _, phone in cluster.volunteers}
    for name in ("web-a", "web-b"):
        text = cluster.logs[name].read_text(errors="replace")
        inbound = [line for line in json_lines(cluster.logs[name])
                   if line.get("event") == "inbound" and line["provider_id"].startswith("SMburst")]
        assert len(inbound) == BURST // 2
        assert len({line["pid"] for line in inbound}) == 2
        assert not any(line.get("logger") == "gunicorn.access" for line in json_lines(cluster.logs[name]))
        assert any(line.get("logger") == "gunicorn.error" for line in json_lines(cluster.logs[name]))
        assert "Head " not in text and "Home " not in text
        assert not any(phone in text for phone in phones)
    for i in range(3):  # all three workers took part
        assert any(line.get("event") == "job" for line in json_lines(cluster.logs[f"worker-{i}"]))


def test_two_cron_processes_in_the_same_minute_send_each_digest_once(cluster):
    from rq import Queue
    from rq.job import Job
    from rq.registry import FailedJobRegistry, FinishedJobRegistry

    checks = Queue("fieldline-checks", connection=cluster.redis)

    def ticks_by_minute() -> dict:
        ids = FinishedJobRegistry(queue=checks).get_job_ids()
        ticks = [j for j in Job.fetch_many(ids, connection=cluster.redis)
                 if j is not None and j.func_name == "worker.tick.tick"]
        by_minute = defaultdict(list)
        for job in ticks:
            by_minute[job.enqueued_at.replace(second=0, microsecond=0)].append(job.return_value())
        return by_minute

    deadline = cluster.crons_started + TICK_TIMEOUT
    _wait(lambda: any(len(r) == 2 for r in ticks_by_minute().values()), max(1.0, deadline - time.time()),
          "a minute in which both cron processes enqueued tick()", interval=1)
    by_minute = ticks_by_minute()
    for results in by_minute.values():
        assert len(results) <= 2
        if len(results) == 2:  # the Redis lock let one of them through
            assert sorted(bool(r.get("skipped")) for r in results) == [False, True], results
    assert sum(r.get("digests", 0) for results in by_minute.values() for r in results) == VOLUNTEERS
    for name in ("urgent", "checks", "bulk"):
        assert FailedJobRegistry(queue=Queue(f"fieldline-{name}", connection=cluster.redis)).get_job_ids() == []

    def reminders() -> list[tuple[str, str, str]]:
        with cluster.session() as session:
            return [(m.dedupe_key, m.to, m.status.value) for m in session.scalars(
                select(OutgoingMessage).where(OutgoingMessage.kind == OutgoingKind.reminder))]

    _wait(lambda: {s for _, _, s in reminders()} == {"sent"}, 60, "every digest to be sent", interval=0.5)
    sent = reminders()
    today = cluster.today.isoformat()
    assert sorted(key for key, _, _ in sent) == sorted(f"digest:{v}:{today}" for v, _ in cluster.volunteers)
    assert Counter(to for _, to, _ in sent) == Counter(phone for _, phone in cluster.volunteers)
    assert not any(re.search(r"\bMother \d+", line.get("message", ""))
                   for i in range(3) for line in json_lines(cluster.logs[f"worker-{i}"]))
