"""Faults, and nothing lost, against real services the tests stop and start:

- Redis stopped while messages come in: each is stored and answered inline, and once Redis is
  back the sweeps of the next tick get every report checked (those whose queued check died with
  Redis too) and the danger alert raised meanwhile sent to its staff;
- Redis hung (stopped with SIGSTOP): the web app's workers answer at once, their jobs wait in the
  pushing thread and reach Redis when it answers again;
- PostgreSQL stopped (immediate and fast) with a message in flight: 503 with Retry-After while it
  is down (status callbacks too), nothing half-written, /health says so, and the same app takes
  messages again once the server is back;
- an RQ worker killed while its request to the provider is on the way: after a new worker process
  runs the sweep the message is at the provider exactly once;
- one MessageSid posted 20 times at once over HTTP: one record and 20 identical replies.

The provider answering 500 or 429 until the last attempt is in tests/test_sending.py.
"""
from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import psycopg
import pytest
import requests
from sqlalchemy import func, select, update

from gateway import create_app
from gateway.clock import FrozenClock
from gateway.db import make_engine
from gateway.migrate import upgrade
from gateway.models import (
    Alert,
    Household,
    InboundMessage,
    OutgoingKind,
    OutgoingMessage,
    OutgoingStatus,
    Report,
)
from gateway.outbox import queue_sms
from gateway.queue import Job
from tests import factories
from tests.conftest import START, TZ, empty_tables, make_settings, run_worker
from tests.fake_twilio import Answer
from tests.services import LiveServer, PostgresCluster, wait_for
from tests.test_twilio_webhook import reply_text, signed_http_post, signed_post, sms
from tests.ticking import TOWNSHIP, staff
from worker.runner import TICK_JOB

VOLUNTEER = "+254712345678"
PHONE = "+254722000111"


def sid(n: int, kind: str = "f") -> str:
    return f"SM{kind}{n:031d}"


def registered(head: str, home: Household) -> str:
    return f"Household of {head} registered in Kanyagwal. ID {home.short_id}"


def households(session) -> dict[str, Household]:
    """Every household by the head's name (each test gives each a name of its own)."""
    homes = list(session.scalars(select(Household)))
    assert len({home.head_name for home in homes}) == len(homes), "two households of one name"
    return {home.head_name: home for home in homes}


def server_health(server: LiveServer) -> requests.Response:
    return requests.get(f"{server.url}/health", timeout=30)


def messages_with(session, provider_id: str) -> int:
    return session.scalar(select(func.count()).select_from(InboundMessage)
                          .where(InboundMessage.provider_id == provider_id))


@pytest.fixture
def serve(make_committing_app):
    """Serves apps over HTTP on spare ports; stopped after the test, before the apps go."""
    servers: list[LiveServer] = []

    def start(app) -> LiveServer:
        servers.append(LiveServer(app))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


# -- Redis stopped during intake ------------------------------------------------------------------------

