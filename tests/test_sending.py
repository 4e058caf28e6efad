"""Sending on the real Redis with real RQ workers, the twilio library pointed at a local server that
answers like Twilio: sent with the provider's sid and the status callbacks after; temporary
failures retried with growing waits, then failed; permanent ones failed at once; numbers that
answered STOP left alone until START; the loop guard; the rate limit held by three worker
processes; and a worker killed between the provider's answer and the database write, whose
message is found at the provider rather than sent twice."""
from __future__ import annotations

import logging
import signal
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from gateway.models import InboundMessage, OptOut, OutgoingKind, OutgoingMessage, OutgoingStatus
from gateway.outbox import queue_sms
from gateway.phones import mask_phone
from tests import factories
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL, TWILIO_FROM as SENDER, run_worker, twilio_settings
from tests.fake_twilio import Answer, FakeTwilio
from tests.services import wait_for
from tests.test_twilio_webhook import reply_text, signed_post, sms
from worker.sending import sweep_outgoing

S = OutgoingStatus
PHONE = "+254712345678"


@pytest.fixture
def fake():
    server = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fake_on_the_test_clock(request):
    """The fake dates its messages by the clock the test moves, as the app does."""
    if "fake" in request.fixturenames and "clock" in request.fixturenames:
        request.getfixturevalue("fake").now = request.getfixturevalue("clock").now


@pytest.fixture
def backend() -> str:
    """The SMS backend of the app; a test parametrizes it to use the console."""
    return "twilio"


@pytest.fixture
def timeout_seconds() -> int:
    return 10


@pytest.fixture
def settings_overrides(redis_url, request, backend, timeout_seconds):
    if backend == "console":
        return {"REDIS_URL": redis_url, "SMS_BACKEND": "console"}
    fake = request.getfixturevalue("fake")
    return {"REDIS_URL": redis_url, **twilio_settings(fake.url, SMS_RATE_PER_SECOND=50,
                                                       TWILIO_TIMEOUT_SECONDS=timeout_seconds)}


def queue(session, runtime, clock, body: str = "Due today: ANC Amina 51023", to: str = PHONE,
          kind: OutgoingKind = OutgoingKind.reminder) -> int:
    message = queue_sms(session, runtime, to=to, body=body, kind=kind, now=clock.now())
    session.commit()
    return message.id


def reload(session, outgoing_id: int) -> OutgoingMessage:
    session.expire_all()
    return session.get(OutgoingMessage, outgoing_id)


def history(message: OutgoingMessage) -> list[str]:
    return [change.status.value for change in message.history]


def sweep_and_work(app) -> int:
    with app.app_context():
        enqueued = sweep_outgoing()
    run_worker(app)
    return enqueued


# -- the console backend

@pytest.mark.parametrize("backend", ["console"])
def test_console_backend_sends_logs_without_the_body_and_keeps_the_history(
        app, runtime, session, clock, backend, caplog):
    outgoing_id = queue(session, runtime, clock, body="Due today: ANC Amina 51023")
    with caplog.at_level(logging.INFO, logger="worker"):
        run_worker(app)
    message = reload(session, outgoing_id)
    assert message.status is S.sent
    assert message.provider_id.startswith("console-")
    assert message.sent_at == clock.now() and message.attempts == 1
    assert history(message) == ["queued", "sending", "sent"]
    info = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert any(f"{mask_phone(PHONE)} (26 chars)" in line for line in info)
    assert not any("Amina" in line or PHONE in line for line in info)


# -- Twilio: sent, then the status callbacks

def test_twilio_send_records_the_sid_and_the_status_callback_moves_it_to_delivered(
        app, runtime, session, clock, client, fake):
    outgoing_id = queue(session, runtime, clock)
    run_worker(app)
    message = reload(session, outgoing_id)
    assert message.status is S.sent
    [post] = fake.posts
    assert post.auth_ok
    assert post.params == {"To": PHONE, "From": SENDER, "Body": "Due today: ANC Amina 51023",
                           "StatusCallback": PUBLIC_URL + "/sms/twilio/status"}
    assert message.provider_id in fake.messages

    clock.advance(seconds=3)
    assert fake.status_callback(client, message.provider_id, "sent").status_code == 200
    assert reload(session, outgoing_id).status is S.sent
    clock.advance(seconds=5)
    assert fake.status_callback(client, message.provider_id, "delivered").status_code == 200
    clock.advance(seconds=1)
    fake.status_callback(client, message.provider_id, "sent")  # late, out of order: ignored
    message = reload(session, outgoing_id)
    assert message.status is S.delivered
    assert history(message) == ["queued", "sending", "sent", "delivered"]
    assert message.history[-1].at == clock.now() - timedelta(seconds=1)
    assert message.history[-1].detail == "delivered"


