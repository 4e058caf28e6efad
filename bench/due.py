"""Time finding the day's due care, as tick's digest step does, on a database seeded by bench/seed.py.

    python bench/seed.py postgresql://postgres@127.0.0.1:5432/fieldline_bench --people 1000000
    python bench/due.py postgresql://postgres@127.0.0.1:5432/fieldline_bench

Prints, for each of a few runs: the volunteers with care due, the check of today's digests (a
later tick of the day stops there), the ranked due items of every one of those volunteers, as the
day's first tick reads them (in batches), and composing the SMS. Nothing is written.
"""
from __future__ import annotations

import argparse
import time
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from gateway import digests
from gateway.config import LANGUAGES
from gateway.db import make_engine
from gateway.formpack import load_pack


def run(url: str, runs: int, stale_days: int) -> None:
    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    engine = make_engine(url)
    pack = load_pack(languages=LANGUAGES)
    with Session(engine) as session:
        today = session.execute(text("SELECT current_date")).scalar()
        oldest = today - timedelta(days=stale_days)
        for n in range(1, runs + 1):
            t0 = time.perf_counter()
            volunteers = digests.volunteers_due(session, oldest, today)
            t1 = time.perf_counter()
            done = digests.existing_keys(session, (digests.digest_key(v, today) for v in volunteers))
            t2 = time.perf_counter()
            found = [d for batch in digests.batches(volunteers)
                     for d in digests.due_care(session, batch, oldest, today)]
            t3 = time.perf_counter()
            for digest in found:
                digests.compose(pack, digest)
            t4 = time.perf_counter()
            ms = lambda a, b: f"{(b - a) * 1000:.0f} ms"  # noqa: E731
            print(f"run {n}: {len(volunteers)} volunteers with care due in {ms(t0, t1)}, "
                  f"today's digests checked in {ms(t1, t2)} ({len(done)} sent), {sum(d.total for d in found)} due items "
                  f"ranked for {len(found)} volunteers in {ms(t2, t3)}; found in all {ms(t0, t3)}; "
                  f"{len(found)} SMS composed in {ms(t3, t4)}")
        session.rollback()
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="a PostgreSQL URL of a database seeded by bench/seed.py")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stale-days", type=int, default=7)
    args = parser.parse_args()
    run(args.url, args.runs, args.stale_days)


if __name__ == "__main__":
    main()
