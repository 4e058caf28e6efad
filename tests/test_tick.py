"""tick(): one digest a day per volunteer inside the sending window, at most two SMS long; stale
care becomes an overdue alert instead of a late reminder; a tick twice in a minute sends once;
the monthly summary on the first of the month. On the real Redis, with a real RQ worker."""
from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from gateway.models import (
    AlertKind,
    AlertStatus,
    DueItem,
    DueStatus,
    OptOut,
    OutgoingKind,
    OutgoingMessage,
    OutgoingStatus,
    Person,
)
from gateway.sms import segments
from tests import factories
from tests.conftest import run_worker
from tests.helpers import accepted
from tests.ticking import TOWNSHIP, alerts, at, due, messages, staff, tick_at

DAY = date(2026, 11, 30)


@pytest.fixture
def settings_overrides(redis_url):
    return {"REDIS_URL": redis_url}


def reminders(session, volunteer=None) -> list[OutgoingMessage]:
    return messages(session, OutgoingKind.reminder, volunteer.phone if volunteer else None)


# -- the sending window and one digest a day ----------------------------------------------------------

def test_the_digest_lists_due_care_as_one_sms_and_is_sent(app, session, volunteer, woman):
    due(session, volunteer=volunteer, person=woman, on=DAY)
    session.commit()
    result = tick_at(app, at(DAY, 8))
    assert result["digests"] == 1
    [sms] = reminders(session)
    assert sms.body == f"Due: ANC 26w Amina Juma {woman.short_id}"
    assert (sms.to, sms.contact_id, sms.dedupe_key) == (volunteer.phone, volunteer.id, f"digest:{volunteer.id}:2026-11-30")
    run_worker(app)
    assert reminders(session)[0].status is OutgoingStatus.sent


def test_nothing_goes_out_before_the_window_opens_or_once_it_has_closed(app, session, volunteer, woman):
    due(session, volunteer=volunteer, person=woman, on=DAY)
    session.commit()
    assert tick_at(app, at(DAY, 7, 59))["digests"] == 0
    assert reminders(session) == []
    assert tick_at(app, at(DAY, 8, 0))["digests"] == 1
    # the next day: nothing at 19:00 (the window is 08:00-19:00), sent at 18:59 the day after
    assert tick_at(app, at(DAY + timedelta(days=1), 19, 0))["digests"] == 0
    assert tick_at(app, at(DAY + timedelta(days=1), 23, 30))["digests"] == 0
    assert len(reminders(session)) == 1
    assert tick_at(app, at(DAY + timedelta(days=2), 18, 59))["digests"] == 1
    assert [m.dedupe_key for m in reminders(session)] == [
        f"digest:{volunteer.id}:2026-11-30", f"digest:{volunteer.id}:2026-12-02"]


def test_one_digest_a_day_and_a_new_one_the_next_day(app, session, volunteer, woman):
    due(session, volunteer=volunteer, person=woman, on=DAY)
    session.commit()
    tick_at(app, at(DAY, 8))
    tick_at(app, at(DAY, 8, 1))
    tick_at(app, at(DAY, 15, 30))
    assert len(reminders(session)) == 1
    tick_at(app, at(DAY + timedelta(days=1), 8))
    sent = reminders(session)
    assert len(sent) == 2 and sent[0].body == sent[1].body


def test_care_that_falls_due_later_in_the_day_reaches_a_volunteer_without_a_digest(app, session, volunteer, woman):
    tick_at(app, at(DAY, 8))
    assert reminders(session) == []
    due(session, volunteer=volunteer, person=woman, on=DAY)
    session.commit()
    tick_at(app, at(DAY, 11, 15))
    assert len(reminders(session)) == 1


def test_care_not_yet_due_is_not_sent(app, session, volunteer, woman):
    due(session, volunteer=volunteer, person=woman, on=DAY + timedelta(days=1))
    session.commit()
    tick_at(app, at(DAY, 8))
    assert reminders(session) == []


