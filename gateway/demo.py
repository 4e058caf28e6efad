"""fieldline demo: a demo township on a fresh SQLite file and a scripted field day through intake."""
from __future__ import annotations

import logging
import re
import unicodedata
import uuid
from pathlib import Path
from typing import Callable

from .intake import Outcome, receive
from .migrate import upgrade
from .roster import save_contact

TOWNSHIP = "Kisumu/Nyando"
PEOPLE = {
    # alias: (name, phone, role, areas, language)
    "akinyi": ("Akinyi Otieno", "0712 345 678", "volunteer", [f"{TOWNSHIP}/Kanyagwal"], "en"),
    "juma": ("Juma Odhiambo", "0722 456 789", "volunteer", [f"{TOWNSHIP}/Ombeyi"], "en"),
    "lina": ("Li Na", "0733 567 890", "volunteer", [f"{TOWNSHIP}/Ombeyi"], "zh"),
    "grace": ("Grace Achieng", "0711 222 333", "staff", [TOWNSHIP], "en"),
}
# (who, text); {name} is an ID taken from an earlier reply, saved under the name in the third item.
SCRIPT: list[tuple[str, str, str | None]] = [
    # the morning: households and people
    ("akinyi", "HH Juma Ali", "hh1"),
    ("akinyi", "REG {hh1} F 24 Amina Juma", "amina"),
    ("akinyi", "REG {hh1} M 2M Baraka Juma", "baraka"),
    ("akinyi", "reg {hh1} f 31/12/2051 Zawadi", None),          # mistake: birth date in the future
    ("akinyi", "HH", None),                                    # mistake: head name missing
    ("akinyi", "REGG {hh1} F 30 Mary Juma", None),             # mistake: one edit from REG
    ("akinyi", "V {hh1}", None),
    ("akinyi", "V {hh1_typo}", None),                          # mistake: two digits swapped
    ("akinyi", "V {amina}", None),                             # mistake: a person's ID for a household's
    ("juma", "HOUSEHOLD Otieno Family", "hh2"),
    ("juma", "REG#HH {hh2}#S M#A 40#N Peter Otieno", "peter"),
    ("juma", "REG {hh2} F 35 Mary Otieno", "mary"),
    ("juma", "REG {hh2} X 40 Mary", None),                     # mistake: sex not M/F
    ("juma", "V {hh1}", None),                                 # mistake: Akinyi's village, not his
    ("lina", "户 王伟", "hh3"),
    ("lina", "登记 {hh3} 女 ３０ 李梅", "limei"),                   # full-width digits
    ("lina", "登记{hh3}，男，5岁，王小明", "xiaoming"),              # glued keyword, Chinese commas
    ("lina", "访视 {hh3}", None),
    ("lina", "访视", None),                                     # mistake: household missing
    # the afternoon: pregnancies, births and events
    ("akinyi", "PREG {amina} 12W", None),
    ("akinyi", "PREG {baraka} 12W", None),                     # mistake: registered as male
    ("akinyi", "ANC {amina}", None),
    ("akinyi", "DANGER {amina} BX", None),                     # mistake: X is no danger code
    ("akinyi", "DANGER {amina} BF", None),
    ("akinyi", "BIRTH {amina} today F 9", None),               # mistake: 9 kg is not a weight
    ("akinyi", "BIRTH {amina} today F 3.1", "baby"),
    ("akinyi", "PNC {baby}", None),
    ("lina", "怀孕 {limei} 2026年9月1日", None),
    ("lina", "产检 {xiaoming}", None),                           # mistake: no pregnancy recorded
    ("lina", "流产 {limei} 今天", None),
    ("juma", "FP {mary} P 3", None),
    ("juma", "OFF {mary}", None),
    ("juma", "ON {mary}", None),
    ("juma", "IN {baraka} {hh1}", None),                       # mistake: a household he does not cover
    ("juma", "OUT {peter} Nairobi", None),
    ("akinyi", "IN {peter} {hh1}", None),                      # Peter came to live in Kanyagwal
    ("lina", "死亡 {xiaoming} 今天", None),
    ("grace", "V {hh2} checked the water tank", None),         # staff may report anywhere
    ("grace", "HELP REG", None),
    ("akinyi", "", None),                                      # mistake: an empty message
    ("+254700000001", "REG 12345 F 20 Someone", None),         # not on the roster
    ("akinyi", "LANG zh", None),
    ("akinyi", "帮助 怀孕", None),
    ("akinyi", "LANG EN", None),
]


