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
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from sqlalchemy import Table, bindparam, insert
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
    """One Core statement, compiled once per dialect; its parameters are bindparam() names."""

    def __init__(self, statement: ClauseElement):
        self.statement = statement
        self._plans: dict[str, _Plan] = {}

    def plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is None:
            plan = self._plans[dialect.name] = _compile(self.statement, dialect)
        return plan

    def execute(self, session: Session, params: dict[str, Any] | None = None):
        """(plan, cursor) after running the statement in the session's transaction."""
        if session.new or session.dirty or session.deleted:
            session.flush()  # as autoflush would before a query: the statement sees the session's changes
        connection = session.connection()
        plan = self.plan(connection.dialect)
        driver = connection.connection.driver_connection
        values = plan.parameters(params or {})
        cursor = driver.cursor()
        try:
            cursor.execute(plan.sql, values)
        except connection.dialect.loaded_dbapi.Error as exc:
            # SQLAlchemy's own handling: the same exception classes, and a dead connection (and
            # the pool's others, opened before it) invalidated so the next checkout opens anew
            connection._handle_dbapi_exception(exc, plan.sql, values, cursor, None)
        return plan, cursor

    def all(self, session: Session, params: dict[str, Any] | None = None) -> list[tuple]:
        plan, cursor = self.execute(session, params)
        return [plan.row(raw) for raw in cursor.fetchall()]

    def first(self, session: Session, params: dict[str, Any] | None = None) -> tuple | None:
        plan, cursor = self.execute(session, params)
        raw = cursor.fetchone()
        return None if raw is None else plan.row(raw)

    def scalar(self, session: Session, params: dict[str, Any] | None = None) -> Any:
        row = self.first(session, params)
        return None if row is None else row[0]

    def run(self, session: Session, params: dict[str, Any] | None = None, *, expires: type | None = None) -> int:
        """Run an UPDATE or DELETE; the rows it touched. Objects of class expires in the session
        are expired, so that they are read again rather than trusted."""
        _, cursor = self.execute(session, params)
        if expires is not None:
            expire_all(session, expires)
        return cursor.rowcount


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
    return _Plan(compiled.string, order, static, tuple(binds), results)


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


def add(session: Session, model: type, values: dict[str, Any]) -> Any:
    """INSERT one row of model with values (and each column's Python default), in one statement;
    the new object, in the session as if it had been flushed."""
    table: Table = model.__table__
    row = dict(values)
    for column in table.c:
        if column.name not in row and column.default is not None and not column.primary_key:
            default = column.default
            if default.is_scalar:
                row[column.name] = default.arg
            elif default.is_callable:
                row[column.name] = default.arg(None)
    shape = (table.name, tuple(row))
    statement = _INSERTS.get(shape)
    if statement is None:
        [key] = table.primary_key.columns
        statement = _INSERTS[shape] = Prepared(
            insert(table).values({name: bindparam(name, type_=table.c[name].type) for name in row})
            .returning(key))
    new_id = statement.scalar(session, row)
    [key] = table.primary_key.columns
    return load(session, model, (key.name, *row), (new_id, *row.values()))
