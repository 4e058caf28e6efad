"""Reminders on PostgreSQL: finding the day's due care as tick does, composing and queueing the
digests, and one worker sending them to a local stand-in for Twilio's REST API.

    python bench/reminders.py postgresql://postgres@127.0.0.1:5432/fieldline_bench --seed
    python bench/reminders.py URL [--redis redis://127.0.0.1:6379/11] [--runs 10] [--days 5] [--sends 5000]

URL names a database seeded by bench/seed.py (--seed seeds it first, with --people, 1,000,000
unless told, and --volunteers, 2,000); it and the Redis database are emptied of outgoing messages
and jobs. The process settles its memory as `fieldline worker` does (tick runs in a worker).
Three parts, each printing its figures (--parts to run some):

due      What tick's digest step (worker.reminders.send_digests) reads, on a session of its own
         as tick runs it: the volunteers with care due, the check of today's digests, the first
         items of each ranked and counted, and those items read with their people a batch of
         volunteers at a time (digests.ranked_due and digests.read_due, timed inside
         digests.composed; composing the texts is timed apart). The first run (a fresh engine's
         first connection), the best and the median of the warm runs, and EXPLAIN (ANALYZE,
         BUFFERS) of each query, the ranking being the main one.
digests  send_digests itself, in an app on this database with SMS_BACKEND=console and RQ on
         Redis, the clock frozen at 10:00 (inside the sending window) on --days successive days
         from today: digests composed and queued per second is the outgoing messages made divided
         by the time send_digests took; the RQ jobs enqueued are counted too, and every digest is
         checked to be worded in its volunteer's language and to fit two SMS. Then a later tick
         of the first day, which queues nothing.
sends    --sends digests queued with SMS_BACKEND=twilio, TWILIO_API_URL at tests/fake_twilio.py's
         server on 127.0.0.1 (in this process; keeping connections open as Twilio does, unless
         --close) and SMS_RATE_PER_SECOND=0, then one RQ worker in burst mode in a process of its
         own: messages sent (status 'sent') per second of its work, and the check that the fake
         took each message exactly once.

Logs go at INFO to a file (as a worker's would go to its log), not to the terminal.
"""
from __future__ import annotations

import argparse
import logging
import multiprocessing
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete, event, func, select, text  # noqa: E402

from gateway import create_app, digests  # noqa: E402
from gateway.clock import FrozenClock  # noqa: E402
from gateway.config import LANGUAGES, Settings  # noqa: E402
from gateway.models import Contact, OutgoingKind, OutgoingMessage, OutgoingStatus, OutgoingStatusChange  # noqa: E402
from gateway.outbox import queue_sms  # noqa: E402
from gateway.replies import render  # noqa: E402
from gateway.sms import fit  # noqa: E402
from worker.runner import settle_memory  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/11"
ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
SENDER = "+254700111222"
SEND_HOUR = dtime(10, 0)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def settings_for(url: str, redis_url: str, **more) -> dict:
    return {"DATABASE_URL": url, "REDIS_URL": redis_url, "SMS_BACKEND": "console", "DEV_CHANNEL": "0",
            "SECRET_KEY": "bench", "TIMEZONE": "Africa/Nairobi", "LOG_LEVEL": "INFO", **more}


def make_app(values: dict):
    app = create_app(Settings.from_mapping(values))
    return app, app.extensions["fieldline"]


def empty_outbox(runtime) -> None:
    """No outgoing messages in the database, no jobs in the benchmark's Redis database."""
    with runtime.db.session_scope() as session:
        session.execute(delete(OutgoingStatusChange))
        session.execute(delete(OutgoingMessage))
    runtime.queues.redis.flushdb()


def db_today(runtime) -> date:
    """The day bench/seed.py counted its due dates from."""
    with runtime.db.session_scope() as session:
        return session.execute(text("SELECT current_date")).scalar()


# -- due: the queries of send_digests

class Timed:
    """digests.ranked_due and digests.read_due, timed: composed() calls them between composing."""

    NAMES = ("ranked_due", "read_due")

    def __init__(self):
        self.calls = 0
        self.seconds = 0.0
        self.originals = {name: getattr(digests, name) for name in self.NAMES}

    def __enter__(self):
        for name, original in self.originals.items():
            setattr(digests, name, self._timed(original))
        return self

    def __exit__(self, *exc):
        for name, original in self.originals.items():
            setattr(digests, name, original)

    def _timed(self, function):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0
                self.calls += 1
        return timed


