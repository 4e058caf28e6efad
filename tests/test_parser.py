"""The message language: one table of messages that parse, one of messages that must not."""
from __future__ import annotations

from datetime import date, timedelta
from textwrap import dedent

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.config import LANGUAGES
from gateway.formpack import load_pack
from gateway.models import Role
from gateway.parsers import Age, ParseContext, ParseError, parse
from gateway.parsers.normalize import normalize
from gateway.replies import parse_refusal
from gateway.shortid import make
from gateway.sms import segments

TODAY = date(2026, 11, 29)
CTX = ParseContext(today=TODAY, region="KE")
MDY = ParseContext(today=TODAY, region="KE", date_order="MDY")

HH = make("4021")  # 40216
P = make("5102")  # 51025
HH_TYPO = HH[:-1] + str((int(HH[-1]) + 1) % 10)  # one wrong digit
HH_SWAP = HH[:3] + HH[4] + HH[3]  # the last two digits swapped
P_SWAP = P[0] + P[2] + P[1] + P[3:]

# The forms of DESIGN §5 the default pack may not hold yet, with every field type between them.
TEST_FORMS = {
    "preg.yaml": """
        code: PREG
        handler: record_pregnancy
        keywords: {en: [PREG, PREGNANT], zh: [怀孕]}
        fields:
          - {name: id, type: id, kind: person, key: {"*": [ID, I], zh: [编号]}}
          - {name: weeks, type: weeks, accept_date: true, min: 1, max: 44,
             key: {"*": [W, WEEKS], zh: [周]}}
    """,
    "birth.yaml": """
        code: BIRTH
        handler: record_birth
        keywords: {en: [BIRTH], zh: [出生]}
        fields:
          - {name: mother, type: id, kind: person, key: {"*": [ID]}}
          - {name: date, type: date, key: {"*": [D, DATE]}}
          - name: place
            type: choice
            choices:
              H: {en: [H, HOME], zh: [家]}
              F: {en: [F, FACILITY], fr: [CS], zh: [医院]}
            key: {"*": [P, PLACE]}
          - {name: weight, type: decimal, required: false, min: 0.5, max: 6, key: {"*": [KG]}}
    """,
    "danger.yaml": """
        code: DANGER
        handler: record_danger
        keywords: {en: [DANGER], zh: [危险]}
        fields:
          - {name: id, type: id, kind: person}
          - name: signs
            type: codes
            codes:
              B: {en: bleeding}
              F: {en: fever}
              C: {en: convulsions}
              H: {en: severe headache}
              L: {en: long labour}
              N: {en: newborn not feeding}
              R: {en: fast breathing}
    """,
    "anc.yaml": """
        code: ANC
        handler: record_contact
        keywords: {en: [ANC], zh: [产检]}
        fields:
          - {name: id, type: id, kind: person}
          - name: signs
            type: codes
            required: false
            codes: {B: {en: bleeding}, F: {en: fever}, H: {en: severe headache}}
    """,
    "fp.yaml": """
        code: FP
        handler: record_supply
        keywords: {en: [FP], zh: [避孕]}
        fields:
          - {name: id, type: id, kind: person, key: {"*": [ID]}}
          - name: method
            type: choice
            choices:
              P: {en: [P, PILLS], zh: [药]}
              C: {en: [C, CONDOMS]}
              I: {en: [I, INJECTION]}
            key: {"*": [M]}
          - {name: quantity, type: integer, required: false, min: 1, max: 12, key: {"*": [Q]}}
    """,
    "tel.yaml": """
        code: TEL
        handler: set_phone
        keywords: {en: [TEL]}
        fields:
          - {name: id, type: id, kind: person}
          - {name: phone, type: phone}
    """,
    "ack.yaml": """
        code: ACK
        handler: acknowledge
        keywords: {en: [ACK], zh: [收到]}
        fields:
          - {name: alert, type: id, kind: alert}
    """,
}


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("forms")
    for name, text in TEST_FORMS.items():
        (folder / name).write_text(dedent(text), encoding="utf-8")
    return load_pack(extra_dir=folder)


def digits_in(text: str, zero: str) -> str:
    """The same number written in another script, given that script's zero."""
    return "".join(chr(ord(zero) + int(d)) for d in text)


def ago(**delta) -> date:
    return TODAY - timedelta(**delta)


def estimated(born: date) -> Age:
    return Age(born, estimated=True)


