"""check_report and its sweeper, on the real Redis with a real RQ worker: each check flags with its
reason and keeps the record, a clean report is only marked checked, a second run changes nothing,
the verification sample raises verify alerts, and reports taken in while Redis was down are
checked once it is back."""
from __future__ import annotations

import dataclasses
import logging
import threading
from datetime import timedelta

import pytest
from redis import Redis
from sqlalchemy import select

from gateway import queue
from gateway.intake import CHECK_JOB
from gateway.models import Alert, AlertKind, PersonStatus, Report, ReportStatus
from gateway.queue import RUN_BATCH, BackgroundPusher, Job, batch_key, enqueue_after_commit, make_queues
from tests import factories
from tests.conftest import run_worker
from tests.helpers import accepted, send
from worker.checks import check_report, duplicate_window, in_verify_sample, sweep_unchecked


@pytest.fixture
def settings_overrides(redis_url):
    return {"REDIS_URL": redis_url, "VERIFY_SAMPLE": 0}


def report_of(session, outcome) -> Report:
    session.expire_all()
    return session.scalar(select(Report).where(Report.message_id == outcome.message_id))


def verify_alerts(session) -> list[Alert]:
    session.expire_all()
    return list(session.scalars(select(Alert).where(Alert.kind == AlertKind.verify).order_by(Alert.id)))


def assert_clean(report: Report) -> None:
    assert (report.status, report.flag_reason) == (ReportStatus.accepted, None)
    assert report.checked_at is not None


def assert_flagged(report: Report, reason: str) -> None:
    assert report.status is ReportStatus.flagged
    assert report.flag_reason == reason
    assert report.checked_at is not None


def test_clean_report_is_marked_checked_and_not_flagged(app, runtime, session, clock, volunteer, woman):
    outcome = accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    assert report_of(session, outcome).checked_at is None

    clock.advance(seconds=5)
    run_worker(app)

    report = report_of(session, outcome)
    assert_clean(report)
    assert report.checked_at == clock.now()
    assert verify_alerts(session) == []


def test_second_anc_within_a_week_is_flagged_as_a_duplicate_and_kept(app, runtime, session, clock, volunteer, woman):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    first = accepted(runtime, volunteer.phone, f"ANC {woman.short_id}")
    clock.advance(days=3)
    second = accepted(runtime, volunteer.phone, f"ANC {woman.short_id}")
    clock.advance(days=14)
    later = accepted(runtime, volunteer.phone, f"ANC {woman.short_id}")
    run_worker(app)

    first_id = report_of(session, first).id
    assert_clean(report_of(session, first))
    assert_flagged(report_of(session, second), f"possible duplicate of report {first_id} (same ANC within 7 days)")
    assert_clean(report_of(session, later))


def test_same_danger_twice_a_day_is_a_duplicate_but_not_on_the_next_day(app, runtime, session, clock, volunteer, woman):
    first = accepted(runtime, volunteer.phone, f"DANGER {woman.short_id} B")
    clock.advance(hours=2)
    again = accepted(runtime, volunteer.phone, f"DANGER {woman.short_id} F")
    clock.advance(hours=25)
    next_day = accepted(runtime, volunteer.phone, f"DANGER {woman.short_id} F")
    run_worker(app)

    assert_clean(report_of(session, first))
    assert_flagged(report_of(session, again),
                   f"possible duplicate of report {report_of(session, first).id} (same DANGER within 1 day)")
    assert_clean(report_of(session, next_day))


def test_a_report_marked_wrong_is_not_the_original_of_a_duplicate(app, runtime, session, clock, volunteer, woman):
    first = accepted(runtime, volunteer.phone, f"DANGER {woman.short_id} B")
    run_worker(app)
    report_of(session, first).status = ReportStatus.wrong
    session.flush()
    again = accepted(runtime, volunteer.phone, f"DANGER {woman.short_id} B")
    run_worker(app)

    assert_clean(report_of(session, again))


