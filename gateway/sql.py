"""Statements on every message's path, compiled once per dialect and run on the session's own
DBAPI connection, inside its transaction.

SQLAlchemy spends about three times psycopg's CPU on running a statement it has already compiled
(the ORM about six): on a webhook whose usual message runs a handful of statements, that was most
of its cost. A Prepared statement keeps what SQLAlchemy would work out again on every call (the
SQL text, the order of its parameters, the type conversions of each parameter and column) and
hands the driver the rest. Errors are SQLAlchemy's (IntegrityError, OperationalError with
connection_invalidated), as if SQLAlchemy had run the statement.

What the session holds stays true: pending ORM changes are flushed before a statement runs (as
autoflush would), rows come back as ORM objects in the session's identity map when asked
(`load`), and objects of a table an UPDATE touched are expired (`run(..., expires=Model)`).

On PostgreSQL a message's writes are held back and sent together (`pipelined`): a write whose
result nobody reads (`later`, `add(..., later=True)`) waits in the session until a statement
needs the server to have it (a read, or any statement SQLAlchemy runs itself), or until the
block ends; then the writes held go at once, several in one of psycopg's pipelines, and at the end
of the block with the COMMIT. Reads go on their own: in psycopg a read in a pipeline costs about
three times a read outside one. A savepoint is held until the next write: a read does not send
it, a refusal before any write was sent undoes nothing on the server (`rollback_to`), and a
savepoint still held when no refusal can come is dropped (`drop_held`). A visit: BEGIN, the
sender with the raw message, the household with the sender's area, then one pipeline with the
report, the due care, the outcome and COMMIT.
"""
from __future__ import annotations

import os
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from sqlalchemy import Table, bindparam, func, insert, select, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql import ClauseElement


@dataclass(frozen=True)
class _Plan:
    sql: str
    order: tuple[str, ...] | None  # parameter names in order, for a positional paramstyle
    static: dict[str, Any]  # values the statement carries itself (literals in where clauses)
    binds: tuple[tuple[str, Callable], ...]  # (name, conversion) for parameters that need one
    results: tuple[Callable | None, ...]  # a conversion per result column, or None
    reads: bool  # a SELECT: it changes nothing (a data-modifying WITH does not start with SELECT)

    def parameters(self, given: dict[str, Any]) -> Any:
        values = {**self.static, **given} if self.static else dict(given)
        for name, convert in self.binds:
            if name in values:
                values[name] = convert(values[name])
        if self.order is None:
            return values
        return tuple(values[name] for name in self.order)

    def row(self, raw: Sequence[Any]) -> tuple:
        return tuple(value if convert is None or value is None else convert(value)
                     for convert, value in zip(self.results, raw))