def exact(born: date) -> Age:
    return Age(born, estimated=False)


def ok(text, form, values, ctx=CTX, syntax=None):
    return pytest.param(text, form, values, ctx, syntax, id=text[:40])


REG_AMINA = {"household": HH, "sex": "F", "age": estimated(date(2002, 11, 29)), "name": "Amina Juma"}
REG_LINA = {"household": HH, "sex": "F", "age": estimated(date(2002, 11, 29)), "name": "李娜"}
LMP = date(2026, 6, 1)

VALID = [
    # compact syntax, the default pack
    ok(f"REG {HH} F 24 Amina Juma", "REG", REG_AMINA, syntax="compact"),
    ok(f"reg {HH} f 24y Amina Juma", "REG", REG_AMINA),
    ok(f"Register {HH} F 24A   Amina    Juma", "REG", REG_AMINA),
    ok(f"REG, {HH}; F: 24* Amina Juma", "REG", REG_AMINA),
    ok(f"REG {HH} m 6M baby juma", "REG",
       {"household": HH, "sex": "M", "age": estimated(date(2026, 5, 29)), "name": "baby juma"}),
    ok(f"REG {HH} M 3W Baby", "REG",
       {"household": HH, "sex": "M", "age": estimated(ago(weeks=3)), "name": "Baby"}),
    ok(f"REG {HH} M 3S Bébé", "REG",
       {"household": HH, "sex": "M", "age": estimated(ago(weeks=3)), "name": "Bébé"}),
    ok(f"REG {HH} M 10D Baby", "REG",
       {"household": HH, "sex": "M", "age": estimated(ago(days=10)), "name": "Baby"}),
    ok(f"REG {HH} F 0D Baby", "REG",
       {"household": HH, "sex": "F", "age": estimated(TODAY), "name": "Baby"}),
    ok(f"REG {HH} F 120 Bibi", "REG",
       {"household": HH, "sex": "F", "age": estimated(date(1906, 11, 29)), "name": "Bibi"}),
    ok(f"REG {HH} F 1990-05-17 Amina", "REG",
       {"household": HH, "sex": "F", "age": exact(date(1990, 5, 17)), "name": "Amina"}),
    ok(f"REG {HH} F 17/5/1990 Amina", "REG",
       {"household": HH, "sex": "F", "age": exact(date(1990, 5, 17)), "name": "Amina"}),
    ok(f"REG {HH} F 5/17/1990 Amina", "REG",
       {"household": HH, "sex": "F", "age": exact(date(1990, 5, 17)), "name": "Amina"}, ctx=MDY),
    ok(f"REG {HH} F 17.5.90 Amina", "REG",
       {"household": HH, "sex": "F", "age": exact(date(1990, 5, 17)), "name": "Amina"}),
    ok(f"REG {HH} F today Baby", "REG",
       {"household": HH, "sex": "F", "age": exact(TODAY), "name": "Baby"}),
    ok(f"REG{HH} F 24 Amina Juma", "REG", REG_AMINA),
    # Chinese keywords, words and punctuation
    ok(f"登记 {HH} 女 24 李娜", "REG", REG_LINA),
    ok(f"登记，{HH}，女，24岁，李娜。", "REG", REG_LINA),
    ok(f"登记{HH}、女、24、李娜", "REG", REG_LINA),
    ok(f"登记：{HH}；女；6个月；李娜", "REG",
       {"household": HH, "sex": "F", "age": estimated(date(2026, 5, 29)), "name": "李娜"}),
    ok(f"登记 {HH} 男 3周 李明", "REG",
       {"household": HH, "sex": "M", "age": estimated(ago(weeks=3)), "name": "李明"}),
    ok(f"登记 {HH} 男 10天 李明", "REG",
       {"household": HH, "sex": "M", "age": estimated(ago(days=10)), "name": "李明"}),
    ok(f"登记 {HH} F 24 李娜", "REG", REG_LINA),  # a code of another language is understood
    ok("户 王伟", "HH", {"head": "王伟"}),
    ok("户王伟", "HH", {"head": "王伟"}),
    # full-width text and digits of other scripts
    ok("ＲＥＧ　" + digits_in(HH, "０") + "　Ｆ　２４　Ａｍｉｎａ　Ｊｕｍａ", "REG", REG_AMINA),
    ok(f"REG {digits_in(HH, '०')} F {digits_in('24', '०')} Amina Juma", "REG", REG_AMINA),
    ok(f"REG {digits_in(HH, '٠')} F {digits_in('24', '٠')} Amina Juma", "REG", REG_AMINA),
    ok(f"V {digits_in(HH, '۰')}", "V", {"household": HH}),
    ok(f"V {digits_in(HH, '০')}", "V", {"household": HH}),
    ok(f"V {digits_in(HH, '๐')}", "V", {"household": HH}),
    # key/value syntax
    ok(f"REG #hh {HH} #s f #a 24 #n Amina Juma", "REG", REG_AMINA, syntax="keyvalue"),
    ok(f"REG#N Amina Juma#A 24#S F#HH {HH}", "REG", REG_AMINA, syntax="keyvalue"),
    ok(f"reg #Hh {HH} #SeX f #AGE 24 #name Amina Juma", "REG", REG_AMINA),
    ok(f"REG #H{HH} #S F #A 24 #N Amina Juma", "REG", REG_AMINA),
    ok(f"登记#户 {HH}#性别 女#年龄 24#姓名 李娜", "REG", REG_LINA),
    ok(f"登记 #HH {HH} #S 女 #A 24 #姓名李娜", "REG", REG_LINA),
    ok(f"ＲＥＧ＃ＨＨ　{HH}＃Ｓ　Ｆ＃Ａ　２４＃Ｎ　Amina Juma", "REG", REG_AMINA),
    ok(f"V #hh {HH} #notes Roof fixed", "V", {"household": HH, "notes": "Roof fixed"}),
    ok("HH #N Juma Ali", "HH", {"head": "Juma Ali"}, syntax="keyvalue"),
    ok("HH #Juma Ali", "HH", {"head": "Juma Ali"}, syntax="compact"),  # '#' was a separator
    # other forms of the default pack, glued keywords, odd characters
    ok("HH Juma Ali", "HH", {"head": "Juma Ali"}),
    ok("household  Juma,, Ali", "HH", {"head": "Juma Ali"}),
    ok(f"HH{HH}", "HH", {"head": HH}),
    ok(f"V {HH}", "V", {"household": HH}),
    ok(f"V{HH}", "V", {"household": HH}),
    ok(f"VISIT{HH} all well", "V", {"household": HH, "notes": "all well"}),
    ok(f"访视{HH}", "V", {"household": HH}),
    ok(f"visit {HH} mother “tired” – resting", "V",
       {"household": HH, "notes": 'mother "tired" - resting'}),
    ok(f"V {HH} Mama‘s roof — fixed", "V", {"household": HH, "notes": "Mama's roof - fixed"}),
    ok(f"V {HH[:2]}\u200b{HH[2:]}\u200d", "V", {"household": HH}),
    ok(f"\ufeffV {HH} soft\u00adhyphen", "V", {"household": HH, "notes": "softhyphen"}),
    ok(f"V {HH}.", "V", {"household": HH}),
    ok(f"V\t{HH}\r\n", "V", {"household": HH}),
    ok("LANG zh", "LANG", {"language": "ZH"}),
    ok("lang Kiswahili", "LANG", {"language": "SW"}),
    ok("语言 英文", "LANG", {"language": "EN"}),
    ok("LANG 中文", "LANG", {"language": "ZH"}),
    ok("HELP", "HELP", {}),
    ok("help reg", "HELP", {"keyword": "reg"}),
    ok("?", "HELP", {}),
    ok("？", "HELP", {}),
    ok("帮助 登记", "HELP", {"keyword": "登记"}),
    # weeks, with an LMP date accepted instead
    ok(f"PREG {P} 12W", "PREG", {"id": P, "weeks": 12}),
    ok(f"preg {P} 12", "PREG", {"id": P, "weeks": 12}),
    ok(f"PREG {P} 12wks", "PREG", {"id": P, "weeks": 12}),
    ok(f"PREG {P} 12S", "PREG", {"id": P, "weeks": 12}),
    ok(f"怀孕 {P} 12周", "PREG", {"id": P, "weeks": 12}),
    ok(f"PREG{P} 12w", "PREG", {"id": P, "weeks": 12}),
    ok(f"PREG#ID {P}#W 12", "PREG", {"id": P, "weeks": 12}, syntax="keyvalue"),
    ok(f"PREG #w 12W #Id {P}", "PREG", {"id": P, "weeks": 12}),
    ok(f"怀孕#编号 {P}#周12", "PREG", {"id": P, "weeks": 12}),
    ok(f"PREG {P} 1/6/2026", "PREG", {"id": P, "weeks": LMP}),
    ok(f"PREG {P} 2026-06-01", "PREG", {"id": P, "weeks": LMP}),
    ok(f"PREG {P} 2026/6/1", "PREG", {"id": P, "weeks": LMP}),
    ok(f"PREG {P} 1-6-2026", "PREG", {"id": P, "weeks": LMP}),
    ok(f"PREG {P} 1.6.26", "PREG", {"id": P, "weeks": LMP}),
    ok(f"PREG {P} 01062026", "PREG", {"id": P, "weeks": LMP}),
    ok(f"PREG {P} 010626", "PREG", {"id": P, "weeks": LMP}),
    ok(f"PREG {P} 2026年6月1日", "PREG", {"id": P, "weeks": LMP}),
    ok(f"怀孕 {P} 6月1日", "PREG", {"id": P, "weeks": LMP}),
    ok(f"PREG {P} 6/1/2026", "PREG", {"id": P, "weeks": LMP}, ctx=MDY),
    ok(f"PREG {P} 06012026", "PREG", {"id": P, "weeks": LMP}, ctx=MDY),
    # dates, choices, decimals
    ok(f"BIRTH {P} today H 3.2", "BIRTH", {"mother": P, "date": TODAY, "place": "H", "weight": 3.2}),
    ok(f"BIRTH {P} yesterday facility", "BIRTH", {"mother": P, "date": ago(days=1), "place": "F"}),
    ok(f"BIRTH {P} 3D home 3", "BIRTH", {"mother": P, "date": ago(days=3), "place": "H", "weight": 3.0}),
    ok(f"BIRTH {P} HIER CS", "BIRTH", {"mother": P, "date": ago(days=1), "place": "F"}),
    ok(f"BIRTH {P} jana F", "BIRTH", {"mother": P, "date": ago(days=1), "place": "F"}),
    ok(f"BIRTH {P} 2J H", "BIRTH", {"mother": P, "date": ago(days=2), "place": "H"}),
    ok(f"出生 {P} 今天 家 3.1", "BIRTH", {"mother": P, "date": TODAY, "place": "H", "weight": 3.1}),
    ok(f"出生 {P} 昨天 医院", "BIRTH", {"mother": P, "date": ago(days=1), "place": "F"}),
    ok(f"出生 {P} 3天 医院", "BIRTH", {"mother": P, "date": ago(days=3), "place": "F"}),
    ok(f"BIRTH {P} 28‐11‐2026 F", "BIRTH", {"mother": P, "date": date(2026, 11, 28), "place": "F"}),
    ok(f"BIRTH {P} 28—11—2026 F", "BIRTH", {"mother": P, "date": date(2026, 11, 28), "place": "F"}),
    ok(f"BIRTH {P} 28.11.26 F 2.95", "BIRTH",
       {"mother": P, "date": date(2026, 11, 28), "place": "F", "weight": 2.95}),
    ok(f"BIRTH {P} 11/28/26 F", "BIRTH", {"mother": P, "date": date(2026, 11, 28), "place": "F"}, ctx=MDY),
    ok(f"BIRTH #kg 3.4 #p h #d 27.11.2026 #id {P}", "BIRTH",
       {"mother": P, "date": date(2026, 11, 27), "place": "H", "weight": 3.4}),
    # codes, integers, phones, alert numbers
    ok(f"DANGER {P} BF", "DANGER", {"id": P, "signs": "BF"}),
    ok(f"danger {P} fb", "DANGER", {"id": P, "signs": "BF"}),
    ok(f"DANGER {P} F B B", "DANGER", {"id": P, "signs": "BF"}),
    ok(f"危险 {P} r，c", "DANGER", {"id": P, "signs": "CR"}),
    ok(f"ANC {P}", "ANC", {"id": P}),
    ok(f"ANC {P} h", "ANC", {"id": P, "signs": "H"}),
    ok(f"FP {P} P 3", "FP", {"id": P, "method": "P", "quantity": 3}),
    ok(f"FP {P} pills", "FP", {"id": P, "method": "P"}),
    ok(f"避孕 {P} 药 12", "FP", {"id": P, "method": "P", "quantity": 12}),
    ok(f"FP #q 2 #m condoms #id {P}", "FP", {"id": P, "method": "C", "quantity": 2}),
    ok(f"TEL {P} 0712345678", "TEL", {"id": P, "phone": "+254712345678"}),
    ok(f"TEL {P} +254712345678", "TEL", {"id": P, "phone": "+254712345678"}),
    ok(f"TEL {P} ０７１２３４５６７８", "TEL", {"id": P, "phone": "+254712345678"}),
    ok("ACK 57", "ACK", {"alert": "57"}),
    ok("收到 57", "ACK", {"alert": "57"}),
]


