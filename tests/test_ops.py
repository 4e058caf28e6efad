"""GET /health with each dependency up, down or hanging; GET /metrics behind its token, its counters
moving as messages come in and go out, its gauges read at scrape time, and the counts of several
processes added up; one structured log line per inbound message and per job."""
from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from twilio.request_validator import RequestValidator

from gateway import create_app
from gateway.config import ConfigError, Settings
from gateway.logs import JsonFormatter, configure_logging
from gateway.models import Alert, AlertKind, AlertStatus, OutgoingKind
from gateway.outbox import queue_sms
from gateway.phones import mask_phone
from gateway.queue import Job, make_queues
from gateway.roster import area_by_path
from tests import factories
from tests.conftest import AUTH_TOKEN, make_settings
from tests.ticking import due

TOKEN = "metrics-token-0123456789"
ROOT = Path(__file__).resolve().parent.parent


# -- helpers ------------------------------------------------------------------------------------------

def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Silent:
    """A loopback server that accepts connections and never says a word: a hung database or Redis."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.sock.close()


@pytest.fixture
def silent():
    server = Silent()
    yield server
    server.close()


def twilio_post(client, phone: str, body: str, sid: str):
    params = {"MessageSid": sid, "SmsSid": sid, "AccountSid": "AC" + "0" * 32, "From": phone,
              "To": "+254700111222", "Body": body}
    signature = RequestValidator(AUTH_TOKEN).compute_signature("http://localhost/sms/twilio", params)
    return client.post("/sms/twilio", data=params, headers={"X-Twilio-Signature": signature})


def scrape(client) -> str:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.data
    assert response.content_type.startswith("text/plain")
    return response.get_data(as_text=True)


def value(text: str, name: str, **labels) -> float:
    """The sample called name with these labels (0 when there is none)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def app_with(database_url: str, **overrides):
    return create_app(make_settings(database_url, **overrides))


# -- /health --------------------------------------------------------------------------------------------

def test_health_names_the_database_queue_mode_form_pack_and_oldest_due_care(client, session, runtime, clock,
                                                                            volunteer, woman):
    today = clock.today()
    due(session, volunteer=volunteer, person=woman, on=today - timedelta(days=2))
    due(session, volunteer=volunteer, person=woman, item="anc_30w", on=today + timedelta(days=20))
    session.commit()
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["queue"] == {"mode": "embedded", "oldest_job_age_seconds": None}
    assert body["redis"] == {"ok": None, "required": False}
    assert body["form_pack"]["version"] == runtime.pack.version
    assert body["due_care"]["oldest_open_due_on"] == (today - timedelta(days=2)).isoformat()
    # due two days ago; the clock stands at 10:00 local: 58 hours since that day began
    assert body["due_care"]["oldest_open_age_seconds"] == 58 * 3600
    assert response.headers["Cache-Control"] == "no-store"


@pytest.fixture
def with_redis(settings_overrides, redis_url):
    """The app fixture on RQ (ask for this before the app): jobs wait in Redis, no worker runs them."""
    settings_overrides["REDIS_URL"] = redis_url


def test_health_gives_the_age_of_the_oldest_unsent_reminder(with_redis, client, session, runtime, clock, volunteer):
    queue_sms(session, runtime, to=volunteer.phone, body="Due: V 40216", kind=OutgoingKind.reminder,
              now=clock.now() - timedelta(minutes=5))
    session.commit()  # its send job waits in Redis: no worker runs here
    body = client.get("/health").json
    assert body["reminders"]["oldest_unsent_age_seconds"] == 300.0
    assert body["outgoing"]["queued"] == {"count": 1, "oldest_age_seconds": 300.0}
    assert body["outgoing"]["retrying"] == {"count": 0, "oldest_age_seconds": None}
    assert body["queue"]["depths"]["bulk"] == 1


@pytest.mark.parametrize("required", [False, True])
def test_health_with_rq_gives_queue_depths_and_the_oldest_queued_job(database_url, redis_url, required):
    app = app_with(database_url, REDIS_URL=redis_url, REQUIRE_REDIS="1" if required else "0")
    try:
        runtime = app.extensions["fieldline"]
        runtime.queues.enqueue(Job("bulk", "worker.tick.tick", ()))
        time.sleep(0.05)
        response = app.test_client().get("/health")
        assert response.status_code == 200
        body = response.json
        assert body["redis"]["ok"] is True and body["redis"]["required"] is required
        assert body["queue"]["mode"] == "rq"
        assert body["queue"]["depths"] == {"urgent": 0, "checks": 0, "bulk": 1}
        assert 0.05 <= body["queue"]["oldest_job_age_seconds"] < 10
    finally:
        app.extensions["fieldline"].db.dispose()


