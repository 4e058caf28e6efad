"""USSD at POST /ussd/africastalking/<secret>: menus made from the form pack, walked to the end for
every keypad form in English and Chinese; back and more; a wrong answer at each kind of prompt;
182 characters at most on every screen in every language; a session carried on by another app
after the first is gone; a stale session starting over; unregistered numbers."""
from __future__ import annotations

import gc
import json
import re
from dataclasses import dataclass
import pytest
from click.testing import CliRunner
from redis import Redis
from sqlalchemy import func, select

from gateway import create_app, shortid
from gateway.cli import main
from gateway.clock import FrozenClock
from gateway.config import LANGUAGES
from gateway.db import make_engine
from gateway.formpack import ROLES, load_pack
from gateway.models import Contact, InboundMessage, MessageStatus, Person, Pregnancy, Report
from gateway.parsers import ParseContext, parse
from gateway.ussd import SCREEN_LIMIT, Menu, Subject, Submission, menu_forms, screen_length
from gateway.ussd.menu import keypad_field
from gateway.ussd.screens import end_screen
from tests import factories
from tests.conftest import START, TZ, make_settings
from tests.helpers import accepted
from tests.ticking import TOWNSHIP, staff

SECRET = "ussd-callback-secret-0123456789"
PATH = f"/ussd/africastalking/{SECRET}"
SERVICE_CODE = "*384*7#"
TODAY = START.astimezone(TZ).date()
TODAY_TYPED = TODAY.strftime("%d%m%Y")  # 29112026
PACK = load_pack(languages=LANGUAGES)


@pytest.fixture
def settings_overrides() -> dict:
    return {"AT_CALLBACK_SECRET": SECRET}


def ask(client, session_id: str, phone: str, text: str) -> str:
    """One request as Africa's Talking makes it; the answer, checked to be a screen that fits."""
    response = client.post(PATH, data={"sessionId": session_id, "serviceCode": SERVICE_CODE,
                                       "phoneNumber": phone, "networkCode": "63902", "text": text})
    assert response.status_code == 200 and response.mimetype == "text/plain"
    body = response.get_data(as_text=True)
    assert body[:4] in ("CON ", "END "), body
    assert screen_length(body) <= SCREEN_LIMIT, body
    return body


class Phone:
    """A handset in one USSD session: each answer goes with every earlier one, joined by '*'."""

    count = 0

    def __init__(self, client, number: str, session_id: str | None = None):
        Phone.count += 1
        self.client, self.number = client, number
        self.session_id = session_id or f"ATUid_test_{Phone.count:06d}"
        self.answers: list[str] = []
        self.screen = ""

    def dial(self) -> str:
        self.screen = ask(self.client, self.session_id, self.number, "")
        return self.screen

    def press(self, *answers: str) -> str:
        for answer in answers:
            assert self.screen.startswith("CON "), f"the session has ended: {self.screen}"
            self.answers.append(answer)
            self.screen = ask(self.client, self.session_id, self.number, "*".join(self.answers))
        return self.screen


def number_of(code: str, role: str = "volunteer") -> str:
    return str([f.code for f in menu_forms(PACK, role)].index(code) + 1)


def matches(template: str, text: str) -> bool:
    """text is template with something in every {placeholder}."""
    parts = re.split(r"(\{\w+\})", template)
    pattern = "".join(".+?" if re.fullmatch(r"\{\w+\}", p) else re.escape(p) for p in parts)
    return re.fullmatch(pattern, text, re.S) is not None


def inbound(session) -> list[InboundMessage]:
    session.expire_all()
    return list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


# -- every keypad form, walked to the end in English and Chinese --------------------------------------

def test_the_menu_offers_the_keypad_forms_of_each_role():
    volunteer = [f.code for f in menu_forms(PACK, "volunteer")]
    assert volunteer == ["V", "PREG", "ANC", "BIRTH", "LOSS", "PNC", "DANGER", "DEATH", "IN", "OUT", "FP",
                         "OFF", "ON", "LANG"]
    # HH and REG need a name typed; HELP has nothing to report
    assert [f.code for f in menu_forms(PACK, "staff")] == volunteer[:-1] + ["ACK", "DONE", "LANG"]
    assert [f.code for f in menu_forms(PACK, "admin")] == ["ACK", "DONE", "LANG"]