def find_due(runtime, today: date) -> tuple[list[float], int, int, int, int]:
    """send_digests' reads, on a session of their own, and its composing of the texts: (lap times,
    volunteers, due items, digests, reads of ranked items)."""
    oldest = today - timedelta(days=runtime.settings.STALE_AFTER_DAYS)
    with Timed() as timed, runtime.db.session_scope() as session:
        t0 = time.perf_counter()
        volunteers = digests.volunteers_due(session, oldest, today)
        t1 = time.perf_counter()
        sent = digests.existing_keys(session, (digests.digest_key(v, today) for v in volunteers))
        todo = [v for v in volunteers if digests.digest_key(v, today) not in sent]
        t2 = time.perf_counter()
        found = [d for batch in digests.composed(session, runtime.pack, todo, oldest, today) for d, _ in batch]
        t3 = time.perf_counter()
    reading = timed.seconds
    return ([t1 - t0, t2 - t1, reading, t2 - t0 + reading, t3 - t2 - reading], len(volunteers),
            sum(d.total for d in found), len(found), timed.calls)


def captured_sql(runtime, call) -> list[tuple[str, object]]:
    """The statements call() sends to the database, with their parameters."""
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(runtime.db.engine, "before_cursor_execute", capture)
    try:
        call()
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", capture)
    return seen


def explain(runtime, statement: str, parameters) -> list[str]:
    with runtime.db.engine.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
        conn.rollback()
    return [row[0] for row in rows]


def bench_due(runtime, today: date, runs: int) -> dict:
    print(f"\n== due: tick's digest step finding the due care of {today} (runs: {runs})")
    runtime.db.engine.dispose()  # the first run opens the first connection, as a worker's first tick does
    laps = []
    for n in range(1, runs + 1):
        lap, volunteers, items, found, queries = find_due(runtime, today)
        laps.append(lap)
        print(f"run {n:2}: {volunteers} volunteers with care due in {ms(lap[0])}, today's digests checked in "
              f"{ms(lap[1])}, the earliest of {items} due items read for {found} volunteers in {ms(lap[2])} "
              f"({queries} calls): found in {ms(lap[3])}; texts composed in {ms(lap[4])}"
              + ("  (first run: a fresh engine's first connection)" if n == 1 else ""))
    warm = [lap[3] for lap in laps[1:]] or [laps[0][3]]
    print(f"finding the due care: first run {ms(laps[0][3])}; warm: best {ms(min(warm))}, "
          f"median {ms(statistics.median(warm))} (target under 250 ms)")

    oldest = today - timedelta(days=runtime.settings.STALE_AFTER_DAYS)
    with runtime.db.session_scope() as session:
        volunteers = digests.volunteers_due(session, oldest, today)
        ranked: list = []
        statements = captured_sql(runtime, lambda: (
            digests.volunteers_due(session, oldest, today),
            ranked.extend(digests.ranked_due(session, volunteers, oldest, today, digests.FIRST_READ)),
        ))
        first_batch = set(volunteers[:digests.BATCH])
        statements += captured_sql(runtime, lambda: digests.read_due(
            session, [row for row in ranked if row[1] in first_batch]))
    titles = ["the volunteers with care due",
              f"MAIN QUERY: the first {digests.FIRST_READ} open due items of each of the {len(volunteers)} volunteers, "
              f"ranked and counted",
              f"then, for the first batch ({len(first_batch)} volunteers): their numbers and languages",
              "the people of their ranked items, by primary key", "households, by primary key"]
    for title, (statement, parameters) in zip(titles, statements):
        plan = explain(runtime, statement, parameters)
        print(f"\nEXPLAIN (ANALYZE, BUFFERS), {title}:")
        for line in plan:
            print("    " + (line if len(line) < 300 else line[:300] + "..."))
    return {"first": laps[0][3], "best": min(warm), "median": statistics.median(warm)}


# -- digests: send_digests composing and queueing

