"""ACK and DONE by SMS: staff acknowledge and close alerts in their areas, with who and when kept;
anyone else is refused and nothing changes."""
from __future__ import annotations

from datetime import date

import pytest

from gateway.models import Alert, AlertStatus
from tests import factories
from tests.conftest import run_worker
from tests.helpers import accepted, refused, send
from tests.ticking import DISTRICT, TOWNSHIP, at, staff

DAY = date(2026, 11, 30)


@pytest.fixture
def settings_overrides(redis_url):
    return {"REDIS_URL": redis_url}


@pytest.fixture
def grace(session):
    return staff(session, TOWNSHIP, name="Grace Achieng")


@pytest.fixture
def alert(app, session, volunteer, woman, grace) -> Alert:
    runtime = app.extensions["fieldline"]
    runtime.clock.set(at(DAY, 14, 5))
    outcome = accepted(runtime, volunteer.phone, f"DANGER {woman.short_id} BF")
    run_worker(app)
    runtime.clock.set(at(DAY, 14, 12))
    return session.get(Alert, int(outcome.record["id"]))


def fresh(session, alert: Alert) -> Alert:
    session.expire_all()
    return session.get(Alert, alert.id)


def test_ack_acknowledges_with_who_and_when(runtime, session, alert, grace):
    outcome = accepted(runtime, grace.phone, f"ACK {alert.id}")
    assert outcome.form == "ACK" and outcome.record == {"type": "alert", "id": str(alert.id)}
    assert outcome.reply == (f"Alert {alert.id} acknowledged: it goes no higher. "
                             f"Send DONE {alert.id} and a note once it is dealt with")
    alert = fresh(session, alert)
    assert alert.status is AlertStatus.acknowledged
    event = alert.history[-1]
    assert (event.status, event.by_id, event.at) == (AlertStatus.acknowledged, grace.id, at(DAY, 14, 12))


def test_done_closes_with_the_note(runtime, session, alert, grace):
    accepted(runtime, grace.phone, f"ACK {alert.id}")
    runtime.clock.set(at(DAY, 16, 40))
    outcome = accepted(runtime, grace.phone, f"DONE {alert.id} referred to Ahero health centre")
    assert outcome.reply == f"Alert {alert.id} closed. Thank you"
    alert = fresh(session, alert)
    assert alert.status is AlertStatus.resolved
    assert [(e.status, e.by_id, e.note) for e in alert.history[1:]] == [
        (AlertStatus.acknowledged, grace.id, None),
        (AlertStatus.resolved, grace.id, "referred to Ahero health centre"),
    ]
    assert alert.history[-1].at == at(DAY, 16, 40)


def test_done_without_ack_closes_it_too(runtime, session, alert, grace):
    accepted(runtime, grace.phone, f"done {alert.id}")
    alert = fresh(session, alert)
    assert alert.status is AlertStatus.resolved and alert.history[-1].note is None


def test_chinese_staff_answer_in_chinese(runtime, session, alert):
    li = staff(session, TOWNSHIP, name="李华", language="zh", phone="+254733000111")
    session.commit()
    assert accepted(runtime, li.phone, f"收到 {alert.id}").reply == (
        f"警报{alert.id}已确认，不再上报。处理完后请发：完成 {alert.id} 备注")
    runtime.clock.set(at(DAY, 15, 0))
    assert accepted(runtime, li.phone, f"完成 {alert.id} 已送卫生院").reply == f"警报{alert.id}已处理完毕，谢谢"
    alert = fresh(session, alert)
    assert alert.status is AlertStatus.resolved
    assert (alert.history[-1].by_id, alert.history[-1].note) == (li.id, "已送卫生院")
    # full-width digits and a keyword glued to the number are read as well
    assert send(runtime, li.phone, f"收到{str(alert.id).translate(str.maketrans('0123456789', '０１２３４５６７８９'))}").reply == (
        f"警报{alert.id}已由李华于2026-11-30 15:00处理完毕")