def test_undelivered_callback_fails_the_message_with_the_error_code(
        app, runtime, session, clock, client, fake):
    outgoing_id = queue(session, runtime, clock)
    run_worker(app)
    sid = reload(session, outgoing_id).provider_id
    fake.status_callback(client, sid, "undelivered", error_code=30003)
    message = reload(session, outgoing_id)
    assert message.status is S.failed
    assert message.history[-1].detail == "undelivered error 30003"


def test_queue_overflow_reported_by_callback_is_sent_again_later(app, runtime, session, clock, client, fake):
    outgoing_id = queue(session, runtime, clock)
    run_worker(app)
    first_sid = reload(session, outgoing_id).provider_id
    fake.status_callback(client, first_sid, "failed", error_code=30001)  # it never left Twilio's queue
    message = reload(session, outgoing_id)
    assert message.status is S.retrying and message.provider_id is None
    assert message.next_attempt_at == clock.now() + timedelta(minutes=1)
    clock.advance(minutes=1)
    sweep_and_work(app)
    message = reload(session, outgoing_id)
    assert message.status is S.sent and message.provider_id not in (None, first_sid)
    assert history(message) == ["queued", "sending", "sent", "retrying", "sending", "sent"]


def test_status_callback_for_an_unknown_sid_is_answered_and_ignored(client, fake, session):
    fake.messages["SMunknown"] = {"to": PHONE, "from": SENDER,
                                  "status_callback": PUBLIC_URL + "/sms/twilio/status"}
    assert fake.status_callback(client, "SMunknown", "delivered").status_code == 200


def test_status_callback_without_a_valid_signature_is_refused(app, runtime, session, clock, client, fake):
    outgoing_id = queue(session, runtime, clock)
    run_worker(app)
    sid = reload(session, outgoing_id).provider_id
    response = client.post("/sms/twilio/status", data={"MessageSid": sid, "MessageStatus": "delivered"},
                           headers={"X-Twilio-Signature": "forged"})
    assert response.status_code == 403
    assert reload(session, outgoing_id).status is S.sent


# -- failures: temporary ones retried with growing waits, permanent ones at once

def test_500_then_429_are_retried_with_growing_waits_until_sent(app, runtime, session, clock, fake):
    fake.fail_next(1, status=500)
    fake.fail_next(1, status=429)
    outgoing_id = queue(session, runtime, clock)
    run_worker(app)
    first = reload(session, outgoing_id)
    assert first.status is S.retrying and first.attempts == 1
    assert first.next_attempt_at == clock.now() + timedelta(minutes=1)
    assert first.error == "20500: Internal Server Error"

    clock.advance(seconds=30)
    assert sweep_and_work(app) == 0  # not due yet
    clock.advance(seconds=30)
    assert sweep_and_work(app) == 1
    second = reload(session, outgoing_id)
    assert second.status is S.retrying and second.attempts == 2
    assert second.next_attempt_at == clock.now() + timedelta(minutes=2)
    assert second.error == "20429: Too Many Requests"

    clock.advance(minutes=2)
    sweep_and_work(app)
    message = reload(session, outgoing_id)
    assert message.status is S.sent and message.attempts == 3 and message.error is None
    assert history(message) == ["queued", "sending", "retrying", "sending", "retrying", "sending", "sent"]
    assert len(fake.posts) == 3


QUEUE_FULL = "This 'From' number has exceeded the maximum number of queued messages"


@pytest.mark.parametrize("status, code, reason", [
    (500, 20500, "Internal Server Error"),
    (429, 20429, "Too Many Requests"),
    (503, 20503, "Service Unavailable"),
    (400, 21611, QUEUE_FULL),  # a 4xx that Twilio means as "later"
])
def test_a_failure_that_stays_temporary_fails_with_its_reason_after_the_last_attempt(
        app, runtime, session, clock, fake, status, code, reason):
    fake.fail_next(20, status=status, code=code, message=reason)
    outgoing_id = queue(session, runtime, clock)
    run_worker(app)
    waits = []
    message = reload(session, outgoing_id)
    while message.status is S.retrying:
        waits.append(message.next_attempt_at - clock.now())
        clock.set(message.next_attempt_at)
        sweep_and_work(app)
        message = reload(session, outgoing_id)
    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16)]
    assert message.status is S.failed
    assert message.attempts == runtime.settings.SEND_MAX_ATTEMPTS == 6
    assert message.error == f"{code}: {reason}"
    assert message.history[-1].detail.startswith("gave up after 6 attempts: ")
    assert len(fake.posts) == 6


