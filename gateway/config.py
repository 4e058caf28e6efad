"""Settings: the one place that reads the environment (and a .env file), once, in create_app."""
from __future__ import annotations

import ipaddress
import os
import re
import secrets
from dataclasses import dataclass, field, fields, replace
from datetime import time
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from dotenv import dotenv_values

LANGUAGES = ("en", "zh", "fr", "sw")


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the variable."""


def _bool(value: str) -> bool:
    if value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if value.strip().lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected 1/0, true/false, yes/no, on/off, not {value!r}")


def _window(value: str) -> tuple[time, time]:
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", value)
    if not m:
        raise ValueError(f"expected HH:MM-HH:MM, not {value!r}")
    start = time(int(m[1]), int(m[2]))
    end = time(int(m[3]), int(m[4]))
    if start >= end:
        raise ValueError("the window must start before it ends")
    return start, end


@dataclass(frozen=True)
class Settings:
    DATABASE_URL: str = ""
    REDIS_URL: str = ""
    SMS_BACKEND: str = "console"
    TWILIO_ACCOUNT_SID: str = ""
    TWILIO_AUTH_TOKEN: str = ""
    TWILIO_FROM: str = ""  # a number, or a Messaging Service (MG...)
    TWILIO_API_URL: str = "https://api.twilio.com"  # where the REST API is reached (a proxy, a test server)
    TWILIO_TIMEOUT_SECONDS: int = 10
    AT_USERNAME: str = ""  # Africa's Talking: the app's username ('sandbox' for the sandbox)
    AT_API_KEY: str = ""
    AT_FROM: str = ""  # a sender ID or short code; unset, the account's default
    AT_API_URL: str = "https://api.africastalking.com/version1/messaging"
    AT_TIMEOUT_SECONDS: int = 10
    AT_CALLBACK_SECRET: str = ""  # in the callback URLs' path: /sms/africastalking/<secret>
    AT_ALLOWED_IPS: str = ""  # addresses or networks Africa's Talking calls from, comma-separated
    PUBLIC_URL: str = ""
    DEFAULT_REGION: str = "KE"
    DEFAULT_LANGUAGE: str = "en"
    TIMEZONE: str = "Africa/Nairobi"
    SEND_WINDOW: tuple[time, time] = (time(8, 0), time(19, 0))
    SECRET_KEY: str = ""
    DEV_CHANNEL: bool = True
    FORMS_DIR: str = ""
    DATE_ORDER: str = "DMY"
    VISIT_EVERY_DAYS: int = 0  # 0: as the household_visit schedule says (90 days)
    STALE_AFTER_DAYS: int = 7
    REQUIRE_REDIS: bool = False
    SMS_RATE_PER_SECOND: int = 10
    ESCALATE_AFTER_DANGER_MINUTES: int = 30
    ESCALATE_AFTER_MINUTES: int = 24 * 60
    VERIFY_SAMPLE: float = 0.05
    BURST_PER_HOUR: int = 30
    SEND_MAX_ATTEMPTS: int = 6
    LOG_LEVEL: str = "INFO"
    PROXY_COUNT: int = 0  # proxies in front that set X-Forwarded-*; 0 trusts none
    LOG_FORMAT: str = "text"  # text, or json: one JSON object a line
    METRICS_TOKEN: str = ""  # GET /metrics needs 'Authorization: Bearer <token>'; unset, /metrics is off
    # the admin view: sign-in sessions and the throttle on failed sign-ins
    SESSION_HOURS: int = 12
    SIGN_IN_MAX_FAILURES: int = 5  # per account within SIGN_IN_WINDOW_MINUTES, then it waits
    SIGN_IN_MAX_FAILURES_PER_ADDRESS: int = 20  # per network address within the same window
    SIGN_IN_WINDOW_MINUTES: int = 15
    # the dashboard's attention levels for a village's month (see README, "The admin view")
    ATTENTION_ON_TIME_YELLOW: float = 0.8  # antenatal and postnatal care on time below this: yellow
    ATTENTION_ON_TIME_RED: float = 0.5  # ... below this: red
    ATTENTION_OVERDUE_YELLOW: int = 1  # this much care became overdue in the month: yellow (0: never)
    ATTENTION_OVERDUE_RED: int = 3  # ... this much: red (0: never)
    ATTENTION_FLAGGED_YELLOW: int = 3  # this many of the month's reports wait for review: yellow (0: never)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, dotenv: str | None = ".env") -> "Settings":
        """Read settings from a .env file (if present) overlaid by the environment."""
        values: dict[str, str] = {}
        if dotenv and Path(dotenv).is_file():
            values.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
        values.update(os.environ if environ is None else environ)
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "Settings":
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "extra" or f.name not in values:
                continue
            raw = values[f.name]
            try:
                kwargs[f.name] = _convert(f.name, raw, f.default)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{f.name}: {exc}") from None
        settings = cls(**kwargs)
        settings.validate()
        return settings

    def with_overrides(self, overrides: Mapping[str, Any]) -> "Settings":
        known = {f.name for f in fields(self)}
        kwargs = {}
        for k, v in overrides.items():
            if k in known:
                try:
                    kwargs[k] = _convert(k, v, getattr(self, k))
                except (TypeError, ValueError) as exc:
                    raise ConfigError(f"{k}: {exc}") from None
        extra = {k: v for k, v in overrides.items() if k not in known}
        settings = replace(self, **kwargs, extra={**self.extra, **extra})
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.SMS_BACKEND not in {"console", "twilio", "africastalking"}:
            raise ConfigError("SMS_BACKEND: expected 'console', 'twilio' or 'africastalking'")
        if self.DEFAULT_LANGUAGE not in LANGUAGES:
            raise ConfigError(f"DEFAULT_LANGUAGE: expected one of {', '.join(LANGUAGES)}")
        if self.DATE_ORDER not in {"DMY", "MDY"}:
            raise ConfigError("DATE_ORDER: expected DMY or MDY")
        if self.DEFAULT_REGION not in phonenumbers.SUPPORTED_REGIONS:
            raise ConfigError(f"DEFAULT_REGION: {self.DEFAULT_REGION!r} is not a phone region such as KE or CN")
        try:
            ZoneInfo(self.TIMEZONE)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"TIMEZONE: unknown time zone {self.TIMEZONE!r}") from None
        if self.SMS_BACKEND == "twilio" and not (self.TWILIO_ACCOUNT_SID and self.TWILIO_AUTH_TOKEN):
            raise ConfigError("SMS_BACKEND=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        if not re.match(r"https?://[^/\s]+", self.TWILIO_API_URL):
            raise ConfigError("TWILIO_API_URL: expected an http(s) URL such as https://api.twilio.com")
        if self.TWILIO_TIMEOUT_SECONDS < 1:
            raise ConfigError("TWILIO_TIMEOUT_SECONDS: must be at least 1")
        self._validate_africastalking()
        if self.LOG_FORMAT not in {"text", "json"}:
            raise ConfigError("LOG_FORMAT: expected 'text' or 'json'")
        for name in ("SESSION_HOURS", "SIGN_IN_MAX_FAILURES", "SIGN_IN_MAX_FAILURES_PER_ADDRESS",
                     "SIGN_IN_WINDOW_MINUTES"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be at least 1")
        if self.ATTENTION_ON_TIME_RED > self.ATTENTION_ON_TIME_YELLOW:
            raise ConfigError("ATTENTION_ON_TIME_RED: must not be above ATTENTION_ON_TIME_YELLOW")
        if self.ATTENTION_OVERDUE_RED and self.ATTENTION_OVERDUE_RED < self.ATTENTION_OVERDUE_YELLOW:
            raise ConfigError("ATTENTION_OVERDUE_RED: must not be below ATTENTION_OVERDUE_YELLOW")

    def _validate_africastalking(self) -> None:
        if self.SMS_BACKEND == "africastalking" and not (self.AT_USERNAME and self.AT_API_KEY):
            raise ConfigError("SMS_BACKEND=africastalking needs AT_USERNAME and AT_API_KEY")
        if not re.match(r"https?://[^/\s]+", self.AT_API_URL):
            raise ConfigError("AT_API_URL: expected an http(s) URL such as "
                              "https://api.africastalking.com/version1/messaging")
        if self.AT_TIMEOUT_SECONDS < 1:
            raise ConfigError("AT_TIMEOUT_SECONDS: must be at least 1")
        if self.AT_CALLBACK_SECRET and not re.fullmatch(r"[A-Za-z0-9_-]{16,}", self.AT_CALLBACK_SECRET):
            raise ConfigError("AT_CALLBACK_SECRET: expected 16 or more letters, digits, '-' or '_'")
        self.at_allowed_networks  # noqa: B018  (raises ConfigError on a bad address)

    @property
    def at_allowed_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """AT_ALLOWED_IPS as networks; a bare address is a network of one."""
        networks = []
        for part in self.AT_ALLOWED_IPS.replace(" ", ",").split(","):
            if part:
                try:
                    networks.append(ipaddress.ip_network(part, strict=False))
                except ValueError:
                    raise ConfigError(f"AT_ALLOWED_IPS: {part!r} is not an IP address or network") from None
        return tuple(networks)

    @property
    def database_url(self) -> str:
        if self.DATABASE_URL:
            url = self.DATABASE_URL
            # the usual postgres:// spelling, served by psycopg 3
            for prefix in ("postgres://", "postgresql://"):
                if url.startswith(prefix):
                    return "postgresql+psycopg://" + url[len(prefix):]
            return url
        return f"sqlite:///{Path.cwd() / 'instance' / 'fieldline.db'}"

    @property
    def session_cookie_secure(self) -> bool:
        """Session cookies go over HTTPS only when Fieldline is served over HTTPS (PUBLIC_URL)."""
        return self.PUBLIC_URL.strip().lower().startswith("https://")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.TIMEZONE)

    def secret_key(self) -> str:
        return self.SECRET_KEY or secrets.token_hex(32)


def _convert(name: str, raw: Any, default: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    if name == "SEND_WINDOW":
        return _window(raw)
    if isinstance(default, bool):
        return _bool(raw)
    if isinstance(default, float):
        value = float(raw)
        if not 0 <= value <= 1:
            raise ValueError("must be a fraction from 0 to 1")
        return value
    if isinstance(default, int):
        value = int(raw)
        if value < 0:
            raise ValueError("must not be negative")
        return value
    if name in {"DEFAULT_REGION", "DATE_ORDER", "LOG_LEVEL"}:
        return raw.strip().upper()
    if name in {"DEFAULT_LANGUAGE", "LOG_FORMAT"}:
        return raw.strip().lower()
    return raw.strip()
