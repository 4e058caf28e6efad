"""Fixtures: the real database (SQLite, or PostgreSQL when TEST_DATABASE_URL is set), migrated once,
with each test inside a transaction that is rolled back; a clock the tests move."""
from __future__ import annotations

import os
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

pytest.register_assert_rewrite("tests.helpers")

from gateway import create_app  # noqa: E402
from gateway.clock import FrozenClock  # noqa: E402
from gateway.config import Settings  # noqa: E402
from gateway.db import make_engine  # noqa: E402
from gateway.migrate import upgrade  # noqa: E402
from tests import factories  # noqa: E402

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
def redis_url() -> str:
    """A Redis database of its own for the tests (TEST_REDIS_URL, default db 15), emptied first."""
    from redis import Redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    Redis.from_url(url).flushdb()
    return url


def run_worker(app, *, burst: bool = True) -> None:
    """Run the queued jobs with a real RQ worker until the queues are empty."""
    from worker.runner import make_worker

    runtime = app.extensions["fieldline"]
    with app.app_context():
        make_worker(runtime).work(burst=burst, with_scheduler=False)


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


# -- people the care pack's tests report on: a volunteer of Kanyagwal, a household there, a woman in it

@pytest.fixture
def volunteer(session):
    return factories.contact(session)


@pytest.fixture
def household(session, volunteer):
    return factories.household(session, volunteer)


@pytest.fixture
def woman(session, household, volunteer):
    return factories.person(session, household, volunteer, name="Amina Juma", sex="F")