class Prepared:
    """One Core statement, compiled once per dialect; its parameters are bindparam() names.

    psycopg prepares a statement on the server once a connection has run it a few times. It
    forgets every statement it prepared (and deallocates them) when it sees a statement end in
    ROLLBACK, a ROLLBACK TO SAVEPOINT included; each is then parsed and planned anew for its next
    ten or so runs. unprepared: psycopg neither prepares nor tracks this statement; for a ROLLBACK
    TO SAVEPOINT that only undoes rows written (nothing dropped or altered to make a prepared
    statement stale), so that the connection's prepared statements outlive it."""

    def __init__(self, statement: ClauseElement, *, unprepared: bool = False, savepoint: bool = False):
        self.statement = statement
        self.unprepared = unprepared
        self.savepoint = savepoint  # held until a write follows it (see pipelined)
        self._plans: dict[str, _Plan] = {}

    def plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is None:
            plan = self._plans[dialect.name] = _compile(self.statement, dialect)
        return plan

    def _execute(self, session: Session, params: dict[str, Any] | None, take: Callable | None) -> Any:
        """Run the statement in the session's transaction; what take(cursor) makes of it. take None:
        a write whose result is not read, held back in pipelined()."""
        if session.new or session.dirty or session.deleted:
            session.flush()  # as autoflush would before a query: the statement sees the session's changes
        held: _Held | None = session.info.get(_HELD)
        if held is not None:  # in pipelined(): the transaction's connection, as it was when it began
            connection, driver = held.connection, held.driver
        else:
            connection = session.connection()
            driver = connection.connection.driver_connection
        plan = self.plan(connection.dialect)
        values = plan.parameters(params or {})
        if held is not None:
            if take is None:
                held.writes.append((self, plan.sql, values))
                return plan, None
            held.send(before_read=plan.reads)  # a write goes after the savepoint held, if any
        cursor = driver.cursor()
        try:
            _run(driver, cursor, self, plan.sql, values)
            return plan, None if take is None else take(cursor)
        except connection.dialect.loaded_dbapi.Error as exc:
            # SQLAlchemy's own handling: the same exception classes, and a dead connection (and
            # the pool's others, opened before it) invalidated so the next checkout opens anew.
            connection._handle_dbapi_exception(exc, plan.sql, values, cursor, None)

    def all(self, session: Session, params: dict[str, Any] | None = None) -> list[tuple]:
        plan, rows = self._execute(session, params, _all)
        return [plan.row(raw) for raw in rows]

    def first(self, session: Session, params: dict[str, Any] | None = None) -> tuple | None:
        plan, raw = self._execute(session, params, _one)
        return None if raw is None else plan.row(raw)

    def scalar(self, session: Session, params: dict[str, Any] | None = None) -> Any:
        row = self.first(session, params)
        return None if row is None else row[0]

    def run(self, session: Session, params: dict[str, Any] | None = None, *, expires: type | None = None) -> int:
        """Run an UPDATE or DELETE; the rows it touched. Objects of class expires in the session
        are expired, so that they are read again rather than trusted."""
        _, count = self._execute(session, params, _rowcount)
        if expires is not None:
            expire_all(session, expires)
        return count

    def later(self, session: Session, params: dict[str, Any] | None = None, *, expires: type | None = None) -> None:
        """Run a write whose result is not needed: in pipelined(), it is held and goes with the
        next statement that needs it or at the end (its error, if any, is raised there); elsewhere,
        now."""
        self._execute(session, params, None)
        if expires is not None:
            expire_all(session, expires)


def _run(driver, cursor, statement: "Prepared", text_: str, values: Any) -> None:
    if statement.unprepared:
        _execute_unprepared(driver, cursor, text_, values)
    else:
        cursor.execute(text_, values)


def _execute_unprepared(driver, cursor, statement: str, values: Any) -> None:
    """Run statement without psycopg's prepared statement cache seeing it (see Prepared)."""
    threshold = getattr(driver, "prepare_threshold", None)
    if threshold is None:  # not psycopg, or preparing is off already
        cursor.execute(statement, values)
        return
    driver.prepare_threshold = None  # off for this statement alone: neither prepared nor counted
    try:
        cursor.execute(statement, values)
    finally:
        driver.prepare_threshold = threshold


def _one(cursor) -> Any:
    return cursor.fetchone()


def _all(cursor) -> list:
    return cursor.fetchall()


def _rowcount(cursor) -> int:
    return cursor.rowcount


# -- writes held back (PostgreSQL) ---------------------------------------------------------------

_HELD = "fieldline.held"  # in a session's info while pipelined() holds its writes: a _Held
_HOLDERS: dict[int, "_Held"] = {}  # id of a driver connection: the _Held of the session on it
PIPELINE_FROM = 3  # writes sent before a read go in one pipeline from this many; fewer, one by one


# the COMMIT that goes with a pipelined() block's last writes; psycopg then finds the transaction
# ended, and the session's commit sends nothing
COMMIT = Prepared(text("COMMIT"), unprepared=True)


class _Held:
    """The writes a pipelined() block holds back, in order, and how they are sent."""

    __slots__ = ("connection", "driver", "writes")

    def __init__(self, connection, driver):
        self.connection = connection  # SQLAlchemy's, for its exception handling
        self.driver = driver
        self.writes: list[tuple[Prepared, str, Any]] = []

    def send(self, *, before_read: bool = False, commit: bool = False) -> None:
        """Send the writes held (before a read, not a savepoint that no write follows yet; before
        a statement that writes, all of them), then COMMIT if asked; an error as SQLAlchemy's."""
        writes = self.writes
        count = len(writes)
        if before_read:
            while count and writes[count - 1][0].savepoint:
                count -= 1
        if not count and not commit:
            return
        sending, self.writes = writes[:count], writes[count:]
        if commit:
            sending.append((COMMIT, COMMIT.statement.text, None))
        try:
            _send(self.driver, sending, pipeline=len(sending) >= (2 if commit else PIPELINE_FROM))
        except self.connection.dialect.loaded_dbapi.Error as exc:
            self.writes = []  # the transaction is lost: nothing held is worth sending now
            self.connection._handle_dbapi_exception(exc, "(writes held back)", None, None, None)