@dataclass
class World:
    runtime: object
    session: object
    lang: str
    volunteer: Contact
    household: object
    woman: Person

    def sms(self, text: str, phone: str | None = None):
        return accepted(self.runtime, phone or self.volunteer.phone, text)

    def staff(self) -> Contact:
        return staff(self.session, TOWNSHIP, language=self.lang)


def scenario(code: str, w: World) -> tuple[Contact, list[str], list[str], str, str]:
    """Who dials, their answers after picking the form, the SMS they stand for (after the keyword),
    and the reply's key and language."""
    pid, hh, vol, lang = w.woman.short_id, w.household.short_id, w.volunteer, w.lang
    if code == "V":
        return vol, [hh, "00"], [hh], "recorded", lang
    if code == "PREG":
        return vol, [pid, "12"], [pid, "12"], "recorded", lang
    if code == "ANC":
        w.sms(f"PREG {pid} 12")
        return vol, [pid, "00"], [pid], "recorded", lang
    if code == "BIRTH":
        w.sms(f"PREG {pid} 38")
        return vol, [pid, TODAY_TYPED, "2", "3#1"], [pid, TODAY.isoformat(), "F", "3.1"], "recorded", lang
    if code == "LOSS":
        w.sms(f"PREG {pid} 10")
        return vol, [pid, TODAY_TYPED], [pid, TODAY.isoformat()], "recorded", lang
    if code == "PNC":
        w.sms(f"PREG {pid} 38")
        w.sms(f"BIRTH {pid} today F")
        return vol, [pid, "00"], [pid], "recorded", lang
    if code == "DANGER":
        return vol, [pid, "12"], [pid, "BF"], "recorded", lang
    if code == "DEATH":
        return vol, [pid, TODAY_TYPED], [pid, TODAY.isoformat()], "recorded", lang
    if code == "IN":
        elsewhere = factories.household(w.session, vol, head="Otieno Odhiambo")
        mover = factories.person(w.session, elsewhere, vol, name="Baraka Otieno", sex="M")
        return vol, [mover.short_id, hh], [mover.short_id, hh], "recorded", lang
    if code == "OUT":
        destination = "Nairobi" if lang == "en" else "内罗毕"
        return vol, [pid, destination], [pid, destination], "recorded", lang
    if code == "FP":
        return vol, [pid, "1", "3"], [pid, "P", "3"], "recorded", lang
    if code == "OFF":
        return vol, [pid], [pid], "recorded", lang
    if code == "ON":
        w.sms(f"OFF {pid}")
        return vol, [pid], [pid], "recorded", lang
    if code == "LANG":  # to the other language; the answer comes in the new one
        return (vol, ["2"], ["ZH"], "changed", "zh") if lang == "en" else (vol, ["1"], ["EN"], "changed", "en")
    alert = w.sms(f"DANGER {pid} BF").record["id"]
    if code == "ACK":
        return w.staff(), [alert], [alert], "acknowledged", lang
    if code == "DONE":
        return w.staff(), [alert, "00"], [alert], "resolved", lang
    raise AssertionError(f"no scenario for {code}")


KEYPAD_FORMS = sorted({f.code for role in ROLES for f in menu_forms(PACK, role)})


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("code", KEYPAD_FORMS)
def test_a_whole_session_records_the_report_and_ends_with_the_sms_reply(client, runtime, session, code, lang):
    volunteer = factories.contact(session, language=lang)
    household = factories.household(session, volunteer)
    woman = factories.person(session, household, volunteer, name="Amina Juma", sex="F")
    who, answers, values, reply_key, reply_lang = scenario(
        code, World(runtime, session, lang, volunteer, household, woman))
    before = len(inbound(session))
    phone = Phone(client, who.phone)
    assert phone.dial().startswith("CON " + PACK.message("ussd_menu", lang))
    phone.press(number_of(code, who.role.value), *answers)
    assert phone.screen.startswith("CON " + ("确认：" if lang == "zh" else "Confirm: ")), phone.screen
    end = phone.press("1")

    form = PACK.forms[code]
    message = inbound(session)[-1]
    assert len(inbound(session)) == before + 1
    assert (message.channel, message.provider_id, message.receiver) == ("ussd", phone.session_id, SERVICE_CODE)
    assert message.body == " ".join([form.keyword(lang)] + values)
    assert (message.status, message.form, message.contact_id) == (MessageStatus.accepted, code, who.id)
    assert end == "END " + message.reply
    template = form.replies[reply_key]
    assert matches(template[reply_lang], message.reply), (template[reply_lang], message.reply)