def test_each_volunteer_gets_their_own_digest_in_their_language(app, session, volunteer, household, woman):
    lina = factories.contact(session, name="Li Na", language="zh", areas=(factories.OTHER_VILLAGE,))
    home = factories.household(session, lina, village=factories.OTHER_VILLAGE, head="王伟")
    limei = factories.person(session, home, lina, name="李梅")
    due(session, volunteer=volunteer, person=woman, on=DAY - timedelta(days=2))
    due(session, volunteer=volunteer, household=household, schedule="household_visit", item="visit", on=DAY)
    due(session, volunteer=lina, person=limei, schedule="postnatal", item="pnc_d3", on=DAY)
    due(session, volunteer=lina, household=home, schedule="fp_pills", item="resupply_pills", on=DAY)
    session.commit()
    tick_at(app, at(DAY, 8))
    assert reminders(session, volunteer)[0].body == (
        f"Due: ANC 26w Amina Juma {woman.short_id}; Visit Juma Ali {household.short_id}")
    assert reminders(session, lina)[0].body == (
        f"待办：产后第3天 李梅 {limei.short_id}; 避孕药 王伟 {home.short_id}")


def test_a_long_digest_stops_at_two_segments_and_counts_the_rest(app, session, volunteer, household):
    people = [factories.person(session, household, volunteer, name=f"Mwanaisha Wanjiku {i:02d}") for i in range(25)]
    for i, person in enumerate(people):
        due(session, volunteer=volunteer, person=person, on=DAY - timedelta(days=5) + timedelta(days=i // 5))
    session.commit()
    tick_at(app, at(DAY, 8))
    [sms] = reminders(session)
    encoding, count = segments(sms.body)
    assert (encoding, count) == ("GSM-7", 2)
    listed = sms.body.removeprefix("Due: ").split("; ")
    shown, more = listed[:-1], listed[-1]
    assert more == f"+{25 - len(shown)} more"
    # the earliest care first, and every one shown is named with the person's ID
    assert shown == [f"ANC 26w {p.name} {p.short_id}" for p in people[:len(shown)]]
    assert 5 <= len(shown) < 25


def test_people_who_are_off_moved_out_or_deceased_are_left_out(app, session, volunteer, household, woman):
    off, moved, died, muted = (factories.person(session, household, volunteer, name=n)
                               for n in ("Off Person", "Moved Person", "Dead Person", "Flag Person"))
    for person in (woman, off, moved, died, muted):
        due(session, volunteer=volunteer, person=person, on=DAY)
    session.commit()
    accepted(app.extensions["fieldline"], volunteer.phone, f"OFF {off.short_id}")
    accepted(app.extensions["fieldline"], volunteer.phone, f"OUT {moved.short_id} Nairobi")
    accepted(app.extensions["fieldline"], volunteer.phone, f"DEATH {died.short_id} today")
    # reminders off, even were an item left open
    session.get(Person, muted.id).reminders_off = True
    session.commit()
    tick_at(app, at(DAY, 8))
    [sms] = reminders(session)
    assert sms.body == f"Due: ANC 26w Amina Juma {woman.short_id}"


def test_a_volunteer_whose_number_opted_out_is_sent_nothing(app, session, volunteer, woman):
    due(session, volunteer=volunteer, person=woman, on=DAY)
    session.add(OptOut(phone=volunteer.phone, source="sms"))
    session.commit()
    assert tick_at(app, at(DAY, 8))["digests"] == 0
    assert reminders(session) == []


def test_an_inactive_volunteer_is_sent_nothing(app, session, volunteer, woman):
    due(session, volunteer=volunteer, person=woman, on=DAY)
    volunteer.active = False
    session.commit()
    tick_at(app, at(DAY, 8))
    assert reminders(session) == []


def test_a_pregnancy_reported_by_sms_is_reminded_on_its_due_day(app, session, volunteer, woman):
    runtime = app.extensions["fieldline"]
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 11W")  # on 2026-11-29: the 12-week contact is due 12-06
    tick_at(app, at(date(2026, 12, 5), 9))
    assert reminders(session) == []
    tick_at(app, at(date(2026, 12, 6), 9))
    assert reminders(session)[0].body == f"Due: ANC 12w Amina Juma {woman.short_id}"


# -- stale care: an alert to staff, not a late reminder -----------------------------------------------

def test_care_over_a_week_past_due_becomes_an_overdue_alert_not_a_reminder(app, session, volunteer, household, woman):
    grace = staff(session, TOWNSHIP)
    on_time = factories.person(session, household, volunteer, name="Week Old")
    stale = due(session, volunteer=volunteer, person=woman, on=DAY - timedelta(days=8))
    last_day = due(session, volunteer=volunteer, person=on_time, on=DAY - timedelta(days=7))
    session.commit()
    result = tick_at(app, at(DAY, 8))
    assert (result["stale"], result["digests"]) == (1, 1)
    session.expire_all()
    item = session.get(DueItem, stale.id)
    assert item.status is DueStatus.overdue
    assert item.reason == "not done within 7 days of 2026-11-22"
    assert session.get(DueItem, last_day.id).status is DueStatus.open
    [alert] = alerts(session)
    assert (alert.kind, alert.status, alert.due_item_id, alert.person_id) == (
        AlertKind.overdue, AlertStatus.open, stale.id, woman.id)
    assert "not done within 7 days of 2026-11-22" in alert.reason
    # the volunteer is reminded of the week-old item only
    assert reminders(session)[0].body == f"Due: ANC 26w Week Old {on_time.short_id}"
    run_worker(app)
    [sms] = messages(session, OutgoingKind.alert)
    assert sms.to == grace.phone
    assert sms.body == (f"ALERT {alert.id}: ANC 26w for Amina Juma ({woman.short_id}), Kanyagwal, "
                        f"not done since 2026-11-22. Reply ACK {alert.id}")
    # the next day it is not alerted again; the item that was a week late yesterday is now
    tick_at(app, at(DAY + timedelta(days=1), 8))
    assert [a.due_item_id for a in alerts(session)] == [stale.id, last_day.id]


def test_an_overdue_household_visit_alerts_staff_about_the_household(app, session, volunteer, household):
    grace = staff(session, TOWNSHIP)
    item = due(session, volunteer=volunteer, household=household, schedule="household_visit", item="visit",
               on=DAY - timedelta(days=20))
    session.commit()
    tick_at(app, at(DAY, 10))
    [alert] = alerts(session)
    assert (alert.person_id, alert.household_id, alert.village_id, alert.due_item_id) == (
        None, household.id, household.village_id, item.id)
    run_worker(app)
    [sms] = messages(session, OutgoingKind.alert, grace.phone)
    assert sms.body.startswith(f"ALERT {alert.id}: Visit for Juma Ali ({household.short_id}), Kanyagwal, not done since")


def test_stale_care_waits_for_the_sending_window(app, session, volunteer, woman):
    due(session, volunteer=volunteer, person=woman, on=DAY - timedelta(days=10))
    session.commit()
    assert tick_at(app, at(DAY, 3))["stale"] == 0
    assert alerts(session) == []
    assert tick_at(app, at(DAY, 8))["stale"] == 1


# -- two ticks in one minute ---------------------------------------------------------------------------

def test_a_second_tick_in_the_same_minute_is_turned_away_by_the_redis_lock(app, session, volunteer, woman):
    due(session, volunteer=volunteer, person=woman, on=DAY)
    session.commit()
    assert tick_at(app, at(DAY, 8))["digests"] == 1
    assert tick_at(app, at(DAY, 8)) == {"skipped": True}
    assert len(reminders(session)) == 1


def test_without_the_lock_the_database_still_sends_each_digest_once(app, session, volunteer, woman):
    from redis import Redis

    due(session, volunteer=volunteer, person=woman, on=DAY)
    session.commit()
    tick_at(app, at(DAY, 8))
    Redis.from_url(app.extensions["fieldline"].settings.REDIS_URL).flushdb()  # the lock is gone
    assert tick_at(app, at(DAY, 8))["digests"] == 0
    assert len(reminders(session)) == 1


def test_two_processes_ticking_at_once_send_each_digest_once(committing_app):
    """Two ticks really at once, each in its own database connection and transaction."""
    from gateway.models import DueItem as Item

    runtime = committing_app.extensions["fieldline"]
    runtime.clock.set(at(DAY, 8))
    with runtime.db.session_scope() as session:
        volunteers = [factories.contact(session, name=f"Volunteer {i}") for i in range(6)]
        for v in volunteers:
            home = factories.household(session, v)
            person = factories.person(session, home, v)
            session.add(Item(schedule="antenatal", item="anc_26w", person_id=person.id, volunteer_id=v.id,
                             due_on=DAY, window_start=DAY, window_end=DAY))
    results, errors = [], []

    def run():
        try:
            with committing_app.app_context():
                from worker.tick import tick

                results.append(tick())
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sum(r["digests"] for r in results) == 6
    with runtime.db.session_scope() as session:
        keys = list(session.scalars(select(OutgoingMessage.dedupe_key).where(OutgoingMessage.kind == OutgoingKind.reminder)))
    assert sorted(keys) == sorted(f"digest:{v.id}:2026-11-30" for v in volunteers)


# -- a failing step --------------------------------------------------------------------------------------

def test_a_failing_step_does_not_stop_the_others(app, session, volunteer, woman, monkeypatch):
    import worker.tick

    def broken(session, runtime, now):
        raise RuntimeError("broken")

    monkeypatch.setattr(worker.tick, "STEPS", (("stale", broken),) + worker.tick.STEPS[1:])
    due(session, volunteer=volunteer, person=woman, on=DAY)
    session.commit()
    result = tick_at(app, at(DAY, 8))
    assert result["stale"] == "failed" and result["digests"] == 1


# -- the monthly summary -------------------------------------------------------------------------------

def test_the_monthly_summary_goes_to_staff_on_the_first_of_the_month(app, session, volunteer, household, woman):
    runtime = app.extensions["fieldline"]
    grace = staff(session, TOWNSHIP)
    li = staff(session, TOWNSHIP, name="Li Hua", language="zh")
    other = factories.household(session, volunteer, village=factories.OTHER_VILLAGE, head="Otieno")
    mary = factories.person(session, other, volunteer, name="Mary Otieno")
    session.commit()
    runtime.clock.set(at(date(2026, 11, 3), 10))
    accepted(runtime, volunteer.phone, f"V {household.short_id}")
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 30W")
    runtime.clock.set(at(date(2026, 11, 10), 10))
    accepted(runtime, volunteer.phone, f"ANC {woman.short_id}")  # the 30-week contact, on time
    runtime.clock.set(at(date(2026, 11, 20), 10))
    accepted(runtime, volunteer.phone, f"BIRTH {woman.short_id} today F 3.2")
    accepted(runtime, volunteer.phone, f"V {household.short_id}")
    # October's visit is not November's
    runtime.clock.set(at(date(2026, 10, 30), 10))
    accepted(runtime, grace.phone, f"V {other.short_id}")
    assert tick_at(app, at(date(2026, 11, 30), 8))["summaries"] == 0
    assert tick_at(app, at(date(2026, 12, 1), 7, 59))["summaries"] == 0
    assert tick_at(app, at(date(2026, 12, 1), 8))["summaries"] == 2
    [english] = messages(session, OutgoingKind.summary, grace.phone)
    assert english.dedupe_key == f"summary:{grace.id}:2026-11"
    lines = english.body.split("\n")
    assert lines[0].startswith("Fieldline 2026-11. V visits")
    # the birth ended the antenatal care: the 34-week contact is not counted. The windows of PNC
    # days 1 and 3 closed in November, with neither done; day 1 became overdue care on 11-30
    assert lines[1:] == ["Kanyagwal: V2 P1 B1 ANC1/1 PNC0/2 OD1 F0", "Ombeyi: V0 P0 B0 ANC- PNC- OD0 F0"]
    assert segments(english.body)[1] <= 2
    [chinese] = messages(session, OutgoingKind.summary, li.phone)
    assert chinese.body.split("\n")[1] == "Kanyagwal：访2 孕1 生1 检1/1 后0/2 逾1 标0"
    assert mary.id  # Ombeyi is listed though nothing happened there
    # once a month
    assert tick_at(app, at(date(2026, 12, 1), 9))["summaries"] == 0
    assert tick_at(app, at(date(2026, 12, 2), 8))["summaries"] == 0
    assert len(messages(session, OutgoingKind.summary)) == 2


def test_a_summary_of_many_villages_is_cut_into_sms_of_two_segments(app, session, volunteer):
    from gateway.roster import area_by_path

    grace = staff(session, TOWNSHIP)
    for i in range(60):
        area_by_path(session, f"{TOWNSHIP}/Village number {i:02d}", create=True)
    session.commit()
    tick_at(app, at(date(2026, 12, 1), 8))
    sent = messages(session, OutgoingKind.summary, grace.phone)
    assert 1 < len(sent) <= 4
    assert all(segments(m.body)[1] <= 2 for m in sent)
    assert [m.dedupe_key for m in sent] == [f"summary:{grace.id}:2026-11"] + [
        f"summary:{grace.id}:2026-11:{n}" for n in range(2, len(sent) + 1)]
    assert sent[1].body.startswith("Fieldline 2026-11, more:")
    assert sent[-1].body.split("\n")[-1].endswith("more villages: see the dashboard")
    assert tick_at(app, at(date(2026, 12, 1), 10))["summaries"] == 0


# -- how care is named -------------------------------------------------------------------------------

@pytest.mark.parametrize("schedule, item, lang, label", [
    ("antenatal", "anc_26w", "en", "ANC 26w"),
    ("antenatal", "anc_26w", "zh", "产检26周"),
    ("postnatal", "pnc_d3", "en", "PNC day 3"),
    ("postnatal", "pnc_d42", "fr", "CPoN J42"),
    ("household_visit", "visit", "sw", "Ziara"),
    ("fp_pills", "resupply_pills", "en", "FP pills"),
    ("antenatal", "anc_99w", "en", "anc_99w"),  # an item the schedule no longer has: its name
])
def test_schedules_name_their_items_in_each_language(runtime, schedule, item, lang, label):
    assert runtime.pack.schedules[schedule].label(item, lang) == label


def test_an_items_own_label_replaces_the_schedules(tmp_path):
    from gateway.formpack import FormPackError
    from gateway.schedules import schedules_from_dict

    found = schedules_from_dict(tmp_path, {"s": {"label": {"en": "Check {days}d"}, "items": [
        {"item": "a", "at": "3d"}, {"item": "b", "at": "2w", "label": {"en": "Big check", "fr": "Grand"}}]}})["s"]
    assert [found.label("a", "fr"), found.label("b", "en"), found.label("b", "fr")] == ["Check 3d", "Big check", "Grand"]
    with pytest.raises(FormPackError, match="an English"):
        schedules_from_dict(tmp_path, {"s": {"label": {"fr": "x"}, "items": [{"item": "a", "at": "1d"}]}})


# -- fieldline serve in the embedded mode ------------------------------------------------------------

def test_the_embedded_ticker_runs_tick_in_an_app_context_until_stopped(app, monkeypatch, caplog):
    import worker.tick
    from gateway.runtime import current_runtime
    from worker.runner import start_embedded_ticker

    ran = threading.Event()
    seen = []
    monkeypatch.setattr(worker.tick, "tick", lambda: (seen.append(current_runtime()), ran.set()))
    stop = threading.Event()
    with caplog.at_level("INFO", logger="worker.runner"):
        thread = start_embedded_ticker(app, interval=0.05, stop=stop)
    assert ran.wait(5)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert seen[0] is app.extensions["fieldline"]
    assert "embedded mode: tick() runs in this process at each minute" in caplog.text


@pytest.mark.parametrize("redis, started", [(False, 1), (True, 0)])
def test_serve_runs_the_tick_in_process_only_in_the_embedded_mode(tmp_path, monkeypatch, redis_url, redis, started):
    from click.testing import CliRunner

    from gateway.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    monkeypatch.setenv("REDIS_URL", redis_url if redis else "")
    tickers = []
    monkeypatch.setattr("worker.runner.start_embedded_ticker", lambda app: tickers.append(app))
    monkeypatch.setattr("flask.Flask.run", lambda self, **kwargs: None)
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 0, result.output
    assert len(tickers) == started
