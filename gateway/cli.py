"""The fieldline command: db upgrade, roster import, create-admin, send, ussd, demo, serve."""
from __future__ import annotations

import json
import sys
import uuid

import click

from .config import ConfigError
from .formpack import FormPackError


def _app(overrides: dict | None = None):
    from . import create_app
    from .queue import QueueUnavailable

    try:
        return create_app(overrides)
    except (ConfigError, FormPackError, QueueUnavailable) as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def main() -> None:
    """Fieldline: SMS and USSD field reports for community health programmes."""


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the migrations to DATABASE_URL (SQLite in instance/ by default)."""
    from .config import Settings
    from .migrate import upgrade

    try:
        url = Settings.from_env().database_url
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    upgrade(url, revision=revision)
    click.echo(f"database at revision {revision}: {_safe_url(url)}")


@main.group()
def roster() -> None:
    """Volunteers, staff and admins."""


@roster.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
def roster_import(file) -> None:
    """Import a CSV with columns name,phone,role,area,language (area like Kisumu/Nyando/Kanyagwal)."""
    from .roster import RosterError, import_roster

    app = _app()
    runtime = app.extensions["fieldline"]
    with app.app_context(), runtime.db.session_scope() as session:
        try:
            report = import_roster(session, file, runtime.settings.DEFAULT_REGION)
        except RosterError as exc:
            raise click.ClickException(str(exc)) from None
    for row in report.rows:
        line = f"line {row.line}: {row.action:9} {row.name} {row.phone}"
        click.echo(line + (f" - {row.reason}" if row.reason else ""))
    click.echo(report.summary())
    if report.refused:
        sys.exit(1)


@main.command("create-admin")
@click.argument("phone")
@click.option("--name", default="", help="The admin's name (needed when PHONE is not on the roster yet).")
@click.password_option(help="The password (asked for twice when not given); at least 10 characters.")
def create_admin(phone: str, name: str, password: str) -> None:
    """Add an admin who signs in to /admin with PHONE and a password, or make the contact with PHONE one."""
    from .accounts import create_admin as make_admin
    from .roster import RosterError

    app = _app()
    runtime = app.extensions["fieldline"]
    try:
        with app.app_context(), runtime.db.session_scope() as session:
            contact, action = make_admin(session, name=name, phone=phone, password=password,
                                         region=runtime.settings.DEFAULT_REGION)
            click.echo(f"admin {'added' if action == 'added' else 'ready'}: {contact.name} {contact.phone}; "
                       "sign in at /admin with this phone number")
    except RosterError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.argument("phone")
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the reply.")
def send(phone: str, text: str, as_json: bool) -> None:
    """Run one message from PHONE through the same pipeline as the webhook and print the reply."""
    from .intake import receive
    from .phones import InvalidPhone, normalize_phone

    app = _app()
    runtime = app.extensions["fieldline"]
    try:
        phone = normalize_phone(phone, runtime.settings.DEFAULT_REGION)
    except InvalidPhone as exc:
        raise click.BadParameter(str(exc), param_hint="PHONE") from None
    with app.app_context(), runtime.db.session_scope() as session:
        outcome = receive(session, runtime, channel="cli", provider_id=str(uuid.uuid4()),
                          sender=phone, receiver="cli", body=text)
    if as_json:
        click.echo(json.dumps(outcome.as_json(), ensure_ascii=False))
    else:
        click.echo(outcome.reply)


@main.command()
@click.argument("phone")
@click.option("--code", "service_code", default="*384#", show_default=True, help="The USSD code dialled.")
def ussd(phone: str, service_code: str) -> None:
    """Walk a USSD session as PHONE on the terminal: type what the keypad would (0 back, 98 more)."""
    from .channels.ussd import respond

    app = _app()
    session_id = f"cli-{uuid.uuid4().hex}"
    answers: list[str] = []
    with app.app_context():
        while True:
            response = respond(session_id=session_id, phone=phone, service_code=service_code,
                               text="*".join(answers))
            kind, _, screen = response.partition(" ")
            click.echo(screen + "\n")
            if kind == "END":
                return
            try:
                answers.append(click.prompt(">", default="", show_default=False, prompt_suffix=" ").strip())
            except click.Abort:  # end of input, or Ctrl-C: the session is left to expire
                click.echo()
                return


@main.command()
@click.option("--db", "db_path", default="instance/demo.db", show_default=True,
              help="The SQLite file to build afresh for the demo.")
def demo(db_path: str) -> None:
    """Build a demo township in a fresh SQLite file and play a scripted field day."""
    from .demo import run_demo

    run_demo(db_path, echo=click.echo)


@main.command()
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
def worker(burst: bool) -> None:
    """Run an RQ worker on the urgent, checks and bulk queues (needs REDIS_URL)."""
    from worker.runner import make_worker, settle_memory

    app = _app({"REQUIRE_REDIS": "1"})
    runtime = app.extensions["fieldline"]
    with app.app_context():
        worker = make_worker(runtime)
        settle_memory()
        worker.work(burst=burst, with_scheduler=False)


@main.command()
def cron() -> None:
    """Enqueue tick() every minute: reminders, overdue care, escalation, sweeps (needs REDIS_URL)."""
    from worker.runner import make_cron

    app = _app({"REQUIRE_REDIS": "1"})
    with app.app_context():
        make_cron(app.extensions["fieldline"]).start()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the web app (development server; use gunicorn 'gateway.wsgi:app' in production).

    In the embedded mode (no REDIS_URL) the once-a-minute tick runs in this process too."""
    app = _app()
    if app.extensions["fieldline"].queues.mode == "embedded":
        from worker.runner import start_embedded_ticker

        start_embedded_ticker(app)
    app.run(host=host, port=port)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
