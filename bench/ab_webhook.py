"""Two checkouts of Fieldline side by side on /sms/twilio: this process's CPU and PostgreSQL's a
message, measured in turns so that the machine's drift falls on both alike.

    git worktree add /tmp/before <commit>                     # the code to compare with
    .venv/bin/python bench/ab_webhook.py /tmp/before .        # [--chunk 300] [--chunks 14]

Each checkout runs in a process of its own, as bench/profile_webhook.py runs one (the Flask app
called as WSGI, no HTTP server; PostgreSQL, RQ on Redis with the pushing thread a gunicorn worker
has, LOG_FORMAT=json), on a field day of its own (databases fieldline_webhook_bench and
fieldline_ab_bench; Redis databases 11 and 12, emptied). Both take the same number of messages
of bench/webhook.py's mix, --chunks chunks of --chunk; the chunks go in turns, A then B, then B
then A, one process measuring while the other waits. Printed: each checkout's median CPU a
message (this process's, and PostgreSQL's over all of its processes: run on an otherwise idle
database server), and the medians of B's figure over A's, chunk by chunk.

On machines whose speed moves by a fifth from minute to minute, whole runs of bench/webhook.py
one after the other cannot show a change of a few per cent; paired chunks can.
"""
from __future__ import annotations

import argparse
import io
import logging
import statistics
import subprocess
import sys
import time
from pathlib import Path

DATABASES = ("fieldline_webhook_bench", "fieldline_ab_bench")
REDIS_URLS = ("redis://127.0.0.1:6379/11", "redis://127.0.0.1:6379/12")


def serve_chunks(checkout: Path, side: int, chunk: int, chunks: int) -> None:
    """The measuring process: set up, say 'ready', then run a chunk for each line read, printing
    'cpu postgres' (ms a message) after each."""
    sys.path.insert(0, str(checkout))  # this checkout's gateway and bench, before the installed one
    from redis import Redis
    from werkzeug.test import EnvironBuilder

    from bench.webhook import ACCOUNT, TOKEN, cpu_seconds, field_day, message_mix, pg_url, twilio_request
    from gateway import create_app

    population = field_day(DATABASES[side])
    Redis.from_url(REDIS_URLS[side]).flushdb()
    app = create_app({
        "DATABASE_URL": pg_url(DATABASES[side]), "REDIS_URL": REDIS_URLS[side], "REQUIRE_REDIS": "1",
        "SMS_BACKEND": "console", "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT,
        "PUBLIC_URL": "http://127.0.0.1:8102", "SECRET_KEY": "bench", "DEFAULT_REGION": "KE",
        "TIMEZONE": "Africa/Nairobi", "LOG_FORMAT": "json", "LOG_LEVEL": "INFO",
    })
    queues = app.extensions["fieldline"].queues
    if hasattr(queues, "push_in_background"):
        queues.push_in_background()
    for handler in logging.getLogger().handlers:  # a line a message, written where nobody reads it
        handler.setStream(open("/dev/null", "w"))

    def environs(seed: int, count: int) -> list[tuple[dict, bytes]]:
        made = []
        for raw in (twilio_request(8102, "/sms/twilio", *m) for m in message_mix(population, count, seed)):
            head, _, body = raw.partition(b"\r\n\r\n")
            signature = next(line.split(b": ", 1)[1] for line in head.split(b"\r\n")
                             if line.startswith(b"X-Twilio-Signature"))
            made.append((EnvironBuilder(
                path="/sms/twilio", method="POST", data=body, base_url="http://127.0.0.1:8102",
                headers={"X-Twilio-Signature": signature.decode()},
                content_type="application/x-www-form-urlencoded").get_environ(), body))
        return made

    def run(requests: list[tuple[dict, bytes]]) -> None:
        for environ, body in requests:
            environ = dict(environ, **{"wsgi.input": io.BytesIO(body)})
            answer = []
            b"".join(app.wsgi_app(environ, lambda status, headers, exc=None: answer.append(status)))
            assert answer == ["200 OK"], answer

    def postgres() -> float:
        return sum(seconds for kind, seconds in cpu_seconds(-1).values() if kind == "postgres")

    run(environs(1, 1000))  # warm: statements prepared, id blocks taken
    measured = environs(2, chunk * chunks)
    print("ready", flush=True)
    for at in range(0, len(measured), chunk):
        sys.stdin.readline()
        part = measured[at:at + chunk]
        pg, cpu = postgres(), time.process_time()
        run(part)
        cpu, pg = time.process_time() - cpu, postgres() - pg
        print(f"{cpu / len(part) * 1000:.4f} {pg / len(part) * 1000:.4f}", flush=True)
    Redis.from_url(REDIS_URLS[side]).flushdb()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="a checkout of Fieldline (the code before)")
    parser.add_argument("b", type=Path, help="another (the code after)")
    parser.add_argument("--chunk", type=int, default=300)
    parser.add_argument("--chunks", type=int, default=14)
    parser.add_argument("--serve", type=int, choices=(0, 1), help=argparse.SUPPRESS)  # a measuring process
    args = parser.parse_args()
    checkouts = (args.a.resolve(), args.b.resolve())
    if args.serve is not None:
        serve_chunks(checkouts[args.serve], args.serve, args.chunk, args.chunks)
        return

    sides = []
    for side, checkout in enumerate(checkouts):
        process = subprocess.Popen(
            [sys.executable, __file__, str(checkouts[0]), str(checkouts[1]), "--serve", str(side),
             "--chunk", str(args.chunk), "--chunks", str(args.chunks)],
            cwd=checkout, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for line in process.stdout:
            if line.strip() == "ready":
                break
            print(f"{'AB'[side]}: {line.rstrip()}")
        else:
            raise SystemExit(f"{checkout}: the measuring process ended before it was ready")
        sides.append(process)
    figures: tuple[list, list] = ([], [])
    for turn in range(args.chunks):
        for side in ((0, 1) if turn % 2 == 0 else (1, 0)):
            sides[side].stdin.write("go\n")
            sides[side].stdin.flush()
            figures[side].append(tuple(float(x) for x in sides[side].stdout.readline().split()))
    for process in sides:
        process.stdin.close()
        process.wait()
    for side, checkout in enumerate(checkouts):
        cpu = [f[0] for f in figures[side]]
        pg = [f[1] for f in figures[side]]
        print(f"{'AB'[side]} {checkout}: this process {statistics.median(cpu):.3f} ms a message "
              f"(fastest chunk {min(cpu):.3f}), PostgreSQL {statistics.median(pg):.3f} ms")
    pairs = list(zip(*figures))
    print(f"B / A, medians of {len(pairs)} pairs of chunks: this process "
          f"{statistics.median(b[0] / a[0] for a, b in pairs):.3f}, PostgreSQL "
          f"{statistics.median(b[1] / a[1] for a, b in pairs):.3f}")


if __name__ == "__main__":
    main()