def test_the_confirm_screen_names_the_person_as_the_issue_shows(client, session, woman, volunteer):
    phone = Phone(client, volunteer.phone)
    phone.dial()
    assert phone.press("2", woman.short_id, "12") == (
        f"CON Confirm: pregnancy for Amina Juma ({woman.short_id}), 12 weeks?\n1 Yes\n2 No\n0 Back")
    end = phone.press("1")
    assert end.startswith(f"END Pregnancy of Amina Juma ({woman.short_id}) recorded, 12 weeks. EDD ")


def test_the_reply_is_the_one_the_sms_gets(client, runtime, session, woman, volunteer):
    phone = Phone(client, volunteer.phone)
    phone.dial()
    by_ussd = phone.press(number_of("OFF"), woman.short_id, "1")
    accepted(runtime, volunteer.phone, f"ON {woman.short_id}")
    by_sms = accepted(runtime, volunteer.phone, f"OFF {woman.short_id}")
    assert by_ussd == "END " + by_sms.reply
    assert [m.body for m in inbound(session)] == [f"OFF {woman.short_id}", f"ON {woman.short_id}",
                                                  f"OFF {woman.short_id}"]


def test_cancelling_at_the_confirm_screen_records_nothing(client, session, woman, volunteer):
    phone = Phone(client, volunteer.phone)
    phone.dial()
    assert phone.press("2", woman.short_id, "12", "2") == "END Cancelled: nothing was recorded"
    assert inbound(session) == [] and session.scalar(select(func.count()).select_from(Pregnancy)) == 0


def test_a_retried_last_request_gets_the_same_end_and_no_second_record(client, session, woman, volunteer):
    phone = Phone(client, volunteer.phone)
    phone.dial()
    end = phone.press("2", woman.short_id, "12", "1")
    again = ask(client, phone.session_id, volunteer.phone, "*".join(phone.answers))
    assert again == end
    assert len(inbound(session)) == 1 and session.scalar(select(func.count()).select_from(Report)) == 1


# -- back and more --------------------------------------------------------------------------------

def test_more_pages_the_main_menu_and_back_returns(client, volunteer):
    phone = Phone(client, volunteer.phone)
    first = phone.dial()
    assert first.endswith("\n11 Family planning\n98 More") and "0 Back" not in first
    second = phone.press("98")
    assert second == "CON Fieldline: choose a report\n12 Stop reminders\n13 Resume reminders\n14 Language\n0 Back"
    assert phone.press("0") == first
    assert phone.press("98", "14").startswith("CON Choose en/zh/fr/sw\n1 English\n2 Chinese")
    assert phone.press("0") == second  # back to the page it was chosen from


def test_back_steps_to_the_previous_prompt_and_forgets_its_answer(client, session, woman, volunteer):
    phone = Phone(client, volunteer.phone)
    phone.dial()
    assert phone.press("4", woman.short_id).startswith("CON Enter birth date as DDMMYYYY")
    assert phone.press("0") == "CON Enter mother ID\n0 Back"
    assert phone.press("0").startswith("CON Fieldline: choose a report\n1 Home visit")
    phone.press("4", woman.short_id, TODAY_TYPED)
    assert phone.press("0").startswith("CON Enter birth date")
    phone.press(TODAY_TYPED, "1")
    assert phone.screen.startswith("CON Enter weight kg")
    assert "\n00 Skip\n0 Back" in phone.screen
    phone.press("00")
    assert phone.screen.startswith(f"CON Confirm: birth for Amina Juma ({woman.short_id}), birth date 2026-11-29, Home?")
    assert phone.press("0").startswith("CON Enter weight kg")  # the skip is undone too
    phone.press("00", "1")
    assert inbound(session)[-1].body == f"BIRTH {woman.short_id} 2026-11-29 H"


