"""Fieldline's USSD callback at a steady 100 steps a second: each step's latency, open loop.

    .venv/bin/python bench/ussd.py [--rate 100] [--seconds 20] [--warmup 10] [--think 1,3]

Fieldline runs under gunicorn as bench/webhook.py runs it (deploy/gunicorn.conf.py, two gthread
workers of --threads threads, PostgreSQL database --database made ready by prepare_fieldline's
field day, RQ on --redis-url, which is emptied at the start and at the end), with an Africa's
Talking callback secret. This process plays Africa's Talking: many USSD sessions at once, each
with a sessionId of its own and a volunteer's phone number from the field day, each posting
sessionId, serviceCode, phoneNumber, networkCode and text (every answer so far, joined by '*') to
/ussd/africastalking/<secret>, one step at a time, the next only once the last screen is back and
the volunteer has read it (--think seconds, drawn between the two bounds). Sessions walk the menu
to a full report on their own households and people: home visits (the household ID), antenatal
visits, family planning, danger signs, pregnancies (a woman already pregnant is refused, as by
SMS); a quarter of them type something wrong on the way (a number not on the menu, an ID with a
bad check digit, a household's ID where a person's is asked, a code not on the list, a weeks
count too large, a key not on the confirm screen), some go back a screen, some cancel at the
confirm screen, and one in ten is abandoned midway. Registering a person or a household is not
on the USSD menu (a name has to be typed), so sessions cannot do that.

Steps of the sessions are interleaved so that the offered rate stays at --rate steps a second
whatever the answers: each scheduled step goes to the session that has waited longest since its
screen came back, or to a new session when none is ready. Each latency counts from the step's
scheduled time. The first --warmup seconds are sent the same way but not counted (new sessions
only, at first). Every answer is checked: HTTP 200, 'CON ' while the session goes on and 'END '
when it ends, the main menu first, the same prompt under an error after a wrong answer, the
screen before after '0', the confirm screen before the submitting '1', and the report's own reply
(or a refusal worded as the SMS one) at the end. Printed: p50, p99 and max for every step and
for the submitting steps, the count of non-200 answers and of unexpected screens (with a few of
them), and the reports the sessions made, read from the database.

Another run using the same database, Redis database or port would be disturbed: pick others
(--database, --redis-url, --port) to run beside one.
"""
from __future__ import annotations

import argparse
import asyncio
import heapq
import itertools
import random
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.running import add_fieldline_options, quiet_field_day, refuse_if_busy, run, stop_on_sigterm  # noqa: E402
from bench.webhook import (  # noqa: E402
    Client, Population, field_day, http_post, make_servers, on_schedule, pg_url, quantile, wait_ready,
)

SECRET = "bench-ussd-callback-secret-0123456789"
PATH = f"/ussd/africastalking/{SECRET}"
SERVICE_CODE = "*384*7#"
NETWORK_CODE = "63902"  # Safaricom


# --- the sessions ------------------------------------------------------------------------------

@dataclass
class Session:
    """One USSD session as a handset walks it: what is typed at each step and what should come back.

    steps[0] is the dial (no answer yet); expect is one of menu, prompt, error, back, confirm,
    submit, cancel. stop is how many steps are sent: fewer than len(steps) when abandoned."""

    session_id: str
    phone: str
    lang: str
    form: str
    steps: list[tuple[str | None, str]]
    stop: int
    screens: list[str] = field(default_factory=list)
    sent: int = 0

    def text(self, upto: int) -> str:
        return "*".join(answer for answer, _ in self.steps[1:upto + 1])


