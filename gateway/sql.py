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

On PostgreSQL, with psycopg, statements go on the connection's libpq connection rather than
through a cursor (`_Wire`): each prepared on the server the first time a connection runs it,
several in one round trip, and BEGIN with the first of a transaction. A message's writes are held
back and sent together (`pipelined`): a write whose result nobody reads (`later`, `add(...,
later=True)`) waits in the session until a statement needs the server to have it (a read, a
write whose result is read, or any statement SQLAlchemy runs itself), then goes in the same round
trip before it; at the end of the block what is left goes with the COMMIT. A savepoint is held
until the next write: a read does not send it, a refusal before any write was sent undoes nothing
on the server (`rollback_to`), and a savepoint still held when no refusal can come is dropped
(`drop_held`). A visit takes three round trips: BEGIN with the sender and the raw message; the
household with the sender's area; the report, the due care, the outcome and COMMIT.
"""
from __future__ import annotations

import os
import re
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import psycopg
from psycopg import generators, pq
from psycopg.adapt import PyFormat, Transformer
from psycopg.errors import error_from_result
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
    wire: bytes | None = None  # PostgreSQL: the SQL with $1, $2 .. (see _Wire)
    wire_order: tuple[str, ...] = ()  # the parameter of each $n, in order

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

    On a _Wire each statement is prepared on the server the first time a connection runs it.
    unprepared: never prepared, sent with its SQL each time; for statements such as COMMIT or
    ROLLBACK TO SAVEPOINT. Through a psycopg cursor (a connection that lets psycopg prepare
    statements: not gateway.db's), psycopg neither prepares nor tracks it: psycopg forgets and
    deallocates every statement it prepared when it sees one end in ROLLBACK, a ROLLBACK TO
    SAVEPOINT included."""

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
        """Run the statement in the session's transaction; what take(rows) makes of it (rows: a
        cursor, or a _Rows). take None: a write whose result is not read, held back in pipelined()."""
        if session.new or session.dirty or session.deleted:
            session.flush()  # as autoflush would before a query: the statement sees the session's changes
        held: _Held | None = session.info.get(_HELD)
        if held is not None:  # in pipelined(): the transaction's connection, as it was when it began
            connection, driver, wire = held.connection, held.driver, held.wire
        else:
            connection = session.connection()
            driver = connection.connection.driver_connection
            wire = _wire(connection, driver)
        plan = self.plan(connection.dialect)
        values = plan.parameters(params or {})
        this = (self, plan, values)
        if not plan.reads and not self.savepoint and _AHEAD in session.info:
            del session.info[_AHEAD]  # a write may change what was read ahead
        if held is not None:
            if take is None:
                held.writes.append(this)
                return plan, None
            # what is held goes first, in the same round trip (a savepoint only before a write)
            return plan, take(held.send(before_read=plan.reads, then=[this])[-1])
        try:
            if wire is not None:
                rows = wire.exchange([this])[-1]
            else:
                rows = driver.cursor()
                _run(driver, rows, this)
            return plan, None if take is None else take(rows)
        except connection.dialect.loaded_dbapi.Error as exc:
            # SQLAlchemy's own handling: the same exception classes, and a dead connection (and
            # the pool's others, opened before it) invalidated so the next checkout opens anew.
            connection._handle_dbapi_exception(exc, plan.sql, values, None, None)

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


def first_rows(session: Session, reads: Sequence[tuple[Prepared, dict[str, Any]]]) -> list[tuple | None]:
    """The first row of each statement of reads (None where it finds none), run in order: in
    pipelined() on a _Wire in one round trip, after the writes held; elsewhere one by one."""
    held: _Held | None = session.info.get(_HELD)
    wire = held.wire if held is not None else None
    if wire is None:
        return [statement.first(session, params) for statement, params in reads]
    if session.new or session.dirty or session.deleted:
        session.flush()
    commands = []
    for statement, params in reads:
        plan = statement.plan(held.connection.dialect)
        commands.append((statement, plan, plan.parameters(params)))
    results = held.send(before_read=True, then=commands)
    return [None if (raw := rows.fetchone()) is None else plan.row(raw)
            for (_, plan, _), rows in zip(commands, results)]