def bad(text, code, reason=None, field=None, **attrs):
    return pytest.param(text, code, reason or code, field, attrs, id=text[:40] or "(empty)")


ERRORS = [
    bad("", "empty"),
    bad("   ", "empty"),
    bad("\u200b\ufeff", "empty"),
    bad("，。、", "empty"),
    bad("#", "empty"),
    bad("FOO 123", "unknown_keyword", value="FOO", form=None),
    bad(f"{HH} F 24", "unknown_keyword", value=HH),
    bad("X", "unknown_keyword"),  # one edit from both V and ?: no single suggestion
    bad("HELO", "unknown_keyword", "did_you_mean", form="HELP", suggestion="HELP"),
    bad(f"PERG {P} 12", "unknown_keyword", "did_you_mean", form="PREG", suggestion="PREG", value="PERG"),
    bad(f"REGG {HH} F 24 A", "unknown_keyword", "did_you_mean", form="REG", suggestion="REG"),
    bad("REGISTR", "unknown_keyword", "did_you_mean", form="REG", suggestion="REGISTER"),
    bad(f"vistI {HH}", "unknown_keyword", "did_you_mean", form="V", suggestion="VISIT"),
    bad(f"VISITX {HH}", "unknown_keyword", "did_you_mean", form="V", suggestion="VISIT"),
    bad(f"PRGE{P} 12", "unknown_keyword", "did_you_mean", form="PREG", value="PRGE"),
    bad("登己", "unknown_keyword", "did_you_mean", form="REG", suggestion="登记", language="zh"),
    # missing_field
    bad("REG", "missing_field", field="household", form="REG", language="en"),
    bad(f"REG {HH}", "missing_field", field="sex"),
    bad(f"REG {HH} F", "missing_field", field="age"),
    bad(f"REG {HH} F 24", "missing_field", field="name"),
    bad(f"登记 {HH} 女 24", "missing_field", field="name", form="REG", language="zh"),
    bad(f"REG #hh {HH} #s f #a 24", "missing_field", field="name"),
    bad(f"REG #hh {HH} #s f #a 24 #n", "missing_field", field="name"),
    bad("HH", "missing_field", field="head"),
    bad("LANG", "missing_field", field="language"),
    bad(f"PREG {P}", "missing_field", field="weeks"),
    bad(f"DANGER {P}", "missing_field", field="signs"),
    bad(f"BIRTH {P} today", "missing_field", field="place"),
    # invalid_value
    bad(f"REG {HH} X 24 Amina", "invalid_value", field="sex", value="X"),
    bad(f"REG {HH} F abc Amina", "invalid_value", field="age", value="abc"),
    bad(f"REG {HH} F 121 Amina", "invalid_value", "too_large", field="age", max=120),
    bad(f"REG {HH} F 1500M Amina", "invalid_value", "too_large", field="age"),
    bad(f"REG {HH} F 1.1.1900 Amina", "invalid_value", "too_large", field="age"),
    bad("LANG klingon", "invalid_value", field="language", value="klingon"),
    bad(f"DANGER {P} BZ", "invalid_value", field="signs", value="Z"),
    bad(f"FP {P} P three", "invalid_value", field="quantity", value="three"),
    bad(f"FP {P} P 13", "invalid_value", "too_large", field="quantity", max=12),
    bad(f"FP {P} P 0", "invalid_value", "too_small", field="quantity", min=1),
    bad(f"TEL {P} 12345", "invalid_value", field="phone"),
    bad(f"BIRTH {P} today H heavy", "invalid_value", field="weight"),
    bad(f"BIRTH {P} today H 9.5", "invalid_value", "too_large", field="weight", max=6),
    bad(f"BIRTH {P} today H 0.2", "invalid_value", "too_small", field="weight", min=0.5),
    bad(f"BIRTH {P} today X", "invalid_value", field="place"),
    bad(f"PREG {P} twelve", "invalid_value", field="weeks"),
    bad(f"PREG {P} 45", "invalid_value", "too_large", field="weeks", max=44),
    bad(f"PREG {P} 0W", "invalid_value", "too_small", field="weeks", min=1),
    bad(f"PREG {P} 1.1.2020", "invalid_value", "too_large", field="weeks"),
    bad("HH " + "Juma " * 9, "invalid_value", "too_long", field="head", max=40),
    bad(f"REG #hh {HH} #x 3", "invalid_value", "unknown_key", value="x"),
    bad(f"PREG#ID {P}#W 12#w 13", "invalid_value", "repeated_key", field="weeks"),
    # invalid_date
    bad(f"BIRTH {P} 31/2/2026 H", "invalid_date", field="date", value="31/2/2026"),
    bad(f"BIRTH {P} 2026-13-01 H", "invalid_date", field="date"),
    bad(f"BIRTH {P} 2026年2月30日 H", "invalid_date", field="date"),
    bad(f"BIRTH {P} 31022026 H", "invalid_date", field="date"),
    bad(f"BIRTH {P} 28/11/2026 H", "invalid_date", field="date", ctx=MDY),
    bad(f"BIRTH {P} tomorrow H", "invalid_date", field="date"),
    bad(f"BIRTH {P} 30.12.2026 H", "invalid_date", "future_date", field="date"),
    bad(f"BIRTH {P} 15.12.26 H", "invalid_date", "future_date", field="date"),
    bad(f"BIRTH {P} 12月1日 H", "invalid_date", "future_date", field="date"),
    bad(f"REG {HH} F 31/2/2020 Amina", "invalid_date", field="age"),
    bad(f"REG {HH} F 1/1/2027 Amina", "invalid_date", "future_date", field="age"),
    bad(f"PREG {P} 1/12/2026", "invalid_date", "future_date", field="weeks"),
    # invalid_id
    bad(f"REG {HH_TYPO} F 24 Amina", "invalid_id", field="household", value=HH_TYPO, form="REG"),
    bad(f"V {HH_SWAP}", "invalid_id", field="household", value=HH_SWAP),
    bad(f"PREG {P_SWAP} 12", "invalid_id", field="id", value=P_SWAP),
    bad("V 4021", "invalid_id", field="household", value="4021"),
    bad("V ABCDE", "invalid_id", field="household", value="ABCDE"),
    bad("V #Juma", "invalid_id", field="household", value="Juma"),  # not a key of V: '#' was a separator
    bad("ACK five", "invalid_id", field="alert"),
    # extra_values
    bad(f"PREG {P} 12 W", "extra_values", value="W", form="PREG"),
    bad("LANG en fr", "extra_values", value="fr"),
    bad("ACK 57 58", "extra_values", value="58"),
    bad(f"FP {P} P 3 4 5", "extra_values", value="4 5"),
    bad(f"PREG#ID {P} 12#W 12", "extra_values", field="id", value="12"),
]