def test_duplicate_window_follows_the_schedules_a_form_clears(runtime):
    forms = runtime.pack.forms
    # half the spacing of the due contacts (34w and 36w), the day-1 and day-3 checks; an item's window
    assert duplicate_window(forms["ANC"], runtime.pack) == timedelta(days=7)
    assert duplicate_window(forms["PNC"], runtime.pack) == timedelta(days=1)
    assert duplicate_window(forms["V"], runtime.pack) == timedelta(days=28)
    assert duplicate_window(forms["FP"], runtime.pack) == timedelta(days=12)
    assert duplicate_window(forms["DANGER"], runtime.pack) == timedelta(days=1)
    assert duplicate_window(forms["PREG"], runtime.pack) == timedelta(days=1)
    own = dataclasses.replace(forms["ANC"], options={"duplicate_window_days": 3})
    assert duplicate_window(own, runtime.pack) == timedelta(days=3)


def test_staff_report_outside_their_areas_is_flagged(app, runtime, session, volunteer, woman):
    staff = factories.contact(session, role="staff", areas=("Kisumu/Nyando",), name="Otieno Staff")
    far_volunteer = factories.contact(session, areas=(factories.FAR_VILLAGE,), name="Achieng Far")
    far_household = factories.household(session, far_volunteer, village=factories.FAR_VILLAGE)
    far_woman = factories.person(session, far_household, far_volunteer, name="Awino Far")

    far = accepted(runtime, staff.phone, f"DANGER {far_woman.short_id} B")
    near = accepted(runtime, staff.phone, f"DANGER {woman.short_id} B")
    run_worker(app)

    assert_flagged(report_of(session, far), "outside the sender's villages")
    assert_clean(report_of(session, near))


def test_volunteer_report_is_flagged_when_the_village_is_no_longer_theirs(app, runtime, session, volunteer, woman):
    outcome = accepted(runtime, volunteer.phone, f"DANGER {woman.short_id} B")
    factories.contact(session, phone=volunteer.phone, areas=(factories.OTHER_VILLAGE,))  # reassigned
    run_worker(app)

    assert_flagged(report_of(session, outcome), "outside the sender's villages")


def test_birth_for_a_person_corrected_to_male_is_flagged(app, runtime, session, volunteer, woman):
    preg = accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 38W")
    birth = accepted(runtime, volunteer.phone, f"BIRTH {woman.short_id} today F 3.1")
    woman.sex = "M"  # an admin corrects the register before the checks run
    session.flush()
    run_worker(app)

    assert_flagged(report_of(session, preg), "PREG for a person registered as male")
    assert_flagged(report_of(session, birth), "BIRTH for a person registered as male")


def test_antenatal_contact_past_44_weeks_is_flagged(app, runtime, session, clock, volunteer, woman):
    preg = accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 40W")
    clock.advance(days=30)
    at_44 = accepted(runtime, volunteer.phone, f"ANC {woman.short_id}")
    clock.advance(days=7)
    at_45 = accepted(runtime, volunteer.phone, f"ANC {woman.short_id}")
    run_worker(app)

    assert_clean(report_of(session, preg))
    assert_clean(report_of(session, at_44))
    assert_flagged(report_of(session, at_45), "45 weeks of pregnancy (over 44)")


def test_birth_after_44_weeks_is_flagged(app, runtime, session, clock, volunteer, woman):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 40W")
    clock.advance(days=40)
    birth = accepted(runtime, volunteer.phone, f"BIRTH {woman.short_id} today H")
    run_worker(app)

    assert_flagged(report_of(session, birth), "45 weeks of pregnancy (over 44)")


def test_reports_made_after_a_backdated_death_are_flagged(app, runtime, session, clock, volunteer, woman):
    died_on = clock.today() - timedelta(days=3)
    preg = accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 20W")
    anc = accepted(runtime, volunteer.phone, f"ANC {woman.short_id}")
    death = accepted(runtime, volunteer.phone, f"DEATH {woman.short_id} 3D")
    run_worker(app)

    reason = f"the person is deceased since {died_on.isoformat()}"
    assert_flagged(report_of(session, preg), reason)
    assert_flagged(report_of(session, anc), reason)
    assert_clean(report_of(session, death))