def test_health_is_503_when_the_database_refuses_connections(database_url):
    app = app_with(database_url, DATABASE_URL=f"postgresql://fieldline@127.0.0.1:{closed_port()}/fieldline")
    started = time.monotonic()
    response = app.test_client().get("/health")
    assert time.monotonic() - started < 2
    assert response.status_code == 503
    body = response.json
    assert body["status"] == "unavailable"
    assert body["database"]["ok"] is False and body["database"]["error"]
    assert "due_care" not in body
    assert body["form_pack"]["version"]


def test_health_answers_503_within_seconds_when_the_database_hangs(database_url, silent):
    app = app_with(database_url, DATABASE_URL=f"postgresql://fieldline@127.0.0.1:{silent.port}/fieldline")
    started = time.monotonic()
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert time.monotonic() - started < 6  # the connect timeout is 3 seconds


def _lose_redis(app, url: str, required: bool) -> None:
    """Redis goes away after start-up: the app's queues now point at an address that fails."""
    runtime = app.extensions["fieldline"]
    runtime.settings = runtime.settings.with_overrides({"REDIS_URL": url, "REQUIRE_REDIS": "1" if required else "0"})
    runtime.queues = make_queues(url)


def test_health_is_degraded_but_200_when_an_optional_redis_is_down(app, client):
    _lose_redis(app, f"redis://127.0.0.1:{closed_port()}/0", required=False)
    response = client.get("/health")
    assert response.status_code == 200  # messages are still taken; the sweeps catch up on the jobs
    assert response.json["status"] == "degraded"
    assert response.json["redis"] == {"ok": False, "required": False}
    assert response.json["database"]["ok"] is True


def test_health_is_503_when_a_required_redis_is_down(app, client):
    _lose_redis(app, f"redis://127.0.0.1:{closed_port()}/0", required=True)
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert response.json["redis"] == {"ok": False, "required": True}


def test_health_answers_within_seconds_when_redis_hangs(app, client, silent):
    _lose_redis(app, f"redis://127.0.0.1:{silent.port}/0", required=True)
    started = time.monotonic()
    response = client.get("/health")
    assert response.status_code == 503
    assert time.monotonic() - started < 3  # one second to connect or answer, no retries


# -- /metrics: who may read it -------------------------------------------------------------------------

def test_metrics_are_off_without_a_token(client):
    assert client.get("/metrics").status_code == 404


@pytest.mark.parametrize("settings_overrides", [{"METRICS_TOKEN": TOKEN}])
@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", TOKEN])
def test_metrics_want_the_bearer_token(client, header):
    response = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert b"fieldline" not in response.data


# -- /metrics: counters move --------------------------------------------------------------------------

@pytest.mark.parametrize("settings_overrides", [{"METRICS_TOKEN": TOKEN}])
def test_a_message_moves_the_inbound_reply_latency_and_outgoing_counters(client, session, volunteer):
    session.commit()
    before = scrape(client)
    response = twilio_post(client, volunteer.phone, "HH Juma Ali", "SM" + "1" * 32)
    assert response.status_code == 200
    twilio_post(client, volunteer.phone, "HH Juma Ali", "SM" + "1" * 32)  # Twilio's retry
    twilio_post(client, volunteer.phone, "V 40261", "SM" + "2" * 32)  # a mistyped ID
    after = scrape(client)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("fieldline_inbound_messages_total", channel="twilio", outcome="accepted") == 1
    assert moved("fieldline_inbound_messages_total", channel="twilio", outcome="duplicate") == 1
    assert moved("fieldline_inbound_messages_total", channel="twilio", outcome="rejected") == 1
    assert moved("fieldline_replies_total", channel="twilio") == 2
    assert moved("fieldline_parse_errors_total", code="invalid_id") == 1
    assert moved("fieldline_webhook_seconds_count", endpoint="twilio.inbound", code="200") == 3
    # the check of the new household's report ran in-process, as a job
    assert moved("fieldline_jobs_total", job="check_report", outcome="ok") == 1


