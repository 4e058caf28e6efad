"""Seed a PostgreSQL database with a large programme for the benchmarks, in SQL on the server.

    python bench/seed.py postgresql://postgres@127.0.0.1:5432/fieldline_bench --people 1000000

Builds 1 district, 10 townships, 1,000 villages, 2 volunteers a village (--volunteers for more),
each looking after an equal share of its village's households, in English, Chinese, French and
Swahili in turn; one staff member per township; households of 4 people, and 3 due items a person
(the antenatal, postnatal, home visit and family planning items of the pack's schedules) spread
from 60 days past to 180 days ahead of today (80% open, the rest done), after running the
migrations on an empty schema; then VACUUM ANALYZE, as autovacuum would do after a bulk load.
"""
from __future__ import annotations

import argparse
import time

from sqlalchemy import text

from gateway.db import make_engine
from gateway.migrate import upgrade

VILLAGES = 1000
# (schedule, item) of the care pack's schedules, the items the due care is made of
ITEMS = [
    *(("antenatal", f"anc_{w}w") for w in (12, 20, 26, 30, 34, 36, 38, 40)),
    *(("postnatal", f"pnc_d{d}") for d in (1, 3, 7, 42)),
    ("household_visit", "visit"), ("fp_pills", "resupply_pills"), ("fp_condoms", "resupply_condoms"),
    ("fp_injectable", "resupply_injectable"),
]
SCHEDULES = "ARRAY[" + ", ".join(f"'{s}'" for s, _ in ITEMS) + "]"
ITEM_NAMES = "ARRAY[" + ", ".join(f"'{i}'" for _, i in ITEMS) + "]"

STEPS = [
    ("areas", """
        INSERT INTO areas (id, name, kind, parent_id, created_at) VALUES (1, 'District', 'district', NULL, now());
        INSERT INTO areas (id, name, kind, parent_id, created_at)
          SELECT 1 + t, 'Township ' || t, 'township', 1, now() FROM generate_series(1, 10) t;
        INSERT INTO areas (id, name, kind, parent_id, created_at)
          SELECT 100 + v, 'Village ' || v, 'village', 2 + (v - 1) / 100, now() FROM generate_series(1, 1000) v;
        SELECT setval(pg_get_serial_sequence('areas', 'id'), 2000);
    """),
    ("contacts", """
        INSERT INTO contacts (id, name, phone, role, language, active, created_at, updated_at)
          SELECT g, 'Volunteer ' || g, '+2547' || lpad(g::text, 8, '0'), 'volunteer',
                 (ARRAY['en','zh','fr','sw'])[1 + g % 4], true, now(), now()
          FROM generate_series(1, :volunteers) g;
        INSERT INTO contact_areas (contact_id, area_id, position)
          SELECT g, 101 + (g - 1) / :per_village, 0 FROM generate_series(1, :volunteers) g;
        INSERT INTO contacts (id, name, phone, role, language, active, created_at, updated_at)
          SELECT :volunteers + t, 'Staff ' || t, '+2541' || lpad(t::text, 8, '0'), 'staff', 'en', true, now(), now()
          FROM generate_series(1, 10) t;
        INSERT INTO contact_areas (contact_id, area_id, position)
          SELECT :volunteers + t, 1 + t, 0 FROM generate_series(1, 10) t;
        SELECT setval(pg_get_serial_sequence('contacts', 'id'), :volunteers + 1000);
    """),
    ("households", """
        INSERT INTO short_ids (value, kind)
          SELECT '1' || lpad(g::text, 8, '0'), 'household' FROM generate_series(1, :households) g;
        INSERT INTO households (id, short_id, village_id, head_name, registered_by_id, created_at)
          SELECT g, '1' || lpad(g::text, 8, '0'), 101 + (g - 1) % 1000, 'Head ' || g,
                 1 + :per_village * ((g - 1) % 1000) + ((g - 1) / 1000) % :per_village, now()
          FROM generate_series(1, :households) g;
    """),
    ("people", """
        INSERT INTO short_ids (value, kind)
          SELECT '2' || lpad(g::text, 8, '0'), 'person' FROM generate_series(1, :people) g;
        INSERT INTO people (id, short_id, household_id, name, sex, birth_date, birth_date_estimated,
                            status, reminders_off, registered_by_id, created_at)
          SELECT g, '2' || lpad(g::text, 8, '0'), 1 + (g - 1) / 4, 'Person ' || g,
                 CASE WHEN g % 2 = 0 THEN 'F' ELSE 'M' END,
                 current_date - (g % 25000), true,
                 CASE WHEN g % 200 = 0 THEN 'moved_out' WHEN g % 333 = 0 THEN 'deceased' ELSE 'active' END,
                 g % 97 = 0, 1, now()
          FROM generate_series(1, :people) g;
    """),
    ("due items", """
        INSERT INTO due_items (schedule, item, person_id, volunteer_id, due_on, window_start, window_end,
                               status, created_at)
          SELECT (""" + SCHEDULES + """)[1 + g % """ + str(len(ITEMS)) + """],
                 (""" + ITEM_NAMES + """)[1 + g % """ + str(len(ITEMS)) + """], 1 + (g - 1) / 3,
                 1 + :per_village * (h % 1000) + (h / 1000) % :per_village,
                 current_date + d, current_date + d - 14, current_date + d + 14,
                 CASE WHEN g % 5 = 0 THEN 'done' ELSE 'open' END, now()
          FROM (SELECT g, (g - 1) / 12 AS h,  -- the household, whose volunteer it is
                       ((g::bigint * 2654435761) % 4294967291 % 240 - 60)::int AS d  -- days from today, scattered
                FROM generate_series(1, :items) g) s;
    """),
]


def seed(url: str, people: int, volunteers: int = 2 * VILLAGES) -> None:
    if volunteers < VILLAGES or volunteers % VILLAGES:
        raise ValueError(f"volunteers: a multiple of the {VILLAGES:,} villages, not {volunteers}")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    with engine.begin() as conn:
        upgrade(connection=conn)
    params = {"people": people, "households": people // 4, "items": people * 3, "volunteers": volunteers,
              "per_village": volunteers // VILLAGES}
    for name, sql in STEPS:
        started = time.perf_counter()
        with engine.begin() as conn:
            for statement in filter(str.strip, sql.split(";")):
                conn.execute(text(statement), {k: v for k, v in params.items() if f":{k}" in statement})
        print(f"seeded {name} in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM (ANALYZE)")  # as autovacuum does after a bulk load
    print(f"vacuumed and analyzed in {time.perf_counter() - started:.1f} s")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="a PostgreSQL URL of a database the benchmark may empty")
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--volunteers", type=int, default=2 * VILLAGES,
                        help=f"community health volunteers, a multiple of the {VILLAGES:,} villages (default 2,000)")
    args = parser.parse_args()
    if args.volunteers < VILLAGES or args.volunteers % VILLAGES:
        parser.error(f"--volunteers: a multiple of {VILLAGES:,}")
    seed(args.url, args.people, args.volunteers)


if __name__ == "__main__":
    main()
