"""A local stand-in for Twilio's REST API, on 127.0.0.1 at a random port, that the twilio library
is pointed at through TWILIO_API_URL. It answers Messages.json like Twilio (201 with an SM sid,
errors as Twilio words them, the message list with To and DateSent filters), records every request
with its arrival time, can be told how to answer the next requests, and can deliver the
StatusCallback of a message it holds back to the app, signed as Twilio signs it."""
from __future__ import annotations

import base64
import json
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlparse

from twilio.request_validator import RequestValidator

API_VERSION = "2010-04-01"
ERRORS = {
    400: (21211, "The 'To' number is not a valid phone number."),
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, str]
    at: float  # time.monotonic() when the request was read
    auth_ok: bool


@dataclass
class Answer:
    """How to answer one POST: an HTTP status and Twilio error code, holding the answer back for
    `hold` seconds (after the message is made, when the status is 201), or dropping the connection
    without answering or making anything. `stall` seconds are waited before any of that, with the
    request read and nothing made yet: a request still on its way in. release() ends both waits."""

    status: int = 201
    code: int | None = None
    message: str | None = None
    hold: float = 0.0
    drop: bool = False
    stall: float = 0.0


@dataclass
class FakeTwilio:
    account_sid: str
    auth_token: str
    now: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))

    def __post_init__(self) -> None:
        self.requests: list[Recorded] = []
        self.messages: dict[str, dict] = {}
        self._answers: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    # -- running

    def start(self) -> "FakeTwilio":
        fake = self

        class Handler(_Handler):
            twilio = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- scripting

    def answer_next(self, *answers: Answer) -> None:
        """Answer the next POSTs so, in order; then 201 again."""
        with self._lock:
            self._answers.extend(answers)

    def fail_next(self, count: int, status: int = 500, code: int | None = None,
                  message: str | None = None) -> None:
        self.answer_next(*[Answer(status, code, message) for _ in range(count)])

    def release(self) -> None:
        """Let every held answer go now."""
        self._released.set()

    # -- what it saw

    @property
    def posts(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST"]

    def posts_to(self, to: str) -> list[Recorded]:
        return [r for r in self.posts if r.params.get("To") == to]

    # -- Twilio calling back

    def status_callback(self, client, sid: str, status: str, error_code: int | None = None):
        """POST the StatusCallback for message sid through a Flask test client, signed."""
        message = self.messages[sid]
        url = message["status_callback"]
        params = {
            "MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status,
            "AccountSid": self.account_sid, "From": message["from"], "To": message["to"],
            "ApiVersion": API_VERSION,
        }
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        return client.post(urlparse(url).path, data=params, headers={"X-Twilio-Signature": signature})

    # -- the API

    def _next_answer(self) -> Answer:
        with self._lock:
            return self._answers.popleft() if self._answers else Answer()

    def _create(self, params: dict[str, str]) -> dict:
        now = self.now()
        sid = "SM" + uuid.uuid4().hex
        stamp = format_datetime(now.astimezone(timezone.utc), usegmt=False).replace("-0000", "+0000")
        message = {
            "sid": sid, "account_sid": self.account_sid, "api_version": API_VERSION,
            "to": params.get("To"), "from": params.get("From"),
            "messaging_service_sid": params.get("MessagingServiceSid"), "body": params.get("Body", ""),
            "status": "queued", "direction": "outbound-api", "num_segments": "1", "num_media": "0",
            "date_created": stamp, "date_updated": stamp, "date_sent": stamp,
            "error_code": None, "error_message": None, "price": None, "price_unit": "USD",
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json",
            "subresource_uris": {}, "status_callback": params.get("StatusCallback"),
            "_sent_at": now,
        }
        with self._lock:
            self.messages[sid] = message
        return message

    def _list(self, query: dict[str, str]) -> list[dict]:
        with self._lock:
            found = list(self.messages.values())
        if "To" in query:
            found = [m for m in found if m["to"] == query["To"]]
        if "DateSent>" in query:
            after = datetime.fromisoformat(query["DateSent>"].replace("Z", "+00:00"))
            found = [m for m in found if m["_sent_at"] >= after]
        found.sort(key=lambda m: m["_sent_at"], reverse=True)
        return found[: int(query.get("PageSize", 50))]


def _public(message: dict) -> dict:
    return {k: v for k, v in message.items() if not k.startswith("_") and k != "status_callback"}


class _Handler(BaseHTTPRequestHandler):
    twilio: FakeTwilio

    def log_message(self, format, *args):  # quiet
        pass

    def _record(self, params: dict[str, str]) -> Recorded:
        expected = "Basic " + base64.b64encode(
            f"{self.twilio.account_sid}:{self.twilio.auth_token}".encode()).decode()
        recorded = Recorded(self.command, urlparse(self.path).path, params, time.monotonic(),
                            self.headers.get("Authorization") == expected)
        with self.twilio._lock:
            self.twilio.requests.append(recorded)
        return recorded

    def _send(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client is gone (killed, or it timed out)

    def _error(self, status: int, code: int | None = None, message: str | None = None) -> None:
        default_code, default_message = ERRORS.get(status, (status, "Error"))
        self._send(status, {"code": code or default_code, "message": message or default_message,
                            "more_info": f"https://www.twilio.com/docs/errors/{code or default_code}",
                            "status": status})

    def _messages_path(self) -> bool:
        return urlparse(self.path).path == f"/{API_VERSION}/Accounts/{self.twilio.account_sid}/Messages.json"

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        params = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        recorded = self._record(params)
        if not recorded.auth_ok:
            return self._error(401, 20003, "Authenticate")
        if not self._messages_path():
            return self._error(404, 20404, "The requested resource was not found")
        answer = self.twilio._next_answer()
        if answer.stall:
            self.twilio._released.wait(answer.stall)
        if answer.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the client is gone already
            return
        if answer.status != 201:
            return self._error(answer.status, answer.code, answer.message)
        message = self.twilio._create(params)
        if answer.hold:
            self.twilio._released.wait(answer.hold)
        self._send(201, _public(message))

    def do_GET(self):
        query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        recorded = self._record(query)
        if not recorded.auth_ok:
            return self._error(401, 20003, "Authenticate")
        if not self._messages_path():
            return self._error(404, 20404, "The requested resource was not found")
        found = self.twilio._list(query)
        uri = f"/{API_VERSION}/Accounts/{self.twilio.account_sid}/Messages.json"
        self._send(200, {
            "messages": [_public(m) for m in found], "page": 0, "page_size": len(found),
            "start": 0, "end": max(len(found) - 1, 0), "uri": uri, "first_page_uri": uri,
            "next_page_uri": None, "previous_page_uri": None,
        })