def _send(driver, writes: list, *, pipeline: bool) -> None:
    """Send writes in order: in one pipeline (psycopg's own work, about two reads' worth, and a
    round trip for them all) or one by one (a round trip each, which is cheaper for one or two,
    and for a read: in psycopg a read in a pipeline costs three times one outside)."""
    cursor = driver.cursor()
    if pipeline:
        with driver.pipeline():
            for statement, text_, values in writes:
                _run(driver, cursor, statement, text_, values)
    else:
        for statement, text_, values in writes:
            _run(driver, cursor, statement, text_, values)


def send_held(driver_connection) -> None:
    """Send the writes held on a driver connection, if a pipelined() block holds any: before a
    statement SQLAlchemy runs itself (gateway.db registers this), so that it sees them. A failed
    write's error is the driver's, which SQLAlchemy then raises as the statement's."""
    held = _HOLDERS.get(id(driver_connection))
    if held is not None and held.driver is driver_connection and held.writes:
        writes, held.writes = held.writes, []
        _send(driver_connection, writes, pipeline=len(writes) >= PIPELINE_FROM)


@contextmanager
def pipelined(session: Session, enabled: bool = True, *, commit: bool = False) -> Iterator[None]:
    """Hold the block's writes back and send them together (see the module's text) on PostgreSQL;
    elsewhere, or when not enabled, every statement runs when called. Writes held are on the
    server when the block ends; an error of one is raised by then at the latest, as SQLAlchemy's
    exception. When the block raises, what it still held is dropped, never sent.

    commit: the last writes go with COMMIT when the block ends, if the session's transaction is
    the connection's own (not a savepoint in a caller's); commit the session after the block all
    the same, which then has nothing left to send. Neither commit nor roll back inside the block."""
    if not enabled or session.get_bind().dialect.name != "postgresql":
        yield
        return
    if _HELD in session.info:
        yield
        return
    connection = session.connection()
    driver = connection.connection.driver_connection
    held = _HOLDERS[id(driver)] = session.info[_HELD] = _Held(connection, driver)
    try:
        yield
        if session.new or session.dirty or session.deleted:
            session.flush()  # the ORM's changes before the COMMIT
        held.send(commit=commit and not connection.in_nested_transaction())
    finally:
        _HOLDERS.pop(id(driver), None)
        session.info.pop(_HELD, None)


def drop_held(session: Session, savepoint: "Prepared") -> None:
    """Drop savepoint if it is still held: nothing since it reached the server, and nothing
    will be undone to it now; the writes held after it stay."""
    held: _Held | None = session.info.get(_HELD)
    if held is not None:
        held.writes = [write for write in held.writes if write[0] is not savepoint]


def rollback_to(session: Session, savepoint: "Prepared", undo: "Prepared") -> None:
    """Undo the writes since savepoint: if it is still held (no write after it reached the
    server), by dropping it and what followed; else by running undo (ROLLBACK TO SAVEPOINT)."""
    held: _Held | None = session.info.get(_HELD)
    if held is not None:
        for at in range(len(held.writes) - 1, -1, -1):
            if held.writes[at][0] is savepoint:
                del held.writes[at:]
                return
    undo.later(session)