@pytest.mark.parametrize("lang", ["en", "fr", "sw"])
def test_a_long_code_list_pages_and_numbers_from_every_page_count(client, session, lang):
    volunteer = factories.contact(session, language=lang)
    household = factories.household(session, volunteer)
    woman = factories.person(session, household, volunteer, name="Amina Juma", sex="F")
    phone = Phone(client, volunteer.phone)
    phone.dial()
    first = phone.press(number_of("DANGER"), woman.short_id)
    more = PACK.message("ussd_more", lang)
    assert first.endswith(f"\n{more}\n{PACK.message('ussd_back', lang)}") and "\n1 " in first and "\n7 " not in first
    second = phone.press("98")
    assert "\n7 " in second and "\n1 " not in second and more not in second
    assert phone.press("0") == first
    phone.press("98", "17")
    meanings = PACK.forms["DANGER"].fields[1].codes
    for letter in "BR":
        assert meanings[letter][lang].split()[0] in phone.screen
    phone.press("1")
    assert inbound(session)[-1].body.endswith(f" {woman.short_id} BR")


# -- a wrong answer at each kind of prompt -----------------------------------------------------------

def test_a_wrong_answer_shows_the_same_prompt_with_the_error_on_top(client, session, household, woman, volunteer):
    unknown = next(shortid.make(str(p)) for p in range(7000, 8000)
                   if shortid.make(str(p)) not in (woman.short_id, household.short_id))
    phone = Phone(client, volunteer.phone)
    menu = phone.dial()
    assert phone.press("77").startswith("CON '77' is not on the list\n" + menu[4:40])
    prompt = phone.press("4")
    assert prompt == "CON Enter mother ID\n0 Back"
    steps = [  # (answer, the error on top of the same prompt)
        ("51032", "ID 51032 is not valid, check the number"),
        (unknown, f"ID {unknown} is not registered, check the number"),
        (household.short_id, f"{household.short_id} is a household ID. BIRTH needs a person's ID"),
        ("", "BIRTH: mother ID missing"),
    ]
    for answer, error in steps:
        assert phone.press(answer) == f"CON {error}\n{prompt[4:]}"
    date_prompt = phone.press(woman.short_id)
    for answer, error in [("31022026", "BIRTH: birth date '31022026' is not a real date"),
                          ("01012027", "BIRTH: birth date '01012027' is in the future"),
                          ("12", "BIRTH: birth date '12' is not a real date")]:
        assert phone.press(answer) == f"CON {error}\n{date_prompt[4:]}"
    choice_prompt = phone.press(TODAY_TYPED)
    assert choice_prompt == "CON Choose place H/F\n1 Home\n2 Facility\n0 Back"
    assert phone.press("3") == "CON BIRTH: place H/F '3' is not valid\n" + choice_prompt[4:]
    weight_prompt = phone.press("2")
    for answer, error in [("9", "BIRTH: weight kg '9' is too large (most 7)"),
                          ("3##1", "BIRTH: weight kg '3##1' is not valid")]:
        assert phone.press(answer) == f"CON {error}\n{weight_prompt[4:]}"
    confirm = phone.press("3#1")
    assert phone.press("5") == "CON '5' is not on the list\n" + confirm[4:]
    assert phone.press("1").startswith("END Birth to Amina Juma on 2026-11-29 recorded. Baby ID ")
    assert inbound(session)[-1].body == f"BIRTH {woman.short_id} 2026-11-29 F 3.1"