@pytest.mark.parametrize("text, form, values, ctx, syntax", VALID)
def test_message_parses(pack, text, form, values, ctx, syntax):
    parsed = parse(text, pack, ctx)
    assert (parsed.form, parsed.values) == (form, values)
    if syntax:
        assert parsed.syntax == syntax


@pytest.mark.parametrize("text, code, reason, field, attrs", ERRORS)
def test_message_is_refused(pack, text, code, reason, field, attrs):
    attrs = dict(attrs)
    ctx = attrs.pop("ctx", CTX)
    with pytest.raises(ParseError) as caught:
        parse(text, pack, ctx)
    error = caught.value
    assert (error.code, error.reason, error.field) == (code, reason, field)
    for name, expected in attrs.items():
        actual = getattr(error, name) if name in ("value", "form", "language") else error.args_[name]
        assert actual == expected, name
    if code not in ("empty", "unknown_keyword"):
        assert error.form and error.language  # every error of a known form names both


def test_keyword_language_is_reported(pack):
    assert parse(f"登记 {HH} 女 24 李娜", pack, CTX).language == "zh"
    assert parse(f"REG {HH} F 24 Amina", pack, CTX).language == "en"


@pytest.mark.parametrize("text, expected", [
    ("ＰＲＥＧ　５１０２５", "PREG 51025"),
    ("a , b;c:d*e  、f。g", "a b c d e f g"),
    ("PREG#ID 51025#W 12", "PREG#ID 51025#W 12"),
    ("“x” ‘y’ a–b−c", "\"x\" 'y' a-b-c"),
    ("Amina\u200b Juma\x07", "Amina Juma"),
])
def test_normalize(text, expected):
    assert normalize(text) == expected