def expire_all(session: Session, model: type) -> None:
    """Expire the session's objects of model, after a statement that may have changed their rows."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, model):
            session.expire(obj)


def _compile(statement: ClauseElement, dialect: Dialect) -> _Plan:
    compiled = statement.compile(dialect=dialect)
    static = {name: bind.effective_value for name, bind in compiled.binds.items()
              if not bind.required and bind.callable is None}
    binds = []
    for name, bind in compiled.binds.items():
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if convert is not None:
            binds.append((name, convert))
    results = tuple(
        column[3].dialect_impl(dialect).result_processor(dialect, None)  # (key, name, objects, type)
        for column in compiled._result_columns
    )
    order = tuple(compiled.positiontup) if compiled.positional else None
    reads = compiled.string.lstrip()[:6].upper() == "SELECT"
    return _Plan(compiled.string, order, static, tuple(binds), results, reads)


# -- rows as ORM objects ---------------------------------------------------------------------------

def load(session: Session, model: type, columns: Sequence[str], row: Sequence[Any] | None) -> Any:
    """The ORM object for a row of model's columns (the first is its primary key): the one the
    session holds already, or a new one in the session as if a query had loaded it."""
    if row is None:
        return None
    held = session.identity_map.get(identity_key(model, row[0]))
    if held is not None:
        return held
    obj = model.__mapper__.class_manager.new_instance()  # as the ORM makes what it loads: no __init__
    obj.__dict__.update(zip(columns, row))
    make_transient_to_detached(obj)  # known to be in the database; unset columns load when read
    session.add(obj)
    return obj


def columns_of(model: type, *names: str) -> tuple:
    """model's table columns by name, its primary key first (all of them if no names)."""
    table: Table = model.__table__
    [key] = table.primary_key.columns
    chosen = [key] + [table.c[n] for n in names if n != key.name] if names else list(table.c)
    return tuple(chosen)


# -- inserts ----------------------------------------------------------------------------------------

_INSERTS: dict[tuple, Prepared] = {}


def add(session: Session, model: type, values: dict[str, Any], *, later: bool = False) -> Any:
    """INSERT one row of model with values (and each column's Python default), in one statement;
    the new object, in the session as if it had been flushed.

    later: in a pipeline, the row's id is taken from a block this process holds of its table's
    sequence and the INSERT is sent with the next round trip (see Prepared.later)."""
    table: Table = model.__table__
    [key] = table.primary_key.columns
    row = dict(values)
    for column in table.c:
        if column.name not in row and column.default is not None and not column.primary_key:
            default = column.default
            if default.is_scalar:
                row[column.name] = default.arg
            elif default.is_callable:
                row[column.name] = default.arg(None)
    if later and in_pipeline(session):
        row = {key.name: _next_id(session, table), **row}
        _insert(table, row, returning=False).later(session, row)
        return load(session, model, tuple(row), tuple(row.values()))
    new_id = _insert(table, row, returning=True).scalar(session, row)
    return load(session, model, (key.name, *row), (new_id, *row.values()))


def _insert(table: Table, row: dict[str, Any], returning: bool) -> Prepared:
    shape = (table.name, tuple(row), returning)
    statement = _INSERTS.get(shape)
    if statement is None:
        made = insert(table).values({name: bindparam(name, type_=table.c[name].type) for name in row})
        if returning:
            [key] = table.primary_key.columns
            made = made.returning(key)
        statement = _INSERTS[shape] = Prepared(made)
    return statement


def in_pipeline(session: Session) -> bool:
    """Whether the session's writes are held back and sent together (see pipelined)."""
    return _HELD in session.info


class RunAgainAlone(Exception):
    """Raised in pipelined() where a failure is to be met a statement at a time: the caller rolls
    back and runs the work again without a pipeline."""


ID_BLOCK = 32  # ids a process takes from a table's sequence at once, for rows it inserts later()
_IDS: "weakref.WeakKeyDictionary[Any, dict[tuple[int, str], list[int]]]" = weakref.WeakKeyDictionary()  # engine: (pid, table): ids
_TAKE_IDS = Prepared(
    select(func.nextval(func.pg_get_serial_sequence(bindparam("table"), bindparam("column"))))
    .select_from(func.generate_series(1, ID_BLOCK)))


def _next_id(session: Session, table: Table) -> int:
    """An id for a new row of table, from this process's block of its sequence (PostgreSQL).

    The sequence gives each id once, whoever asks, so ids taken here are never given to another
    row; ids of a block left unused are a gap, as a rolled-back insert leaves one."""
    # per process: a child forked with the parent's engine must not hand out the parent's ids
    held = _IDS.setdefault(session.get_bind().engine, {}).setdefault((os.getpid(), table.name), [])
    try:
        return held.pop()
    except IndexError:
        [key] = table.primary_key.columns
        taken = [value for (value,) in _TAKE_IDS.all(session, {"table": table.name, "column": key.name})]
        taken.reverse()  # popped lowest first
        held.extend(taken[:-1])
        return taken[-1]