def language_patterns(pack) -> dict[str, re.Pattern]:
    """A digest in lang, as the pack words it: its opening, each entry's care label, '+N more'."""
    patterns = {}
    for lang in LANGUAGES:
        labels = sorted({schedule.label(item.item, lang) for schedule in pack.schedules.values()
                         for item in schedule.items}, key=len, reverse=True)
        entry = "(?:" + "|".join(map(re.escape, labels)) + r") Person \d+ 2\d{8}"
        more = re.escape(render(pack, None, "digest_more", lang, {"count": "COUNT"})).replace("COUNT", r"\d+")
        whole = render(pack, None, "digest", lang, {"items": "ITEMS"})
        body = f"(?:{entry})(?:; {entry})*(?:; {more})?|{more}"
        patterns[lang] = re.compile(re.escape(whole).replace("ITEMS", f"(?:{body})"))
    return patterns


def check_digests(runtime, since: datetime) -> tuple[Counter, Counter, dict[str, str]]:
    """Digests made since: how many in each language are worded wholly in it and fit two SMS, how
    many are not, and one of each language."""
    patterns = language_patterns(runtime.pack)
    good: Counter = Counter()
    bad: Counter = Counter()
    sample: dict[str, str] = {}
    with runtime.db.session_scope() as session:
        rows = session.execute(
            select(Contact.language, OutgoingMessage.body)
            .join(Contact, Contact.id == OutgoingMessage.contact_id)
            .where(OutgoingMessage.kind == OutgoingKind.reminder, OutgoingMessage.created_at >= since)
        )
        for lang, body in rows:
            if patterns[lang].fullmatch(body) and fit(body, digests.MAX_SEGMENTS):
                good[lang] += 1
                sample.setdefault(lang, body)
            else:
                bad[lang] += 1
                sample.setdefault(f"{lang} (WRONG)", body)
    return good, bad, sample


def bench_digests(runtime, today: date, days: int) -> dict:
    from worker.reminders import send_digests

    print(f"\n== digests: send_digests at {SEND_HOUR:%H:%M} on {days} day(s) from {today}, "
          f"SMS_BACKEND=console, RQ on {runtime.settings.REDIS_URL}")
    tz = runtime.settings.tz
    runtime.clock = FrozenClock(tz, datetime.combine(today, SEND_HOUR, tzinfo=tz))
    bulk = runtime.queues.queues["bulk"]
    started_at = runtime.clock.now()
    made_all = jobs_all = 0
    elapsed_all = 0.0
    for n in range(days):
        runtime.clock.set(datetime.combine(today + timedelta(days=n), SEND_HOUR, tzinfo=tz))
        now = runtime.clock.now()
        jobs_before = bulk.count
        t0 = time.perf_counter()
        with runtime.db.session_scope() as session:
            queued = send_digests(session, runtime, now)
        elapsed = time.perf_counter() - t0
        jobs = bulk.count - jobs_before
        with runtime.db.session_scope() as session:
            made = session.scalar(select(func.count()).select_from(OutgoingMessage).where(
                OutgoingMessage.kind == OutgoingKind.reminder, OutgoingMessage.created_at == now))
        print(f"day {n + 1} ({now.astimezone(tz):%Y-%m-%d}): {made} digests made ({queued} by send_digests' count), "
              f"{jobs} send jobs enqueued, in {elapsed:.2f} s: {made / elapsed:,.0f} digests/s")
        made_all += made
        jobs_all += jobs
        elapsed_all += elapsed
    rate = made_all / elapsed_all
    print(f"in all: {made_all} digests made and {jobs_all} jobs enqueued in {elapsed_all:.2f} s: "
          f"{rate:,.0f} digests composed and queued per second (target 2,000)")

    good, bad, sample = check_digests(runtime, started_at)
    print("worded in the volunteer's language and at most two SMS: "
          + ", ".join(f"{lang} {good[lang]}" for lang in LANGUAGES)
          + (f"; NOT: {dict(bad)}" if bad else "; none otherwise"))
    for lang, body in sample.items():
        print(f"  {lang}: {body}")

    runtime.clock.set(datetime.combine(today, SEND_HOUR, tzinfo=tz).replace(minute=1))
    t0 = time.perf_counter()
    with runtime.db.session_scope() as session:
        again = send_digests(session, runtime, runtime.clock.now())
    later = time.perf_counter() - t0
    print(f"a later tick of {today}: {again} queued, in {ms(later)}")
    return {"made": made_all, "jobs": jobs_all, "elapsed": elapsed_all, "rate": rate, "later": later,
            "wrong": sum(bad.values())}


# -- sends: one worker and the fake provider

