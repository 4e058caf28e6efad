"""POST /sms/twilio: signatures computed by the twilio library, dedupe on MessageSid, TwiML replies."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import requests
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from gateway.models import Household, InboundMessage, MessageStatus, Report
from tests import factories
from tests.conftest import AUTH_TOKEN

URL = "http://localhost/sms/twilio"


def signed_post(client, params: dict, *, url: str = URL, token: str = AUTH_TOKEN, headers=None, path=None):
    signature = RequestValidator(token).compute_signature(url, params)
    return client.post(path or "/sms/twilio", data=params,
                       headers={"X-Twilio-Signature": signature, **(headers or {})})


def signed_http_post(base_url: str, params: dict, *, token: str = AUTH_TOKEN) -> requests.Response:
    """POST /sms/twilio over HTTP to a running server, signed for the URL it sees, as Twilio would."""
    url = f"{base_url}/sms/twilio"
    signature = RequestValidator(token).compute_signature(url, params)
    return requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=60)


def sms(sender: str, body: str, sid: str = "SM" + "a" * 32) -> dict:
    return {"MessageSid": sid, "SmsSid": sid, "AccountSid": "AC" + "0" * 32, "From": sender,
            "To": "+254700111222", "Body": body, "NumMedia": "0"}


def reply_text(response) -> str:
    """The text of a TwiML answer, from the test client or from requests."""
    root = ET.fromstring(response.data if hasattr(response, "data") else response.content)
    assert root.tag == "Response"
    message = root.find("Message")
    return message.text if message is not None else ""


@pytest.fixture
def volunteer(session):
    return factories.contact(session, phone="+254712345678")


def test_household_registration_is_answered_inline_with_the_new_id(client, session, volunteer):
    response = signed_post(client, sms("+254712345678", "HH Juma Ali"))
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    text = reply_text(response)
    household = session.scalar(select(Household))
    assert text == f"Household of Juma Ali registered in Kanyagwal. ID {household.short_id}"
    message = session.scalar(select(InboundMessage))
    assert message.status is MessageStatus.accepted
    assert message.contact_id == volunteer.id


def test_local_number_format_finds_the_same_contact(client, session, volunteer):
    response = signed_post(client, sms("0712 345 678", "HH Juma Ali"))
    assert "registered" in reply_text(response)


def test_tampered_body_is_refused_and_nothing_is_stored(client, session, volunteer):
    params = sms("+254712345678", "HH Juma Ali")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(URL, params)
    params["Body"] = "HH Someone Else"
    response = client.post("/sms/twilio", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert session.scalar(select(func.count()).select_from(InboundMessage)) == 0


def test_missing_signature_is_refused(client, session, volunteer):
    response = client.post("/sms/twilio", data=sms("+254712345678", "HH Juma Ali"))
    assert response.status_code == 403
    assert session.scalar(select(func.count()).select_from(InboundMessage)) == 0


def test_signature_with_another_token_is_refused(client, session, volunteer):
    response = signed_post(client, sms("+254712345678", "HH Juma Ali"), token="some-other-token")
    assert response.status_code == 403


@pytest.mark.parametrize("settings_overrides", [{"PUBLIC_URL": "https://sms.example.org"}])
def test_behind_a_proxy_the_public_url_is_what_was_signed(client, session, volunteer, settings_overrides):
    params = sms("+254712345678", "HH Juma Ali")
    ok = signed_post(client, params, url="https://sms.example.org/sms/twilio")
    assert ok.status_code == 200 and "registered" in reply_text(ok)
    internal = signed_post(client, sms("+254712345678", "HH Other", sid="SM" + "b" * 32), url=URL)
    assert internal.status_code == 403


@pytest.mark.parametrize("settings_overrides", [{"PUBLIC_URL": "https://sms.example.org/"}])
def test_public_url_keeps_the_query_string_in_the_signature(client, volunteer, settings_overrides):
    params = sms("+254712345678", "HH Juma Ali")
    url = "https://sms.example.org/sms/twilio?site=nyando"
    response = signed_post(client, params, url=url, path="/sms/twilio?site=nyando")
    assert response.status_code == 200


def test_a_retry_of_the_same_sid_gets_the_same_reply_and_no_second_record(client, session, volunteer):
    first = signed_post(client, sms("+254712345678", "HH Juma Ali"))
    second = signed_post(client, sms("+254712345678", "HH Juma Ali"))
    assert reply_text(first) == reply_text(second)
    assert session.scalar(select(func.count()).select_from(Household)) == 1
    assert session.scalar(select(func.count()).select_from(InboundMessage)) == 1
    assert session.scalar(select(func.count()).select_from(Report)) == 1


def test_unknown_sender_is_told_and_the_raw_message_is_kept(client, session):
    response = signed_post(client, sms("+254799999999", "HH Juma Ali"))
    assert reply_text(response).startswith("This number is not registered")
    message = session.scalar(select(InboundMessage))
    assert message.body == "HH Juma Ali"
    assert message.status is MessageStatus.ignored and message.error == "unknown_sender"
    assert session.scalar(select(func.count()).select_from(Report)) == 0


def test_unknown_sender_using_a_chinese_keyword_is_answered_in_chinese(client):
    response = signed_post(client, sms("+254799999999", "户 王伟"))
    assert reply_text(response).startswith("此号码未在Fieldline登记")


def test_mistake_gets_one_sms_naming_the_problem(client, volunteer):
    response = signed_post(client, sms("+254712345678", "REG"))
    text = reply_text(response)
    assert text.startswith("REG: household ID missing. Send: REG <household ID>")
    assert len(text) <= 160


def test_missing_sid_is_a_bad_request(client):
    params = {"From": "+254712345678", "Body": "HH x"}
    response = signed_post(client, params)
    assert response.status_code == 400


def test_markup_in_a_reply_is_escaped_in_twiml(client, session, volunteer):
    response = signed_post(client, sms("+254712345678", "HH <b>&Juma</b>"))
    assert response.status_code == 200
    assert "Household of <b>&Juma</b> registered" in reply_text(response)


def test_a_field_sent_twice_is_signed_with_both_values(client, session, volunteer):
    """Twilio signs every value of a repeated field, sorted; a request signed so is taken and one
    signed with the first value only is not."""
    params = sms("+254712345678", "HH Juma Ali")
    pairs = [*params.items(), ("AddOns", "b"), ("AddOns", "a")]
    both = MultiDict(pairs)
    first_only = {**params, "AddOns": "b"}
    for signed, status in ((both, 200), (first_only, 403)):
        signature = RequestValidator(AUTH_TOKEN).compute_signature(URL, signed)
        response = client.post("/sms/twilio", data=MultiDict(pairs), headers={"X-Twilio-Signature": signature})
        assert response.status_code == status
    assert session.scalar(select(func.count()).select_from(InboundMessage)) == 1


def test_a_request_signed_with_sha256_is_taken(client, session, volunteer):
    params = sms("+254712345678", "HH Juma Ali")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(URL, params, "HMAC_SHA256")
    headers = {"X-Twilio-Signature": signature,
               "X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"}
    assert client.post("/sms/twilio", data=params, headers=headers).status_code == 200
    headers["X-Twilio-Webhooks-Signature-Settings"] = "algorithm=HMAC_MD5"
    assert client.post("/sms/twilio", data=params, headers=headers).status_code == 403