# -- a read sent ahead with another, for a statement the message will run next ------------------

_AHEAD = "fieldline.ahead"  # in a session's info: (transaction, key, row) of a read sent ahead


def keep_ahead(session: Session, key: tuple, row: tuple | None) -> None:
    """Keep row, read ahead for key, until take_ahead asks for it in this transaction, in
    pipelined(); a write before then (a Prepared statement but a read or a savepoint, or any
    statement SQLAlchemy runs itself) drops it, and so does the block's end."""
    if _HELD in session.info:
        session.info[_AHEAD] = (session.get_transaction(), key, row)


NOT_AHEAD = object()


def take_ahead(session: Session, key: tuple) -> Any:
    """The row kept for key (None if the read found none), once; NOT_AHEAD if none is kept."""
    kept = session.info.pop(_AHEAD, None)
    if kept is None or kept[1] != key or kept[0] is not session.get_transaction():
        return NOT_AHEAD
    return kept[2]


def _run(driver, cursor, command: tuple) -> None:
    """Run one statement through the driver's cursor (SQLite, or a connection _wire does not drive)."""
    statement, plan, values = command
    if statement.unprepared:
        _execute_unprepared(driver, cursor, plan.sql, values)
    else:
        cursor.execute(plan.sql, values)


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


def _one(rows) -> Any:
    return rows.fetchone()


def _all(rows) -> list:
    return rows.fetchall()


def _rowcount(rows) -> int:
    return rows.rowcount


# -- psycopg's libpq connection, driven directly ---------------------------------------------------

_BEGIN = b"BEGIN"
_ROWS = "rows"  # what a statement's result is read for
_IDLE = pq.TransactionStatus.IDLE
_FATAL_ERROR, _COMMAND_OK = pq.ExecStatus.FATAL_ERROR, pq.ExecStatus.COMMAND_OK
_PIPELINE_OFF = pq.PipelineStatus.OFF
_WIRES: "weakref.WeakKeyDictionary[Any, _Wire]" = weakref.WeakKeyDictionary()  # driver connection: its _Wire


def _wire(connection, driver) -> "_Wire | None":
    """The _Wire of a psycopg connection, if statements may go by it now (see _Wire); else None."""
    if (connection.dialect.driver != "psycopg" or driver.prepare_threshold is not None or driver.autocommit
            or driver.isolation_level is not None or driver.read_only is not None or driver.deferrable):
        return None  # a transaction begun otherwise than by BEGIN alone, or no transaction at all
    wire = _WIRES.get(driver)
    if wire is None:
        wire = _WIRES[driver] = _Wire(driver)
    return wire


class _Rows:
    """A result as the take functions read it (fetchone, fetchall, rowcount), loaded by psycopg's own
    loaders (the types' conversions a cursor would make)."""

    __slots__ = ("tx", "result")

    def __init__(self, tx, result):
        self.tx = tx
        self.result = result

    def fetchone(self) -> tuple | None:
        if not self.result.ntuples:
            return None
        self.tx.set_pgresult(self.result)
        return self.tx.load_row(0, tuple)

    def fetchall(self) -> list[tuple]:
        self.tx.set_pgresult(self.result)
        return self.tx.load_rows(0, self.result.ntuples, tuple)

    @property
    def rowcount(self) -> int:
        return self.result.command_tuples or 0


