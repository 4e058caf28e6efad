"""The phone simulator (only with DEV_CHANNEL on) and the printable volunteer card."""
from __future__ import annotations

import html
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from gateway.models import Contact, InboundMessage, Role
from tests.admin.conftest import PASSWORD, post


def test_texting_in_the_simulator_shows_the_reply(as_admin, session, volunteer, woman):
    response = post(as_admin, "/admin/simulator", {"phone": "0" + volunteer.phone[4:], "text": f"PREG {woman.short_id} 12W"})
    assert response.status_code == 302
    page = as_admin.get(response.headers["Location"]).get_data(as_text=True)
    assert f"PREG {woman.short_id} 12W" in page
    assert f"Pregnancy of {woman.name} ({woman.short_id}) recorded, 12 weeks" in page
    message = session.scalar(select(InboundMessage).order_by(InboundMessage.id.desc()))
    assert (message.channel, message.sender, message.status.value) == ("dev", volunteer.phone, "accepted")


def test_a_mistake_gets_its_reply_too(as_admin, volunteer):
    response = post(as_admin, "/admin/simulator", {"phone": volunteer.phone, "text": "PREG"}, follow_redirects=True)
    assert "PREG: " in response.get_data(as_text=True)


def test_a_number_that_is_not_one_is_refused(as_admin):
    response = post(as_admin, "/admin/simulator", {"phone": "12", "text": "HELP"})
    assert response.status_code == 400 and "is not a valid phone number" in response.get_data(as_text=True)


def test_the_simulator_offers_the_roster_and_examples(as_admin, volunteer):
    page = as_admin.get(f"/admin/simulator?phone={volunteer.phone}").get_data(as_text=True)
    assert f'<option value="{volunteer.phone}">' in page
    assert "PREG 51025 12W" in page and "HH Juma Ali" in page


def ussd_screen(response) -> str:
    page = response.get_data(as_text=True)
    match = re.search(r'<pre class="screen" id="ussd-screen">(.*?)</pre>', page, re.S)
    assert match, page
    return html.unescape(match.group(1))


def test_dialling_in_the_simulator_walks_the_ussd_menu_to_the_reply(as_admin, volunteer, woman):
    def press(do: str, answer: str = "") -> str:
        return ussd_screen(post(as_admin, "/admin/simulator/ussd", {"phone": volunteer.phone, "do": do,
                                                                    "answer": answer}, follow_redirects=True))

    menu = press("dial")
    option = re.search(r"(\d+) Pregnancy", menu)
    assert option, menu
    press("answer", option.group(1))
    press("answer", woman.short_id)
    confirm = press("answer", "12")
    assert "Amina Juma" in confirm
    reply = press("answer", "1")
    assert reply.startswith(f"Pregnancy of Amina Juma ({woman.short_id}) recorded, 12 weeks"), reply
    page = as_admin.get(f"/admin/simulator?phone={volunteer.phone}").get_data(as_text=True)
    assert "Dial *384*1#" in page  # the session ended: the phone can dial again


def test_without_the_ussd_channel_the_panel_says_what_it_needs(as_admin, volunteer, monkeypatch):
    from admin import ussd_panel

    monkeypatch.setattr(ussd_panel, "_respond", lambda: None)
    page = as_admin.get(f"/admin/simulator?phone={volunteer.phone}").get_data(as_text=True)
    assert "USSD simulator needs the USSD channel" in page


@pytest.mark.parametrize("settings_overrides", [{"DEV_CHANNEL": "0"}])
def test_no_simulator_without_the_dev_channel(as_admin, volunteer):
    assert as_admin.get("/admin/simulator").status_code == 404
    assert post(as_admin, "/admin/simulator", {"phone": volunteer.phone, "text": "HELP"}).status_code == 404
    assert "Simulator" not in as_admin.get("/admin/dashboard").get_data(as_text=True)


@pytest.mark.parametrize("lang, keyword, example, code", [
    ("en", "PREG", "PREG 51025 12W", "bleeding"),
    ("zh", "怀孕", "怀孕 51025 12周", "出血"),
    ("fr", "GROS", "GROS 51025 12S", None),
    ("sw", "MIMBA", "MIMBA 51025 12", None),
])
def test_the_card_lists_every_volunteer_keyword_with_an_example(as_staff, runtime, lang, keyword, example, code):
    page = as_staff.get(f"/admin/card?lang={lang}").get_data(as_text=True)
    assert f"<b>{keyword}</b>" in page and f"<code>{example}</code>" in page
    volunteer_forms = [f for f in runtime.pack.forms.values() if "volunteer" in f.roles]
    assert page.count("<tr><td><b>") == len(volunteer_forms)
    assert "<b>ACK</b>" not in page  # staff's keywords are not on the volunteer's card
    if code:
        assert code in page


def test_a_card_in_an_unknown_language_is_not_found(as_staff):
    assert as_staff.get("/admin/card?lang=xx").status_code == 404


# -- fieldline create-admin ----------------------------------------------------------------------------

def test_create_admin_adds_one_who_can_sign_in(tmp_path, monkeypatch):
    from gateway.cli import main

    cli_db = tmp_path / "cli.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{cli_db}")
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    short = runner.invoke(main, ["create-admin", "0712 000 111", "--name", "Ada"], input="short\nshort\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    done = runner.invoke(main, ["create-admin", "0712 000 111", "--name", "Ada"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert done.exit_code == 0, done.output
    assert "admin added: Ada +254712000111" in done.output
    again = runner.invoke(main, ["create-admin", "0712000111"], input="another long password\n" * 2)
    assert again.exit_code == 0 and "admin ready" in again.output

    from gateway import create_app
    from tests.conftest import make_settings

    cli_app = create_app(make_settings(f"sqlite:///{cli_db}"))
    try:
        with cli_app.extensions["fieldline"].db.session_scope() as s:
            ada = s.scalar(select(Contact).where(Contact.phone == "+254712000111"))
            assert ada.role is Role.admin and ada.name == "Ada"
        client = cli_app.test_client()
        assert post(client, "/admin/sign-in", {"phone": "0712000111", "password": PASSWORD}).status_code == 401
        assert post(client, "/admin/sign-in", {"phone": "0712000111", "password": "another long password"}).status_code == 302
    finally:
        cli_app.extensions["fieldline"].db.dispose()


def test_a_volunteer_named_like_a_script_is_escaped_everywhere(app, as_admin, session, woman, household):
    from tests import factories
    from tests.admin.records import danger_alert, flagged

    evil = factories.contact(session, name="<script>alert(1)</script>", phone="+254799000111")
    woman.name = "<img src=x onerror=alert(2)>"
    session.commit()
    danger_alert(app, session, evil, woman)
    flagged_report = flagged(app, session, evil, household)
    from gateway.models import Alert

    alert = session.scalar(select(Alert))
    for path in ["/admin/contacts", f"/admin/contacts/{evil.id}", "/admin/alerts", f"/admin/alerts/{alert.id}",
                 "/admin/review", f"/admin/reports/{flagged_report.id}", "/admin/messages", "/admin/audit",
                 f"/admin/simulator?phone={evil.phone}", "/admin/messages?dir=out"]:
        page = as_admin.get(path).get_data(as_text=True)
        assert "<script>alert(1)" not in page and "<img src=x" not in page, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in as_admin.get("/admin/review").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(2)&gt;" in as_admin.get("/admin/alerts").get_data(as_text=True)
