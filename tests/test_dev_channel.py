"""POST /sms/dev answers in JSON through the same intake as the providers."""
from __future__ import annotations

import pytest

from tests import factories


def test_dev_channel_answers_with_the_outcome(client, session):
    factories.contact(session, phone="+254712345678")
    response = client.post("/sms/dev", json={"from": "0712345678", "body": "HH Juma Ali"})
    assert response.status_code == 200
    data = response.get_json()
    assert data["status"] == "accepted" and data["record"]["type"] == "household"


def test_dev_channel_needs_a_sender(client):
    response = client.post("/sms/dev", json={"body": "HELP"})
    assert response.status_code == 400


@pytest.mark.parametrize("payload", [
    {"from": 254712345678, "body": "HELP"}, {"from": ["+254712345678"], "body": "HELP"},
    {"from": "+254712345678", "body": {"text": "HELP"}}, ["+254712345678", "HELP"], "HELP",
])
def test_dev_channel_refuses_json_that_is_no_message(client, session, payload):
    from sqlalchemy import func, select

    from gateway.models import InboundMessage

    response = client.post("/sms/dev", json=payload)
    assert response.status_code == 400
    assert session.scalar(select(func.count()).select_from(InboundMessage)) == 0
