"""A message's writes held back and sent together (PostgreSQL): what a refusal or a failure
leaves, which statements go in a pipeline, and the ids new rows take from their sequence. On
SQLite the same tests run with every statement sent when called."""
from __future__ import annotations

from datetime import date

import pytest
from psycopg import pq
from sqlalchemy import Integer, bindparam, func, literal_column, select, text, update
from sqlalchemy.exc import IntegrityError

from gateway import handlers, sql
from gateway.handlers import Refusal, Reply
from gateway.handlers.common import add_report, household_by_id
from gateway.health import read_state
from gateway.models import DueItem, Household, IdKind, InboundMessage, Report, ShortId
from gateway.people import new_short_id
from tests import factories
from tests.helpers import count, record_counts, refused, send

NO_SUCH_PERSON = 2_000_000_000


def _due_item(person_id: int | None, household_id: int) -> dict:
    day = date(2027, 1, 1)
    return {"schedule": "household_visit", "item": "visit", "household_id": household_id, "person_id": person_id,
            "volunteer_id": None, "due_on": day, "window_start": day, "window_end": day}


def test_a_refusal_after_the_handler_wrote_leaves_only_the_raw_message(runtime, session, volunteer, household, monkeypatch):
    def writes_then_refuses(ctx, parsed):
        household = household_by_id(ctx, parsed.values["household"])
        add_report(ctx, parsed.values, household=household)
        sql.add(ctx.session, DueItem, _due_item(None, household.id), later=True)
        raise Refusal("conflict", reason="unknown_id", value=household.short_id)

    monkeypatch.setitem(handlers.HANDLERS, "record_visit", writes_then_refuses)
    outcome = refused(runtime, session, volunteer.phone, f"V {household.short_id}", "conflict")
    assert household.short_id in outcome.reply
    # the next message is answered as usual on the same connection
    monkeypatch.undo()
    assert send(runtime, volunteer.phone, f"V {household.short_id}").status == "accepted"
    assert count(session, Report) == 1


def test_a_refusal_after_a_write_whose_result_was_read_undoes_it(runtime, session, volunteer, household, monkeypatch):
    # the savepoint is held back until a write: one run at once (an ID taken, its row read back)
    # must find it on the server already, or the refusal could not undo it
    def takes_an_id_then_refuses(ctx, parsed):
        household = household_by_id(ctx, parsed.values["household"])
        new_short_id(ctx.session, IdKind.person)
        raise Refusal("conflict", reason="unknown_id", value=household.short_id)

    ids = count(session, ShortId)
    monkeypatch.setitem(handlers.HANDLERS, "record_visit", takes_an_id_then_refuses)
    refused(runtime, session, volunteer.phone, f"V {household.short_id}", "conflict")
    assert count(session, ShortId) == ids


def breaks_a_constraint_late(ctx, parsed):
    household = household_by_id(ctx, parsed.values["household"])
    report = add_report(ctx, parsed.values, household=household)
    sql.add(ctx.session, DueItem, _due_item(NO_SUCH_PERSON, household.id), later=True)
    return Reply("recorded", {"household": household.short_id, "head": household.head_name, "next_due": "-"},
                 {"type": "report", "id": str(report.id)}, report.id)


def test_a_write_that_fails_after_the_handler_returned_keeps_the_message_as_failed(
        runtime, session, volunteer, household, monkeypatch):
    # the broken write is met only when the writes held are sent, after the handler returned; the
    # message goes again a statement at a time and is kept as failed, as without holding them
    monkeypatch.setitem(handlers.HANDLERS, "record_visit", breaks_a_constraint_late)
    before = record_counts(session)
    outcome = send(runtime, volunteer.phone, f"V {household.short_id}")
    assert (outcome.status, outcome.error) == ("failed", "failed")
    assert outcome.reply.startswith("Sorry, your report could not be processed")
    session.expire_all()
    assert record_counts(session) == before
    [message] = session.scalars(select(InboundMessage)).all()
    assert (message.body, message.status.value, message.reply) == (f"V {household.short_id}", "failed", outcome.reply)


