"""SMS alphabet and segment arithmetic, and the GSM-7 look-alikes used for replies."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.sms import GSM7_BASIC, GSM7_EXTENSION, fit, force_gsm, is_gsm7, segments, to_gsm

HAN = "中"      # one UTF-16 unit, not GSM-7
EMOJI = "😀"    # outside the BMP: a surrogate pair, two UTF-16 units


# --- the alphabet ---------------------------------------------------------------------

def test_table_sizes():
    assert len(GSM7_BASIC) == 127  # 128 codes less the escape
    assert GSM7_EXTENSION == frozenset("\f^{}\\[~]|€")
    assert not GSM7_BASIC & GSM7_EXTENSION
    assert "\x1b" not in GSM7_BASIC


@pytest.mark.parametrize("ch", list(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./09:;<=>?¡AZÄÖÑÜ§¿azäöñüà"
))
def test_basic_table_is_gsm7(ch):
    assert is_gsm7(ch)
    assert ch in GSM7_BASIC


@pytest.mark.parametrize("ch", list("\f^{}\\[~]|€"))
def test_extension_table_is_gsm7(ch):
    assert is_gsm7(ch)
    assert ch in GSM7_EXTENSION


@pytest.mark.parametrize("ch", [
    "`", "\t", "\x1b", "\x00", "ç", "á", "ê", "í", "ó", "ú", "ã", "õ", "È", "À",
    "ş", "ș", "ă", "ł", "œ", "“", "’", "–", "…", "\u00a0", "°", "ж", "α", "$\u0301",
    HAN, EMOJI,
])
def test_not_gsm7(ch):
    assert not is_gsm7(ch)


def test_is_gsm7_on_text():
    assert is_gsm7("")
    assert is_gsm7("Visit logged for HH-0042. Next: {date} [ok] €5")
    assert not is_gsm7("Visit logged — thanks")


# --- segments -------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("", ("GSM-7", 1)),
    ("a", ("GSM-7", 1)),
    ("a" * 160, ("GSM-7", 1)),
    ("a" * 161, ("GSM-7", 2)),
    ("a" * 153 * 2, ("GSM-7", 2)),
    ("a" * (153 * 2 + 1), ("GSM-7", 3)),
    ("a" * 153 * 3, ("GSM-7", 3)),
    ("a" * (153 * 3 + 1), ("GSM-7", 4)),
    # extension characters cost two septets
    ("€", ("GSM-7", 1)),
    ("a" * 158 + "€", ("GSM-7", 1)),           # 160 septets
    ("a" * 159 + "€", ("GSM-7", 2)),           # 161 septets
    ("€" * 80, ("GSM-7", 1)),                  # 160 septets
    ("€" * 81, ("GSM-7", 2)),                  # 76 + 5 per part
    # an escape pair is never split: a 2-septet character at septet 153 moves to the next part
    ("a" * 151 + "{" + "a" * 153, ("GSM-7", 2)),   # 306 septets, part one ends exactly at 153
    ("a" * 152 + "{" + "a" * 152, ("GSM-7", 3)),   # also 306 septets, but { cannot straddle
    ("€" * 153, ("GSM-7", 3)),                     # 306 septets, 76 characters (152) per part
    ("a" * 152 + "{" + "a" * 151, ("GSM-7", 2)),   # 152 | { + 151
])
def test_gsm7_segments(text, expected):
    assert segments(text) == expected


@pytest.mark.parametrize("text, expected", [
    (HAN, ("UCS-2", 1)),
    (HAN * 70, ("UCS-2", 1)),
    (HAN * 71, ("UCS-2", 2)),
    (HAN * 67 * 2, ("UCS-2", 2)),
    (HAN * (67 * 2 + 1), ("UCS-2", 3)),
    ("a" * 69 + "ж", ("UCS-2", 1)),
    ("a" * 160 + "ж", ("UCS-2", 3)),           # one character outside GSM-7 switches the lot
    # characters outside the BMP count as two units
    (EMOJI * 35, ("UCS-2", 1)),                # 70 units
    (EMOJI * 36, ("UCS-2", 2)),                # 72 units, 33 emoji (66 units) per part
    ("a" * 68 + EMOJI, ("UCS-2", 1)),          # 70 units
    ("a" * 69 + EMOJI, ("UCS-2", 2)),          # 71 units
    # a surrogate pair is never split across parts
    (HAN * 65 + EMOJI + HAN * 67, ("UCS-2", 2)),   # 134 units, part one ends exactly at 67
    (HAN * 66 + EMOJI + HAN * 66, ("UCS-2", 3)),   # also 134 units, but the pair cannot straddle
    (EMOJI * 67, ("UCS-2", 3)),                    # 134 units, 33 emoji per part
])
def test_ucs2_segments(text, expected):
    assert segments(text) == expected


@pytest.mark.parametrize("text, limit, expected", [
    ("", 1, True),
    ("a" * 160, 1, True),
    ("a" * 161, 1, False),
    ("a" * 161, 2, True),
    ("a" * 152 + "{" + "a" * 152, 2, False),
    (HAN * 70, 1, True),
    (HAN * 71, 1, False),
    ("a" * 69 + EMOJI, 1, False),
])
def test_fit(text, limit, expected):
    assert fit(text, limit) is expected


def test_fit_defaults_to_one_segment():
    assert fit("a" * 160)
    assert not fit("a" * 161)


# --- to_gsm ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    # quotes, dashes, ellipsis, spaces
    ("“Done”", '"Done"'),
    ("„Gut“ «bien» ‹ok›", '"Gut" "bien" \'ok\''),
    ("it’s ‘fine’ `x´", "it's 'fine' 'x'"),
    ("1–2 — 3 − 4 ‐ 5", "1-2 - 3 - 4 - 5"),
    ("Wait…", "Wait..."),
    ("12\u00a0kg\u2009at\u202f5\u2003pm", "12 kg at 5 pm"),
    ("soft\u00adhyphen\u200b", "softhyphen"),
    ("a\tb", "a b"),
    # Romanian, both the comma-below and the cedilla spellings
    ("Ștefan și Țară", "Stefan si Tara"),
    ("Ştefan şi Ţară", "Stefan si Tara"),
    ("pâine în mână", "paine in mana"),
    # Turkish: ö and ü are GSM-7; ç, ş, ğ, ı, İ are not
    ("Ağrı İlçesi, şöför, üç", "Agri Ilcesi, söför, üc"),
    # Polish
    ("Zażółć gęślą jaźń ŁÓDŹ", "Zazolc gesla jazn LODZ"),
    # French: é, è, à, ù and É are GSM-7 and stay; ê, ç (lower case), œ, î, ô, â do not
    ("Élève à la fenêtre", "Élève à la fenetre"),
    ("le garçon où l’œuvre", "le garcon où l'oeuvre"),
    ("Ça coûte très cher", "Ça coute très cher"),
    ("ÈTRE À L’ÉCOLE", "ETRE A L'ÉCOLE"),
    # letters GSM-7 has are kept as they are
    ("Straße Øre Ånd Ñandú Müller Æsir", "Straße Øre Ånd Ñandu Müller Æsir"),
    # other Latin letters without a decomposition
    ("Đorđe Łukasz Þór Ħal", "Dorde Lukasz Thor Hal"),
    # a letter keeps what GSM-7 can show of its marks
    ("ǻ ǘ Ǟ", "å ü Ä"),
    # combining marks typed separately fold like the precomposed letter
    ("e\u0301te\u0301 fe\u0302te", "été fete"),
    # compatibility forms
    ("ＨＥＬＬＯ！ ﬁne ½", "HELLO! fine 1/2"),
    ("𝐁𝐨𝐥𝐝 text", "Bold text"),
    # extension characters are GSM-7 too
    ("5€ [ok] ~ {x}", "5€ [ok] ~ {x}"),
])
def test_to_gsm(text, expected):
    result = to_gsm(text)
    assert result == expected
    assert is_gsm7(result)


@pytest.mark.parametrize("text", [
    "短信为空。发送“帮助”查看可用报告",
    "{keyword}：{field}“{value}”无效。格式：{usage}，例：{example}",
    "中文……——测试",
    "Привет — как дела?",
    "Ώρα",
    "Café ☕ – “open”",         # one character without a look-alike: nothing is changed
    "a ≠ b",
    EMOJI,
])
def test_to_gsm_leaves_text_without_look_alikes_untouched(text):
    assert to_gsm(text) == text


def test_to_gsm_returns_gsm7_text_as_is():
    text = "Visit logged for HH-0042 [ok]"
    assert to_gsm(text) is text
    assert to_gsm("") == ""


def test_to_gsm_keeps_a_reply_in_one_segment():
    reply = "Visite enregistrée pour le ménage 42 – prochaine visite : « lundi »… Merci, l’équipe santé."
    assert segments(reply)[0] == "UCS-2"
    assert segments(to_gsm(reply)) == ("GSM-7", 1)


@pytest.mark.parametrize("text, expected", [
    ("Amina", "Amina"),
    ("Café “李娜” – ok", "Café \"??\" - ok"),  # look-alikes where there are some, '?' for the rest
    (EMOJI + "x", "?x"),  # an emoji, two UTF-16 units, is one '?'
    ("ç\u0301ł", "cl"),
])
def test_force_gsm(text, expected):
    assert force_gsm(text) == expected


@given(st.text())
def test_force_gsm_is_always_gsm7_and_agrees_with_to_gsm_where_that_can(text):
    assert is_gsm7(force_gsm(text))
    if is_gsm7(to_gsm(text)):
        assert force_gsm(text) == to_gsm(text)


@given(st.text())
def test_to_gsm_output_is_gsm7_or_the_input(text):
    result = to_gsm(text)
    assert result == text or is_gsm7(result)
    assert to_gsm(result) == result


@given(st.text(alphabet=st.sampled_from(sorted(GSM7_BASIC | GSM7_EXTENSION)), max_size=700))
def test_gsm7_segments_match_a_greedy_split(text):
    septets = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    total = sum(septets)
    if total <= 160:
        expected = 1
    else:
        expected, used = 1, 0
        for n in septets:
            if used + n > 153:
                expected, used = expected + 1, 0
            used += n
    assert segments(text) == ("GSM-7", expected)
