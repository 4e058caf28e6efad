"""The dashboard: the month per village with its attention level, the last twelve months as a
chart, and the table as CSV."""
from __future__ import annotations

from datetime import timedelta

from flask import redirect, render_template, request, url_for
from flask_login import login_required

from gateway.runtime import current_runtime

from .. import bp, db
from ..chart import bar_chart
from ..csvout import csv_response
from ..dashboard import COLUMNS, build, month_of
from ..scope import current_scope


@bp.get("/")
@login_required
def index():
    return redirect(url_for("admin.dashboard"))


def _board():
    runtime = current_runtime()
    session = db()
    first = month_of(request.args.get("month"), runtime.clock.today())
    return build(session, runtime.pack, runtime.settings, current_scope(session), first)


@bp.get("/dashboard")
@login_required
def dashboard():
    board = _board()
    labels = [(m.first.strftime("%b"), m.first.strftime("%Y")) for m in board.months]
    activity = bar_chart("Visits, pregnancies and births a month", labels, [
        ("s1", "Visits", [m.visits for m in board.months]),
        ("s2", "Pregnancies", [m.pregnancies for m in board.months]),
        ("s3", "Births", [m.births for m in board.months]),
    ])
    on_time = bar_chart("Antenatal and postnatal care given on time (%)", labels, [
        ("s4", "On time", [None if m.on_time is None else round(100 * m.on_time) for m in board.months]),
    ], top=100, fmt=lambda v: f"{v:g}%")
    previous = (board.first - timedelta(days=1)).replace(day=1)
    following = board.last + timedelta(days=1)
    today = current_runtime().clock.today()
    return render_template("admin/dashboard.html", board=board, charts=[activity, on_time],
                           previous=previous, following=following if following <= today else None,
                           settings=current_runtime().settings)


@bp.get("/dashboard.csv")
@login_required
def dashboard_csv():
    board = _board()
    return csv_response(f"fieldline-dashboard-{board.first:%Y-%m}.csv", COLUMNS,
                        (row.csv_row() for row in board.rows))
