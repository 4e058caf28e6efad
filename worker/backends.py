"""SMS backends: where send_sms hands a message over. SMS_BACKEND names one: 'console' (the log,
with the outbox table as the record), 'twilio' (the twilio library's REST client) or
'africastalking' (Africa's Talking's messaging API)."""
from __future__ import annotations

import functools
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from urllib3.exceptions import NewConnectionError

from gateway.phones import mask_phone

log = logging.getLogger(__name__)
STATUS_PATH = "/sms/twilio/status"
TWILIO_API = "https://api.twilio.com"
OPTED_OUT = 21610  # "Attempt to send to unsubscribed recipient"
# Twilio error codes that say "not now" rather than "never": 20429 too many requests, 20500
# internal error, 20503 service unavailable, 21611 the sender's queue is full, 30001 queue overflow.
TEMPORARY_CODES = frozenset({20429, 20500, 20503, 21611, 30001})
FINDING_WINDOW = timedelta(minutes=5)  # how far before the intent a provider's message may be dated
# Africa's Talking's per-recipient statusCode: 100 Processed, 101 Sent, 102 Queued took it; 406
# UserInBlacklist is an opted-out number; 405 InsufficientBalance, 500 InternalServerError and
# 501 GatewayError may pass; the rest (401 RiskHold, 402 InvalidSenderId, 403 InvalidPhoneNumber,
# 404 UnsupportedNumberType, 407 CouldNotRoute, 502 RejectedByGateway) will not.
AT_SENT = frozenset({100, 101, 102})
AT_OPTED_OUT = 406
AT_TEMPORARY = frozenset({405, 500, 501})


@dataclass(frozen=True)
class Sms:
    """One message as a backend sees it: plain values, no database."""

    id: int
    to: str
    body: str


class SendFailure(Exception):
    def __init__(self, code: int | None, reason: str):
        super().__init__(f"{code}: {reason}" if code else reason)
        self.code = code
        self.reason = f"{code}: {reason}" if code else reason


class TemporaryFailure(SendFailure):
    """The provider did not take the message, and may if asked again later."""


class PermanentFailure(SendFailure):
    """The provider will never take this message as it is."""


class OptedOut(PermanentFailure):
    """The provider refuses the number because it answered STOP."""


class Uncertain(SendFailure):
    """The request left but no answer came (a read timeout, a dropped connection): the provider
    may have the message. It stays 'sending' until the sweep asks the provider whether it does."""


class Backend:
    name = "backend"

    def send(self, sms: Sms) -> str:
        """Hand sms to the provider; its id for the message, or raise a SendFailure."""
        raise NotImplementedError

    def find_sent(self, sms: Sms, since: datetime, exclude: frozenset[str] = frozenset()) -> str | None:
        """The provider's id of sms if it took it at or after since, else None; ids in exclude
        belong to other messages already."""
        raise NotImplementedError


class ConsoleBackend(Backend):
    """Writes each message to the log; the outbox table is its record."""

    name = "console"

    def send(self, sms: Sms) -> str:
        log.info("SMS %s to %s (%d chars)", sms.id, mask_phone(sms.to), len(sms.body))
        log.debug("SMS %s body: %s", sms.id, sms.body)
        return f"console-{uuid.uuid4().hex}"

    def find_sent(self, sms: Sms, since: datetime, exclude: frozenset[str] = frozenset()) -> str | None:
        return None  # a log line leaves nothing to find; writing it again does no harm


class TwilioBackend(Backend):
    """messages.create with a StatusCallback; messages.list to find what a dead worker sent."""

    name = "twilio"

    def __init__(self, settings):
        self.client = _twilio_client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN,
                                     settings.TWILIO_API_URL, settings.TWILIO_TIMEOUT_SECONDS)
        sender = settings.TWILIO_FROM
        self.sender = {"messaging_service_sid": sender} if sender.startswith("MG") else {"from_": sender}
        public = settings.PUBLIC_URL.rstrip("/")
        self.status_callback = public + STATUS_PATH if public else None

    def send(self, sms: Sms) -> str:
        extra = {"status_callback": self.status_callback} if self.status_callback else {}
        try:
            message = self.client.messages.create(to=sms.to, body=sms.body, **self.sender, **extra)
        except TwilioException as exc:
            raise _failure(exc) from None
        except requests.RequestException as exc:
            raise _network_failure(exc) from None
        return message.sid

    def find_sent(self, sms: Sms, since: datetime, exclude: frozenset[str] = frozenset()) -> str | None:
        """Look among the messages to sms.to since the intent for one with the same body.

        DateSent filters by day and leaves out messages still waiting in Twilio's queue (no
        DateSent yet), so the latest messages to the number are read as well."""
        since = since.astimezone(timezone.utc) - FINDING_WINDOW
        day = since.replace(hour=0, minute=0, second=0, microsecond=0)
        try:
            found = self.client.messages.list(to=sms.to, date_sent_after=day, limit=200, page_size=100)
            found += self.client.messages.list(to=sms.to, limit=20)
        except (TwilioException, requests.RequestException) as exc:
            raise TemporaryFailure(None, f"could not list messages: {type(exc).__name__}") from None
        for message in found:
            created = message.date_created or message.date_sent
            if (message.body == sms.body and message.sid not in exclude
                    and (message.direction or "").startswith("outbound")
                    and (created is None or created >= since)
                    and message.status not in ("failed", "undelivered", "canceled")):
                return message.sid
        return None


