"""Settings: the one place that reads the environment (and a .env file), once, in create_app."""
from __future__ import annotations

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
        if self.SMS_BACKEND not in {"console", "twilio"}:
            raise ConfigError("SMS_BACKEND: expected 'console' or 'twilio'")
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
    if name == "DEFAULT_LANGUAGE":
        return raw.strip().lower()
    return raw.strip()