@pytest.mark.parametrize("code, before, answer, error", [
    ("PREG", [], "45", "PREG: weeks or LMP date '45' is too large (most 44)"),
    ("PREG", [], "01012020", "PREG: weeks or LMP date '01012020' is too large (most 44)"),
    ("DANGER", [], "18", "DANGER: codes BFCHLNR '8' is not valid"),
    ("DANGER", [], "", "DANGER: codes BFCHLNR missing"),
    ("FP", ["1"], "14", "FP: quantity '14' is too large (most 13)"),
    ("FP", [], "9", "FP: method P/C/I '9' is not valid"),
    ("IN", [], "{woman}", "{woman} is a person's ID. IN needs a household ID"),
    ("OUT", [], "Kisumu " * 9, "OUT: destination is too long (most 60 letters)"),
])
def test_a_wrong_answer_at_each_kind_of_prompt(client, session, woman, household, volunteer, code, before,
                                                answer, error):
    answer, error = answer.format(woman=woman.short_id), error.format(woman=woman.short_id)
    phone = Phone(client, volunteer.phone)
    phone.dial()
    prompt = phone.press(number_of(code), woman.short_id, *before)
    again = phone.press(answer)
    # the same prompt under the error (a list may show fewer of its items on the page)
    assert again.startswith(f"CON {error}\n{prompt[4:].splitlines()[0]}\n"), again
    assert again.splitlines()[-1] == prompt.splitlines()[-1]


def test_a_refusal_by_the_handler_ends_the_session_with_the_sms_reply(client, session):
    grace = staff(session, TOWNSHIP)
    phone = Phone(client, grace.phone)
    phone.dial()
    prompt = phone.press(number_of("ACK", "staff"))
    assert prompt == "CON Enter alert no\n0 Back"
    assert phone.press("5a") == "CON ID 5a is not valid, check the number\n" + prompt[4:]
    assert phone.press("99", "1") == "END There is no alert 99, check the number"
    message = inbound(session)[-1]
    assert (message.body, message.status, message.error) == ("ACK 99", MessageStatus.rejected, "unknown_id")


def test_a_wrong_answer_in_chinese_reads_as_the_sms_error_does(client, session):
    volunteer = factories.contact(session, language="zh")
    household = factories.household(session, volunteer)
    woman = factories.person(session, household, volunteer, name="李娜", sex="F")
    phone = Phone(client, volunteer.phone)
    phone.dial()
    prompt = phone.press("2", woman.short_id)
    assert phone.press("99") == "CON 怀孕：孕周或末次月经日期“99”太大（最大44）\n" + prompt[4:]
    assert phone.press("12") == f"CON 确认：怀孕，李娜（{woman.short_id}），12周？\n1 是\n2 否\n0 返回"


# -- 182 characters, every screen, every menu, every language --------------------------------------

PERSON, HOUSEHOLD = shortid.make("5102"), shortid.make("4021")
WRONG = ["", "9" * 30, "abc#1", "31022026", "01012030", "0" * 12]


def valid_answer(field, lang: str) -> str:
    """The answer that makes the longest confirm screen."""
    kind = field.type
    if kind == "id":
        return {"household": HOUSEHOLD, "alert": "2147483647"}.get(field.kind, PERSON)
    if kind in ("integer", "weeks"):
        return str(int(field.max or 12))
    return {
        "decimal": "6#99", "date": TODAY_TYPED, "age": "24", "phone": "0712345678",
        "choice": str(len(field.choices)), "codes": "".join(str(i + 1) for i in range(len(field.codes))),
        "text": ("王" if lang == "zh" else "W") * (field.max_length or 160),
    }[kind]


def every_screen(menu: Menu, lang: str):
    """Every screen a session can show: each page of each list, each prompt after each kind of
    wrong answer, each confirm screen, the closing ones."""

    def pages(inputs):
        while True:
            screen = menu.run(inputs)
            yield inputs, screen
            if isinstance(screen, Submission) or screen.end or f"\n{MORE} " not in "\n" + screen.text:
                return
            inputs = inputs + [MORE]

    MORE = "98"
    yield from pages([])
    for number, form in enumerate(menu.forms, 1):
        inputs = [str(number)]
        for field in form.fields:
            if not (keypad_field(field) or field.type == "text"):
                continue
            yield from pages(inputs)
            for wrong in WRONG:
                yield from pages(inputs + [wrong])
            inputs = inputs + [valid_answer(field, lang)]
        yield from pages(inputs)  # the confirm screen
        yield from pages(inputs + ["7"])
        yield inputs + ["2"], menu.run(inputs + ["2"])
        submitted = menu.run(inputs + ["1"])
        assert isinstance(submitted, Submission), (inputs, submitted)
        yield inputs + ["1"], submitted