def digest_texts(runtime, today: date, count: int) -> list[tuple[int, str, str]]:
    """(volunteer, phone, text) of real digests, from successive days until there are count."""
    found: list[tuple[int, str, str]] = []
    day = today
    oldest_days = runtime.settings.STALE_AFTER_DAYS
    with runtime.db.session_scope() as session:
        while len(found) < count:
            oldest = day - timedelta(days=oldest_days)
            volunteers = digests.volunteers_due(session, oldest, day)
            for batch in digests.composed(session, runtime.pack, volunteers, oldest, day):
                found.extend((digest.volunteer_id, digest.phone, body) for digest, body in batch)
            if not volunteers:
                raise SystemExit(f"no care due on {day}: is the database seeded?")
            day += timedelta(days=1)
    return found[:count]


def run_worker(values: dict, log_file: str, profile: str | None, jobs: int | None, answer) -> None:
    """In a process of its own: one RQ worker, in burst mode, until the queues are empty; or, given
    jobs, blocking on the queues as `fieldline worker` does, until it has run that many."""
    logging.basicConfig(filename=log_file, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from worker.runner import make_worker

    app, runtime = make_app(values)
    with app.app_context():
        worker = make_worker(runtime, name=f"bench-{time.time_ns()}")
        settle_memory()  # as `fieldline worker` does
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        t0, cpu0 = time.perf_counter(), time.process_time()
        if jobs is None:
            worker.work(burst=True, with_scheduler=False)
        else:
            worker.work(burst=False, max_jobs=jobs, max_idle_time=5, with_scheduler=False)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
    answer.send((elapsed, cpu))


def fake_twilio(keep_alive: bool):
    """tests/fake_twilio.py's server on 127.0.0.1; with keep_alive, answering in HTTP/1.1 and keeping
    the connection open for the next request, as Twilio's API does (the test server closes it)."""
    import threading
    from http.server import ThreadingHTTPServer

    from tests.fake_twilio import FakeTwilio, _Handler

    fake = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN)
    if not keep_alive:
        return fake.start()

    class Handler(_Handler):
        twilio = fake
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # the body, written after the headers, goes at once

    fake._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake._server.daemon_threads = True
    threading.Thread(target=fake._server.serve_forever, daemon=True).start()
    return fake


