"""Hostile and broken input at Africa's Talking's endpoints: 3,000 generated requests to USSD, SMS
in and delivery reports, as tests/test_hostile.py does for Twilio's webhook.

Africa's Talking signs nothing: a request is let in by the secret at the end of its path. Every
request with the right secret and the fields the provider always sends is answered 200 (a USSD
screen that fits, a stored SMS), one without them 400, one without the secret 403 with nothing
stored, and none ever 5xx.
"""
from __future__ import annotations

import random
import string

import pytest
from sqlalchemy import func, select

from gateway.channels import MAX_PROVIDER_ID
from gateway.models import InboundMessage
from gateway.ussd import SCREEN_LIMIT, screen_length
from tests import factories
from tests.test_hostile import MARKUP, SQL, URLENCODED, WEIRD_FROM, as_stored, encode, random_body, random_text

SECRET = "at-hostile-secret-0123456789abcdef"
REQUESTS = 3_000
SEED = 8
VOLUNTEER = "+254712345678"
AT_STATUSES = ["Success", "Sent", "Submitted", "Buffered", "Rejected", "Failed", "Queued"]


@pytest.fixture
def settings_overrides() -> dict:
    return {"AT_CALLBACK_SECRET": SECRET}


@pytest.fixture
def volunteer(session):
    return factories.contact(session, phone=VOLUNTEER)


def weird_id(rng: random.Random, prefix: str, number: int) -> str:
    ident = f"{prefix}{number:08d}"
    roll = rng.random()
    if roll < 0.03:
        return ident + "x" * rng.randint(MAX_PROVIDER_ID, 1000)  # longer than any provider's
    if roll < 0.06:
        return "\x00" + ident
    if roll < 0.09:
        return rng.choice(SQL + MARKUP)
    if roll < 0.11:
        return random_text(rng, rng.randint(1, 40))
    return ident


def sender(rng: random.Random) -> str:
    roll = rng.random()
    return VOLUNTEER if roll < 0.4 else rng.choice(WEIRD_FROM) if roll < 0.7 else factories.next_phone()


def ussd_text(rng: random.Random) -> str:
    """What the phone's keypad sent so far, answers joined by '*': digits mostly, anything now and then."""
    answers = []
    for _ in range(rng.choice([0, 1, 1, 2, 3, 5, 12])):
        roll = rng.random()
        answers.append(str(rng.randint(0, 12)) if roll < 0.6 else random_body(rng) if roll < 0.8
                       else rng.choice(["", "*", "#", "00", "98", "99", "0" * 50, "\x00"]))
    return "*".join(answers)


def request(rng: random.Random, number: int) -> tuple[str, str, list[tuple[str, str]]]:
    """(endpoint, path, fields) of one generated request."""
    endpoint = rng.choices(["ussd", "sms", "status"], [45, 40, 15])[0]
    if endpoint == "ussd":
        session = f"ATUid_{rng.randint(0, 200):04d}" if rng.random() < 0.8 else weird_id(rng, "ATUid_", number)
        fields = [("sessionId", session), ("phoneNumber", sender(rng)), ("serviceCode", rng.choice(["*384*7#", ""])),
                  ("networkCode", "63902"), ("text", ussd_text(rng))]
        base = "/ussd/africastalking"
    elif endpoint == "sms":
        fields = [("id", weird_id(rng, "ATXid_", number)), ("from", sender(rng)), ("to", rng.choice(["22384", ""])),
                  ("text", random_body(rng)), ("date", rng.choice(["2026-11-29 10:00:00", "", "yesterday"])),
                  ("linkId", random_text(rng, rng.randint(0, 20)))]
        base = "/sms/africastalking"
    else:
        status = rng.choice(AT_STATUSES) if rng.random() < 0.7 else rng.choice(["", "\x00", random_body(rng)])
        fields = [("id", weird_id(rng, "ATXid_out_", number)), ("status", status),
                  ("failureReason", rng.choice(["", "InsufficientCredit", "UserInBlacklist", random_body(rng)])),
                  ("networkCode", "63902"), ("retryCount", rng.choice(["0", "1", "-1", "many"]))]
        base = "/sms/africastalking/status"
    for _ in range(rng.choice([0, 0, 0, 1, 2])):  # missing fields
        gone = rng.choice(fields)[0]
        fields = [f for f in fields if f[0] != gone]
    if rng.random() < 0.05:  # a field twice
        name, value = rng.choice(fields) if fields else ("text", "")
        fields.insert(rng.randint(0, len(fields)), (name, random_body(rng)))
    roll = rng.random()
    path = (f"{base}/{SECRET}" if roll < 0.85 else base if roll < 0.9 else f"{base}/{SECRET}x" if roll < 0.95
            else f"{base}/{''.join(rng.choices(string.ascii_letters + string.digits + '-_.~', k=rng.randint(1, 40)))}")
    return endpoint, path, fields