class Planner:
    """New sessions of a field day's volunteers, drawn from a seeded generator."""

    def __init__(self, population: Population, languages: dict[str, str], seed: int):
        from gateway.config import LANGUAGES
        from gateway.formpack import load_pack
        from gateway.ussd import menu_forms

        self.rng = random.Random(seed)
        self.pack = load_pack(languages=LANGUAGES)
        self.menu = {form.code: str(n) for n, form in enumerate(menu_forms(self.pack, "volunteer"), 1)}
        self.languages = languages
        self.households = _by_phone(population.households)
        pregnant = set(population.pregnant)
        self.pregnant = _by_phone(population.pregnant)
        self.women = _by_phone(population.women)
        self.not_pregnant = _by_phone([w for w in population.women if w not in pregnant])
        self.phones = [p for p in population.volunteers if p in self.households and p in self.pregnant]

    def new(self) -> Session:
        rng = self.rng
        phone = rng.choice(self.phones)
        roll = rng.random()
        if roll < 0.38:
            form, subject = "V", rng.choice(self.households[phone])
            rest = [("00", "confirm") if rng.random() < 0.8 else ("Mtoto mgonjwa", "confirm")]
        elif roll < 0.55:
            form, subject = "ANC", rng.choice(self.pregnant[phone])
            rest = [("00", "confirm") if rng.random() < 0.9 else ("3", "confirm")]
        elif roll < 0.72:
            form, subject = "FP", rng.choice(self.women[phone])
            rest = [(rng.choice("123"), "prompt"),
                       (str(rng.randint(1, 6)), "confirm") if rng.random() < 0.7 else ("00", "confirm")]
        elif roll < 0.80:
            form, subject = "DANGER", rng.choice(self.pregnant[phone])
            rest = [(rng.choice(["12", "1", "3", "25"]), "confirm")]
        else:
            form, subject = "PREG", rng.choice(self.not_pregnant.get(phone) or self.women[phone])
            rest = [(str(rng.randint(6, 30)), "confirm")]

        mode = rng.choices(["plain", "wrong", "back", "cancel"], weights=[65, 25, 5, 5])[0]
        wrong_at = rng.choice(["menu", "id", "second", "confirm"]) if mode == "wrong" else None
        if wrong_at == "second" and form == "V":
            wrong_at = "confirm"  # any note is a good one, and none can be skipped
        steps: list[tuple[str | None, str]] = [(None, "menu")]
        if wrong_at == "menu":
            steps.append((rng.choice(["77", "15", "abc"]), "error"))
        steps.append((self.menu[form], "prompt"))
        if wrong_at == "id":
            steps.append((self._wrong_id(form, phone, subject), "error"))
        steps.append((subject, "prompt"))
        if mode == "back":  # back to the ID prompt, the same ID again
            steps += [("0", "back"), (subject, "prompt")]
        for n, (answer, expect) in enumerate(rest):
            if wrong_at == "second" and n == 0:
                steps.append((self._wrong_second(form), "error"))
            steps.append((answer, expect))
        if wrong_at == "confirm":
            steps.append((rng.choice(["5", "3", "9"]), "error"))
        steps.append(("2", "cancel") if mode == "cancel" else ("1", "submit"))

        stop = len(steps)
        if rng.random() < 0.10:  # abandoned: the handset hangs up before the last step
            stop = rng.randint(1, len(steps) - 1)
        return Session(f"ATUid_{rng.getrandbits(128):032x}", phone, self.languages[phone], form, steps, stop)

    def _wrong_id(self, form: str, phone: str, subject: str) -> str:
        if self.rng.random() < 0.5:  # one digit mistyped: the check digit refuses it
            return subject[:-1] + str((int(subject[-1]) + 1) % 10)
        if form == "V":  # a person's ID where a household's is asked
            return self.rng.choice(self.women[phone])
        return self.rng.choice(self.households[phone])

    def _wrong_second(self, form: str) -> str:
        return {"ANC": "8", "FP": "9", "DANGER": "18", "PREG": "45"}[form]


