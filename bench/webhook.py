"""Fieldline's Twilio webhook side by side with the floor and with RapidSMS, in one run.

    .venv/bin/python bench/webhook.py [--rounds 3] [--seconds 8] [--rate 200]

Three servers run under gunicorn on loopback, each with two worker processes (gthread, the same
threads each), on the same PostgreSQL:
  fieldline  /sms/twilio with deploy/gunicorn.conf.py, Redis for its jobs, the console SMS backend;
  floor      bench/floor_app.py: checks the same Twilio signature, inserts one row, answers TwiML;
  rapidsms   RapidSMS 2.2 on Django (bench/rapidsms_site, CONN_MAX_AGE=60): its HTTP backend
             (fields identity and text) and one keyword handler that saves the report. It is
             installed from PyPI into bench/.venvs/rapidsms on first use.
This process is the load client: it builds every request beforehand (Fieldline and the floor get
the same Twilio-signed form posts, RapidSMS the same texts), then, round after round and in turn:
  saturation  a closed loop of --concurrency connections for --seconds: messages per second;
  open loop   --rate messages a second for --open-seconds, each latency counted from the
              request's scheduled time, not from when it could be sent: p50 and p99.
The CPU time a message costs at saturation is read from /proc: the server's gunicorn processes,
and PostgreSQL's processes (all of them: run it on an otherwise idle database server).
The mix is a field day's: mostly valid reports (visits, registrations, antenatal visits,
pregnancies, danger signs, family planning), some mistakes and unknown senders, and about one
message in ten a provider's retry of one already sent (the same MessageSid). Ratios are taken
within each round, as the machine drifts between rounds.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable
from urllib.parse import urlencode

from sqlalchemy import create_engine, text
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "bench" / "rapidsms_site"
RAPIDSMS_VENV = ROOT / "bench" / ".venvs" / "rapidsms"
RAPIDSMS_PACKAGES = ["rapidsms==2.2.0", "Django>=5.1,<5.2", "psycopg[binary]>=3.1", "gunicorn>=22"]
TOKEN = "bench-auth-token-0123456789abcdef"
ACCOUNT = "AC" + "b" * 32
SHORTCODE = "+254700123456"
HOST = "127.0.0.1"

VOLUNTEERS = 40
HOUSEHOLDS_EACH = 5
NAMES = ["Amina", "Baraka", "Zawadi", "Mary", "Peter", "Juma", "Akinyi", "Otieno", "Wanjiru", "Kamau"]


# --- the population and the message mix ------------------------------------------------------

@dataclass
class Population:
    """What the field day registered: who covers which household, the women, the pregnant."""
    volunteers: list[str] = field(default_factory=list)
    households: list[tuple[str, str]] = field(default_factory=list)  # (phone, household id)
    women: list[tuple[str, str]] = field(default_factory=list)  # (phone, person id)
    pregnant: list[tuple[str, str]] = field(default_factory=list)


def prepare_fieldline(url: str) -> Population:
    """An empty schema, migrated; a roster of volunteers; each registers households and people
    and a pregnancy through intake, as they would by SMS, so that every ID in the mix is real."""
    from gateway import create_app
    from gateway.intake import receive
    from gateway.migrate import upgrade
    from gateway.roster import save_contact

    reset_schema(url)
    upgrade(url)
    app = create_app({"DATABASE_URL": url, "DEFAULT_REGION": "KE", "SMS_BACKEND": "console",
                      "TIMEZONE": "Africa/Nairobi", "REDIS_URL": ""})
    runtime = app.extensions["fieldline"]
    logging.getLogger("gateway").setLevel(logging.WARNING)  # a line a message would drown the output
    population = Population()
    serial = iter(range(10**9))

    def send(phone: str, body: str) -> dict:
        with runtime.db.session_scope() as session:
            outcome = receive(session, runtime, channel="twilio", provider_id=f"SMsetup{next(serial)}",
                              sender=phone, receiver=SHORTCODE, body=body)
        assert outcome.status == "accepted", (body, outcome.reply)
        return outcome.record

    with app.app_context():
        with runtime.db.session_scope() as session:
            for v in range(VOLUNTEERS):
                contact, _ = save_contact(session, name=f"Volunteer {v}", phone=f"+2547{20000000 + v}",
                                          role="volunteer", areas=[f"Bench/Township/Village {v % 8}"],
                                          language=("en", "sw", "fr")[v % 3], region="KE")
                population.volunteers.append(contact.phone)
        for phone in population.volunteers:
            for h in range(HOUSEHOLDS_EACH):
                household = send(phone, f"HH {NAMES[h]} Family")["id"]
                population.households.append((phone, household))
                woman = send(phone, f"REG {household} F 26 {NAMES[h]} Mother")["id"]
                population.women.append((phone, woman))
                send(phone, f"REG {household} M 3 {NAMES[h + 1]} Child")
                if h % 2 == 0:
                    send(phone, f"PREG {woman} 14W")
                    population.pregnant.append((phone, woman))
                else:
                    population.women.append((phone, send(phone, f"REG {household} F 19 {NAMES[h + 2]}")["id"]))
    runtime.db.dispose()
    return population


def field_day(database: str) -> Population:
    """database created if need be, emptied and made ready by prepare_fieldline, saying how long."""
    ensure_database(database)
    started = time.perf_counter()
    population = prepare_fieldline(pg_url(database))
    analyze(pg_url(database))
    print(f"field day registered: {len(population.households)} households by {len(population.volunteers)} "
          f"volunteers in {time.perf_counter() - started:.1f} s", flush=True)
    return population


def message_mix(population: Population, count: int, seed: int) -> list[tuple[str, str, str]]:
    """count (sid, sender, body), about one in ten a retry of an earlier one in the list."""
    rng = random.Random(seed)
    messages: list[tuple[str, str, str]] = []
    for n in range(count):
        if messages and rng.random() < 0.10:
            messages.append(rng.choice(messages[-200:]))
            continue
        roll = rng.random()
        phone, household = rng.choice(population.households)
        if roll < 0.34:
            body = f"V {household}"
        elif roll < 0.48:
            body = f"REG {household} {rng.choice('FM')} {rng.randint(1, 60)} {rng.choice(NAMES)} {rng.choice(NAMES)}"
        elif roll < 0.56:
            body = f"HH {rng.choice(NAMES)} {rng.choice(NAMES)}"
        elif roll < 0.66:
            phone, woman = rng.choice(population.pregnant)
            body = f"ANC {woman}"
        elif roll < 0.69:
            phone, woman = rng.choice(population.pregnant)
            body = f"DANGER {woman} {rng.choice(['B', 'F', 'BF', 'H'])}"
        elif roll < 0.75:
            phone, woman = rng.choice(population.women)
            body = f"FP {woman} {rng.choice(['P 3', 'C 20', 'I'])}"
        elif roll < 0.78:
            phone, woman = rng.choice(population.women)
            body = f"PREG {woman} {rng.randint(8, 30)}W"
        else:  # mistakes, and people not on the roster
            body = rng.choice([
                "V", f"REGG {household} F 30 Mary", "V 12345", f"REG {household} X 40 Mary",
                f"ANC {household}", f"DANGER {household} Q", "", "hello", f"V {household}{rng.randint(0, 9)}",
            ])
            if rng.random() < 0.3:
                phone = f"+2547{90000000 + rng.randint(0, 99999)}"
        messages.append((f"SM{seed:04d}{n:08d}{rng.getrandbits(40):010x}", phone, body))
    return messages


# --- requests -----------------------------------------------------------------------------

def twilio_request(port: int, path: str, sid: str, sender: str, body: str) -> bytes:
    """The form Twilio posts for an inbound SMS, signed as Twilio signs it."""
    params = {
        "ToCountry": "KE", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "",
        "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received", "FromCity": "",
        "Body": body, "FromCountry": "KE", "To": SHORTCODE, "ToZip": "", "NumSegments": "1",
        "MessageSid": sid, "AccountSid": ACCOUNT, "From": sender, "ApiVersion": "2010-04-01",
    }
    signature = RequestValidator(TOKEN).compute_signature(f"http://{HOST}:{port}{path}", params)
    return http_post(port, path, urlencode(params).encode(),
                     {"X-Twilio-Signature": signature, "User-Agent": "TwilioProxy/1.1"})


def rapidsms_request(port: int, path: str, sid: str, sender: str, body: str) -> bytes:
    return http_post(port, path, urlencode({"identity": sender, "text": body}).encode(), {})


def http_post(port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = [f"POST {path} HTTP/1.1", f"Host: {HOST}:{port}",
            "Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


# --- servers ------------------------------------------------------------------------------

@dataclass
class Server:
    name: str
    port: int
    path: str
    command: list[str]
    env: dict[str, str]
    cwd: Path
    build: object  # (port, path, sid, sender, body) -> bytes
    process: subprocess.Popen | None = None

    def start(self, logs: Path) -> None:
        log = open(logs / f"{self.name}.log", "w")
        self.process = subprocess.Popen(self.command, env={**os.environ, **self.env}, cwd=self.cwd,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                # its own session and process group (start_new_session): the workers go with it
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def requests(self, messages) -> list[bytes]:
        return [self.build(self.port, self.path, *m) for m in messages]


def pg_url(database: str, driver: str = "postgresql+psycopg") -> str:
    return f"{driver}://postgres@{HOST}:5432/{database}"


def ensure_database(name: str) -> None:
    engine = create_engine(pg_url("postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()


def analyze(url: str) -> None:
    """Table statistics, as autovacuum gathers them within a minute or two of a table's filling:
    without them PostgreSQL plans a statement on the freshly filled tables as if each held a
    handful of rows, and a prepared statement's plan can then scan every open due item."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()