def first(fields: list[tuple[str, str]], name: str) -> str:
    """The value the server reads for name: the first one sent."""
    return next((value for key, value in fields if key == name), "")


def test_three_thousand_hostile_africastalking_requests_get_no_5xx_and_every_sms_let_in_is_kept(
        client, session, volunteer):
    rng = random.Random(SEED)
    kept: dict[str, str] = {}  # provider id -> the text of the first complete SMS with it
    statuses: dict[tuple[str, int], int] = {}
    for number in range(REQUESTS):
        endpoint, path, fields = request(rng, number)
        raw = "&".join(f"{encode(rng, k)}={encode(rng, v)}" for k, v in fields).encode("utf-8")
        if rng.random() < 0.02:
            raw, content_type = rng.choice([b'{"sessionId": "1"}', b"\x00" * 50, b"\xff\xfe"]), "application/json"
        else:
            content_type = URLENCODED
        response = client.post(path, data=raw, content_type=content_type)
        status = response.status_code
        statuses[endpoint, status] = statuses.get((endpoint, status), 0) + 1
        where = f"request {number} to {path[:60]!r} ({raw[:120]!r}...)"
        assert status < 500, f"{where}: {status} {response.data[:300]!r}"
        if not path.endswith(f"/{SECRET}"):
            assert status == 403, where
            continue
        if content_type != URLENCODED:
            assert status == 400, where
            continue
        # what the server reads: the form parsed as werkzeug parses it
        form = client.application.request_class.from_values(
            method="POST", data=raw, content_type=content_type).form
        names = {"ussd": ("sessionId", "phoneNumber"), "sms": ("id", "from"), "status": ("id", "status")}[endpoint]
        complete = all(form.get(name) for name in names)
        if endpoint in ("ussd", "sms"):
            complete = complete and len(form.get(names[0])) <= MAX_PROVIDER_ID
        if not complete:
            assert status == 400, where
            continue
        assert status == 200, f"{where}: {status} {response.data[:300]!r}"
        if endpoint == "ussd":
            screen = response.get_data(as_text=True)
            assert screen[:4] in ("CON ", "END ") and screen_length(screen) <= SCREEN_LIMIT, (where, screen)
        elif endpoint == "sms":
            kept.setdefault(as_stored(form.get("id")), form.get("text", ""))
    print(f"\n{REQUESTS} hostile Africa's Talking requests; statuses {dict(sorted(statuses.items()))}")

    stored = dict(session.execute(select(InboundMessage.provider_id, InboundMessage.body)
                                  .where(InboundMessage.channel == "africastalking")).all())
    assert set(stored) == set(kept), f"kept {len(kept)} SMS, stored {len(stored)}"
    for provider_id, text in kept.items():
        assert stored[provider_id] == as_stored(text), provider_id
    assert session.scalar(select(func.count()).select_from(InboundMessage)
                          .where(InboundMessage.channel != "africastalking")) == 0
    # every endpoint went through each of its paths
    for endpoint in ("ussd", "sms", "status"):
        for status in (200, 400, 403):
            assert statuses.get((endpoint, status), 0) > 10, (endpoint, status, statuses)
