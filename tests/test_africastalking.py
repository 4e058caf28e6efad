"""Africa's Talking: SMS in at POST /sms/africastalking/<secret> (deduplicated on id, the reply
queued as an SMS), delivery reports, the callback secret and allow-list, and sending through
their messaging API against a local server that answers like it, on the real Redis with real RQ
workers: sent with their messageId, temporary failures retried, permanent ones failed, a
blacklisted number opted out."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gateway.config import ConfigError, Settings
from gateway.models import (
    Household,
    InboundMessage,
    MessageStatus,
    OptOut,
    OutgoingKind,
    OutgoingMessage,
    OutgoingStatus,
)
from gateway.outbox import queue_sms
from tests import factories
from tests.conftest import run_worker
from tests.fake_africastalking import PATH, Answer, FakeAfricasTalking
from worker.sending import sweep_outgoing

S = OutgoingStatus
SECRET = "at-callback-secret-0123456789"
USERNAME = "fieldline-test"
API_KEY = "atsk_test_0123456789abcdef"
SHORT_CODE = "22384"
PHONE = "+254712345678"


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def sms(sender: str, text: str, message_id: str = "ATXid_in_0001") -> dict:
    return {"id": message_id, "from": sender, "to": SHORT_CODE, "text": text, "date": "2026-11-29 10:00:00",
            "linkId": "", "networkCode": "63902"}


# -- SMS in

@pytest.fixture
def settings_overrides() -> dict:
    return {"AT_CALLBACK_SECRET": SECRET}


@pytest.fixture
def volunteer(session):
    return factories.contact(session, phone=PHONE)


def replies(session) -> list[OutgoingMessage]:
    session.expire_all()
    return list(session.scalars(select(OutgoingMessage).where(OutgoingMessage.kind == OutgoingKind.reply)))


def test_an_sms_is_handled_and_its_reply_queued_as_an_sms(client, session, volunteer):
    response = client.post(f"/sms/africastalking/{SECRET}", data=sms(PHONE, "HH Juma Ali"))
    assert response.status_code == 200 and response.get_data() == b""
    message = session.scalar(select(InboundMessage))
    household = session.scalar(select(Household))
    assert (message.channel, message.provider_id, message.receiver) == ("africastalking", "ATXid_in_0001", SHORT_CODE)
    assert message.status is MessageStatus.accepted and message.contact_id == volunteer.id
    [reply] = replies(session)
    assert reply.to == PHONE and reply.contact_id == volunteer.id
    assert reply.body == f"Household of Juma Ali registered in Kanyagwal. ID {household.short_id}" == message.reply


def test_a_duplicate_id_makes_no_second_record_and_no_second_reply(client, session, volunteer):
    first = client.post(f"/sms/africastalking/{SECRET}", data=sms(PHONE, "HH Juma Ali"))
    again = client.post(f"/sms/africastalking/{SECRET}", data=sms(PHONE, "HH Juma Ali"))
    assert first.status_code == again.status_code == 200
    assert count(session, InboundMessage) == 1
    assert count(session, Household) == 1
    assert len(replies(session)) == 1
    other = client.post(f"/sms/africastalking/{SECRET}", data=sms(PHONE, "HH Juma Ali", message_id="ATXid_in_0002"))
    assert other.status_code == 200 and count(session, InboundMessage) == 2


def test_an_unregistered_sender_is_told_by_sms(client, session):
    client.post(f"/sms/africastalking/{SECRET}", data=sms("+254799999999", "HH Juma Ali"))
    [reply] = replies(session)
    assert reply.to == "+254799999999" and reply.body.startswith("This number is not registered")


@pytest.mark.parametrize("path", [
    "/sms/africastalking", "/sms/africastalking/wrong-secret-0123456789", f"/sms/africastalking/{SECRET}x",
    "/sms/africastalking/status", "/ussd/africastalking", "/ussd/africastalking/nope",
])
def test_a_missing_or_wrong_secret_is_refused_and_nothing_is_stored(client, session, volunteer, path):
    response = client.post(path, data={**sms(PHONE, "HH Juma Ali"), "sessionId": "ATUid_1",
                                       "phoneNumber": PHONE, "text": ""})
    assert response.status_code == 403
    assert count(session, InboundMessage) == 0 and count(session, OutgoingMessage) == 0


@pytest.mark.parametrize("settings_overrides", [{}])
def test_without_a_secret_or_an_allow_list_every_request_is_refused(client, session, volunteer, settings_overrides):
    assert client.post("/sms/africastalking", data=sms(PHONE, "HH Juma Ali")).status_code == 403
    assert client.post("/sms/africastalking/anything-at-all-0123", data=sms(PHONE, "HH Juma Ali")).status_code == 403
    assert count(session, InboundMessage) == 0


@pytest.mark.parametrize("settings_overrides", [{"AT_ALLOWED_IPS": "196.201.214.0/24, 2001:db8::1"}])
def test_the_allow_list_admits_its_addresses_only(client, session, volunteer, settings_overrides):
    outside = client.post("/sms/africastalking", data=sms(PHONE, "HH Juma Ali"))
    assert outside.status_code == 403 and count(session, InboundMessage) == 0
    inside = client.post("/sms/africastalking", data=sms(PHONE, "HH Juma Ali"),
                         environ_base={"REMOTE_ADDR": "196.201.214.7"})
    assert inside.status_code == 200 and count(session, InboundMessage) == 1
    ussd = client.post("/ussd/africastalking", environ_base={"REMOTE_ADDR": "2001:db8::1"},
                       data={"sessionId": "ATUid_1", "phoneNumber": PHONE, "serviceCode": "*384#", "text": ""})
    assert ussd.status_code == 200 and ussd.get_data(as_text=True).startswith("CON ")


@pytest.mark.parametrize("settings_overrides", [{"AT_ALLOWED_IPS": "196.201.214.0/24", "AT_CALLBACK_SECRET": SECRET}])
def test_with_both_set_a_request_needs_both(client, session, volunteer, settings_overrides):
    inside = {"REMOTE_ADDR": "196.201.214.7"}
    assert client.post(f"/sms/africastalking/{SECRET}", data=sms(PHONE, "HH A")).status_code == 403
    assert client.post("/sms/africastalking", data=sms(PHONE, "HH A"), environ_base=inside).status_code == 403
    assert client.post(f"/sms/africastalking/{SECRET}", data=sms(PHONE, "HH A"), environ_base=inside).status_code == 200


def test_a_sender_that_is_no_phone_number_is_kept_and_sent_no_reply(client, session):
    # found by tests/test_hostile_africastalking.py: "+2", bytes that are no UTF-8, then digits
    # was queued a reply to a number too long for the outgoing table (a 503 on PostgreSQL)
    response = client.post(f"/sms/africastalking/{SECRET}", content_type="application/x-www-form-urlencoded",
                           data=b"id=ATXid_in_0009&from=%2B2%ED%A0%8054712345678&to=22384&text=HH+Juma+Ali")
    assert response.status_code == 200
    [message] = session.scalars(select(InboundMessage)).all()
    assert message.sender.startswith("+2") and message.status.value == "ignored"
    assert replies(session) == []


def test_a_delivery_report_with_nul_in_its_fields_is_answered_and_ignored(client, session):
    # found by the same test: NUL is no text to PostgreSQL (a 503 there)
    response = client.post(f"/sms/africastalking/status/{SECRET}",
                           data={"id": "\x00ATXid_out_1", "status": "Failed\x00", "failureReason": "\x00"})
    assert response.status_code == 200


def test_a_request_without_id_or_sender_is_refused(client, session):
    assert client.post(f"/sms/africastalking/{SECRET}", data={"from": PHONE, "text": "HH A"}).status_code == 400
    assert client.post(f"/sms/africastalking/{SECRET}", data={"id": "ATXid_1", "text": "HH A"}).status_code == 400


@pytest.mark.parametrize("values, problem", [
    ({"SMS_BACKEND": "africastalking"}, "AT_USERNAME and AT_API_KEY"),
    ({"AT_CALLBACK_SECRET": "short"}, "AT_CALLBACK_SECRET"),
    ({"AT_CALLBACK_SECRET": "has/a/slash-0123456789"}, "AT_CALLBACK_SECRET"),
    ({"AT_ALLOWED_IPS": "10.0.0.0/8, africastalking.com"}, "AT_ALLOWED_IPS"),
    ({"AT_API_URL": "api.africastalking.com"}, "AT_API_URL"),
])
def test_settings_that_cannot_work_stop_start_up(values, problem):
    with pytest.raises(ConfigError, match=problem):
        Settings.from_mapping(values)


# -- sending through their API, and their delivery reports

@pytest.fixture
def fake():
    server = FakeAfricasTalking(USERNAME, API_KEY).start()
    yield server
    server.stop()


def at_settings(fake, redis_url: str) -> dict:
    return {"REDIS_URL": redis_url, "SMS_BACKEND": "africastalking", "AT_USERNAME": USERNAME,
            "AT_API_KEY": API_KEY, "AT_FROM": SHORT_CODE, "AT_API_URL": fake.url,
            "AT_CALLBACK_SECRET": SECRET, "SMS_RATE_PER_SECOND": "50"}


def queue(session, runtime, clock, body: str = "Due today: ANC Amina 51023") -> int:
    message = queue_sms(session, runtime, to=PHONE, body=body, kind=OutgoingKind.reminder, now=clock.now())
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


class TestSending:
    @pytest.fixture
    def settings_overrides(self, fake, redis_url):
        return at_settings(fake, redis_url)

    def test_a_message_is_sent_with_the_username_key_and_sender_and_keeps_its_message_id(
            self, app, runtime, session, clock, fake):
        outgoing_id = queue(session, runtime, clock)
        run_worker(app)
        message = reload(session, outgoing_id)
        assert message.status is S.sent and message.attempts == 1
        [request] = fake.requests
        assert request.path == PATH
        assert request.form == {"username": USERNAME, "to": PHONE, "message": "Due today: ANC Amina 51023",
                                "from": SHORT_CODE}
        assert request.headers["apiKey"] == API_KEY and request.headers["Accept"] == "application/json"
        assert message.provider_id == fake.message_ids[0] and message.provider_id.startswith("ATXid_")
        assert message.channel == "africastalking"
        assert history(message) == ["queued", "sending", "sent"]

    def test_a_failure_is_retried_after_a_wait_and_then_sent(self, app, runtime, session, clock, fake):
        fake.answer_next(Answer(status_code=500), Answer(http_status=503, body="Service Unavailable"))
        outgoing_id = queue(session, runtime, clock)
        run_worker(app)
        first = reload(session, outgoing_id)
        assert first.status is S.retrying and first.attempts == 1
        assert first.error == "500: InternalServerError"
        assert first.next_attempt_at == clock.now() + timedelta(minutes=1)

        clock.advance(minutes=1)
        assert sweep_and_work(app) == 1
        second = reload(session, outgoing_id)
        assert second.status is S.retrying and second.attempts == 2
        assert second.error == "503: Service Unavailable"
        assert second.next_attempt_at == clock.now() + timedelta(minutes=2)

        clock.advance(minutes=2)
        sweep_and_work(app)
        message = reload(session, outgoing_id)
        assert message.status is S.sent and message.attempts == 3 and message.error is None
        assert message.provider_id == fake.message_ids[-1]
        assert history(message) == ["queued", "sending", "retrying", "sending", "retrying", "sending", "sent"]
        assert len(fake.requests) == 3

    @pytest.mark.parametrize("answer, error", [
        (Answer(status_code=403), "403: InvalidPhoneNumber"),
        (Answer(status_code=402), "402: InvalidSenderId"),
        (Answer(http_status=401, body="The supplied authentication is invalid"),
         "401: The supplied authentication is invalid"),
    ])
    def test_a_permanent_failure_fails_at_once(self, app, runtime, session, clock, fake, answer, error):
        fake.answer_next(answer)
        outgoing_id = queue(session, runtime, clock)
        run_worker(app)
        message = reload(session, outgoing_id)
        assert message.status is S.failed and message.error == error and message.attempts == 1
        clock.advance(minutes=10)
        sweep_and_work(app)
        assert len(fake.requests) == 1

    def test_a_blacklisted_number_is_opted_out(self, app, runtime, session, clock, fake):
        fake.answer_next(Answer(status_code=406))
        outgoing_id = queue(session, runtime, clock)
        run_worker(app)
        assert reload(session, outgoing_id).status is S.opted_out
        assert session.get(OptOut, PHONE) is not None
        later = queue(session, runtime, clock, body="Due today: PNC Amina 51023")
        run_worker(app)
        assert reload(session, later).status is S.opted_out and len(fake.requests) == 1

    def test_delivery_reports_move_the_message_forward_only(self, app, runtime, session, clock, client, fake):
        outgoing_id = queue(session, runtime, clock)
        run_worker(app)
        message_id = reload(session, outgoing_id).provider_id
        path = f"/sms/africastalking/status/{SECRET}"
        report = {"id": message_id, "phoneNumber": PHONE, "networkCode": "63902", "retryCount": "0"}
        assert client.post(path, data={**report, "status": "Submitted"}).status_code == 200
        assert reload(session, outgoing_id).status is S.sent
        assert client.post(path, data={**report, "status": "Success"}).status_code == 200
        client.post(path, data={**report, "status": "Buffered"})  # late: ignored
        message = reload(session, outgoing_id)
        assert message.status is S.delivered
        assert history(message) == ["queued", "sending", "sent", "delivered"]
        assert client.post(path, data={**report, "id": "ATXid_unknown", "status": "Success"}).status_code == 200

    def test_a_failed_report_for_a_blacklisted_user_records_the_opt_out(
            self, app, runtime, session, clock, client, fake):
        outgoing_id = queue(session, runtime, clock)
        run_worker(app)
        message_id = reload(session, outgoing_id).provider_id
        client.post(f"/sms/africastalking/status/{SECRET}",
                    data={"id": message_id, "status": "Failed", "failureReason": "UserInBlackList"})
        message = reload(session, outgoing_id)
        assert message.status is S.opted_out and message.history[-1].detail == "Failed error UserInBlackList"
        assert session.get(OptOut, PHONE) is not None

    def test_a_rejected_report_fails_the_message_with_the_reason(self, app, runtime, session, clock, client, fake):
        outgoing_id = queue(session, runtime, clock)
        run_worker(app)
        message_id = reload(session, outgoing_id).provider_id
        client.post(f"/sms/africastalking/status/{SECRET}",
                    data={"id": message_id, "status": "Rejected", "failureReason": "DeliveryFailure"})
        message = reload(session, outgoing_id)
        assert message.status is S.failed and message.error == "Rejected error DeliveryFailure"

    def test_a_delivery_report_without_the_secret_is_refused(self, app, runtime, session, clock, client, fake):
        outgoing_id = queue(session, runtime, clock)
        run_worker(app)
        message_id = reload(session, outgoing_id).provider_id
        response = client.post("/sms/africastalking/status", data={"id": message_id, "status": "Success"})
        assert response.status_code == 403
        assert reload(session, outgoing_id).status is S.sent

    def test_an_sms_in_is_answered_through_their_api(self, app, runtime, session, client, fake):
        factories.contact(session, phone=PHONE)
        session.commit()
        client.post(f"/sms/africastalking/{SECRET}", data=sms(PHONE, "HELP"))
        run_worker(app)
        [request] = fake.requests
        assert request.form["to"] == PHONE and request.form["message"].startswith("Reports: HH REG V")
        [reply] = replies(session)
        assert reply.status is S.sent and reply.provider_id == fake.message_ids[0]