def test_report_made_the_same_day_before_a_move_is_not_flagged(app, runtime, session, volunteer, woman):
    danger = accepted(runtime, volunteer.phone, f"DANGER {woman.short_id} B")
    out = accepted(runtime, volunteer.phone, f"OUT {woman.short_id} Nairobi")
    run_worker(app)

    assert_clean(report_of(session, danger))
    assert_clean(report_of(session, out))


def test_report_on_a_person_who_had_moved_out_is_flagged(app, runtime, session, clock, volunteer, woman):
    outcome = accepted(runtime, volunteer.phone, f"DANGER {woman.short_id} B")
    moved_on = clock.today() - timedelta(days=10)
    woman.status, woman.status_on = PersonStatus.moved_out, moved_on  # recorded before the check ran
    session.flush()
    run_worker(app)

    assert_flagged(report_of(session, outcome), f"the person is moved out since {moved_on.isoformat()}")


def test_pregnancy_starting_before_the_last_one_ended_is_flagged(app, runtime, session, clock, volunteer, woman):
    first = accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 20W")
    clock.advance(days=2)
    accepted(runtime, volunteer.phone, f"LOSS {woman.short_id} today")
    clock.advance(days=2)
    overlapping = accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 8W")  # LMP 8 weeks back
    run_worker(app)

    assert_flagged(report_of(session, overlapping), f"overlaps the pregnancy of report {report_of(session, first).id}")


def test_pregnancy_after_the_last_one_ended_is_not_flagged(app, runtime, session, clock, volunteer, woman):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 20W")
    clock.advance(days=2)
    accepted(runtime, volunteer.phone, f"LOSS {woman.short_id} today")
    clock.advance(days=60)
    again = accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 4W")
    run_worker(app)

    assert_clean(report_of(session, again))


def test_burst_of_more_than_30_reports_an_hour_flags_from_the_31st(app, runtime, session, clock, volunteer):
    outcomes = []
    for n in range(31):
        outcomes.append(accepted(runtime, volunteer.phone, f"HH Head Number {n}"))
        clock.advance(minutes=1)
    clock.advance(minutes=60)
    after_an_hour = accepted(runtime, volunteer.phone, "HH Head After")
    run_worker(app)

    for outcome in outcomes[:30]:
        assert_clean(report_of(session, outcome))
    assert_flagged(report_of(session, outcomes[30]), "burst of 31 reports from the sender in an hour (over 30)")
    assert_clean(report_of(session, after_an_hour))
    assert session.scalar(select(Report.id).where(Report.message_id == outcomes[30].message_id)) is not None


def test_several_reasons_are_joined(app, runtime, session, clock, volunteer, woman):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 40W")
    clock.advance(days=37)
    first = accepted(runtime, volunteer.phone, f"ANC {woman.short_id}")
    second = accepted(runtime, volunteer.phone, f"ANC {woman.short_id}")
    run_worker(app)

    assert_flagged(report_of(session, second),
                   f"possible duplicate of report {report_of(session, first).id} (same ANC within 7 days); "
                   "45 weeks of pregnancy (over 44)")


def test_running_check_report_twice_changes_nothing(app, runtime, session, clock, volunteer, woman):
    runtime.settings = runtime.settings.with_overrides({"VERIFY_SAMPLE": 1})
    outcomes = [
        accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W"),
        accepted(runtime, volunteer.phone, f"ANC {woman.short_id}"),
        accepted(runtime, volunteer.phone, f"ANC {woman.short_id}"),
    ]
    run_worker(app)
    ids = [report_of(session, o).id for o in outcomes]

    def state():
        session.expire_all()
        reports = [session.get(Report, i) for i in ids]
        return [(r.status, r.flag_reason, r.checked_at) for r in reports], [a.id for a in verify_alerts(session)]

    before = state()
    assert [s for s, _, _ in before[0]] == [ReportStatus.accepted, ReportStatus.accepted, ReportStatus.flagged]
    assert len(before[1]) == 2
    clock.advance(minutes=5)
    for report_id in ids:
        runtime.queues.enqueue(Job("checks", CHECK_JOB, (report_id,)))
    run_worker(app)
    with app.app_context():
        check_report(ids[0])
        check_report(10 ** 9)  # a report that does not exist: nothing to do

    assert state() == before