class _Wire:
    """Statements sent on a psycopg connection's libpq connection (psycopg's pq interface) rather
    than through a cursor, which costs about twice the client CPU of the round trip itself
    (converting the query, choosing dumpers, preparing, its pipeline's bookkeeping). Each
    statement is prepared on the server the first time a connection runs it, and runs by name
    from then on; several go in one round trip (libpq's pipeline mode), and BEGIN goes with the
    first statement of a transaction rather than in a round trip of its own.

    Only for connections whose own prepared statements psycopg does not manage
    (prepare_threshold None, which gateway.db sets): psycopg deallocates every statement on the
    connection when it sees a rollback, these too. Parameters and results are converted by
    psycopg's adapters, as a cursor would; an error is psycopg's, as a cursor would raise it."""

    __slots__ = ("__weakref__", "driver", "pgconn", "tx", "names", "made", "encoding")

    def __init__(self, driver):
        self.driver = driver
        self.pgconn = driver.pgconn
        self.tx = Transformer(driver)
        self.names: dict[tuple, bytes] = {}  # (SQL, parameter types): its name, prepared on this connection
        self.made = 0  # names made on this connection
        self.encoding = (self.pgconn.parameter_status(b"client_encoding") or b"UTF8").decode()

    def exchange(self, commands: list[tuple]) -> "list[_Rows | None]":
        """Send commands ((Prepared, plan, values) each) in order in one round trip, with BEGIN
        first if no transaction is open; each command's result, in order. The first error is
        raised once every result has been read and the connection is ready again."""
        pgconn, tx = self.pgconn, self.tx
        with self.driver.lock:
            sends: list[tuple[Callable, tuple, Any]] = []  # (send, its arguments, what its result is)
            if pgconn.transaction_status == _IDLE:
                sends.append((pgconn.send_query_params, (_BEGIN, None), None))
            preparing: dict[tuple, bytes] = {}
            for statement, plan, values in commands:
                order = plan.wire_order
                params = tx.dump_sequence([values[name] for name in order], [PyFormat.AUTO] * len(order))
                if statement.unprepared:
                    sends.append((pgconn.send_query_params, (plan.wire, params, tx.types, tx.formats), _ROWS))
                    continue
                key = (plan.wire, tx.types)
                name = self.names.get(key) or preparing.get(key)
                if name is None:
                    self.made += 1
                    name = preparing[key] = b"_fieldline_%d" % self.made
                    sends.append((pgconn.send_prepare, (name, plan.wire, tx.types), (key, name)))
                sends.append((pgconn.send_query_prepared, (name, params, tx.formats), _ROWS))
            if len(sends) == 1:
                send, args, _ = sends[0]
                send(*args)
                return [self._rows(self.driver.wait(generators.execute(pgconn)))]
            return self._pipeline(sends)

    def _rows(self, results: list) -> "_Rows | None":
        for result in results:
            if result.status == _FATAL_ERROR:
                raise error_from_result(result, encoding=self.encoding)
        return _Rows(self.tx, results[-1]) if results else None

    def _pipeline(self, sends: list) -> "list[_Rows | None]":
        """sends in one of libpq's pipelines; a statement after a failed one is not run."""
        pgconn, driver = self.pgconn, self.driver
        error, rows = None, []
        pgconn.enter_pipeline_mode()
        try:
            for send, args, _ in sends:
                send(*args)
            pgconn.pipeline_sync()
            driver.wait(generators.send(pgconn))
            for _, _, what in sends:
                results = driver.wait(generators.fetch_many(pgconn))
                failed = next((r for r in results if r.status == _FATAL_ERROR), None)
                if failed is not None:
                    error = error or error_from_result(failed, encoding=self.encoding)
                elif what is _ROWS:
                    rows.append(_Rows(self.tx, results[-1]) if results else None)
                elif what is not None and results and results[0].status == _COMMAND_OK:
                    key, name = what
                    self.names[key] = name  # prepared: a statement skipped after an error was not
            driver.wait(generators.fetch_many(pgconn))  # the pipeline's sync
            pgconn.exit_pipeline_mode()
        except BaseException:
            if pgconn.pipeline_status != _PIPELINE_OFF:
                try:
                    pgconn.exit_pipeline_mode()
                except psycopg.Error:
                    pass  # results still unread: the connection is lost, and the error raised says why
            raise
        if error is not None:
            raise error
        return rows


# -- writes held back (PostgreSQL) ---------------------------------------------------------------

_HELD = "fieldline.held"  # in a session's info while pipelined() holds its writes: a _Held
_HOLDERS: dict[int, "_Held"] = {}  # id of a driver connection: the _Held of the session on it