def test_redis_stopped_during_intake_loses_no_message_and_every_report_is_checked_once_it_is_back(
        make_committing_app, serve, private_redis):
    app = make_committing_app(REDIS_URL=private_redis.url, VERIFY_SAMPLE="0")
    runtime = app.extensions["fieldline"]
    with runtime.db.session_scope() as session:
        volunteer = factories.contact(session, phone=VOLUNTEER)
        woman = factories.person(session, factories.household(session, volunteer, head="Omari Juma"), volunteer)
        nurse = staff(session, TOWNSHIP, name="Grace Achieng").phone
    server = serve(app)

    def post(n: int, to: LiveServer = server):
        return n, signed_http_post(to.url, sms(VOLUNTEER, f"HH Head {n}", sid=sid(n, "r")))

    answers = [post(n) for n in range(3)]
    # their checks wait in Redis, and will die with it: three ids in a batch, and the job that takes them
    assert runtime.queues.queues["checks"].count == 1
    assert runtime.queues.depths()["checks"] == 3 + 1

    with ThreadPoolExecutor(4) as pool:  # messages keep coming while Redis is stopped
        coming = [pool.submit(post, n) for n in range(3, 23)]
        wait_for(lambda: sum(f.done() for f in coming) >= 4, 60, "the first answers")
        private_redis.stop()
        answers += [f.result(timeout=120) for f in coming]
    answers += [post(n) for n in range(23, 26)]  # and after it stopped
    started_without_redis = serve(make_committing_app(REDIS_URL=private_redis.url, VERIFY_SAMPLE="0"))
    answers += [post(n, started_without_redis) for n in range(26, 29)]
    danger = signed_http_post(started_without_redis.url,
                              sms(VOLUNTEER, f"DANGER {woman.short_id} BF", sid=sid(29, "r")))
    health = server_health(server)
    assert (health.status_code, health.json()["status"], health.json()["redis"]["ok"]) == (200, "degraded", False)

    with runtime.db.session_scope() as session:
        homes = households(session)
        for n, response in answers:
            assert response.status_code == 200, response.text
            assert reply_text(response) == registered(f"Head {n}", homes[f"Head {n}"])
        [alert] = session.scalars(select(Alert)).all()
        assert danger.status_code == 200
        assert reply_text(danger) == (f"Danger signs BF for Amina Juma ({woman.short_id}): staff alerted, "
                                      f"alert {alert.id}. Go to the facility now if you can")
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 30
        assert session.scalar(select(func.count()).select_from(Report)
                              .where(Report.checked_at.is_(None))) == 30
        assert alert.notified_at is None  # its dispatch job was lost too

    private_redis.start()  # empty: nothing of what was queued survived
    assert runtime.queues.depths() == {"urgent": 0, "checks": 0, "bulk": 0}
    runtime.clock.advance(minutes=3)
    runtime.queues.enqueue(Job("checks", TICK_JOB, ()))  # as the cron process does every minute
    run_worker(app)

    with runtime.db.session_scope() as session:
        checked = session.scalars(select(Report.checked_at)).all()
        assert len(checked) == 30 and None not in checked
        [alert] = session.scalars(select(Alert)).all()
        assert alert.notified_at == runtime.clock.now()
        [to_nurse] = session.scalars(select(OutgoingMessage).where(OutgoingMessage.alert_id == alert.id)).all()
        assert (to_nurse.to, to_nurse.status) == (nurse, OutgoingStatus.sent)
    assert server_health(server).json()["status"] == "ok"


def test_a_hung_redis_holds_up_no_webhook_and_the_jobs_reach_it_when_it_answers(
        make_committing_app, serve, private_redis):
    app = make_committing_app(REDIS_URL=private_redis.url, VERIFY_SAMPLE="0")
    runtime = app.extensions["fieldline"]
    runtime.queues.push_in_background()  # as gateway/wsgi.py sets up gunicorn's workers
    with runtime.db.session_scope() as session:
        volunteer = factories.contact(session, phone=VOLUNTEER)
        woman = factories.person(session, factories.household(session, volunteer, head="Omari Juma"), volunteer)
        staff(session, TOWNSHIP, name="Grace Achieng")
    server = serve(app)

    private_redis.process.send_signal(signal.SIGSTOP)  # it holds connections and answers nothing
    try:
        started = time.monotonic()
        home = signed_http_post(server.url, sms(VOLUNTEER, "HH Head 1", sid=sid(1, "h")))
        danger = signed_http_post(server.url, sms(VOLUNTEER, f"DANGER {woman.short_id} BF", sid=sid(2, "h")))
        # a request that waited on Redis would take its socket timeout, 5 s, or more
        assert time.monotonic() - started < 4
        assert (home.status_code, danger.status_code) == (200, 200)
        assert reply_text(danger).startswith(f"Danger signs BF for Amina Juma ({woman.short_id}): staff alerted")
        assert not runtime.queues.flush(timeout=0.2)  # the jobs wait for Redis in the pushing thread
    finally:
        private_redis.process.send_signal(signal.SIGCONT)
    assert runtime.queues.flush(timeout=15)
    # both reports' checks (in a batch, and the job that takes it) and the alert's dispatch
    assert runtime.queues.depths() == {"urgent": 1, "checks": 2 + 1, "bulk": 0}
    run_worker(app)
    with runtime.db.session_scope() as session:
        assert None not in session.scalars(select(Report.checked_at)).all()
        [alert] = session.scalars(select(Alert)).all()
        assert alert.notified_at is not None


# -- PostgreSQL stopped and started again ---------------------------------------------------------------

@pytest.fixture(scope="module")
def own_postgres():
    """A PostgreSQL cluster of this module's own, with a migrated test database; (cluster, url)."""
    why_not = PostgresCluster.available()
    if why_not:
        pytest.skip(why_not)
    cluster = PostgresCluster()
    try:
        cluster.init()
        cluster.start()
        url = cluster.create_database("fl_outage_test")
        engine = make_engine(url)
        with engine.begin() as conn:
            upgrade(connection=conn)
        engine.dispose()
        yield cluster, url
    finally:
        cluster.destroy()