def test_verification_sample_of_one_sends_every_visit_and_event_to_a_supervisor(app, runtime, session, volunteer, household, woman):
    runtime.settings = runtime.settings.with_overrides({"VERIFY_SAMPLE": 1})
    preg = accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    danger = accepted(runtime, volunteer.phone, f"DANGER {woman.short_id} B")
    accepted(runtime, volunteer.phone, "HH Baraka Odhiambo")  # a registration, not a visit or event
    accepted(runtime, volunteer.phone, f"REG {household.short_id} M 30 Juma Ali")
    run_worker(app)

    alerts = verify_alerts(session)
    assert [a.report_id for a in alerts] == [report_of(session, preg).id, report_of(session, danger).id]
    for alert in alerts:
        assert (alert.person_id, alert.village_id) == (woman.id, household.village_id)
        assert alert.reason.startswith("verify in person: ")
    assert_clean(report_of(session, preg))


def test_verification_sample_of_zero_sends_none(app, runtime, session, volunteer, woman):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    accepted(runtime, volunteer.phone, f"DANGER {woman.short_id} B")
    run_worker(app)

    assert verify_alerts(session) == []


def test_verification_sample_takes_about_the_share_asked_and_always_the_same_reports():
    taken = [i for i in range(1, 20_001) if in_verify_sample(i, 0.05)]
    assert 0.045 <= len(taken) / 20_000 <= 0.055
    assert taken == [i for i in range(1, 20_001) if in_verify_sample(i, 0.05)]
    assert all(in_verify_sample(i, 1) for i in range(1, 1000))
    assert not any(in_verify_sample(i, 0) for i in range(1, 1000))


def test_sweeper_enqueues_reports_left_unchecked_for_over_a_minute(app, runtime, session, clock, redis_url, volunteer, woman):
    outcomes = [accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W"),
                accepted(runtime, volunteer.phone, f"DANGER {woman.short_id} B")]
    Redis.from_url(redis_url).flushdb()  # the enqueued checks are lost
    with app.app_context():
        assert sweep_unchecked() == 0  # not a minute old: their checks may still be on the way
        clock.advance(seconds=61)
        assert sweep_unchecked() == 2
    run_worker(app)

    for outcome in outcomes:
        assert_clean(report_of(session, outcome))
    with app.app_context():
        clock.advance(minutes=5)
        assert sweep_unchecked() == 0



def test_checks_enqueued_inside_a_savepoint_wait_for_the_outer_commit(runtime):
    checks = runtime.queues.queues["checks"]
    session = runtime.db.session()
    try:
        with session.begin_nested():  # as intake runs a handler that raises an alert
            enqueue_after_commit(session, runtime.queues, "checks", CHECK_JOB, 1)
        enqueue_after_commit(session, runtime.queues, "checks", CHECK_JOB, 2)
        assert checks.count == 0
        session.commit()
        assert [job.args for job in checks.jobs] == [(1,), (2,)]

        session.connection()  # a transaction that will be rolled back
        enqueue_after_commit(session, runtime.queues, "checks", CHECK_JOB, 3)
        session.rollback()
        session.commit()
        assert checks.count == 2
    finally:
        session.close()

# -- checks in batches ----------------------------------------------------------------------------