def bench_sends(url: str, redis_url: str, today: date, count: int, log_file: str, profile: str | None,
                keep_alive: bool, blocking: bool) -> dict:
    fake = fake_twilio(keep_alive)
    values = settings_for(url, redis_url, SMS_BACKEND="twilio", TWILIO_ACCOUNT_SID=ACCOUNT_SID,
                          TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_FROM=SENDER, TWILIO_API_URL=fake.url,
                          PUBLIC_URL="http://127.0.0.1:8000", SMS_RATE_PER_SECOND="0")
    print(f"\n== sends: {count} digests queued with SMS_BACKEND=twilio at {fake.url} (tests/fake_twilio.py"
          f"{', connections kept open' if keep_alive else ', a connection a request'}), "
          f"SMS_RATE_PER_SECOND=0; one RQ worker "
          f"{'blocking on the queues (as fieldline worker)' if blocking else 'in burst mode'}")
    app, runtime = make_app(values)
    try:
        empty_outbox(runtime)
        texts = digest_texts(runtime, today, count)
        t0 = time.perf_counter()
        with app.app_context():
            for start in range(0, len(texts), digests.BATCH):
                with runtime.db.session_scope() as session:
                    for volunteer, phone, body in texts[start:start + digests.BATCH]:
                        queue_sms(session, runtime, to=phone, body=body, kind=OutgoingKind.reminder,
                                  now=runtime.clock.now(), contact_id=volunteer)
        queued_in = time.perf_counter() - t0
        with runtime.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE outgoing_messages, outgoing_status_changes")  # as autovacuum would
        print(f"{len(texts)} messages queued in {queued_in:.2f} s; jobs waiting: {runtime.queues.depths()}")

        receive, answer = multiprocessing.get_context("spawn").Pipe(duplex=False)
        process = multiprocessing.get_context("spawn").Process(
            target=run_worker, args=(values, log_file, profile, len(texts) if blocking else None, answer))
        t0 = time.perf_counter()
        process.start()
        process.join()
        wall = time.perf_counter() - t0
        if process.exitcode != 0 or not receive.poll():
            raise SystemExit(f"the worker process failed (exit code {process.exitcode}); see {log_file}")
        elapsed, cpu = receive.recv()

        with runtime.db.session_scope() as session:
            statuses = Counter(dict(session.execute(
                select(OutgoingMessage.status, func.count()).group_by(OutgoingMessage.status)).all()))
            rows = session.execute(select(OutgoingMessage.provider_id, OutgoingMessage.to, OutgoingMessage.body)
                                   .where(OutgoingMessage.status == OutgoingStatus.sent)).all()
        sent = statuses.get(OutgoingStatus.sent, 0)
        posts = fake.posts
        taken = Counter((p.params.get("To"), p.params.get("Body")) for p in posts)
        once = (len(posts) == len(fake.messages) == sent == len(texts)
                and all(fake.messages[sid]["to"] == to and fake.messages[sid]["body"] == body for sid, to, body in rows)
                and taken == Counter((to, body) for _, to, body in rows))
        spread = posts[-1].at - posts[0].at if len(posts) > 1 else 0.0
        rate = sent / elapsed
        print(f"statuses: {', '.join(f'{s.value} {n}' for s, n in statuses.items())}; jobs left: {runtime.queues.depths()}")
        print(f"the fake took {len(posts)} POSTs (all with the right credentials: "
              f"{all(p.auth_ok for p in posts)}) making {len(fake.messages)} messages; each queued message taken "
              f"exactly once, with its sid recorded: {once}")
        print(f"one worker: {sent} sent in {elapsed:.2f} s of work() ({wall:.2f} s with the process's start): "
              f"{rate:,.0f} messages/s (target 200); first to last POST at the fake {spread:.2f} s "
              f"({(len(posts) - 1) / spread if spread else 0:,.0f}/s); the worker's CPU {cpu:.2f} s "
              f"({cpu / elapsed:.0%} of its time, {cpu / max(sent, 1) * 1000:.2f} ms a message)")
        if profile:
            import pstats

            print(f"\nprofile of the worker's work() ({profile}), by own time:")
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
            pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
        return {"sent": sent, "elapsed": elapsed, "rate": rate, "once": once}
    finally:
        fake.stop()
        runtime.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="a PostgreSQL URL of a database the benchmark may empty")
    parser.add_argument("--seed", action="store_true", help="seed it first with bench/seed.py")
    parser.add_argument("--people", type=int, default=1_000_000, help="with --seed (default 1,000,000)")
    parser.add_argument("--volunteers", type=int, default=2000, help="with --seed (default 2,000)")
    parser.add_argument("--redis", default=REDIS_URL, help=f"a Redis database it may empty (default {REDIS_URL})")
    parser.add_argument("--runs", type=int, default=10, help="runs of finding the due care (default 10)")
    parser.add_argument("--days", type=int, default=5, help="days of digests to compose and queue (default 5)")
    parser.add_argument("--sends", type=int, default=5000, help="messages one worker sends (default 5,000)")
    parser.add_argument("--parts", default="due,digests,sends", help="which parts to run (default all)")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the worker into FILE and print the top")
    parser.add_argument("--blocking", action="store_true",
                        help="the worker blocks on the queues as `fieldline worker` does (BLPOP), and stops "
                             "after --sends jobs, rather than working in burst mode")
    parser.add_argument("--close", action="store_true",
                        help="the fake provider closes each connection after its answer (HTTP/1.0), as in the tests")
    args = parser.parse_args()
    url = args.url
    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    parts = set(args.parts.split(","))

    if args.seed:
        from bench.seed import seed

        seed(url, args.people, args.volunteers)
    log_file = str(Path(tempfile.gettempdir()) / "fieldline-bench-reminders.log")
    logging.basicConfig(filename=log_file, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    print(f"logs: {log_file}")

    app, runtime = make_app(settings_for(url, args.redis))
    settle_memory()  # as `fieldline worker` does once set up; tick runs in a worker
    today = db_today(runtime)
    empty_outbox(runtime)
    with app.app_context():
        if "due" in parts:
            bench_due(runtime, today, args.runs)
        if "digests" in parts:
            bench_digests(runtime, today, args.days)
    runtime.db.dispose()
    if "sends" in parts:
        bench_sends(url, args.redis, today, args.sends, log_file, args.profile, not args.close, args.blocking)


if __name__ == "__main__":
    main()