@pytest.fixture
def outage_app(own_postgres):
    """An app on the module's own cluster; after the test the cluster runs again and is emptied."""
    cluster, url = own_postgres
    app = create_app(make_settings(url))
    runtime = app.extensions["fieldline"]
    runtime.clock = FrozenClock(TZ, START)
    yield app
    if not cluster.running():
        cluster.start()
    empty_tables(runtime)
    runtime.db.dispose()


def tables_written_by_a_waiter(cluster: PostgresCluster, database: str) -> set[str] | None:
    """The tables written so far by the transaction that waits on a lock in database; None when
    no transaction waits."""
    with psycopg.connect(host="127.0.0.1", port=cluster.port, user="postgres", dbname=database,
                         autocommit=True) as conn:
        waiting = conn.execute("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = %s",
                               (database,)).fetchone()
        if waiting is None:
            return None
        return {name for (name,) in conn.execute(
            "SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE l.pid = %s AND l.granted AND l.mode = 'RowExclusiveLock' AND c.relkind = 'r'", waiting)}


def assert_unavailable(response) -> None:
    """503 with Retry-After and a short plain answer: no traceback, no driver's words."""
    assert response.status_code == 503, response.data
    assert int(response.headers["Retry-After"]) > 0
    text = response.get_data(as_text=True)
    assert text == "Service unavailable, try again\n"


