"""Fixtures: the real database (SQLite, or PostgreSQL when TEST_DATABASE_URL is set), migrated once,
with each test inside a transaction that is rolled back; a clock the tests move; apps that really
commit, for threads and worker processes to share; a fake Twilio; a redis-server of a test's own."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

pytest.register_assert_rewrite("tests.helpers")

from gateway import create_app  # noqa: E402
from gateway.clock import FrozenClock  # noqa: E402
from gateway.config import Settings  # noqa: E402
from gateway.db import Base, make_engine  # noqa: E402
from gateway.migrate import upgrade  # noqa: E402
from tests import factories  # noqa: E402
from tests.fake_twilio import FakeTwilio  # noqa: E402
from tests.services import RedisServer  # noqa: E402

TZ = ZoneInfo("Africa/Nairobi")
START = datetime(2026, 11, 29, 10, 0, tzinfo=TZ)
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
ACCOUNT_SID = "AC" + "0" * 32
TWILIO_FROM = "+254700111222"
PUBLIC_URL = "https://fieldline.test"


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
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PUBLIC_URL": "",
        "DEFAULT_REGION": "KE",
        "DEFAULT_LANGUAGE": "en",
        "TIMEZONE": "Africa/Nairobi",
        "SECRET_KEY": "test-secret",
        "DEV_CHANNEL": "1",
        # the verification sample is drawn by report id, which depends on what ran before: tests
        # that count alerts or messages must not meet one by chance (test_checks sets its own)
        "VERIFY_SAMPLE": "0",
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


def twilio_settings(api_url: str, **more) -> dict:
    """Settings that send through Twilio's API at api_url (a FakeTwilio), with status callbacks."""
    return {"SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_FROM": TWILIO_FROM, "TWILIO_API_URL": api_url, "PUBLIC_URL": PUBLIC_URL, **more}


def empty_tables(runtime) -> None:
    """Delete every row in the app's database (what a committing test left behind)."""
    with runtime.db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def make_committing_app(database_url):
    """Makes apps on the test database whose transactions really commit (for concurrency tests and
    for other processes to share), with settings overrides and the test clock; the rows are removed
    after."""
    made = []

    def make(**overrides):
        app = create_app(make_settings(database_url, **overrides))
        app.extensions["fieldline"].clock = FrozenClock(TZ, START)
        made.append(app)
        return app

    yield make
    if made:
        empty_tables(made[0].extensions["fieldline"])
    for app in made:
        app.extensions["fieldline"].db.dispose()


@pytest.fixture
def committing_app(make_committing_app):
    """An app whose transactions really commit (for concurrency tests); its rows are removed after."""
    return make_committing_app()


@pytest.fixture
def live(make_committing_app, redis_url):
    """A committing app sending through a fake Twilio, on the real Redis, for worker processes to share."""
    server = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN).start()
    app = make_committing_app(REDIS_URL=redis_url, **twilio_settings(server.url))
    yield app, server
    server.stop()


@pytest.fixture
def start_worker(tmp_path):
    """Starts `fieldline worker --burst` in processes of their own with an app's settings; kills any
    still running after the test."""
    started: list[tuple[subprocess.Popen, object]] = []

    def start(app, name: str, **settings) -> tuple[subprocess.Popen, object]:
        s = app.extensions["fieldline"].settings
        env = {**os.environ, "DATABASE_URL": s.DATABASE_URL, "REDIS_URL": s.REDIS_URL, "LOG_LEVEL": "INFO",
               **twilio_settings(s.TWILIO_API_URL), **settings}
        log = open(tmp_path / f"{name}.log", "w+")
        command = [sys.executable, "-c", "from gateway.cli import main; main()", "worker", "--burst"]
        process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
        started.append((process, log))
        return process, log

    yield start
    for process, log in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        log.close()


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of the test's own on a spare port, which the test may stop and start again."""
    if not RedisServer.available():
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.stop()


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