def test_a_permanent_failure_fails_at_once_with_the_reason(app, runtime, session, clock, fake):
    fake.fail_next(1, status=400, code=21211)
    outgoing_id = queue(session, runtime, clock)
    run_worker(app)
    message = reload(session, outgoing_id)
    assert message.status is S.failed and message.attempts == 1
    assert message.error == "21211: The 'To' number is not a valid phone number."
    clock.advance(hours=1)
    assert sweep_and_work(app) == 0
    assert len(fake.posts) == 1


# -- opted-out numbers: the provider's 21610, and STOP / START

def test_21610_marks_the_number_opted_out_and_later_messages_are_not_sent(app, runtime, session, clock, fake):
    fake.fail_next(1, status=400, code=21610, message="Attempt to send to unsubscribed recipient")
    first = queue(session, runtime, clock)
    run_worker(app)
    message = reload(session, first)
    assert message.status is S.opted_out
    assert message.error == "21610: Attempt to send to unsubscribed recipient"
    assert session.get(OptOut, PHONE).source == "provider"

    later = queue(session, runtime, clock, body="Due today: PNC day 3 Li Na 62014")
    run_worker(app)
    assert reload(session, later).status is S.opted_out
    assert len(fake.posts) == 1


def test_opted_out_callback_records_the_opt_out(app, runtime, session, clock, client, fake):
    outgoing_id = queue(session, runtime, clock)
    run_worker(app)
    fake.status_callback(client, reload(session, outgoing_id).provider_id, "failed", error_code=21610)
    assert reload(session, outgoing_id).status is S.opted_out
    assert session.get(OptOut, PHONE).source == "provider"


def test_stop_by_sms_stops_every_message_until_start(app, runtime, session, clock, client, fake):
    volunteer = factories.contact(session, phone=PHONE)
    session.commit()
    response = signed_post(client, {**sms(PHONE, "Stop", sid="SM" + "1" * 32), "OptOutType": "STOP"},
                           url=PUBLIC_URL + "/sms/twilio")
    assert response.status_code == 200 and reply_text(response) == ""  # Twilio answers STOP itself
    stored = session.scalar(select(InboundMessage).where(InboundMessage.provider_id == "SM" + "1" * 32))
    assert (stored.status.value, stored.form, stored.contact_id) == ("accepted", "STOP", volunteer.id)
    assert session.get(OptOut, PHONE).source == "sms"

    held = queue(session, runtime, clock, kind=OutgoingKind.alert)
    run_worker(app)
    assert reload(session, held).status is S.opted_out
    assert fake.posts == []

    response = signed_post(client, sms(PHONE, "START", sid="SM" + "2" * 32), url=PUBLIC_URL + "/sms/twilio")
    assert reply_text(response) == ""
    session.expire_all()
    assert session.get(OptOut, PHONE) is None
    allowed = queue(session, runtime, clock, body="Due today: V Juma Ali 10009")
    run_worker(app)
    assert reload(session, allowed).status is S.sent
    assert len(fake.posts) == 1


@pytest.mark.parametrize("backend", ["console"])
def test_stop_on_another_channel_is_confirmed_and_yes_from_a_number_that_never_stopped_is_a_message(
        client, session, backend):
    factories.contact(session, phone=PHONE)
    session.commit()
    stop = client.post("/sms/dev", json={"from": PHONE, "body": "unsubscribe"}).get_json()
    assert stop["status"] == "accepted" and stop["form"] == "STOP" and "START" in stop["reply"]
    start = client.post("/sms/dev", json={"from": PHONE, "body": "start"}).get_json()
    assert start["form"] == "START" and "STOP" in start["reply"]
    yes = client.post("/sms/dev", json={"from": PHONE, "body": "YES"}).get_json()
    assert yes["form"] is None and yes["error"] == "unknown_keyword"


# -- the loop guard

def test_sixth_identical_message_in_30_minutes_is_held_as_duplicate(app, runtime, session, clock, fake):
    ids = []
    for _ in range(7):
        ids.append(queue(session, runtime, clock, body="Alert 57: danger signs B F"))
        clock.advance(minutes=4)
    other = queue(session, runtime, clock, body="Alert 58: danger signs C")
    run_worker(app)
    statuses = [reload(session, i).status for i in ids]
    assert statuses == [S.sent] * 5 + [S.duplicate] * 2
    assert reload(session, other).status is S.sent
    assert reload(session, ids[5]).history[-1].detail == "more than 5 identical messages in 30 minutes"
    assert len(fake.posts) == 6