@pytest.mark.parametrize("text, reply", [
    ("RECU {id}", "Alerte {id} prise en charge: elle ne monte plus. Envoyez FAIT {id} et une note une fois traitée"),
    ("POKEA {id}", "Arifa {id} imepokelewa: haitapanda zaidi. Tuma MALIZA {id} na maelezo ikishashughulikiwa"),
])
def test_french_and_swahili_keywords(runtime, session, alert, text, reply):
    lang = "fr" if text.startswith("RECU") else "sw"
    person = staff(session, TOWNSHIP, name="Awa", language=lang, phone="+254733000222")
    session.commit()
    assert accepted(runtime, person.phone, text.format(id=alert.id)).reply == reply.format(id=alert.id)


def test_a_second_ack_is_answered_with_who_had_it_and_changes_nothing(runtime, session, alert, grace):
    accepted(runtime, grace.phone, f"ACK {alert.id}")
    other = staff(session, DISTRICT, name="Peter Omondi")
    session.commit()
    runtime.clock.set(at(DAY, 14, 30))
    outcome = accepted(runtime, other.phone, f"ACK {alert.id}")
    assert outcome.reply == f"Alert {alert.id} was acknowledged already, by Grace Achieng at 2026-11-30 14:12"
    accepted(runtime, grace.phone, f"DONE {alert.id}")
    assert accepted(runtime, other.phone, f"ACK {alert.id}").reply == (
        f"Alert {alert.id} was closed already, by Grace Achieng at 2026-11-30 14:30")
    assert accepted(runtime, other.phone, f"DONE {alert.id} again").reply == (
        f"Alert {alert.id} was closed already, by Grace Achieng at 2026-11-30 14:30")
    alert = fresh(session, alert)
    assert [e.status for e in alert.history] == [AlertStatus.open, AlertStatus.acknowledged, AlertStatus.resolved]


def test_an_unknown_alert_number_is_refused(runtime, session, alert, grace):
    outcome = refused(runtime, session, grace.phone, f"ACK {alert.id + 100}", "unknown_id")
    assert outcome.reply == f"There is no alert {alert.id + 100}, check the number"
    refused(runtime, session, grace.phone, "DONE 99999999999", "unknown_id")


def test_an_alert_outside_the_staff_members_areas_is_refused(runtime, session, alert):
    far = staff(session, "Siaya/Alego", name="Far Away")
    session.commit()
    outcome = refused(runtime, session, far.phone, f"ACK {alert.id}", "not_allowed")
    assert outcome.reply == f"Alert {alert.id} is not about your areas"
    assert fresh(session, alert).status is AlertStatus.open


def test_a_volunteer_sending_ack_is_not_allowed(runtime, session, alert, volunteer):
    outcome = refused(runtime, session, volunteer.phone, f"ACK {alert.id}", "not_allowed")
    assert outcome.reply == "ACK is not a report you can send. Send HELP for yours"
    refused(runtime, session, volunteer.phone, f"DONE {alert.id}", "not_allowed")
    assert fresh(session, alert).status is AlertStatus.open


def test_an_admin_may_answer_any_alert(runtime, session, alert):
    admin = factories.contact(session, role="admin", areas=(), name="Admin")
    session.commit()
    accepted(runtime, admin.phone, f"ACK {alert.id}")
    assert fresh(session, alert).history[-1].by_id == admin.id


def test_ack_without_a_number_shows_the_form(runtime, session, grace):
    outcome = send(runtime, grace.phone, "ACK")
    assert (outcome.status, outcome.error) == ("rejected", "missing_field")
    assert outcome.reply == "ACK: alert no missing. Send: ACK <alert no>, e.g. ACK 57"


def test_help_does_not_list_ack_but_explains_it(runtime, grace):
    assert "ACK" not in send(runtime, grace.phone, "HELP").reply.split(".")[0]
    assert send(runtime, grace.phone, "HELP DONE").reply == "Send: DONE <alert no> [note], e.g. DONE 57 referred to the health centre"