class AfricasTalkingBackend(Backend):
    """POST to Africa's Talking's messaging API (AT_API_URL) with the app's username and API key.

    Its answer holds one entry per recipient; statusCode 100, 101 or 102 means it took the message,
    and the entry's messageId is what delivery reports name. It offers no search of sent messages,
    so find_sent finds nothing: a send cut off before its answer came is sent again by the sweep
    (the recipient may get it twice, which beats never)."""

    name = "africastalking"

    def __init__(self, settings):
        self.url = settings.AT_API_URL
        self.username = settings.AT_USERNAME
        self.api_key = settings.AT_API_KEY
        self.sender = settings.AT_FROM
        self.timeout = settings.AT_TIMEOUT_SECONDS
        self.http = _http_session()

    def send(self, sms: Sms) -> str:
        form = {"username": self.username, "to": sms.to, "message": sms.body}
        if self.sender:
            form["from"] = self.sender
        try:
            response = self.http.post(self.url, data=form, timeout=self.timeout,
                                      headers={"apiKey": self.api_key, "Accept": "application/json"})
        except requests.RequestException as exc:
            raise _network_failure(exc) from None
        return _at_message_id(response)

    def find_sent(self, sms: Sms, since: datetime, exclude: frozenset[str] = frozenset()) -> str | None:
        return None


def _at_message_id(response: requests.Response) -> str:
    """The messageId of the one recipient, or the SendFailure its statusCode (or the HTTP status) says."""
    status = response.status_code
    if status == 429 or status >= 500:
        raise TemporaryFailure(status, _short(response.text) or "server error")
    if status >= 400:
        raise PermanentFailure(status, _short(response.text) or "refused")
    try:
        data = response.json()["SMSMessageData"]
        recipients = data.get("Recipients") or []
    except (ValueError, KeyError, TypeError, AttributeError):
        # It answered yes but not what: it may have the message; the sweep decides.
        raise Uncertain(status, "unreadable answer from Africa's Talking") from None
    if not recipients:
        raise PermanentFailure(None, _short(str(data.get("Message") or "no recipient accepted")))
    recipient = recipients[0]
    code = int(recipient["statusCode"]) if str(recipient.get("statusCode")).isdigit() else None
    reason = str(recipient.get("status") or "unknown")
    if code in AT_SENT and recipient.get("messageId"):
        return str(recipient["messageId"])
    if code == AT_OPTED_OUT:
        raise OptedOut(code, reason)
    if code in AT_TEMPORARY:
        raise TemporaryFailure(code, reason)
    raise PermanentFailure(code, reason)


def _short(text: str) -> str:
    return " ".join(text.split())[:120]


@functools.lru_cache(maxsize=1)
def _http_session() -> requests.Session:
    """One HTTP session per process, so its connections are reused."""
    return requests.Session()


class _RebasedHttpClient(TwilioHttpClient):
    """Twilio's own HTTP client with https://api.twilio.com replaced by TWILIO_API_URL: the way the
    library's documentation gives to route its requests elsewhere (a custom HTTP client)."""

    def __init__(self, api_url: str, timeout: float, logger: logging.Logger):
        super().__init__(timeout=timeout, logger=logger)
        self.api_url = api_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if url.startswith(TWILIO_API):
            url = self.api_url + url[len(TWILIO_API):]
        return super().request(method, url, *args, **kwargs)


@functools.lru_cache(maxsize=8)
def _twilio_client(account_sid: str, auth_token: str, api_url: str, timeout: int) -> Client:
    """One client per account and address in a process, so its HTTP connections are reused."""
    # The library logs each request's URL and query (phone numbers included) at INFO.
    http_log = logging.getLogger(f"{__name__}.twilio_http")
    http_log.setLevel(logging.WARNING)
    if api_url.rstrip("/") == TWILIO_API:
        http = TwilioHttpClient(timeout=timeout, logger=http_log)
    else:
        http = _RebasedHttpClient(api_url, timeout, http_log)
    # requests reads the environment for proxies and a CA bundle on every request; read it once
    # here, for this address, as it would (the environment of a running worker does not change).
    http.proxy = requests.utils.get_environ_proxies(api_url)
    http.session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    http.session.trust_env = False
    return Client(account_sid, auth_token, http_client=http)


def _failure(exc: TwilioException) -> SendFailure:
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    reason = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", None)
    reason = reason or str(exc)
    if isinstance(exc, TwilioRestException):
        reason = reason.removeprefix("Unable to create record: ")
    if code == OPTED_OUT:
        return OptedOut(code, reason)
    if status == 429 or (status is not None and status >= 500) or code in TEMPORARY_CODES:
        return TemporaryFailure(code or status, reason)
    return PermanentFailure(code or status, reason)


def _network_failure(exc: requests.RequestException) -> SendFailure:
    """A connection that never opened took nothing; any other network failure may have."""
    if isinstance(exc, requests.ConnectTimeout):
        return TemporaryFailure(None, "timed out connecting to the provider")
    if isinstance(exc, requests.ConnectionError) and _never_connected(exc):
        return TemporaryFailure(None, "could not connect to the provider")
    return Uncertain(None, f"no answer from the provider ({type(exc).__name__})")


def _never_connected(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(6):  # requests wraps urllib3's MaxRetryError, which holds the reason
        if seen is None:
            return False
        if isinstance(seen, NewConnectionError):
            return True
        inner = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        seen = getattr(seen, "reason", None) or inner
    return False


def make_backend(settings) -> Backend:
    if settings.SMS_BACKEND == "twilio":
        return TwilioBackend(settings)
    if settings.SMS_BACKEND == "africastalking":
        return AfricasTalkingBackend(settings)
    return ConsoleBackend()