@pytest.mark.parametrize("mode", ["immediate", "fast"])
def test_postgresql_stopped_answers_503_keeps_nothing_half_written_and_recovers_without_a_restart(
        own_postgres, outage_app, mode):
    cluster, url = own_postgres
    runtime = outage_app.extensions["fieldline"]
    client = outage_app.test_client()
    with runtime.db.session_scope() as session:
        factories.contact(session, phone=VOLUNTEER)
    before = signed_post(client, sms(VOLUNTEER, "HH Before", sid=sid(1)))
    assert before.status_code == 200

    # a message in flight: its handler waits on a lock when the server goes down
    database = url.rpartition("/")[2]
    locker = psycopg.connect(host="127.0.0.1", port=cluster.port, user="postgres", dbname=database)
    try:
        locker.execute("LOCK TABLE households IN ACCESS EXCLUSIVE MODE")
        with ThreadPoolExecutor(1) as pool:
            in_flight = pool.submit(signed_post, outage_app.test_client(), sms(VOLUNTEER, "HH During", sid=sid(2)))
            wait_for(lambda: tables_written_by_a_waiter(cluster, database) is not None, 60,
                     "the message to wait on the lock", interval=0.05)
            assert "inbound_messages" in tables_written_by_a_waiter(cluster, database)  # stored, not committed
            cluster.stop(mode)
            assert_unavailable(in_flight.result(timeout=60))
    finally:
        locker.close()

    down = signed_post(client, sms(VOLUNTEER, "HH Down", sid=sid(3)))
    assert_unavailable(down)
    status = {"MessageSid": "SM" + "d" * 32, "MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32}
    assert_unavailable(signed_post(client, status, url="http://localhost/sms/twilio/status",
                                   path="/sms/twilio/status"))  # Twilio sends it again later
    health = client.get("/health")
    assert health.status_code == 503
    assert health.json["status"] == "unavailable" and health.json["database"]["ok"] is False

    cluster.start()  # the same app, its pool holding connections to the server that went away
    after = signed_post(client, sms(VOLUNTEER, "HH After", sid=sid(4)))
    assert after.status_code == 200
    assert client.get("/health").json["status"] == "ok"
    with runtime.db.session_scope() as session:
        homes = households(session)
        assert reply_text(after) == registered("After", homes["After"])
        assert sorted(homes) == ["After", "Before"]  # of the in-flight and refused ones, nothing
        assert [messages_with(session, sid(n)) for n in (1, 2, 3, 4)] == [1, 0, 0, 1]
        assert session.scalar(select(func.count()).select_from(Report)) == 2

    # the provider tries both again
    retried = [signed_post(client, sms(VOLUNTEER, f"HH {head}", sid=sid(n)))
               for n, head in ((2, "During"), (3, "Down"))]
    with runtime.db.session_scope() as session:
        homes = households(session)
        assert [reply_text(r) for r in retried] == [registered(h, homes[h]) for h in ("During", "Down")]
        assert [messages_with(session, sid(n)) for n in (1, 2, 3, 4)] == [1, 1, 1, 1]
        assert session.scalar(select(func.count()).select_from(Report)) == 4

    # a restart between two messages, no request seeing it: the pooled connections are dead, and
    # the next message must not be the one that finds out
    cluster.stop(mode)
    cluster.start()
    quick = signed_post(client, sms(VOLUNTEER, "HH Quick", sid=sid(5)))
    assert quick.status_code == 200, quick.data
    with runtime.db.session_scope() as session:
        assert reply_text(quick) == registered("Quick", households(session)["Quick"])
        assert messages_with(session, sid(5)) == 1


# -- a worker killed mid-send ---------------------------------------------------------------------------

@pytest.mark.parametrize("provider_takes_it", [False, True], ids=["never_reached_the_provider", "taken_after_the_kill"])
def test_a_worker_killed_while_its_request_is_on_the_way_sends_once_after_a_new_worker_sweeps(
        live, start_worker, provider_takes_it):
    app, fake = live
    runtime = app.extensions["fieldline"]
    with runtime.db.session_scope() as session:
        outgoing_id = queue_sms(session, runtime, to=PHONE, body="Alert 57: danger signs B F",
                                kind=OutgoingKind.alert, now=runtime.clock.now()).id
    # the provider has read the request and made nothing yet; then it drops it, or makes the message
    fake.answer_next(Answer(stall=60, drop=not provider_takes_it))
    doomed, _ = start_worker(app, "doomed")
    wait_for(lambda: len(fake.posts) == 1, 60, "the send to reach the provider")
    doomed.kill()
    doomed.wait(timeout=10)
    assert fake.messages == {}
    fake.release()
    if provider_takes_it:
        wait_for(lambda: len(fake.messages) == 1, 10, "the provider to make the message")

    with runtime.db.session_scope() as session:
        message = session.get(OutgoingMessage, outgoing_id)
        assert message.status is OutgoingStatus.sending and message.provider_id is None
        # the worker died three minutes ago: the sweep takes a send this old for cut off
        session.execute(update(OutgoingMessage).where(OutgoingMessage.id == outgoing_id)
                        .values(updated_at=message.updated_at - timedelta(minutes=3)))
    runtime.queues.enqueue(Job("checks", TICK_JOB, ()))  # as the cron process does every minute
    restarted, log = start_worker(app, "restarted")
    assert restarted.wait(timeout=90) == 0

    sent_to_phone = [m for m in fake.messages.values() if m["to"] == PHONE]
    assert len(sent_to_phone) == 1, sent_to_phone
    with runtime.db.session_scope() as session:
        message = session.get(OutgoingMessage, outgoing_id)
        assert message.status is OutgoingStatus.sent and message.provider_id == sent_to_phone[0]["sid"]
        statuses = [change.status.value for change in message.history]
    if provider_takes_it:
        assert statuses == ["queued", "sending", "sent"]
        assert "found at the provider" in message.history[-1].detail
        assert len(fake.posts_to(PHONE)) == 1
    else:
        assert statuses == ["queued", "sending", "retrying", "sending", "sent"]
        assert len(fake.posts_to(PHONE)) == 2
    log.seek(0)
    assert "job tick() ok" in log.read()  # the sweep ran in the new worker process


# -- one MessageSid, 20 times at once -------------------------------------------------------------------

def test_the_same_sid_posted_20_times_at_once_makes_one_record_and_20_identical_replies(
        make_committing_app, serve):
    app = make_committing_app()
    runtime = app.extensions["fieldline"]
    with runtime.db.session_scope() as session:
        factories.contact(session, phone=VOLUNTEER)
    server = serve(app)
    params = sms(VOLUNTEER, "HH Juma Ali", sid=sid(1, "c"))
    barrier = threading.Barrier(20)

    def post(_):
        barrier.wait(timeout=30)
        return signed_http_post(server.url, params)

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(post, range(20)))
    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses]
    with runtime.db.session_scope() as session:
        [home] = session.scalars(select(Household)).all()
        assert [reply_text(r) for r in responses] == [registered("Juma Ali", home)] * 20
        assert messages_with(session, params["MessageSid"]) == 1
        assert session.scalar(select(func.count()).select_from(Report)) == 1