LONG_NAMES = {"Latin": "Wanjiku Akinyi Otieno " * 4, "Chinese": "欧阳" * 40}


@pytest.mark.parametrize("names", LONG_NAMES)
@pytest.mark.parametrize("role", sorted(ROLES))
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_screen_of_every_menu_fits_182_characters(lang, role, names):
    name = LONG_NAMES[names]
    subjects = {PERSON: Subject("person", name), HOUSEHOLD: Subject("household", name)}
    ctx = ParseContext(today=TODAY, region="KE")
    menu = Menu(PACK, lang, role, ctx, lambda short_id, kind=None: subjects.get(short_id))
    seen = 0
    for inputs, screen in every_screen(menu, lang):
        if isinstance(screen, Submission):
            continue
        seen += 1
        assert screen_length(screen.response) <= SCREEN_LIMIT, (inputs, screen_length(screen.response),
                                                                screen.response)
    assert seen > 10 * len(menu.forms)


@pytest.mark.parametrize("reply", ["x" * 300, "王" * 200, "A reply of two SMS segments. " * 10])
def test_a_long_reply_is_cut_to_one_screen(reply):
    end = end_screen(reply)
    assert screen_length(end) <= SCREEN_LIMIT and end.endswith("...") and end.startswith("END " + reply[:20])


def test_the_keypad_answers_read_back_as_the_same_report_whatever_the_date_order(runtime):
    subjects = {PERSON: Subject("person", "Amina"), HOUSEHOLD: Subject("household", "Juma")}
    for lang in LANGUAGES:
        for role in ROLES:
            menu = Menu(PACK, lang, role, ParseContext(today=TODAY, region="KE"),
                        lambda short_id, kind=None: subjects.get(short_id))
            for number, form in enumerate(menu.forms, 1):
                answers = [valid_answer(f, lang) for f in form.fields if keypad_field(f) or f.type == "text"]
                submitted = menu.run([str(number)] + answers + ["1"])
                dmy = parse(submitted.body, PACK, ParseContext(today=TODAY, region="KE"))
                mdy = parse(submitted.body, PACK, ParseContext(today=TODAY, region="KE", date_order="MDY"))
                assert dmy.form == form.code and dmy.values == mdy.values
                assert set(dmy.values) == {f.name for f in form.fields}


# -- sessions: another app, a stale session, unknown numbers -----------------------------------------

def test_a_session_goes_on_in_a_second_app_after_the_first_is_gone(database_url, redis_url):
    """Two web processes behind one address: the first takes the start of the session (a stale one,
    so it starts over at the main menu, which only Redis remembers), is discarded, and the second
    takes the rest."""
    settings = make_settings(database_url, REDIS_URL=redis_url, AT_CALLBACK_SECRET=SECRET)
    engine = make_engine(settings.database_url)
    connection = engine.connect()
    transaction = connection.begin()
    try:
        first = create_app(settings)
        first.extensions["fieldline"].db.bind_to(connection)
        first.extensions["fieldline"].clock = FrozenClock(TZ, START)
        session = first.extensions["fieldline"].db.session()
        volunteer = factories.contact(session)
        woman = factories.person(session, factories.household(session, volunteer), volunteer, name="Amina Juma")
        session.commit()
        phone, woman_id = volunteer.phone, woman.short_id
        session.close()

        client = first.test_client()
        # the phone's text carries two answers this Fieldline never saw: it starts over
        assert ask(client, "ATUid_two_apps", phone, "5*5").startswith("CON Fieldline: choose a report")
        assert ask(client, "ATUid_two_apps", phone, "5*5*2") == "CON Enter ID\n0 Back"
        del client, first
        gc.collect()

        second = create_app(settings)
        second.extensions["fieldline"].db.bind_to(connection)
        second.extensions["fieldline"].clock = FrozenClock(TZ, START)
        client = second.test_client()
        assert ask(client, "ATUid_two_apps", phone, f"5*5*2*{woman_id}").startswith("CON Enter weeks or LMP date")
        assert ask(client, "ATUid_two_apps", phone, f"5*5*2*{woman_id}*12").startswith(
            f"CON Confirm: pregnancy for Amina Juma ({woman_id}), 12 weeks?")
        end = ask(client, "ATUid_two_apps", phone, f"5*5*2*{woman_id}*12*1")
        assert end.startswith(f"END Pregnancy of Amina Juma ({woman_id}) recorded, 12 weeks.")
        session = second.extensions["fieldline"].db.session()
        [message] = session.scalars(select(InboundMessage)).all()
        assert (message.channel, message.provider_id, message.body) == ("ussd", "ATUid_two_apps", f"PREG {woman_id} 12")
        session.close()
        ttl = Redis.from_url(redis_url).ttl("fieldline:ussd:ATUid_two_apps")
        assert 0 < ttl <= 180
    finally:
        transaction.rollback()
        connection.close()
        engine.dispose()