def test_ids_taken_ahead_from_a_sequence_are_never_given_again(runtime, session, household):
    if runtime.db.is_sqlite:
        pytest.skip("ids are taken ahead only on PostgreSQL, in a pipeline")
    taken = []
    pipelined_session = runtime.db.session()
    with sql.pipelined(pipelined_session):
        assert sql.in_pipeline(pipelined_session)
        for _ in range(sql.ID_BLOCK + 3):  # past the end of a block
            taken.append(sql.add(pipelined_session, DueItem, _due_item(None, household.id), later=True).id)
    assert not sql.in_pipeline(pipelined_session)
    pipelined_session.commit()
    pipelined_session.close()
    assert len(set(taken)) == len(taken) and taken == sorted(taken)
    assert session.scalar(select(func.count()).where(DueItem.id.in_(taken))) == len(taken)
    # a row inserted as usual takes the sequence's next id, after every id taken ahead
    made = DueItem(**_due_item(None, household.id))
    session.add(made)
    session.flush()
    assert made.id > max(taken)


def _prepared_on_the_pooled_connection(runtime) -> tuple[int, int]:
    """(backend pid, statements prepared there) of the connection the next message will take."""
    probe = runtime.db.session()
    try:
        return tuple(probe.execute(text("SELECT pg_backend_pid(), count(*) FROM pg_prepared_statements")).one())
    finally:
        probe.commit()  # not a rollback: that would drop the statements being counted
        probe.close()


def test_prepared_statements_outlive_a_refusal_and_a_health_read(runtime, volunteer, household, monkeypatch):
    # psycopg deallocates every statement on the connection when it sees a rollback or a ROLLBACK
    # TO SAVEPOINT, if it prepared any itself: each would then be parsed and planned anew
    if runtime.db.is_sqlite:
        pytest.skip("statements are prepared on the server only on PostgreSQL")
    for _ in range(6):  # the pool's connections are taken in turn: the next one has run a visit
        assert send(runtime, volunteer.phone, f"V {household.short_id}").status == "accepted"
    pid, prepared = _prepared_on_the_pooled_connection(runtime)
    assert prepared >= 5

    def writes_then_refuses(ctx, parsed):
        add_report(ctx, parsed.values, household=household_by_id(ctx, parsed.values["household"]))
        raise Refusal("conflict", reason="unknown_id", value=parsed.values["household"])

    monkeypatch.setitem(handlers.HANDLERS, "record_visit", writes_then_refuses)
    assert send(runtime, volunteer.phone, f"V {household.short_id}").status == "rejected"
    monkeypatch.undo()
    read_state(runtime)  # what /health and /metrics read, a transaction that only reads
    assert _prepared_on_the_pooled_connection(runtime) == (pid, prepared)