# -- any text at all: parsed, or refused with a reply that fits one SMS in every language ----------------

DEPLOYED = load_pack(languages=LANGUAGES)  # the default pack as a deployment loads it
CODES = {"empty", "unknown_keyword", "missing_field", "invalid_value", "invalid_date", "invalid_id",
         "extra_values"}
ROLES = [role.value for role in Role]
CONTROL = [chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))]
INVISIBLE = list("\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                 "\u061c\u2060\ufeff\u00ad\u2028\u2029\u3000\u00a0")
HOSTILE_CHARS = st.one_of(
    st.characters(),  # every code point but surrogates
    st.sampled_from(CONTROL + INVISIBLE),  # NUL and the other controls, direction marks
    st.characters(categories=["Nd"]),  # digits of every script
    st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),  # emoji: two UTF-16 units each
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # Han
    st.characters(categories=["Mn", "Me"]),  # combining marks, with or without a letter
)
ANY_TEXT = st.one_of(
    st.text(),
    st.text(HOSTILE_CHARS, max_size=40),
    st.text(HOSTILE_CHARS, min_size=300, max_size=2000),  # longer than any SMS
)
FUZZ = settings(max_examples=1000, deadline=None, derandomize=True, database=None)


@pytest.fixture(scope="module", params=["deployed", "every_field_type"])
def any_pack(request, pack):
    return DEPLOYED if request.param == "deployed" else pack


