"""Profile Fieldline's /sms/twilio in one process, as bench/webhook.py loads it: the same field day,
the same message mix, the same signed form posts, PostgreSQL and Redis, with pyinstrument.

    .venv/bin/pip install -e '.[bench]'     # pyinstrument, once
    .venv/bin/python bench/profile_webhook.py [--messages 3000] [--html profile.html]

Prints the time a message takes (and this process's CPU time of it) without the profiler, then the profile of a second pass.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.webhook import ACCOUNT, TOKEN, cpu_seconds, field_day, message_mix, pg_url, twilio_request  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--html", help="also write the profile as HTML here")
    parser.add_argument("--no-profile", action="store_true", help="only the time a message takes")
    args = parser.parse_args()

    from pyinstrument import Profiler
    from redis import Redis

    from gateway import create_app

    population = field_day("fieldline_webhook_bench")
    Redis.from_url(args.redis_url).flushdb()
    app = create_app({
        "DATABASE_URL": pg_url("fieldline_webhook_bench"), "REDIS_URL": args.redis_url, "REQUIRE_REDIS": "1",
        "SMS_BACKEND": "console", "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT,
        "PUBLIC_URL": "http://127.0.0.1:8102", "SECRET_KEY": "bench", "DEFAULT_REGION": "KE",
        "TIMEZONE": "Africa/Nairobi", "LOG_FORMAT": "json", "LOG_LEVEL": "INFO",
    })
    client = app.test_client()

    def run(seed: int) -> tuple[float, float, float]:
        requests = [twilio_request(8102, "/sms/twilio", *m) for m in message_mix(population, args.messages, seed)]
        postgres = postgres_seconds()
        started, cpu = time.perf_counter(), time.process_time()
        for raw in requests:
            head, _, body = raw.partition(b"\r\n\r\n")
            signature = next(line.split(b": ", 1)[1] for line in head.split(b"\r\n")
                             if line.startswith(b"X-Twilio-Signature"))
            response = client.post("/sms/twilio", data=body, headers={"X-Twilio-Signature": signature.decode()},
                                   content_type="application/x-www-form-urlencoded")
            assert response.status_code == 200, response.status_code
        n = len(requests)
        return ((time.perf_counter() - started) / n, (time.process_time() - cpu) / n,
                (postgres_seconds() - postgres) / n)

    run(1)  # warm
    wall, cpu, postgres = run(2)
    print(f"{wall * 1000:.2f} ms a message, {cpu * 1000:.2f} ms of it this process's CPU, "
          f"PostgreSQL's CPU {postgres * 1000:.2f} ms; one thread, no profiler ({args.messages} messages)")
    if args.no_profile:
        Redis.from_url(args.redis_url).flushdb()
        return
    profiler = Profiler(interval=0.0005)
    profiler.start()
    run(3)
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    if args.html:
        Path(args.html).write_text(profiler.output_html())
    Redis.from_url(args.redis_url).flushdb()


def postgres_seconds() -> float:
    """CPU seconds so far of every PostgreSQL process (run on an otherwise idle server)."""
    return sum(seconds for kind, seconds in cpu_seconds(-1).values() if kind == "postgres")


if __name__ == "__main__":
    main()