def _mistype(short_id: str) -> str:
    """The same ID with its two middle digits swapped (or one changed), as a volunteer might type it."""
    digits = list(short_id)
    i = len(digits) // 2
    if digits[i] != digits[i + 1]:
        digits[i], digits[i + 1] = digits[i + 1], digits[i]
    else:
        digits[i] = str((int(digits[i]) + 1) % 10)
    return "".join(digits)


def run_demo(db_path: str, echo: Callable[[str], None] = print) -> list[tuple[str, str, Outcome]]:
    from . import create_app

    path = Path(db_path).resolve()
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    upgrade(url)
    app = create_app({"DATABASE_URL": url, "DEFAULT_REGION": "KE", "SMS_BACKEND": "console"})
    logging.getLogger("gateway").setLevel(logging.WARNING)  # the table says it all
    runtime = app.extensions["fieldline"]
    with app.app_context():
        return _play(runtime, path, echo)


def _play(runtime, path: Path, echo: Callable[[str], None]) -> list[tuple[str, str, Outcome]]:
    phones: dict[str, str] = {}
    with runtime.db.session_scope() as session:
        for alias, (name, phone, role, areas, language) in PEOPLE.items():
            contact, _ = save_contact(session, name=name, phone=phone, role=role, areas=areas,
                                      language=language, region="KE")
            phones[alias] = contact.phone
    echo(f"Demo township {TOWNSHIP}: villages Kanyagwal and Ombeyi; database {path}")
    echo("Roster: " + "; ".join(f"{n} ({r}, {lang})" for n, _, r, _, lang in PEOPLE.values()))
    echo("")
    ids: dict[str, str] = {}
    played: list[tuple[str, str, Outcome]] = []
    rows = []
    for who, template, save_as in SCRIPT:
        if "hh1" in ids:
            ids["hh1_typo"] = _mistype(ids["hh1"])
        text = re.sub(r"\{(\w+)\}", lambda m: ids[m[1]], template)
        sender = phones.get(who, who)
        with runtime.db.session_scope() as session:
            outcome = receive(session, runtime, channel="demo", provider_id=str(uuid.uuid4()),
                              sender=sender, receiver="demo", body=text)
        if save_as and outcome.record:
            ids[save_as] = outcome.record["id"]
        played.append((who, text, outcome))
        label = PEOPLE[who][0] if who in PEOPLE else who
        rows.append((label, text or "(empty)", outcome.status, outcome.reply))
    _table(rows, echo)
    counts = {s: sum(1 for *_, o in played if o.status == s) for s in ("accepted", "rejected", "ignored")}
    echo("")
    echo(f"{len(played)} messages: {counts['accepted']} accepted, {counts['rejected']} rejected with "
         f"a reply saying why, {counts['ignored']} ignored (unknown sender). Nothing was lost: every "
         f"message is stored.")
    echo(f"Try one yourself: DATABASE_URL=sqlite:///{path} fieldline send '{PEOPLE['akinyi'][1]}' 'HELP'")
    return played


def _width(text: str) -> int:
    """Columns a terminal gives text: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _cell(text: str, width: int) -> str:
    while _width(text) > width:
        text = text[:-4] + "..."
    return text + " " * (width - _width(text))


def _table(rows: list[tuple[str, str, str, str]], echo: Callable[[str], None]) -> None:
    widths = [min(max(_width(r[i]) for r in rows), 40) for i in range(3)]
    head = ("from", "message", "status", "reply")
    echo("  ".join(_cell(h, w) for h, w in zip(head, widths)) + "  " + head[3])
    echo("  ".join("-" * w for w in widths + [5]))
    for row in rows:
        echo("  ".join(_cell(c, w) for c, w in zip(row[:3], widths)) + "  " + row[3])