def test_identical_messages_further_apart_than_30_minutes_are_sent(app, runtime, session, clock, fake):
    ids = []
    for _ in range(7):
        ids.append(queue(session, runtime, clock, body="Due today: ANC Amina 51023"))
        clock.advance(minutes=10)
    run_worker(app)
    assert [reload(session, i).status for i in ids] == [S.sent] * 7


# -- an answer that never came: the provider is asked before anything is sent again

@pytest.mark.parametrize("timeout_seconds", [1])
def test_a_timed_out_send_is_found_at_the_provider_and_not_sent_again(
        app, runtime, session, clock, fake, timeout_seconds, caplog):
    caplog.set_level(logging.INFO)
    fake.answer_next(Answer(hold=3))
    outgoing_id = queue(session, runtime, clock)
    run_worker(app)
    assert reload(session, outgoing_id).status is S.sending  # no answer: it may have gone
    [post] = fake.posts
    [sid] = fake.messages

    clock.advance(minutes=1)
    assert sweep_and_work(app) == 0
    assert reload(session, outgoing_id).status is S.sending  # too soon to call it cut off
    clock.advance(minutes=2)
    sweep_and_work(app)
    message = reload(session, outgoing_id)
    assert message.status is S.sent and message.provider_id == sid
    assert "found at the provider" in message.history[-1].detail
    assert len(fake.posts) == 1
    assert [r for r in caplog.records if PHONE in r.getMessage() or "Amina" in r.getMessage()] == []


def test_a_dropped_connection_with_nothing_at_the_provider_is_sent_again(app, runtime, session, clock, fake):
    fake.answer_next(Answer(drop=True))
    outgoing_id = queue(session, runtime, clock)
    run_worker(app)
    assert reload(session, outgoing_id).status is S.sending
    assert fake.messages == {}
    clock.advance(minutes=3)
    assert sweep_and_work(app) == 1
    message = reload(session, outgoing_id)
    assert message.status is S.sent and message.attempts == 2
    assert len(fake.posts) == 2 and len(fake.messages) == 1


# -- worker processes: the rate limit with three, and one killed mid-send

def test_three_workers_together_never_exceed_the_rate(live, start_worker):
    app, fake = live
    runtime = app.extensions["fieldline"]
    with runtime.db.session_scope() as session:
        for n in range(60):
            queue_sms(session, runtime, to=factories.next_phone(), body=f"Due today: visit {n}",
                      kind=OutgoingKind.reminder, now=runtime.clock.now())
    workers = [start_worker(app, f"worker{i}", SMS_RATE_PER_SECOND="10") for i in range(3)]
    for process, _ in workers:
        assert process.wait(timeout=90) == 0

    arrivals = sorted(post.at for post in fake.posts)
    assert len(arrivals) == 60
    busiest = max(sum(1 for t in arrivals[i:] if t - start < 1.0) for i, start in enumerate(arrivals))
    assert busiest <= 10
    assert arrivals[-1] - arrivals[0] >= 5.0  # 60 at 10 a second: the limit did hold them back
    for process, log in workers:  # and all three took part
        log.seek(0)
        assert "Job OK" in log.read()
    with runtime.db.session_scope() as session:
        statuses = set(session.scalars(select(OutgoingMessage.status)))
    assert statuses == {S.sent}


def test_a_worker_killed_between_the_providers_answer_and_the_write_never_sends_twice(live, start_worker):
    app, fake = live
    runtime = app.extensions["fieldline"]
    with runtime.db.session_scope() as session:
        outgoing_id = queue_sms(session, runtime, to=PHONE, body="Alert 57: danger signs B F",
                                kind=OutgoingKind.alert, now=runtime.clock.now()).id
    fake.answer_next(Answer(hold=60))  # Twilio has the message; its answer is on the way
    process, _ = start_worker(app, "doomed")
    wait_for(lambda: len(fake.messages) == 1)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    fake.release()

    with runtime.db.session_scope() as session:
        message = session.get(OutgoingMessage, outgoing_id)
        assert message.status is S.sending and message.provider_id is None
        intent_at = message.updated_at
    runtime.clock.set(datetime.now(timezone.utc) + timedelta(minutes=3))
    assert runtime.clock.now() - intent_at > timedelta(minutes=2)
    with app.app_context():
        assert sweep_outgoing() == 0  # found at the provider: nothing to send again
    run_worker(app)

    [sid] = fake.messages
    with runtime.db.session_scope() as session:
        message = session.get(OutgoingMessage, outgoing_id)
        assert message.status is S.sent and message.provider_id == sid
        assert history(message) == ["queued", "sending", "sent"]
    assert len(fake.posts_to(PHONE)) == 1
