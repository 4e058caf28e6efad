"""Engine and sessions: one Database per app; request sessions for views, session_scope for jobs."""
from __future__ import annotations

import re
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import Connection, Engine, MetaData, Table, bindparam, create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from .sql import Prepared, send_held

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
CONNECT_TIMEOUT = 3  # seconds to connect to PostgreSQL
PING_AFTER_IDLE = 1.0  # seconds a pooled connection may sit unused before it is checked
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """text as every database can keep it: PostgreSQL refuses NUL in text, and a lone surrogate is
    no UTF-8, so each becomes U+FFFD, the usual mark for what could not be kept as text."""
    return _UNSTORABLE.sub("\ufffd", text)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def take_key(session: Session, table: Table, values: dict[str, Any], unique: list[str]) -> Any:
    """INSERT values unless a row with the same unique columns exists, in one statement and
    without a savepoint: the new row's primary key, or None if the key was taken. A concurrent
    insert of the same key waits until the other transaction ends (PostgreSQL's unique index;
    SQLite has one writer at a time)."""
    dialect = session.get_bind().dialect.name
    shape = (dialect, table.name, tuple(unique), tuple(values))
    statement = _TAKE_KEY.get(shape)
    if statement is None:
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        [key] = table.primary_key.columns
        statement = _TAKE_KEY[shape] = (
            Prepared(insert(table).values({name: bindparam(name, type_=table.c[name].type) for name in values})
                     .on_conflict_do_nothing(index_elements=unique).returning(key)))
    return statement.scalar(session, values)


_TAKE_KEY: dict[tuple, Any] = {}  # built once a shape: building costs more than running it


def make_engine(url: str) -> Engine:
    """An engine for url; SQLite gets foreign keys, WAL, a busy timeout and real BEGIN/SAVEPOINT."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # a database that does not answer fails a request in seconds (503, the provider retries)
        # rather than holding it for the minutes a TCP connect can take. psycopg prepares no
        # statement itself: gateway.sql prepares its own on each connection, and psycopg would
        # deallocate them all on its first rollback (see sql._Wire)
        engine = create_engine(url, pool_size=10, max_overflow=10,
                               connect_args={"connect_timeout": CONNECT_TIMEOUT, "prepare_threshold": None})
        _ping_after_idle(engine)
        _held_writes_first(engine)
        return engine
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not pysqlite, decide when a transaction begins: without this
        # pysqlite defers BEGIN and a SAVEPOINT rollback silently keeps rows.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if parsed.database and parsed.database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # IMMEDIATE: writers queue on busy_timeout instead of failing on a lock upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _ping_after_idle(engine: Engine) -> None:
    """Ping a pooled connection before use when it has been idle PING_AFTER_IDLE seconds or more.

    A connection the server dropped (a restart, a failover) is found and replaced before a
    request uses it, as pool_pre_ping does, but only after a quiet spell: back to back, as under
    load, a connection was in use moments ago, and a ping would be a round trip a message."""
    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, _proxy):
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error:
            alive = False
        if not alive:
            raise DisconnectionError("the server closed the connection")  # the pool opens another


def _held_writes_first(engine: Engine) -> None:
    """A statement SQLAlchemy runs itself inside sql.pipelined() (a flush, a lazy load) sees the
    writes held back there: they are sent before it."""
    @event.listens_for(engine, "before_cursor_execute")
    def _send(_conn, cursor, *_args):
        send_held(cursor.connection)


class Database:
    """Holds the engine and the session factory; tests may bind it to one outer transaction."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def bind_to(self, connection: Connection) -> None:
        """Make every session join connection's transaction (commits become savepoints)."""
        self.sessionmaker = sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )

    def unbind(self) -> None:
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        return self.sessionmaker()

    @contextmanager
    def session_scope(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error, for jobs and the CLI."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
