"""What bench/ussd.py and bench/memory.py share about running servers: not disturbing another run,
stopping what they started when they are stopped, and a quiet field day."""
from __future__ import annotations

import logging
import signal
import socket
import sys
from typing import Callable

from sqlalchemy import create_engine, text

from bench.webhook import HOST, pg_url


def refuse_if_busy(database: str, port: int) -> None:
    """Stop before emptying a database another run is using, or binding a port that is taken."""
    engine = create_engine(pg_url("postgres"))
    with engine.connect() as conn:
        others = conn.scalar(text("SELECT count(*) FROM pg_stat_activity "
                                  "WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": database})
    engine.dispose()
    if others:
        raise SystemExit(f"database {database} has {others} other connection(s): another run? "
                         "Wait for it, or pick another with --database (and --redis-url, --port)")
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds: past connections do not count
        try:
            probe.bind((HOST, port))
        except OSError:
            raise SystemExit(f"port {port} is taken: pick another with --port") from None


def add_fieldline_options(parser, redis_for: str) -> None:
    """--database, --redis-url and --port of a script that serves Fieldline on the field day's data."""
    parser.add_argument("--database", default="fieldline_webhook_bench",
                        help="PostgreSQL database, emptied and made ready (default fieldline_webhook_bench)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11",
                        help=f"Redis database for {redis_for}, emptied at start and end (default %(default)s)")
    parser.add_argument("--port", type=int, default=8102, help="Fieldline's port on 127.0.0.1 (default 8102)")


def run(main: Callable[[], None]) -> None:
    """main(); Ctrl-C (or SIGTERM, see stop_on_sigterm) ends it in one line, main's finally having
    stopped every process it started."""
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted: every process this run started is stopped")


def stop_on_sigterm() -> None:
    """SIGTERM and SIGHUP end the run as Ctrl-C does: through the finally that stops the servers."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)


def quiet_field_day() -> None:
    """prepare_fieldline's app runs the field day's jobs in this process: their lines (a check
    sampling a report, an alert finding no staff) would bury the figures."""
    for name in ("gateway", "worker"):
        logging.getLogger(name).setLevel(logging.ERROR)