@pytest.fixture(scope="module")
def fuzz_words(any_pack):
    keys = sorted({f"#{word}" for form in any_pack.forms.values() for f in form.fields
                   for words in f.keys.values() for word in words})
    return sorted(any_pack.keywords) + keys + [
        HH, P, HH_TYPO, "#", "12W", "12周", "31/2/2026", "1.6.26", "今天", "3D", "BF", "3.2", "0712345678",
        digits_in(HH, "٠"), digits_in(P, "०"), "\u202e" + P, "ＲＥＧ", "😀" * 16, "李" * 41, "x" * 300,
    ]


@FUZZ
@given(text=ANY_TEXT)
@example(text=f"登记#户 {HH}#" + "😀" * 20)  # an emoji is two UTF-16 units: 16 of them are 32
@example(text="PREG\x00" + P + "\x00" + "12W")
def test_any_text_parses_or_is_refused_in_one_sms(any_pack, text):
    parses_or_is_refused_in_one_sms(any_pack, text)


@FUZZ
@given(data=st.data())
def test_any_words_after_a_keyword_parse_or_are_refused_in_one_sms(any_pack, fuzz_words, data):
    words = data.draw(st.lists(st.one_of(st.sampled_from(fuzz_words), st.text(HOSTILE_CHARS, max_size=12)),
                               max_size=8))
    separators = data.draw(st.lists(st.sampled_from([" ", "#", "", "，", "\u200b", "\u200f", "\x00", "\t", "*"]),
                                    min_size=len(words), max_size=len(words)))
    parses_or_is_refused_in_one_sms(any_pack, "".join(w + s for w, s in zip(words, separators)))


def parses_or_is_refused_in_one_sms(pack, text):
    """Anything but a ParseError escaping parse() fails the test; so does a parse missing a required
    field, and a refusal that does not fit one SMS in each language, for each role's keyword list."""
    try:
        parsed = parse(text, pack, CTX)
    except ParseError as error:
        assert error.code in CODES, error
        if error.code not in ("empty", "unknown_keyword"):
            assert error.form in pack.forms and error.language, error
        for lang in LANGUAGES:
            for role in ROLES:
                reply = parse_refusal(pack, error, lang, role)
                encoding, count = segments(reply)
                assert reply and count == 1, f"{error!r} in {lang} takes {count} {encoding} segments: {reply!r}"
        return
    fields = pack.forms[parsed.form].fields
    assert {f.name for f in fields if f.required} <= set(parsed.values) <= {f.name for f in fields}