def test_an_unknown_session_with_answers_starts_over_at_the_main_menu(client, session, woman, volunteer):
    menu = ask(client, "ATUid_stale", volunteer.phone, "2*51032*9")
    assert menu.startswith("CON Fieldline: choose a report\n1 Home visit")
    assert ask(client, "ATUid_stale", volunteer.phone, "2*51032*9*2") == "CON Enter ID\n0 Back"
    assert ask(client, "ATUid_stale", volunteer.phone, f"2*51032*9*2*{woman.short_id}*12*1").startswith(
        "END Pregnancy of Amina Juma")
    assert inbound(session)[-1].body == f"PREG {woman.short_id} 12"


def test_a_session_id_arriving_from_another_number_starts_over(client, session, woman, volunteer):
    other = factories.contact(session, name="Otieno")
    Phone(client, volunteer.phone, "ATUid_shared").dial()
    assert ask(client, "ATUid_shared", volunteer.phone, "2") == "CON Enter ID\n0 Back"
    assert ask(client, "ATUid_shared", other.phone, "2*3").startswith("CON Fieldline: choose a report")


@pytest.mark.parametrize("settings_overrides", [{"AT_CALLBACK_SECRET": SECRET, "REDIS_URL": "redis://127.0.0.1:1/0"}])
def test_without_redis_the_session_goes_by_its_text(client, session, woman, volunteer, settings_overrides):
    phone = Phone(client, volunteer.phone)
    phone.dial()
    phone.press("2", woman.short_id, "12")
    assert phone.press("1").startswith("END Pregnancy of Amina Juma")


def test_an_unregistered_number_is_told_and_nothing_is_kept(client, session):
    end = ask(client, "ATUid_stranger", "+254799999999", "")
    assert end == "END This number is not registered with Fieldline. Ask your supervisor to add it"
    assert ask(client, "ATUid_stranger", "+254799999999", "2") == end
    assert inbound(session) == []


def test_a_deactivated_number_is_told_so(client, session, volunteer):
    volunteer.active = False
    session.flush()
    assert ask(client, "ATUid_gone", volunteer.phone, "") == (
        "END This number is no longer active in Fieldline. Ask your supervisor")


def test_a_request_without_a_session_or_phone_is_refused(client):
    assert client.post(PATH, data={"phoneNumber": "+254712345678", "text": ""}).status_code == 400
    assert client.post(PATH, data={"sessionId": "ATUid_1", "text": ""}).status_code == 400


# -- a form added to the pack is on the menu with no code ---------------------------------------------

HEADCOUNT = """
code: COUNT
handler: record_visit
title: {en: Head count, zh: 人口统计, fr: Recensement, sw: Idadi ya watu}
roles: [volunteer]
keywords: {en: [COUNT], zh: [人数], fr: [RECENS], sw: [IDADI]}
fields:
  - {name: household, type: id, kind: household, label: {en: household ID, zh: 户号}}
  - {name: adults, type: integer, required: false, min: 0, max: 30, label: {en: adults, zh: 成人}}
  - {name: children, type: integer, required: false, min: 0, max: 30, label: {en: children, zh: 儿童}}
example: COUNT 40216 3 2
replies:
  recorded: {en: "Visit to household {household} ({head}) counted"}
"""


@pytest.fixture
def forms_dir(tmp_path):
    (tmp_path / "count.yaml").write_text(HEADCOUNT, encoding="utf-8")
    return str(tmp_path)


