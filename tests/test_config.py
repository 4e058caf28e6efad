"""Settings are read once from the environment and .env, typed, and refused with a clear message."""
from __future__ import annotations

from datetime import time

import pytest

from gateway.config import ConfigError, Settings


def test_embedded_defaults_need_no_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env(environ={})
    assert settings.database_url == f"sqlite:///{tmp_path / 'instance' / 'fieldline.db'}"
    assert settings.SMS_BACKEND == "console" and settings.DEV_CHANNEL is True
    assert settings.SEND_WINDOW == (time(8), time(19))


def test_dotenv_is_read_and_the_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("DEFAULT_REGION=cn\nVISIT_EVERY_DAYS=60\nDEV_CHANNEL=0\n")
    settings = Settings.from_env(environ={"VISIT_EVERY_DAYS": "30"}, dotenv=str(env_file))
    assert settings.DEFAULT_REGION == "CN"
    assert settings.VISIT_EVERY_DAYS == 30
    assert settings.DEV_CHANNEL is False


def test_postgres_urls_use_psycopg():
    settings = Settings.from_mapping({"DATABASE_URL": "postgres://u@h/db"})
    assert settings.database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize("name, value, message", [
    ("SMS_BACKEND", "carrier-pigeon", "SMS_BACKEND"),
    ("DEFAULT_LANGUAGE", "de", "DEFAULT_LANGUAGE"),
    ("DEFAULT_REGION", "XX", "DEFAULT_REGION"),
    ("TIMEZONE", "Mars/Olympus", "TIMEZONE"),
    ("SEND_WINDOW", "19:00-08:00", "SEND_WINDOW"),
    ("VISIT_EVERY_DAYS", "ninety", "VISIT_EVERY_DAYS"),
    ("DEV_CHANNEL", "maybe", "DEV_CHANNEL"),
    ("DATE_ORDER", "YMD", "DATE_ORDER"),
])
def test_bad_settings_are_refused_naming_the_variable(name, value, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_mapping({name: value})


def test_twilio_backend_needs_credentials():
    with pytest.raises(ConfigError, match="TWILIO_ACCOUNT_SID"):
        Settings.from_mapping({"SMS_BACKEND": "twilio"})


def test_dev_channel_is_off_when_disabled(database_url):
    from gateway import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(database_url, DEV_CHANNEL="0"))
    response = app.test_client().post("/sms/dev", data={"from": "+254712345678", "body": "HELP"})
    assert response.status_code == 404


def test_behind_one_proxy_the_forwarded_client_address_is_used(database_url):
    from flask import request

    from gateway import create_app
    from tests.conftest import make_settings

    for count, expected in ((0, "127.0.0.1"), (1, "203.0.113.9")):
        app = create_app(make_settings(database_url, PROXY_COUNT=str(count)))
        seen = []

        @app.get("/_addr")
        def addr():
            seen.append(request.remote_addr)
            return ""

        app.test_client().get("/_addr", headers={"X-Forwarded-For": "203.0.113.9"})
        assert seen == [expected]
