"""A message's writes in one pipeline (PostgreSQL): what a refusal or a failure leaves, and the
ids new rows take from their sequence. On SQLite the same tests run without a pipeline."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select, text

from gateway import handlers, sql
from gateway.handlers import Refusal, Reply
from gateway.handlers.common import add_report, household_by_id
from gateway.health import read_state
from gateway.models import DueItem, InboundMessage, Report
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


def test_a_write_that_fails_after_the_handler_returned_keeps_the_message_as_failed(
        runtime, session, volunteer, household, monkeypatch):
    # in a pipeline the broken write is met only when the writes are sent, after the handler
    # returned; the message goes again a statement at a time and is kept as failed, as without one
    def breaks_a_constraint_late(ctx, parsed):
        household = household_by_id(ctx, parsed.values["household"])
        report = add_report(ctx, parsed.values, household=household)
        sql.add(ctx.session, DueItem, _due_item(NO_SUCH_PERSON, household.id), later=True)
        return Reply("recorded", {"household": household.short_id, "head": household.head_name, "next_due": "-"},
                     {"type": "report", "id": str(report.id)}, report.id)

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
    # psycopg forgets (and deallocates) every statement it prepared on seeing one end in ROLLBACK,
    # a ROLLBACK TO SAVEPOINT included: each was then parsed and planned anew for ten or so runs
    if runtime.db.is_sqlite:
        pytest.skip("statements are prepared on the server only on PostgreSQL")
    for _ in range(6):  # psycopg prepares a statement on its fifth run on a connection
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