def test_a_deployment_form_is_offered_and_a_skipped_field_before_a_given_one_is_sent_by_key(
        database_url, forms_dir):
    settings = make_settings(database_url, FORMS_DIR=forms_dir, AT_CALLBACK_SECRET=SECRET)
    app = create_app(settings)
    runtime = app.extensions["fieldline"]
    runtime.clock = FrozenClock(TZ, START)
    connection = runtime.db.engine.connect()
    transaction = connection.begin()
    runtime.db.bind_to(connection)
    try:
        session = runtime.db.session()
        volunteer = factories.contact(session)
        household = factories.household(session, volunteer)
        session.commit()
        client = app.test_client()
        phone = Phone(client, volunteer.phone)
        phone.dial()
        count = [f.code for f in menu_forms(runtime.pack, "volunteer")].index("COUNT") + 1
        assert f"\n{count} Head count\n" in phone.press("98")
        phone.press(str(count), household.short_id)
        assert phone.screen == "CON Enter adults\n00 Skip"  # 0 is an answer here, so 0 is not back
        assert phone.press("0") == "CON Enter children\n00 Skip"
        assert phone.press("0").startswith(f"CON Confirm: head count household {household.short_id} (Juma Ali), "
                                           "adults 0, children 0?")
        phone.press("1")
        session.expire_all()
        first = session.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()[-1]
        assert first.body == f"COUNT {household.short_id} 0 0" and first.status is MessageStatus.accepted

        phone = Phone(client, volunteer.phone)
        phone.dial()
        phone.press(str(count), household.short_id, "00", "2", "1")
        second = session.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()[-1]
        assert second.body == f"COUNT#household {household.short_id}#children 2"
        assert parse(second.body, runtime.pack, ParseContext(today=TODAY)).values == {
            "household": household.short_id, "children": 2}
        assert second.status is MessageStatus.accepted
        session.close()
    finally:
        transaction.rollback()
        connection.close()
        runtime.db.dispose()


# -- the same session on the terminal ------------------------------------------------------------------

def test_fieldline_ussd_walks_a_session_on_the_terminal(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    roster = tmp_path / "roster.csv"
    roster.write_text("name,phone,role,area,language\nAkinyi,0712 345 678,volunteer,Kisumu/Nyando/Kanyagwal,en\n")
    assert runner.invoke(main, ["roster", "import", str(roster)]).exit_code == 0
    household = json.loads(runner.invoke(main, ["send", "0712345678", "HH Juma Ali", "--json"]).output)["record"]["id"]

    result = runner.invoke(main, ["ussd", "0712 345 678"], input=f"1\n{household}\n00\n1\n")
    assert result.exit_code == 0, result.output
    screens = result.output.split("\n\n")  # each screen, then the answer typed at its prompt
    assert screens[0].startswith("Fieldline: choose a report\n1 Home visit\n")
    assert screens[1] == "> 1\nEnter household ID\n0 Back"
    assert screens[2] == f"> {household}\nEnter notes\n00 Skip\n0 Back"
    assert screens[3] == f"> 00\nConfirm: home visit household {household} (Juma Ali)?\n1 Yes\n2 No\n0 Back"
    assert screens[4].startswith(f"> 1\nVisit to household {household} (Juma Ali) recorded. Next visit due ")

    stranger = runner.invoke(main, ["ussd", "+254799999999"], input="")
    assert stranger.output.startswith("This number is not registered with Fieldline")


def test_a_title_must_be_a_name_or_names_by_language(tmp_path):
    from gateway.formpack import FormPackError

    (tmp_path / "count.yaml").write_text(HEADCOUNT.replace("title: {en: Head count,", "title: {en: [Head, count],"),
                                         encoding="utf-8")
    with pytest.raises(FormPackError, match="count.yaml: title: expected a name"):
        load_pack(tmp_path, languages=LANGUAGES)
    (tmp_path / "count.yaml").write_text(HEADCOUNT.replace(
        "title: {en: Head count, zh: 人口统计, fr: Recensement, sw: Idadi ya watu}", "title: Head count"), encoding="utf-8")
    form = load_pack(tmp_path, languages=LANGUAGES).forms["COUNT"]
    assert form.title("sw") == "Head count" and PACK.forms["HH"].title("xx") == "New household"
