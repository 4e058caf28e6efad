"""The floor for bench/webhook.py: the least a Twilio SMS webhook can do per message. It checks
the signature, inserts the message as one row with SQLAlchemy and answers with TwiML; nothing
else (no sender lookup, no parsing, no deduplication, no reply in the sender's language).

    FLOOR_DATABASE_URL=postgresql+psycopg://... TWILIO_AUTH_TOKEN=... PUBLIC_URL=http://127.0.0.1:8101 \
        gunicorn bench.floor_app:app
"""
import os

from flask import Flask, Response, abort, request
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, create_engine, func, insert
from twilio.request_validator import RequestValidator

metadata = MetaData()
messages = Table(
    "floor_messages", metadata,
    Column("id", Integer, primary_key=True),
    Column("sid", String(64), nullable=False),
    Column("sender", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
REPLY = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Received</Message></Response>'

app = Flask(__name__)
engine = create_engine(os.environ.get("FLOOR_DATABASE_URL", "sqlite://"))
validator = RequestValidator(os.environ.get("TWILIO_AUTH_TOKEN", ""))
public_url = os.environ.get("PUBLIC_URL", "").rstrip("/")


@app.post("/sms/twilio")
def inbound():
    form = request.form
    if not validator.validate(public_url + request.path, form.to_dict(), request.headers.get("X-Twilio-Signature", "")):
        abort(403)
    with engine.begin() as conn:
        conn.execute(insert(messages).values(sid=form["MessageSid"], sender=form["From"], body=form.get("Body", "")))
    return Response(REPLY, mimetype="text/xml")