def test_accepted_reports_wait_in_one_batch_taken_by_one_job(app, runtime, session, volunteer, woman, caplog):
    checks = runtime.queues.queues["checks"]
    outcomes = [accepted(runtime, volunteer.phone, text)
                for text in (f"PREG {woman.short_id} 12W", f"ANC {woman.short_id}", "HH Baraka Odhiambo")]
    ids = [report_of(session, o).id for o in outcomes]
    redis = runtime.queues.redis
    assert [int(i) for i in redis.lrange(batch_key(CHECK_JOB), 0, -1)] == ids
    assert [(job.func_name, job.args) for job in checks.jobs] == [(RUN_BATCH, (CHECK_JOB, "checks"))]
    assert runtime.queues.depths()["checks"] == 3 + 1  # what /health and /metrics show waiting

    caplog.set_level(logging.INFO, logger="gateway.queue")
    run_worker(app)
    for outcome in outcomes:
        assert_clean(report_of(session, outcome))
    assert redis.llen(batch_key(CHECK_JOB)) == 0 and not redis.exists(batch_key(CHECK_JOB) + ":waiting")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("job check_report(")]
    assert [line.split(")")[0] for line in lines] == [f"job check_report({i}" for i in ids]

    # the next report, after the run: a new run is enqueued for it
    later = accepted(runtime, volunteer.phone, "HH Zawadi Achieng")
    assert [job.func_name for job in checks.jobs] == [RUN_BATCH]
    run_worker(app)
    assert_clean(report_of(session, later))


def test_pushed_from_a_thread_the_ids_reach_the_batch_and_are_checked(app, runtime, session, volunteer, woman):
    # as in the web app's workers (gateway/wsgi.py): the request hands its ids over, a thread pushes them
    runtime.queues.push_in_background()
    outcomes = [accepted(runtime, volunteer.phone, text) for text in (f"PREG {woman.short_id} 12W", f"ANC {woman.short_id}")]
    assert runtime.queues.flush(timeout=5)
    redis = runtime.queues.redis
    assert [int(i) for i in redis.lrange(batch_key(CHECK_JOB), 0, -1)] == [report_of(session, o).id for o in outcomes]
    assert [job.func_name for job in runtime.queues.queues["checks"].jobs] == [RUN_BATCH]
    run_worker(app)
    for outcome in outcomes:
        assert_clean(report_of(session, outcome))


def test_ids_handed_over_while_a_push_is_on_its_way_go_together_in_the_next():
    pushes, first_push_started, release = [], threading.Event(), threading.Event()

    def push(jobs):
        pushes.append([job.args[0] for job in jobs])
        first_push_started.set()
        assert release.wait(5)

    pusher = BackgroundPusher(push)
    job = lambda n: Job("checks", CHECK_JOB, (n,), batched=True)  # noqa: E731
    pusher.add([job(1)])
    assert first_push_started.wait(5)
    pusher.add([job(2)])
    pusher.add([job(3), job(4)])
    assert not pusher.flush(timeout=0.05)  # the first push still hangs: nothing waits on it but flush
    release.set()
    assert pusher.flush(timeout=5)
    assert pushes == [[1], [2, 3, 4]]


def test_jobs_handed_over_within_a_moment_go_in_one_push(monkeypatch):
    monkeypatch.setattr(queue, "PUSH_LINGER", 1.0)  # long enough for any machine to hand over three
    pushes, pushed = [], threading.Event()

    def push(jobs):
        pushes.append([job.args[0] for job in jobs])
        pushed.set()

    pusher = BackgroundPusher(push)
    for n in (1, 2, 3):
        pusher.add([Job("checks", CHECK_JOB, (n,), batched=True)])
    assert not pushed.wait(0.2)  # the first waits for company
    assert pushed.wait(5)
    assert pushes == [[1, 2, 3]]

    monkeypatch.setattr(queue, "PUSH_LINGER", 60.0)
    monkeypatch.setattr(queue, "PUSH_MOST", 2)
    pushed.clear()
    pusher.add([Job("checks", CHECK_JOB, (n,), batched=True) for n in (4, 5)])
    assert pushed.wait(5)  # enough to go without waiting
    pushed.clear()
    pusher.add([Job("checks", CHECK_JOB, (6,), batched=True)])
    assert pusher.flush(timeout=5)  # a flush does not wait out the linger either
    assert pushes == [[1, 2, 3], [4, 5], [6]]


def test_with_redis_gone_a_push_fails_in_its_thread_and_the_message_is_answered(
        app, runtime, session, volunteer, woman, caplog):
    runtime.queues = make_queues("redis://127.0.0.1:1/0")  # nothing listens there
    runtime.queues.push_in_background()
    outcome = accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    assert runtime.queues.flush(timeout=10)
    assert "could not enqueue 1 job(s) (ConnectionError); the sweepers will" in caplog.text
    report = report_of(session, outcome)
    assert report.checked_at is None  # left for sweep_unchecked, as when Redis is down at the commit


