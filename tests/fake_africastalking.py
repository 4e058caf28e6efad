"""A local stand-in for Africa's Talking's messaging API, on 127.0.0.1 at a random port, that the
AfricasTalkingBackend is pointed at through AT_API_URL. It answers POST /version1/messaging as
Africa's Talking does (201 with SMSMessageData: a Message and one entry per recipient with its
statusCode, status and messageId), refuses a wrong apiKey with 401, records every request, and
can be told how to answer the next ones: a recipient statusCode, or an HTTP error."""
from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PATH = "/version1/messaging"
STATUS_NAMES = {
    100: "Processed", 101: "Success", 102: "Queued", 401: "RiskHold", 402: "InvalidSenderId",
    403: "InvalidPhoneNumber", 404: "UnsupportedNumberType", 405: "InsufficientBalance",
    406: "UserInBlacklist", 407: "CouldNotRoute", 500: "InternalServerError", 501: "GatewayError",
    502: "RejectedByGateway",
}


@dataclass
class Recorded:
    path: str
    form: dict[str, str]
    headers: dict[str, str]


@dataclass
class Answer:
    """How to answer one POST: the recipient's statusCode, or an HTTP error status with a body."""

    status_code: int = 101
    http_status: int = 201
    body: str | None = None


class FakeAfricasTalking:
    def __init__(self, username: str, api_key: str):
        self.username = username
        self.api_key = api_key
        self.requests: list[Recorded] = []
        self.message_ids: list[str] = []
        self._answers: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> "FakeAfricasTalking":
        fake = self

        class Handler(_Handler):
            at = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{PATH}"

    def answer_next(self, *answers: Answer) -> None:
        """Answer the next POSTs so, in order; then 101 Success again."""
        with self._lock:
            self._answers.extend(answers)

    def _next_answer(self) -> Answer:
        with self._lock:
            return self._answers.popleft() if self._answers else Answer()

    def _result(self, form: dict[str, str], answer: Answer) -> dict:
        number = form.get("to", "")
        code = answer.status_code
        recipient = {"statusCode": code, "number": number, "status": STATUS_NAMES.get(code, "Failed"),
                     "cost": "KES 0.8000" if code in (100, 101, 102) else "0", "messageId": "None"}
        sent = 0
        if code in (100, 101, 102):
            recipient["messageId"] = "ATXid_" + uuid.uuid4().hex
            with self._lock:
                self.message_ids.append(recipient["messageId"])
            sent = 1
        cost = "KES 0.8000" if sent else "0"
        return {"SMSMessageData": {"Message": f"Sent to {sent}/1 Total Cost: {cost}", "Recipients": [recipient]}}


class _Handler(BaseHTTPRequestHandler):
    at: FakeAfricasTalking

    def log_message(self, format, *args):  # quiet
        pass

    def _send(self, status: int, body: str, content_type: str = "application/json") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        with self.at._lock:
            self.at.requests.append(Recorded(urlparse(self.path).path, form, dict(self.headers.items())))
        if urlparse(self.path).path != PATH:
            return self._send(404, "Not found", "text/plain")
        if self.headers.get("apiKey") != self.at.api_key or form.get("username") != self.at.username:
            return self._send(401, "The supplied authentication is invalid", "text/plain")
        answer = self.at._next_answer()
        if answer.http_status != 201:
            return self._send(answer.http_status, answer.body or "Internal Server Error", "text/plain")
        self._send(201, json.dumps(self.at._result(form, answer)))