@pytest.mark.parametrize("settings_overrides", [{"METRICS_TOKEN": TOKEN}])
def test_outgoing_messages_are_counted_by_status(app, client, session, runtime, clock, volunteer):
    before = scrape(client)
    queue_sms(session, runtime, to=volunteer.phone, body="Due: V 40216", kind=OutgoingKind.reminder, now=clock.now())
    with app.app_context():
        session.commit()  # the embedded queue sends it at once, through the console backend
    after = scrape(client)
    for status in ("queued", "sending", "sent"):
        assert value(after, "fieldline_outgoing_messages_total", status=status) - value(
            before, "fieldline_outgoing_messages_total", status=status) == 1, status


@pytest.mark.parametrize("settings_overrides", [{"METRICS_TOKEN": TOKEN}])
def test_a_refused_signature_is_timed_with_its_status(client):
    labels = {"endpoint": "twilio.inbound", "code": "403"}
    before = value(scrape(client), "fieldline_webhook_seconds_count", **labels)
    assert client.post("/sms/twilio", data={"MessageSid": "SMx", "From": "+254712345678"}).status_code == 403
    assert value(scrape(client), "fieldline_webhook_seconds_count", **labels) == before + 1


# -- /metrics: state read at scrape time -------------------------------------------------------------

@pytest.mark.parametrize("settings_overrides", [{"METRICS_TOKEN": TOKEN}])
def test_due_care_backlog_and_open_alerts_by_age_are_read_at_scrape_time(client, session, clock, volunteer,
                                                                        woman):
    today = clock.today()
    for days_ago in (0, 1, 3):
        due(session, volunteer=volunteer, person=woman, item=f"anc_{days_ago}", on=today - timedelta(days=days_ago))
    due(session, volunteer=volunteer, person=woman, item="anc_later", on=today + timedelta(days=1))
    village = area_by_path(session, factories.VILLAGE)
    now = clock.now()
    for status, age in [(AlertStatus.open, timedelta(minutes=10)), (AlertStatus.open, timedelta(hours=2)),
                        (AlertStatus.acknowledged, timedelta(hours=3)), (AlertStatus.open, timedelta(days=9)),
                        (AlertStatus.resolved, timedelta(hours=1))]:
        session.add(Alert(kind=AlertKind.danger, status=status, village_id=village.id, reason="test",
                          created_at=now - age, updated_at=now - age))
    session.commit()
    text = scrape(client)
    assert value(text, "fieldline_dependency_up", dependency="database") == 1
    assert value(text, "fieldline_due_care_backlog") == 3
    assert value(text, "fieldline_due_care_oldest_age_seconds") == (3 * 24 + 10) * 3600
    assert value(text, "fieldline_open_alerts", status="open", age="under_1h") == 1
    assert value(text, "fieldline_open_alerts", status="open", age="1h_to_1d") == 1
    assert value(text, "fieldline_open_alerts", status="acknowledged", age="1h_to_1d") == 1
    assert value(text, "fieldline_open_alerts", status="open", age="over_7d") == 1
    assert sum(value(text, "fieldline_open_alerts", status="resolved", age=band)
               for band in ("under_1h", "1h_to_1d", "1d_to_7d", "over_7d")) == 0


def test_queue_depths_are_read_from_redis_at_scrape_time(database_url, redis_url):
    app = app_with(database_url, REDIS_URL=redis_url, METRICS_TOKEN=TOKEN)
    try:
        queues = app.extensions["fieldline"].queues
        for _ in range(3):
            queues.enqueue(Job("checks", "worker.checks.check_report", (1,)))
        text = scrape(app.test_client())
        assert value(text, "fieldline_dependency_up", dependency="redis") == 1
        assert value(text, "fieldline_queue_depth", queue="checks") == 3
        assert value(text, "fieldline_queue_depth", queue="urgent") == 0
        assert value(text, "fieldline_queue_oldest_job_age_seconds", queue="checks") >= 0
    finally:
        app.extensions["fieldline"].db.dispose()


