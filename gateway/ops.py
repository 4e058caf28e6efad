"""Operations: GET /health for load balancers, GET /metrics for Prometheus, and the timing of
every provider webhook."""
from __future__ import annotations

import hmac
from time import perf_counter

from flask import Blueprint, Flask, Response, abort, current_app, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST

from . import health, metrics
from .runtime import current_runtime

bp = Blueprint("ops", __name__)
WEBHOOKS = frozenset({"twilio", "africastalking", "dev"})  # the blueprints providers call


def init_app(app: Flask) -> None:
    metrics.prepare_multiprocess_dir()
    app.extensions["fieldline_probe"] = health.Probe()
    app.register_blueprint(bp)


@bp.get("/health")
def health_view():
    """The database, Redis and queue mode, the form pack, the oldest due care and queued job;
    503 when the database, or a Redis that REQUIRE_REDIS makes required, does not answer."""
    status, body = health.report(current_runtime(), current_app.extensions["fieldline_probe"])
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/metrics")
def metrics_view():
    """Prometheus text, for 'Authorization: Bearer <METRICS_TOKEN>' only; 404 with no token set."""
    token = current_runtime().settings.METRICS_TOKEN
    if not token:
        abort(404)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return Response("Unauthorized\n", status=401, mimetype="text/plain",
                        headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    text = metrics.render(current_runtime(), current_app.extensions["fieldline_probe"])
    return Response(text, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


@bp.before_app_request
def _start_timer() -> None:
    if request.blueprint in WEBHOOKS:
        g.webhook_started = perf_counter()


@bp.after_app_request
def _observe_webhook(response: Response) -> Response:
    started = g.pop("webhook_started", None)
    if started is not None:
        metrics.WEBHOOK_SECONDS.labels(request.endpoint or "unknown", str(response.status_code)).observe(
            perf_counter() - started)
    return response
