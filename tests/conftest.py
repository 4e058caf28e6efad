"""Fixtures: the real database (SQLite, or PostgreSQL when TEST_DATABASE_URL is set), migrated once,
with each test inside a transaction that is rolled back; a clock the tests move."""
from __future__ import annotations

import os
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from gateway import create_app
from gateway.clock import FrozenClock
from gateway.config import Settings
from gateway.db import make_engine
from gateway.migrate import upgrade

TZ = ZoneInfo("Africa/Nairobi")
START = datetime(2026, 11, 29, 10, 0, tzinfo=TZ)
AUTH_TOKEN = "test-auth-token-0123456789abcdef"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    engine = make_engine(url)
    if engine.dialect.name == "postgresql" and "test" not in (engine.url.database or ""):
        pytest.exit(f"TEST_DATABASE_URL must name a test database; the tests empty it: {engine.url}")
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    with engine.begin() as conn:
        upgrade(connection=conn)
    engine.dispose()
    return url


def make_settings(database_url: str, **overrides) -> Settings:
    values = {
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        "SMS_BACKEND": "console",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PUBLIC_URL": "",
        "DEFAULT_REGION": "KE",
        "DEFAULT_LANGUAGE": "en",
        "TIMEZONE": "Africa/Nairobi",
        "SECRET_KEY": "test-secret",
        "DEV_CHANNEL": "1",
    }
    values.update(overrides)
    return Settings.from_mapping(values)


@pytest.fixture
def settings_overrides() -> dict:
    """Tests override this to change settings of the app fixture."""
    return {}


@pytest.fixture
def app(database_url, settings_overrides):
    app = create_app(make_settings(database_url, **settings_overrides))
    app.config["TESTING"] = True
    runtime = app.extensions["fieldline"]
    runtime.clock = FrozenClock(TZ, START)
    connection = runtime.db.engine.connect()
    transaction = connection.begin()
    runtime.db.bind_to(connection)
    yield app
    transaction.rollback()
    connection.close()
    runtime.db.dispose()


@pytest.fixture
def runtime(app):
    return app.extensions["fieldline"]


@pytest.fixture
def clock(runtime) -> FrozenClock:
    return runtime.clock


@pytest.fixture
def session(runtime):
    session = runtime.db.session()
    yield session
    session.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def committing_app(database_url):
    """An app whose transactions really commit (for concurrency tests); its rows are removed after."""
    app = create_app(make_settings(database_url))
    runtime = app.extensions["fieldline"]
    runtime.clock = FrozenClock(TZ, START)
    yield app
    from gateway.db import Base

    with runtime.db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    runtime.db.dispose()