# the COMMIT that goes with a pipelined() block's last writes; psycopg then finds the transaction
# ended, and the session's commit sends nothing
COMMIT = Prepared(text("COMMIT"), unprepared=True)


class _Held:
    """The writes a pipelined() block holds back, in order, and how they are sent."""

    __slots__ = ("connection", "driver", "wire", "writes", "info")

    def __init__(self, connection, driver, info: dict):
        self.info = info  # the session's
        self.connection = connection  # SQLAlchemy's, for its exception handling
        self.driver = driver
        self.wire = _wire(connection, driver)
        self.writes: list[tuple[Prepared, _Plan, Any]] = []

    def send(self, *, before_read: bool = False, commit: bool = False, then: list[tuple] = ()) -> list:
        """Send the writes held (before a read, not a savepoint that no write follows yet; before
        a statement that writes, all of them), then the statements then, and COMMIT if asked,
        all in one round trip on a _Wire; the results of then (through a cursor: the last one's
        only). An error as SQLAlchemy's."""
        writes = self.writes
        count = len(writes)
        if before_read:
            while count and writes[count - 1][0].savepoint:
                count -= 1
        if not count and not commit and not then:
            return []
        sending, self.writes = writes[:count], writes[count:]
        sending.extend(then)
        if commit:
            sending.append((COMMIT, COMMIT.plan(self.connection.dialect), {}))
        try:
            results = _send(self.driver, self.wire, sending)
        except self.connection.dialect.loaded_dbapi.Error as exc:
            self.writes = []  # the transaction is lost: nothing held is worth sending now
            statement = then[-1][1].sql if then else "(writes held back)"
            self.connection._handle_dbapi_exception(exc, statement, None, None, None)
        return results[count:count + len(then)]


def _send(driver, wire: "_Wire | None", commands: list) -> list:
    """Send commands in order, in one round trip on a _Wire, else one by one through a cursor;
    each one's result on a _Wire, else the cursor that ran the last one, once for each."""
    if wire is not None:
        return wire.exchange(commands)
    cursor = driver.cursor()
    for command in commands:
        _run(driver, cursor, command)
    return [cursor] * len(commands)


def send_held(driver_connection) -> None:
    """Send the writes held on a driver connection, if a pipelined() block holds any: before a
    statement SQLAlchemy runs itself (gateway.db registers this), so that it sees them. A failed
    write's error is the driver's, which SQLAlchemy then raises as the statement's."""
    held = _HOLDERS.get(id(driver_connection))
    if held is not None and held.driver is driver_connection:
        held.info.pop(_AHEAD, None)  # the statement may write (a flush): what was read ahead may change
        if held.writes:
            writes, held.writes = held.writes, []
            _send(driver_connection, held.wire, writes)


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
    held = _HOLDERS[id(driver)] = session.info[_HELD] = _Held(connection, driver, session.info)
    try:
        yield
        if session.new or session.dirty or session.deleted:
            session.flush()  # the ORM's changes before the COMMIT
        held.send(commit=commit and not connection.in_nested_transaction())
    finally:
        _HOLDERS.pop(id(driver), None)
        session.info.pop(_HELD, None)
        session.info.pop(_AHEAD, None)


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
    wire, wire_order = None, ()
    if dialect.name == "postgresql" and dialect.paramstyle == "pyformat":
        wire, wire_order = _numbered(compiled.string)
    return _Plan(compiled.string, order, static, tuple(binds), results, reads, wire, wire_order)


_PYFORMAT = re.compile(r"%\(([^)]+)\)s|%%")


def _numbered(statement: str) -> tuple[bytes, tuple[str, ...]]:
    """A statement in SQLAlchemy's pyformat for psycopg (%(name)s, a literal % as %%) as PostgreSQL
    takes it: $1, $2 .. (a name used twice is one number) and the names in order."""
    order: list[str] = []

    def number(match: re.Match) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    return _PYFORMAT.sub(number, statement).encode(), tuple(order)


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