def test_an_id_pushed_while_a_run_goes_on_is_taken_by_it_or_by_the_next(app, runtime, session, volunteer, monkeypatch):
    import worker.checks

    first = accepted(runtime, volunteer.phone, "HH Baraka Odhiambo")
    pushed = []
    check = worker.checks.check_report

    def check_while_a_message_comes(report_id: int) -> None:
        check(report_id)
        if not pushed:  # a message taken in while the run is half-way: the run's flag is cleared
            pushed.append(accepted(runtime, volunteer.phone, "HH Zawadi Achieng"))
            assert [job.func_name for job in runtime.queues.queues["checks"].jobs] == [RUN_BATCH]

    monkeypatch.setattr(worker.checks, "check_report", check_while_a_message_comes)
    run_worker(app)
    assert_clean(report_of(session, first))
    assert_clean(report_of(session, pushed[0]))
    assert runtime.queues.redis.llen(batch_key(CHECK_JOB)) == 0
    assert runtime.queues.queues["checks"].count == 0


def test_a_long_batch_is_split_across_runs_and_a_failing_check_does_not_stop_the_rest(
        app, runtime, session, volunteer, monkeypatch, caplog):
    import gateway.queue as queue

    monkeypatch.setattr(queue, "BATCH_RUN", 2)
    monkeypatch.setattr(queue, "BATCH_TAKE", 1)
    outcomes = [accepted(runtime, volunteer.phone, f"HH Head {n}") for n in range(5)]
    redis = runtime.queues.redis
    redis.lpush(batch_key(CHECK_JOB), "not-an-id")
    caplog.set_level(logging.INFO, logger="gateway.queue")
    with app.app_context():
        assert queue.run_batch(CHECK_JOB, "checks") == 2  # the bad one, then one report; the rest wait
    assert redis.llen(batch_key(CHECK_JOB)) == 4 and redis.exists(batch_key(CHECK_JOB) + ":waiting")
    assert [report_of(session, o).checked_at is not None for o in outcomes] == [True, False, False, False, False]

    run_worker(app)
    for outcome in outcomes:
        assert_clean(report_of(session, outcome))
    assert redis.llen(batch_key(CHECK_JOB)) == 0
    failed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("job check_report")
              and "failed" in r.getMessage()]
    assert [line.split(" failed")[0] for line in failed] == ["job check_report(not-an-id)"]
    assert any(r.getMessage().startswith("batched job worker.checks.check_report(not-an-id) failed")
               for r in caplog.records)


# -- an intake while Redis is down --------------------------------------------------------------

class TestRedisOutage:
    @pytest.fixture
    def settings_overrides(self, private_redis):
        return {"REDIS_URL": private_redis.url, "VERIFY_SAMPLE": 0}

    def test_reports_taken_in_while_redis_is_down_are_checked_after_the_sweep(
        self, app, runtime, session, clock, private_redis, volunteer, woman, caplog,
    ):
        private_redis.stop()
        caplog.set_level(logging.WARNING, logger="gateway.queue")
        texts = [f"PREG {woman.short_id} 12W", f"ANC {woman.short_id}", "HH Baraka Odhiambo"]
        outcomes = [send(runtime, volunteer.phone, text) for text in texts]

        assert [o.status for o in outcomes] == ["accepted"] * 3
        assert outcomes[0].reply.startswith("Pregnancy of Amina Juma")
        reports = [report_of(session, o) for o in outcomes]
        assert all(r is not None and r.checked_at is None for r in reports)
        assert sum("could not enqueue worker.checks.check_report" in r.getMessage() for r in caplog.records) == 3

        private_redis.start()
        clock.advance(minutes=2)
        with app.app_context():
            assert sweep_unchecked() == 3
        run_worker(app)

        for outcome in outcomes:
            assert_clean(report_of(session, outcome))
