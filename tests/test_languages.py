"""French and Swahili: every form is reachable by its own keyword, and senders are answered in their language."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from gateway.config import LANGUAGES
from gateway.formpack import load_pack
from gateway.models import Contact, Household
from gateway.parsers import ParseContext, parse
from tests import factories
from tests.helpers import send

PACK = load_pack(languages=LANGUAGES)
CTX = ParseContext(today=date(2026, 11, 29), region="KE")
CASES = [(lang, code) for lang in ("fr", "sw") for code in PACK.forms]


@pytest.mark.parametrize("lang, code", CASES)
def test_the_example_in_each_language_parses_to_its_form(lang, code):
    form = PACK.forms[code]
    assert lang in form.keywords and lang in form.examples
    parsed = parse(form.example(lang), PACK, CTX)
    assert parsed.form == code
    # OFF and ON are the same word in every language; a keyword shared with English reads as English.
    assert parsed.language == ("en" if form.keyword(lang) in form.keywords["en"] else lang)


@pytest.mark.parametrize("text, field, value", [
    ("ENR 40216 H 30 Paul Mbala", "sex", "M"),
    ("ENR 40216 FEMME 30 Awa Diallo", "sex", "F"),
    ("SAJILI 40216 KE 24 Amina Juma", "sex", "F"),
    ("SAJILI 40216 ME 30 Baraka", "sex", "M"),
    ("SAJILI 40216 M 30 Baraka", "sex", "M"),
    ("NAIS 51025 HIER M", "place", "H"),
    ("NAIS 51025 HIER C 3.1", "place", "F"),
    ("KUZALIWA 51025 LEO NYUMBANI", "place", "H"),
    ("KUZALIWA 51025 LEO K", "place", "F"),
    ("PF 51025 PILULES 2", "method", "P"),
    ("MPANGO 51025 SINDANO", "method", "I"),
    ("MPANGO 51025 KONDOMU 10", "method", "C"),
    ("LANGUE ANGLAIS", "language", "EN"),
    ("LUGHA KIFARANSA", "language", "FR"),
])
def test_local_words_for_choices(text, field, value):
    assert parse(text, PACK, CTX).values[field] == value


def test_local_keys_in_keyvalue_syntax():
    parsed = parse("SAJILI#HH 40216#JINSIA ME#UMRI 30#JINA Baraka Otieno", PACK, CTX)
    assert parsed.syntax == "keyvalue" and parsed.language == "sw"
    assert parsed.values["sex"] == "M" and parsed.values["name"] == "Baraka Otieno"
    parsed = parse("GROS#ID 51025#SEM 12", PACK, CTX)
    assert parsed.values["weeks"] == 12 and parsed.language == "fr"


def test_a_french_sender_gets_french_replies(runtime, session):
    phone = "+254711000111"
    factories.contact(session, phone=phone, language="fr")
    outcome = send(runtime, phone, "AIDE")
    assert outcome.reply.startswith("Rapports: MEN ENR VIS GROS CPN NAIS ")
    assert outcome.reply.endswith("Envoyez AIDE et un mot-clé pour son format, ex. AIDE ENR")
    # an English keyword is understood, and still answered in the sender's language
    assert send(runtime, phone, "HELP").reply == outcome.reply
    assert send(runtime, phone, "AIDE GROS").reply == "Envoyez: GROS <ID> <semaines ou DDR>, ex. GROS 51025 12S"
    assert send(runtime, phone, "GROS 51025").reply == (
        "GROS: semaines ou DDR manquant. Envoyez: GROS <ID> <semaines ou DDR>, ex. GROS 51025 12S"
    )
    outcome = send(runtime, phone, "MEN Awa Diallo")
    household = session.scalar(select(Household))
    assert outcome.status == "accepted"
    assert outcome.reply == f"Ménage de Awa Diallo enregistré à Kanyagwal. ID {household.short_id}"


def test_a_swahili_sender_gets_swahili_replies(runtime, session):
    phone = "+254711000222"
    factories.contact(session, phone=phone, language="sw")
    assert send(runtime, phone, "MSAADA").reply.startswith("Ripoti: KAYA SAJILI ZIARA MIMBA ")
    assert send(runtime, phone, "SAJIL 40216 KE 24 Amina").reply == (
        "'SAJIL' si ripoti. Ulimaanisha SAJILI? Tuma: SAJILI <ID kaya> <jinsia KE/ME> <umri> <jina>"
    )
    outcome = send(runtime, phone, "KAYA Juma Ali")
    household = session.scalar(select(Household))
    assert outcome.reply == f"Kaya ya Juma Ali imesajiliwa katika Kanyagwal. ID {household.short_id}"


def test_langue_switches_a_french_sender_to_swahili(runtime, session):
    phone = "+254711000333"
    factories.contact(session, phone=phone, language="fr")
    outcome = send(runtime, phone, "LANGUE sw")
    assert outcome.status == "accepted"
    assert outcome.reply == "Majibu sasa yatakuwa kwa Kiswahili"
    session.expire_all()
    assert session.scalar(select(Contact).where(Contact.phone == phone)).language == "sw"
    # ç is not in GSM-7 and is sent as c
    assert send(runtime, phone, "LUGHA fr").reply == "Les réponses seront maintenant en francais"