def test_metrics_still_answer_when_the_database_is_down(database_url):
    app = app_with(database_url, METRICS_TOKEN=TOKEN,
                   DATABASE_URL=f"postgresql://fieldline@127.0.0.1:{closed_port()}/fieldline")
    text = scrape(app.test_client())
    assert value(text, "fieldline_dependency_up", dependency="database") == 0
    assert "fieldline_due_care_backlog" not in text


def test_counts_of_several_processes_add_up_in_multiprocess_mode(tmp_path):
    """What gunicorn's workers do: each process writes its counts to PROMETHEUS_MULTIPROC_DIR and
    /metrics, in any of them, adds up all of them."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), "PYTHONPATH": str(ROOT),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}", "METRICS_TOKEN": TOKEN, "REDIS_URL": ""}
    (tmp_path / "metrics").mkdir()
    count = "from gateway import metrics; metrics.count_inbound('twilio', 'accepted', replied=True)"
    for _ in range(3):
        subprocess.run([sys.executable, "-c", count], env=env, cwd=tmp_path, check=True, timeout=60)
    read = ("from gateway import create_app; "
            "print(create_app().test_client().get('/metrics', headers={'Authorization': 'Bearer %s'})"
            ".get_data(as_text=True))" % TOKEN)
    out = subprocess.run([sys.executable, "-c", read], env=env, cwd=tmp_path, check=True, timeout=60,
                         capture_output=True, text=True).stdout
    assert value(out, "fieldline_inbound_messages_total", channel="twilio", outcome="accepted") == 3
    assert value(out, "fieldline_replies_total", channel="twilio") == 3


# -- logs -----------------------------------------------------------------------------------------------

def test_each_inbound_message_logs_one_structured_line_without_its_body(client, session, volunteer, caplog):
    session.commit()
    caplog.set_level(logging.INFO, logger="gateway")  # the demo quietens it
    twilio_post(client, volunteer.phone, "HH Wanjiku Kamau", "SM" + "3" * 32)
    lines = [r for r in caplog.records if (getattr(r, "fieldline_fields", None) or {}).get("event") == "inbound"]
    assert len(lines) == 1
    line = json.loads(JsonFormatter().format(lines[0]))
    assert line["level"] == "INFO" and line["logger"] == "gateway.intake"
    assert line["channel"] == "twilio" and line["provider_id"] == "SM" + "3" * 32
    assert line["status"] == "accepted" and line["form"] == "HH" and line["error"] is None
    assert isinstance(line["message_id"], int) and line["record"]["type"] == "household"
    assert line["sender"] == mask_phone(volunteer.phone) != volunteer.phone
    every = "\n".join(JsonFormatter().format(r) + r.getMessage() for r in caplog.records)
    assert "Wanjiku" not in every and volunteer.phone not in every


def test_each_job_logs_one_structured_line(client, session, volunteer, caplog):
    session.commit()
    caplog.set_level(logging.INFO, logger="gateway")  # the demo quietens it
    twilio_post(client, volunteer.phone, "HH Juma Ali", "SM" + "4" * 32)
    jobs = [json.loads(JsonFormatter().format(r)) for r in caplog.records
            if (getattr(r, "fieldline_fields", None) or {}).get("event") == "job"]
    [job] = [j for j in jobs if j["job"] == "check_report"]
    assert job["outcome"] == "ok" and job["queue"] == "checks"
    assert len(job["args"]) == 1 and isinstance(job["args"][0], int)
    assert job["duration_ms"] >= 0


def test_log_format_json_writes_one_json_object_a_line(capsys):
    root = logging.getLogger()
    level = root.level
    log = logging.getLogger("tests.ops")
    try:
        configure_logging("INFO", "json")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.exception("it failed")
        log.info("plain %s", "line")
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
        assert lines[0]["message"] == "it failed" and "RuntimeError: boom" in lines[0]["exception"]
        assert lines[1]["message"] == "plain line" and lines[1]["level"] == "INFO"
        assert lines[1]["time"].endswith("+00:00")
    finally:
        for handler in [h for h in root.handlers if getattr(h, "fieldline_json", False)]:
            root.removeHandler(handler)
        root.setLevel(level)


def test_log_format_is_text_or_json():
    assert Settings.from_mapping({"LOG_FORMAT": "JSON"}).LOG_FORMAT == "json"
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        Settings.from_mapping({"LOG_FORMAT": "xml"})
