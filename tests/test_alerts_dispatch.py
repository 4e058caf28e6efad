"""Alerts reach the staff of the subject's area by SMS at once, and go up the area tree when nobody
acknowledges them in time. On the real Redis, with a real RQ worker."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from gateway.alerts import raise_alert, staff_levels
from gateway.models import Alert, AlertKind, AlertStatus, OutgoingKind, OutgoingStatus
from tests import factories
from tests.conftest import run_worker
from tests.helpers import accepted, send
from tests.ticking import DISTRICT, TOWNSHIP, alerts, at, messages, staff, tick_at

DAY = date(2026, 11, 30)
NO_HIGHER = "not acknowledged, and no higher level has staff to escalate to"


@pytest.fixture
def settings_overrides(redis_url):
    return {"REDIS_URL": redis_url}


@pytest.fixture
def township(session):
    return staff(session, TOWNSHIP, name="Grace Achieng")


@pytest.fixture
def district(session):
    return staff(session, DISTRICT, name="Peter Omondi")


def report_danger(app, volunteer, woman, when) -> Alert:
    runtime = app.extensions["fieldline"]
    runtime.clock.set(when)
    accepted(runtime, volunteer.phone, f"DANGER {woman.short_id} BF")
    run_worker(app)
    return alerts(runtime.db.session())[-1]


def alert_sms(session, contact) -> list:
    return messages(session, OutgoingKind.alert, contact.phone)


def test_a_danger_sign_reaches_the_township_staff_within_the_minute(app, session, volunteer, woman, township, district):
    alert = report_danger(app, volunteer, woman, at(DAY, 14, 5))
    [sms] = alert_sms(session, township)
    assert sms.body == f"ALERT {alert.id}: danger signs BF for Amina Juma ({woman.short_id}), Kanyagwal. Reply ACK {alert.id}"
    assert (sms.alert_id, sms.contact_id, sms.dedupe_key) == (alert.id, township.id, f"alert:{alert.id}:0:{township.id}")
    assert sms.status is OutgoingStatus.sent
    assert (alert.level, alert.notified_at) == (0, at(DAY, 14, 5))
    assert alert_sms(session, district) == []


def test_staff_of_the_village_itself_come_first(app, session, volunteer, woman, township):
    nurse = staff(session, factories.VILLAGE, name="Village Nurse")
    session.commit()
    alert = report_danger(app, volunteer, woman, at(DAY, 14, 5))
    assert len(alert_sms(session, nurse)) == 1
    assert alert_sms(session, township) == []
    assert [area.name for area, _ in staff_levels(session, alert.village_id)] == ["Kanyagwal", "Nyando"]


def test_an_unanswered_danger_alert_goes_up_after_30_minutes_and_stops_at_the_top(
        app, session, volunteer, woman, township, district):
    alert = report_danger(app, volunteer, woman, at(DAY, 14, 5))
    assert tick_at(app, at(DAY, 14, 34))["escalated"] == 0
    assert alert_sms(session, district) == []
    assert tick_at(app, at(DAY, 14, 36))["escalated"] == 1
    run_worker(app)
    session.expire_all()
    alert = session.get(Alert, alert.id)
    assert (alert.level, alert.status, alert.notified_at) == (1, AlertStatus.open, at(DAY, 14, 36))
    assert alert.history[-1].note == "escalated to Kisumu"
    [sms] = alert_sms(session, district)
    assert sms.body.startswith(f"ALERT {alert.id}: danger signs BF") and sms.dedupe_key == f"alert:{alert.id}:1:{district.id}"
    assert len(alert_sms(session, township)) == 1
    # no level above the district: recorded once, and the alert stays open where it is
    assert tick_at(app, at(DAY, 15, 7))["escalated"] == 0
    tick_at(app, at(DAY, 16, 30))
    session.expire_all()
    alert = session.get(Alert, alert.id)
    assert [e.note for e in alert.history].count(NO_HIGHER) == 1
    assert (alert.level, alert.status) == (1, AlertStatus.open)
    assert len(messages(session, OutgoingKind.alert)) == 2


def test_ack_stops_the_escalation(app, session, volunteer, woman, township, district):
    alert = report_danger(app, volunteer, woman, at(DAY, 14, 5))
    app.extensions["fieldline"].clock.set(at(DAY, 14, 20))
    assert send(app.extensions["fieldline"], township.phone, f"ACK {alert.id}").status == "accepted"
    assert tick_at(app, at(DAY, 14, 36))["escalated"] == 0
    tick_at(app, at(DAY, 18, 0))
    assert alert_sms(session, district) == []
    assert session.get(Alert, alert.id).level == 0


def test_other_alerts_wait_a_day_and_do_not_go_up_at_night(app, session, volunteer, woman, township, district):
    runtime = app.extensions["fieldline"]
    runtime.clock.set(at(DAY, 9))
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    runtime.clock.set(at(DAY, 20, 30))
    accepted(runtime, volunteer.phone, f"LOSS {woman.short_id} today")
    run_worker(app)
    [alert] = alerts(session)
    assert alert.kind is AlertKind.loss
    [sms] = alert_sms(session, township)  # sent at once, evening or not
    assert sms.body == (f"ALERT {alert.id}: pregnancy loss for Amina Juma ({woman.short_id}), Kanyagwal; "
                        f"she may need support. Reply ACK {alert.id}")
    assert tick_at(app, at(DAY, 21, 30))["escalated"] == 0
    assert tick_at(app, at(DAY + timedelta(days=1), 20, 31))["escalated"] == 0  # 24 h, but night
    assert tick_at(app, at(DAY + timedelta(days=2), 8))["escalated"] == 1
    run_worker(app)
    assert len(alert_sms(session, district)) == 1


def test_dispatch_twice_sends_once(app, session, volunteer, woman, township):
    from worker.alerts import dispatch_alert

    alert = report_danger(app, volunteer, woman, at(DAY, 14, 5))
    app.extensions["fieldline"].clock.set(at(DAY, 14, 6))
    with app.app_context():
        dispatch_alert(alert.id)
    assert len(alert_sms(session, township)) == 1
    session.expire_all()
    assert session.get(Alert, alert.id).notified_at == at(DAY, 14, 5)  # escalation still counts from 14:05


def test_each_member_of_staff_gets_the_alert_in_their_language(app, session, volunteer, woman, township):
    li = staff(session, TOWNSHIP, name="Li Hua", language="zh")
    amani = staff(session, TOWNSHIP, name="Amani", language="sw")
    session.commit()
    alert = report_danger(app, volunteer, woman, at(DAY, 14, 5))
    assert alert_sms(session, li)[0].body == f"警报{alert.id}：Amina Juma（{woman.short_id}）危险信号BF。请回复：收到 {alert.id}"
    assert alert_sms(session, amani)[0].body == (
        f"ARIFA {alert.id}: dalili za hatari BF kwa Amina Juma ({woman.short_id}), Kanyagwal. Jibu POKEA {alert.id}")
    assert len(alert_sms(session, township)) == 1


def test_inactive_staff_are_skipped_for_the_next_level(app, session, volunteer, woman, township, district):
    township.active = False
    session.commit()
    alert = report_danger(app, volunteer, woman, at(DAY, 14, 5))
    assert alert_sms(session, township) == []
    assert len(alert_sms(session, district)) == 1
    assert alert.level == 0


def test_with_no_staff_anywhere_it_is_recorded_once(app, session, volunteer, woman):
    alert = report_danger(app, volunteer, woman, at(DAY, 14, 5))
    tick_at(app, at(DAY, 14, 30))
    tick_at(app, at(DAY, 15, 30))
    session.expire_all()
    alert = session.get(Alert, alert.id)
    assert alert.notified_at is None
    assert [e.note for e in alert.history].count("no active staff to notify") == 1
    assert messages(session, OutgoingKind.alert) == []


def test_an_alert_whose_dispatch_was_lost_is_sent_by_the_tick(app, session, woman, township):
    runtime = app.extensions["fieldline"]
    runtime.clock.set(at(DAY, 14, 5))
    alert = raise_alert(session, runtime, AlertKind.danger, woman, "danger signs C", runtime.clock.now(), codes="C")
    session.flush()
    session.info.clear()  # the dispatch job never reached the queue
    session.commit()
    tick_at(app, at(DAY, 14, 6))
    assert alert_sms(session, township) == []
    tick_at(app, at(DAY, 14, 8))
    [sms] = alert_sms(session, township)
    assert sms.body.startswith(f"ALERT {alert.id}: danger signs C for Amina Juma")


def test_staff_levels_climb_from_the_village_to_the_district(session, woman, township, district):
    far = staff(session, factories.FAR_VILLAGE, name="Far Away")
    levels = staff_levels(session, woman.household.village_id)
    assert [(area.name, [c.id for c in people]) for area, people in levels] == [
        ("Nyando", [township.id]), ("Kisumu", [district.id])]
    assert far.id not in {c.id for _, people in levels for c in people}
