"""How many messages parse() reads per second on one core.

    python bench/parse.py [--forms DIR] [--size 20000] [--rounds 5]

The corpus is generated from the form pack itself (every form, every field type it uses), so it
follows the pack as forms are added: compact and key/value syntax, English and Chinese keywords,
full-width text and digits of other scripts, and about a quarter of messages with a mistake in
them (mistyped ID, missing or extra value, unknown keyword, impossible or future date).
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway import shortid  # noqa: E402
from gateway.formpack import Field, Form, FormPack, load_pack  # noqa: E402
from gateway.parsers import ParseContext, ParseError, parse  # noqa: E402

TODAY = date(2026, 11, 29)
NAMES = ["Amina", "Juma", "Ali", "Wanjiru", "Otieno", "Achieng", "Baraka", "Neema", "Zawadi"]
ZH_NAMES = ["李娜", "王伟", "张敏", "刘洋", "陈静"]
OTHER_ZEROS = "०٠۰০๐"  # Devanagari, Arabic-Indic, Extended Arabic-Indic, Bengali, Thai


def some_id(rng: random.Random) -> str:
    return shortid.make(str(rng.randrange(1000, 100000)))


def some_date(rng: random.Random, zh: bool) -> str:
    day = TODAY - timedelta(days=rng.randrange(0, 250))
    if zh and rng.random() < 0.5:
        return rng.choice([f"{day.year}年{day.month}月{day.day}日", "今天", "昨天", f"{rng.randrange(1, 9)}天"])
    return rng.choice([
        f"{day.day}/{day.month}/{day.year}", day.isoformat(), f"{day.day}.{day.month}.{day.year % 100:02d}",
        day.strftime("%d%m%Y"), "today", "yesterday", f"{rng.randrange(1, 9)}D",
    ])


def some_value(rng: random.Random, field: Field, lang: str) -> str:
    """A value a volunteer might send for this field."""
    zh = lang == "zh"
    kind = field.type
    if kind == "id":
        return str(rng.randrange(1, 999)) if field.kind == "alert" else some_id(rng)
    if kind in ("integer", "decimal"):
        low, high = field.min if field.min is not None else 0, field.max if field.max is not None else 100
        number = rng.uniform(low, high)
        return str(int(number)) if kind == "integer" else f"{number:.1f}"
    if kind == "date":
        return some_date(rng, zh)
    if kind == "weeks":
        if field.accept_date and rng.random() < 0.3:
            return some_date(rng, zh)
        return f"{rng.randrange(4, 40)}{rng.choice(['周'] if zh else ['W', 'w', '', 'WKS'])}"
    if kind == "age":
        if rng.random() < 0.2:
            return some_date(rng, zh)
        unit = rng.choice(["岁", "个月", "周", ""] if zh else ["", "Y", "M", "W", "D"])
        return f"{rng.randrange(0, 11) if unit else rng.randrange(1, 90)}{unit}"
    if kind == "choice":
        code = rng.choice(list(field.choices))
        words = field.choices[code].get(lang) or field.choices[code].get("*") or (code,)
        return rng.choice(words)
    if kind == "codes":
        return "".join(rng.sample(list(field.codes), rng.randrange(1, min(3, len(field.codes)) + 1)))
    if kind == "phone":
        return f"07{rng.randrange(10_000_000, 99_999_999)}"
    text = " ".join(rng.sample(ZH_NAMES if zh else NAMES, 2))
    return text[: field.max_length] if field.max_length else text


def keyword_and_key(form: Form, field: Field | None, lang: str) -> str:
    if field is None:
        words = form.keywords.get(lang) or form.keywords["en"]
    else:
        words = field.keys.get(lang) or field.keys.get("*") or next(iter(field.keys.values()))
    return words[0]


def message(rng: random.Random, pack: FormPack) -> str:
    form = rng.choice(list(pack.forms.values()))
    lang = "zh" if "zh" in form.keywords and rng.random() < 0.3 else "en"
    keyword = keyword_and_key(form, None, lang)
    fields = [f for f in form.fields if f.required or rng.random() < 0.5]
    values = [some_value(rng, f, lang) for f in fields]
    mistake = rng.random()
    if mistake < 0.05 and values:
        values.pop()  # missing value (or just an optional one left out)
    elif mistake < 0.10:
        values.append(rng.choice(["X", "12", "extra"]))
    elif mistake < 0.15:
        keyword = keyword[:-1] + "X" if len(keyword) > 1 else "XYZ"
    elif mistake < 0.20:
        for i, f in enumerate(fields):
            if f.type == "id" and f.kind != "alert":
                values[i] = values[i][:-2] + values[i][-1] + values[i][-2]  # two neighbours swapped
    elif mistake < 0.25:
        for i, f in enumerate(fields):
            if f.type in ("date", "age"):
                values[i] = rng.choice(["31/2/2026", "1/1/2027", "2026-13-01"])
    if rng.random() < 0.25 and fields:
        pairs = [f"#{keyword_and_key(form, f, lang)} {v}" for f, v in zip(fields, values)]
        rng.shuffle(pairs)
        text = f"{keyword} {' '.join(pairs)}"
    else:
        separator = "，" if lang == "zh" and rng.random() < 0.5 else " "
        text = separator.join([keyword, *values])
    return disguise(rng, text)


def disguise(rng: random.Random, text: str) -> str:
    """What phones do to text: full-width forms, other scripts' digits, lower case."""
    roll = rng.random()
    if roll < 0.08:
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in text)
    if roll < 0.16:
        zero = ord(rng.choice(OTHER_ZEROS))
        return "".join(chr(zero + ord(c) - 48) if "0" <= c <= "9" else c for c in text)
    if roll < 0.30:
        return text.lower()
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forms", help="a deployment's forms folder, added to the default pack")
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    pack = load_pack(extra_dir=args.forms)
    ctx = ParseContext(today=TODAY, region="KE")
    rng = random.Random(args.seed)
    corpus = [message(rng, pack) for _ in range(args.size)]

    errors = 0
    for text in corpus:  # also warms the per-form caches
        try:
            parse(text, pack, ctx)
        except ParseError:
            errors += 1

    best = float("inf")
    for _ in range(args.rounds):
        started = time.perf_counter()
        for text in corpus:
            try:
                parse(text, pack, ctx)
            except ParseError:
                pass
        best = min(best, time.perf_counter() - started)

    print(f"forms: {', '.join(sorted(pack.forms))}")
    print(f"corpus: {len(corpus)} messages, {errors / len(corpus):.1%} refused")
    print(f"parse: {len(corpus) / best:,.0f} messages/s (best of {args.rounds} rounds, one core)")


if __name__ == "__main__":
    main()