def test_a_statement_skipped_after_an_error_in_its_round_trip_is_prepared_when_it_next_runs(runtime, session, household):
    # a statement is prepared with its first run; when an earlier one in the same round trip
    # fails, the server skips both, and the connection must not take it for prepared
    if runtime.db.is_sqlite:
        pytest.skip("statements are prepared on the server only on PostgreSQL")
    fresh = sql.Prepared(select(literal_column("41") + bindparam("n", type_=Integer)))
    with pytest.raises(IntegrityError):
        with sql.pipelined(session):
            sql.add(session, DueItem, _due_item(NO_SUCH_PERSON, household.id), later=True)
            fresh.scalar(session, {"n": 1})  # goes after the broken write, which the server refuses
    session.rollback()
    assert fresh.scalar(session, {"n": 1}) == 42
    assert fresh.scalar(session, {"n": 2}) == 43  # by name now
    assert session.scalar(text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%41 +%'")) == 1


def test_a_subject_read_ahead_is_read_again_after_a_write(runtime, session, volunteer, household, monkeypatch):
    # the household is read ahead with the sender; a handler that writes before it looks the
    # household up finds it as written, not as read ahead
    if runtime.db.is_sqlite:
        pytest.skip("subjects are read ahead only on PostgreSQL")
    renames = sql.Prepared(update(Household).where(Household.short_id == bindparam("short_id"))
                           .values(head_name=bindparam("head_name")))

    def renames_then_looks_up(ctx, parsed):
        renames.later(ctx.session, {"short_id": parsed.values["household"], "head_name": "Renamed Head"})
        found = household_by_id(ctx, parsed.values["household"])
        return Reply("recorded", {"household": found.short_id, "head": found.head_name, "next_due": "-"})

    monkeypatch.setitem(handlers.HANDLERS, "record_visit", renames_then_looks_up)
    outcome = send(runtime, volunteer.phone, f"V {household.short_id}")
    assert outcome.status == "accepted" and "Renamed Head" in outcome.reply


def test_a_subject_read_ahead_is_checked_against_the_senders_area(runtime, session, volunteer, household):
    # read ahead for the sender found by phone in the same round trip: another village's
    # volunteer is refused as when the handler reads the household itself
    elsewhere = factories.contact(session, areas=(factories.OTHER_VILLAGE,))
    outcome = send(runtime, elsewhere.phone, f"V {household.short_id}")
    assert (outcome.status, outcome.error) == ("rejected", "not_allowed")
    assert send(runtime, volunteer.phone, f"V {household.short_id}").status == "accepted"


def _round_trips(monkeypatch) -> list[list[str]]:
    """Record each round trip gateway.sql makes on PostgreSQL: the first words of each statement
    it carries, BEGIN included when it opens the transaction."""
    trips = []
    exchange = sql._Wire.exchange

    def recording(wire, commands, **kwargs):
        opens = wire.pgconn.transaction_status == pq.TransactionStatus.IDLE
        trips.append(["BEGIN"] * opens + [" ".join(plan.sql.split()[:3]) for _, plan, _ in commands])
        return exchange(wire, commands, **kwargs)

    monkeypatch.setattr(sql._Wire, "exchange", recording)
    return trips


def test_a_visit_takes_two_round_trips_and_the_commit_goes_with_its_writes(committing_app, monkeypatch):
    runtime = committing_app.extensions["fieldline"]
    if runtime.db.is_sqlite:
        pytest.skip("writes are held back only on PostgreSQL")
    with runtime.db.session_scope() as setup:
        volunteer = factories.contact(setup)
        first, short_id = (factories.household(setup, volunteer).short_id for _ in range(2))
        phone = volunteer.phone
    with committing_app.app_context():  # the report's check runs in this process once committed
        # the first new rows of a table in a process take a block of ids from its sequence first
        assert send(runtime, phone, f"V {first}").status == "accepted"
        trips = _round_trips(monkeypatch)
        assert send(runtime, phone, f"V {short_id}").status == "accepted"
    # BEGIN with the sender and the raw message, and the household read ahead; the rest with the
    # COMMIT. The handler's writes were all still held when it returned, so the savepoint before
    # them went nowhere
    assert trips[0] == ["BEGIN", "WITH sender AS", "SELECT households.id, households.short_id,"]
    [*writes, commit] = trips[1]
    assert len(trips) == 2 and commit == "COMMIT"
    assert {words.split()[0] for words in writes} == {"INSERT", "UPDATE"}
    with runtime.db.session_scope() as check:  # committed: another session sees it
        assert [check.get(Household, report.household_id).short_id
                for report in check.scalars(select(Report).order_by(Report.id))] == [first, short_id]

    # refused before any write: neither the savepoint nor a rollback to it reaches the server
    del trips[:]
    assert send(runtime, phone, "V 99999").status == "rejected"
    assert not any(words.startswith(("SAVEPOINT", "ROLLBACK")) for trip in trips for words in trip)
    assert trips == [["BEGIN", "WITH sender AS"], ["UPDATE inbound_messages SET", "COMMIT"]]


def test_a_write_that_fails_with_the_commit_keeps_the_message_as_failed(committing_app, monkeypatch):
    runtime = committing_app.extensions["fieldline"]
    with runtime.db.session_scope() as setup:
        volunteer = factories.contact(setup)
        short_id = factories.household(setup, volunteer).short_id
        phone = volunteer.phone
    monkeypatch.setitem(handlers.HANDLERS, "record_visit", breaks_a_constraint_late)
    outcome = send(runtime, phone, f"V {short_id}")
    assert (outcome.status, outcome.error) == ("failed", "failed")
    with runtime.db.session_scope() as check:
        assert count(check, Report) == 0 and count(check, DueItem) == 0
        [message] = check.scalars(select(InboundMessage)).all()
        assert (message.status.value, message.reply) == ("failed", outcome.reply)