def reset_schema(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    engine.dispose()


def rapidsms_python() -> Path:
    python = RAPIDSMS_VENV / "bin" / "python"
    stamp = RAPIDSMS_VENV / ".installed"
    if not stamp.exists():
        print("installing RapidSMS 2.2 and Django into bench/.venvs/rapidsms ...", flush=True)
        shutil.rmtree(RAPIDSMS_VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(RAPIDSMS_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        *RAPIDSMS_PACKAGES], check=True)
        stamp.write_text(" ".join(RAPIDSMS_PACKAGES) + "\n")
    return python


def make_servers(names: list[str], threads: int, redis_url: str, *, fieldline_port: int = 8102,
                 fieldline_database: str = "fieldline_webhook_bench") -> list[Server]:
    gunicorn = ["-m", "gunicorn", "--workers", "2", "--worker-class", "gthread", "--threads", str(threads),
                "--keep-alive", "5", "--log-level", "warning"]
    servers = []
    if "floor" in names:
        ensure_database("floor_webhook_bench")
        url = pg_url("floor_webhook_bench")
        reset_schema(url)
        sys.path.insert(0, str(ROOT))
        from bench.floor_app import metadata

        engine = create_engine(url)
        metadata.create_all(engine)
        engine.dispose()
        analyze(url)
        servers.append(Server(
            "floor", 8101, "/sms/twilio", [sys.executable, *gunicorn, "--bind", f"{HOST}:8101", "bench.floor_app:app"],
            {"FLOOR_DATABASE_URL": url, "TWILIO_AUTH_TOKEN": TOKEN, "PUBLIC_URL": f"http://{HOST}:8101"},
            ROOT, twilio_request))
    if "fieldline" in names:
        servers.append(Server(
            "fieldline", fieldline_port, "/sms/twilio",
            [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--workers", "2",
             "--threads", str(threads), "--bind", f"{HOST}:{fieldline_port}", "--log-level", "warning"],
            {"DATABASE_URL": pg_url(fieldline_database), "REDIS_URL": redis_url, "REQUIRE_REDIS": "1",
             "SMS_BACKEND": "console", "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT,
             "PUBLIC_URL": f"http://{HOST}:{fieldline_port}", "SECRET_KEY": "bench-" + "0" * 58, "DEFAULT_REGION": "KE",
             "TIMEZONE": "Africa/Nairobi", "DEV_CHANNEL": "0", "LOG_FORMAT": "json", "LOG_LEVEL": "INFO"},
            ROOT, twilio_request))
    if "rapidsms" in names:
        python = rapidsms_python()
        ensure_database("rapidsms_webhook_bench")
        reset_schema(pg_url("rapidsms_webhook_bench"))
        env = {"DJANGO_SETTINGS_MODULE": "settings", "PYTHONPATH": str(SITE),
               "RAPIDSMS_DB_NAME": "rapidsms_webhook_bench"}
        subprocess.run([str(python), "-m", "django", "migrate", "--run-syncdb", "-v", "0"],
                       env={**os.environ, **env}, cwd=SITE, check=True)
        analyze(pg_url("rapidsms_webhook_bench"))
        servers.append(Server(
            "rapidsms", 8103, "/backend/http/", [str(python), *gunicorn, "--bind", f"{HOST}:8103", "wsgi:application"],
            env, SITE, rapidsms_request))
    return servers


# --- the load client ----------------------------------------------------------------------

class Client:
    """HTTP/1.1 over loopback with keep-alive connections, reused while the server allows: one idle
    for max_idle seconds is closed rather than reused, as the server may be closing it (gunicorn's
    keepalive is 5 s)."""

    def __init__(self, port: int, max_idle: float = 4.0) -> None:
        self.port = port
        self.max_idle = max_idle
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.statuses: dict[int, int] = {}

    async def post(self, request: bytes) -> int:
        return (await self.exchange(request))[0]

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        """One request (bytes as http_post makes them, to any path): the status (0 when the
        connection failed) and the body of the answer. A kept-alive connection the server closed
        meanwhile is replaced once, as HTTP clients do."""
        connection = None
        while self.idle and connection is None:
            reader, writer, since = self.idle.pop()
            if time.monotonic() - since < self.max_idle:
                connection = reader, writer
            else:
                writer.close()
        answer = await self._exchange(request, *connection) if connection else None
        if answer is None:
            answer = await self._exchange(request, *await asyncio.open_connection(HOST, self.port)) or (0, b"")
        self.statuses[answer[0]] = self.statuses.get(answer[0], 0) + 1
        return answer

    async def _exchange(self, request: bytes, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> tuple[int, bytes] | None:
        try:
            writer.write(request)
            status_line = await reader.readline()
            if not status_line:
                writer.close()
                return None  # closed before answering
            status = int(status_line.split()[1])
            length, close, chunked = 0, False, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                name, value = name.strip().lower(), value.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "connection" and value == "close":
                    close = True
                elif name == "transfer-encoding" and "chunked" in value:
                    chunked = True
            if chunked:
                body = b""
                while (size := int((await reader.readline()).split(b";")[0], 16)) > 0:
                    body += (await reader.readexactly(size + 2))[:-2]
                await reader.readline()
            else:
                body = await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
            writer.close()
            return 0, b""
        if close:
            writer.close()
        else:
            self.idle.append((reader, writer, time.monotonic()))
        return status, body

    def close(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()
        self.idle.clear()


async def saturate(port: int, requests: list[bytes], concurrency: int, seconds: float, warmup: float = 1.0):
    """Messages per second with concurrency requests always in flight, after a warm-up."""
    client = Client(port)
    loop = asyncio.get_running_loop()
    start = loop.time()
    measure_from, stop_at = start + warmup, start + warmup + seconds
    next_index = 0
    done: list[float] = []

    async def worker() -> None:
        nonlocal next_index
        while loop.time() < stop_at and next_index < len(requests):
            request = requests[next_index]
            next_index += 1
            await client.post(request)
            done.append(loop.time())

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    client.close()
    end = min(stop_at, max(done))
    counted = sum(1 for t in done if measure_from <= t <= end)
    return counted / (end - measure_from), next_index, client.statuses


async def on_schedule(rate: float, count: int, start: float, launch: Callable[[int, float], Awaitable]) -> None:
    """Open loop: start launch(i, scheduled) at its time, start + i / rate, for each of count,
    whatever became of the ones before; then wait for them all."""
    loop = asyncio.get_running_loop()
    tasks = []
    for i in range(count):
        scheduled = start + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(launch(i, scheduled)))
    await asyncio.gather(*tasks)


async def open_loop(port: int, requests: list[bytes], rate: float, seconds: float):
    """Send at a fixed rate whatever the answers; each latency from its scheduled time."""
    client = Client(port)
    loop = asyncio.get_running_loop()
    count = int(rate * seconds)
    start = loop.time() + 0.05
    latencies: list[float] = []

    async def timed(request: bytes, scheduled: float) -> None:
        await client.post(request)
        latencies.append(loop.time() - scheduled)

    await on_schedule(rate, count, start, lambda i, scheduled: timed(requests[i], scheduled))
    client.close()
    latencies.sort()
    return quantile(latencies, 0.50), quantile(latencies, 0.99), latencies[-1], count, client.statuses


def cpu_seconds(root: int) -> dict[int, tuple[str, float]]:
    """CPU time (user and system) so far of root and its children (a gunicorn master and its
    workers), and of every PostgreSQL process on the machine (the bench's backends, and anything
    else PostgreSQL does meanwhile: run on an otherwise idle server); by process id."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    comm, rest = f.read().rsplit(")", 1)
            except OSError:
                continue
            fields = rest.split()
            stats[int(entry)] = (comm.partition("(")[2], int(fields[1]), int(fields[11]) + int(fields[12]))
    tick = os.sysconf("SC_CLK_TCK")
    return {pid: ("server" if pid == root or parent == root else "postgres", ticks / tick)
            for pid, (name, parent, ticks) in stats.items() if pid == root or parent == root or name == "postgres"}


def cpu_used(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> tuple[float, float]:
    """The server's and PostgreSQL's CPU seconds between two readings; a process that ended in
    between is left out (its last seconds with it), one that started counts from zero."""
    used = {"server": 0.0, "postgres": 0.0}
    for pid, (kind, seconds) in after.items():
        used[kind] += seconds - before.get(pid, (kind, 0.0))[1]
    return used["server"], used["postgres"]


def quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def wait_ready(server: Server, request: bytes, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} exited with {server.process.returncode}; see its log")
        try:
            if asyncio.run(Client(server.port).post(request)) == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{server.name} did not answer within {timeout:.0f} s")
        time.sleep(0.2)


# --- the run ------------------------------------------------------------------------------

def stored_counts(servers: list[Server]) -> dict[str, int]:
    tables = {"fieldline": ("fieldline_webhook_bench", "SELECT count(*) FROM inbound_messages"),
              "floor": ("floor_webhook_bench", "SELECT count(*) FROM floor_messages"),
              "rapidsms": ("rapidsms_webhook_bench", "SELECT count(*) FROM reports_report")}
    counts = {}
    for server in servers:
        database, sql = tables[server.name]
        engine = create_engine(pg_url(database))
        with engine.connect() as conn:
            counts[server.name] = conn.scalar(text(sql))
        engine.dispose()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8, help="length of each saturation run")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight at saturation")
    parser.add_argument("--rate", type=float, default=200, help="offered messages a second, open loop")
    parser.add_argument("--open-seconds", type=float, default=10, help="length of each open-loop run")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker, all servers")
    parser.add_argument("--servers", default="floor,fieldline,rapidsms")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11",
                        help="Fieldline's job queues (a database this run may empty)")
    args = parser.parse_args()
    names = [n.strip() for n in args.servers.split(",") if n.strip()]

    population = field_day("fieldline_webhook_bench")  # every server gets the same texts, made of its IDs
    from redis import Redis

    redis = Redis.from_url(args.redis_url)
    redis.flushdb()
    servers = make_servers(names, args.threads, args.redis_url)
    logs = Path(tempfile.mkdtemp(prefix="fieldline-webhook-bench-"))
    results: dict[str, list[tuple[float, float, float]]] = {s.name: [] for s in servers}
    try:
        for server in servers:
            server.start(logs)
        for n, server in enumerate(servers):
            warm = server.requests(message_mix(population, 400, seed=9000 + n))
            wait_ready(server, warm[0])
            asyncio.run(saturate(server.port, warm, 8, 2.0, warmup=0))
        print(f"servers up (logs in {logs}); {args.rounds} rounds, saturation {args.seconds:.0f} s at "
              f"{args.concurrency} in flight, open loop {args.rate:.0f}/s for {args.open_seconds:.0f} s", flush=True)
        for r in range(args.rounds):
            order = servers[r % len(servers):] + servers[:r % len(servers)]
            for server in order:
                seed = 100 * r + servers.index(server)
                messages = message_mix(population, int(args.seconds * 3000) + 2000, seed=seed)
                requests = server.requests(messages)
                before = cpu_seconds(server.process.pid)
                throughput, sent, statuses = asyncio.run(
                    saturate(server.port, requests, args.concurrency, args.seconds))
                after = cpu_seconds(server.process.pid)
                answered = sum(statuses.values())
                cpu = [seconds / answered for seconds in cpu_used(before, after)]
                time.sleep(1)
                messages = message_mix(population, int(args.rate * args.open_seconds), seed=seed + 50)
                p50, p99, worst, offered, open_statuses = asyncio.run(
                    open_loop(server.port, server.requests(messages), args.rate, args.open_seconds))
                results[server.name].append((throughput, p50, p99, *cpu))
                bad = {k: v for k, v in {**statuses, **open_statuses}.items() if k != 200}
                print(f"round {r + 1}  {server.name:9}  {throughput:7.0f} msg/s at saturation "
                      f"(CPU a message: server {cpu[0] * 1000:.2f} ms, PostgreSQL {cpu[1] * 1000:.2f} ms)   "
                      f"{args.rate:.0f}/s: p50 {p50 * 1000:5.1f} ms  p99 {p99 * 1000:6.1f} ms  max {worst * 1000:6.1f} ms"
                      + (f"   non-200: {bad}" if bad else ""), flush=True)
                time.sleep(1)
        print()
        print(f"{'':10} {'msg/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'server CPU ms':>14} {'PostgreSQL CPU ms':>18}"
              f"   (medians of {args.rounds} rounds; CPU a message at saturation)")
        for name, rows in results.items():
            medians = [statistics.median(r[i] for r in rows) for i in range(5)]
            print(f"{name:10} {medians[0]:8.0f} {medians[1] * 1000:8.1f} {medians[2] * 1000:8.1f} "
                  f"{medians[3] * 1000:14.2f} {medians[4] * 1000:18.2f}")
        if "fieldline" in results:
            for other in ("floor", "rapidsms"):
                if other in results:
                    ratios = [f[0] / o[0] for f, o in zip(results["fieldline"], results[other])]
                    print(f"fieldline / {other}: throughput {statistics.median(ratios):.2f}x "
                          f"(rounds: {', '.join(f'{x:.2f}' for x in ratios)})")
        print("stored:", ", ".join(f"{k} {v:,}" for k, v in stored_counts(servers).items()))
    finally:
        for server in servers:
            server.stop()
        redis.flushdb()


if __name__ == "__main__":
    main()