def _by_phone(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for phone, short_id in pairs:
        found.setdefault(phone, []).append(short_id)
    return found


# --- what each answer should be ------------------------------------------------------------------

class Checker:
    """Each answer against what its step expects; the sessions' outcomes and what was unexpected."""

    def __init__(self, pack):
        self.pack = pack
        self.recorded: dict[tuple[str, str], list[re.Pattern]] = {}
        self.outcomes = {"recorded": 0, "refused": 0, "cancelled": 0}
        self.unexpected: list[str] = []

    def message(self, key: str, lang: str) -> str:
        return self.pack.message(key, lang)

    def check(self, session: Session, k: int, status: int, screen: str) -> str | None:
        """What is wrong with the answer to step k of the session, or None."""
        expect = session.steps[k][1]
        before = session.screens[-1] if session.screens else ""
        if status != 200:
            return f"HTTP {status}"
        if expect in ("submit", "cancel"):
            if not screen.startswith("END "):
                return f"expected END at the {expect} step"
            if expect == "cancel":
                if screen != "END " + self.message("ussd_cancelled", session.lang):
                    return "expected the cancelled screen"
                self.outcomes["cancelled"] += 1
                return None
            if screen == "END " + self.message("ussd_unavailable", session.lang):
                return "Fieldline answered that it is busy"
            if any(p.fullmatch(screen[4:]) for p in self._recorded(session.form, session.lang)):
                self.outcomes["recorded"] += 1
            else:
                self.outcomes["refused"] += 1
            return None
        if not screen.startswith("CON "):
            return f"expected CON at a {expect} step"
        if expect == "menu":
            return None if screen.startswith("CON " + self.message("ussd_menu", session.lang)) else "not the menu"
        if expect == "back":
            return None if screen == session.screens[-2] else "back did not return to the screen before"
        if expect == "error":
            if screen == before or screen.splitlines()[-1] != before.splitlines()[-1]:
                return "expected the same prompt under an error"
            return None
        if expect == "confirm":
            head = self.message("ussd_confirm", session.lang).split("{", 1)[0]
            return None if screen.startswith("CON " + head) else "expected the confirm screen"
        if screen == before or screen.startswith("CON " + self.message("ussd_menu", session.lang)):
            return "expected the next prompt"
        return None

    def _recorded(self, form: str, lang: str) -> list[re.Pattern]:
        key = (form, lang)
        if key not in self.recorded:
            replies = self.pack.forms[form].replies
            self.recorded[key] = [_template(texts.get(lang) or texts["en"])
                                  for name, texts in replies.items() if name.startswith("recorded")]
        return self.recorded[key]


def _template(template: str) -> re.Pattern:
    """A reply template as a pattern: something in every {placeholder}."""
    parts = re.split(r"(\{\w+\})", template)
    return re.compile("".join(".+?" if re.fullmatch(r"\{\w+\}", p) else re.escape(p) for p in parts), re.S)


# --- the run ----------------------------------------------------------------------------------------

@dataclass
class Timing:
    latency: float
    kind: str  # dial | answer | submit
    counted: bool


def ussd_request(port: int, session: Session, k: int) -> bytes:
    form = {"sessionId": session.session_id, "serviceCode": SERVICE_CODE, "phoneNumber": session.phone,
            "networkCode": NETWORK_CODE, "text": session.text(k)}
    return http_post(port, PATH, urlencode(form).encode(), {"User-Agent": "AfricasTalking"})


async def drive(port: int, planner: Planner, checker: Checker, rate: float, warmup: float, seconds: float,
                think: tuple[float, float]) -> dict:
    """Open loop: a step every 1/rate s, to the session ready longest, else to a new one."""
    client = Client(port)
    loop = asyncio.get_running_loop()
    ready: list[tuple[float, int, Session]] = []  # (ready at, tie-break, session)
    timings: list[Timing] = []
    statuses: dict[int, int] = {}
    state = {"lag": 0.0, "started": 0, "abandoned": 0, "finished": 0, "ended_early": 0}
    count = int(rate * (warmup + seconds))
    start = loop.time() + 0.05
    measure_from = start + warmup
    serial = itertools.count()
    readers = random.Random(planner.rng.random())

    async def step(session: Session, k: int, scheduled: float) -> None:
        status, body = await client.exchange(ussd_request(port, session, k))
        done = loop.time()
        screen = body.decode("utf-8", "replace")
        statuses[status] = statuses.get(status, 0) + 1
        expect = session.steps[k][1]
        kind = "dial" if k == 0 else "submit" if expect == "submit" else "answer"
        timings.append(Timing(done - scheduled, kind, scheduled >= measure_from))
        problem = checker.check(session, k, status, screen)
        if problem:
            checker.unexpected.append(f"{session.session_id} {session.form} step {k} "
                                      f"(text {session.text(k)!r}): {problem}: {screen[:100]!r}")
        session.screens.append(screen)
        session.sent = k + 1
        if session.sent < session.stop and screen.startswith("CON "):
            heapq.heappush(ready, (done + readers.uniform(*think), next(serial), session))
        elif session.sent < len(session.steps):
            state["abandoned" if session.sent == session.stop else "ended_early"] += 1
        else:
            state["finished"] += 1

    def launch(_i: int, scheduled: float):
        now = loop.time()
        state["lag"] = max(state["lag"], now - scheduled)
        if ready and ready[0][0] <= now:
            session = heapq.heappop(ready)[2]
        else:
            session = planner.new()
            state["started"] += 1
        return step(session, session.sent, scheduled)

    await on_schedule(rate, count, start, launch)
    client.close()
    state["midway"] = len(ready)  # still going when the run ended
    return {"timings": timings, "statuses": statuses, **state}


def summary(name: str, latencies: list[float]) -> str:
    if not latencies:
        return f"{name:28} none"
    latencies = sorted(latencies)
    return (f"{name:28} {len(latencies):7,}  p50 {quantile(latencies, 0.5) * 1000:6.1f} ms  "
            f"p99 {quantile(latencies, 0.99) * 1000:6.1f} ms  max {latencies[-1] * 1000:7.1f} ms")


def ussd_reports(database: str) -> tuple[dict[str, int], dict[str, int], int]:
    """The USSD messages by status, the reports they made by form, and sessions stored more than once."""
    engine = create_engine(pg_url(database))
    with engine.connect() as conn:
        statuses = dict(conn.execute(text(
            "SELECT coalesce(status, 'none') || coalesce(' ' || error, ''), count(*) FROM inbound_messages "
            "WHERE channel = 'ussd' GROUP BY 1 ORDER BY 2 DESC")).all())
        reports = dict(conn.execute(text(
            "SELECT r.form, count(*) FROM reports r JOIN inbound_messages m ON m.id = r.message_id "
            "WHERE m.channel = 'ussd' GROUP BY r.form ORDER BY 2 DESC")).all())
        duplicates = conn.scalar(text(
            "SELECT count(*) FROM (SELECT provider_id FROM inbound_messages WHERE channel = 'ussd' "
            "GROUP BY provider_id HAVING count(*) > 1) d"))
    engine.dispose()
    return statuses, reports, duplicates


def languages_of(database: str) -> dict[str, str]:
    engine = create_engine(pg_url(database))
    with engine.connect() as conn:
        found = dict(conn.execute(text("SELECT phone, language FROM contacts")).all())
    engine.dispose()
    return found


def parse_think(value: str) -> tuple[float, float]:
    low, _, high = value.partition(",")
    bounds = (float(low), float(high or low))
    if not 0 <= bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError("expected LOW,HIGH seconds with 0 <= LOW <= HIGH")
    return bounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100, help="steps offered a second (default 100)")
    parser.add_argument("--seconds", type=float, default=20, help="seconds measured (default 20)")
    parser.add_argument("--warmup", type=float, default=10, help="seconds sent first and not counted (default 10)")
    parser.add_argument("--think", type=parse_think, default=(1.0, 3.0), metavar="LOW,HIGH",
                        help="seconds a volunteer takes to read a screen and answer (default 1,3)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (default 4)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the sessions drawn (default 1)")
    add_fieldline_options(parser, redis_for="jobs and sessions")
    args = parser.parse_args()
    stop_on_sigterm()

    from redis import Redis

    refuse_if_busy(args.database, args.port)
    quiet_field_day()
    population = field_day(args.database)
    planner = Planner(population, languages_of(args.database), args.seed)
    checker = Checker(planner.pack)
    redis = Redis.from_url(args.redis_url)
    redis.flushdb()
    server = make_servers(["fieldline"], args.threads, args.redis_url, fieldline_port=args.port,
                          fieldline_database=args.database)[0]
    server.env["AT_CALLBACK_SECRET"] = SECRET
    logs = Path(tempfile.mkdtemp(prefix="fieldline-ussd-bench-"))
    try:
        server.start(logs)
        probe = Session("ATUid_bench_ready", population.volunteers[0], "en", "V", [(None, "menu")], 1)
        wait_ready(server, ussd_request(args.port, probe, 0))
        print(f"fieldline up on port {args.port} (log: {logs / 'fieldline.log'}); {args.rate:.0f} steps/s "
              f"for {args.warmup:.0f} s of warm-up and {args.seconds:.0f} s measured, think time "
              f"{args.think[0]:g}-{args.think[1]:g} s", flush=True)
        run = asyncio.run(drive(args.port, planner, checker, args.rate, args.warmup, args.seconds, args.think))

        counted = [t for t in run["timings"] if t.counted]
        print()
        print(f"sessions: {run['started']:,} started, {run['finished']:,} walked to their last step, "
              f"{run['abandoned']:,} abandoned midway, {run['midway']:,} still going when the run ended"
              + (f", {run['ended_early']:,} ended before their last step" if run["ended_early"] else ""))
        print(f"steps measured ({args.seconds:.0f} s at {args.rate:.0f}/s, open loop, "
              "from each step's scheduled time):")
        print(summary("every step", [t.latency for t in counted]))
        print(summary("  dial (main menu)", [t.latency for t in counted if t.kind == "dial"]))
        print(summary("  answers (menus, prompts)", [t.latency for t in counted if t.kind == "answer"]))
        print(summary("  submitting (the report)", [t.latency for t in counted if t.kind == "submit"]))
        print(f"client lag: the latest a step went out after its scheduled time {run['lag'] * 1000:.1f} ms")
        bad = {k: v for k, v in run["statuses"].items() if k != 200}
        print(f"non-200 answers: {sum(bad.values())}" + (f" {bad}" if bad else "")
              + f"; unexpected screens: {len(checker.unexpected)} of {len(run['timings']):,} steps (warm-up included)")
        for line in checker.unexpected[:10]:
            print("   ", line)
        outcomes = checker.outcomes
        print(f"sessions' last screens: {outcomes['recorded']:,} report recorded, {outcomes['refused']:,} "
              f"refused with the SMS reply, {outcomes['cancelled']:,} cancelled")
        statuses, reports, duplicates = ussd_reports(args.database)
        print(f"in the database: {sum(reports.values()):,} reports from USSD ("
              + ", ".join(f"{form} {n:,}" for form, n in reports.items()) + "); USSD messages: "
              + ", ".join(f"{status} {n:,}" for status, n in statuses.items())
              + (f"; {duplicates} session(s) stored twice" if duplicates else ""))
        for name, kinds in (("every step", ("dial", "answer", "submit")), ("submitting", ("submit",))):
            latencies = sorted(t.latency for t in counted if t.kind in kinds)
            if latencies:
                p99 = quantile(latencies, 0.99)
                print(f"target p99 under 50 ms, {name}: {'met' if p99 < 0.050 else 'NOT met'} ({p99 * 1000:.1f} ms)")
    finally:
        server.stop()
        redis.flushdb()
        print(f"server log: {logs / 'fieldline.log'}")


if __name__ == "__main__":
    run(main)
