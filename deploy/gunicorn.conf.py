"""gunicorn settings for Fieldline's web app (docs/deploy.md):

    gunicorn -c deploy/gunicorn.conf.py

Settings on the command line win over these; the environment tunes them per host:
FIELDLINE_BIND (127.0.0.1:8000; several, comma-separated), WEB_CONCURRENCY (worker processes, 2 x cores + 1),
GUNICORN_THREADS (threads per worker, 4), FORWARDED_ALLOW_IPS (the proxy's address, 127.0.0.1).
"""
import multiprocessing
import os

wsgi_app = "gateway.wsgi:app"
# one address, or several separated by commas: the proxy's and the one Prometheus scrapes
bind = os.environ.get("FIELDLINE_BIND", "127.0.0.1:8000").split(",")

# A webhook spends most of its time waiting on PostgreSQL: threads give each process several
# requests at once. Every thread can hold a database connection, so workers x threads per host,
# summed over the hosts plus the RQ workers, must stay below PostgreSQL's max_connections.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count() + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))

# Twilio waits 15 s for an answer (less with a connection override); a request still running
# after 30 s is stuck, and its worker is replaced.
timeout = 30
graceful_timeout = 20
keepalive = 5

# Requests come through the TLS proxy on this host: trust its X-Forwarded-Proto, so that URLs
# built by the app are https ones. Twilio signatures are checked against PUBLIC_URL regardless.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Request lines are logged by the proxy; the app logs one line per message (LOG_FORMAT=json).
accesslog = None
errorlog = "-"

# systemd starts, stops and reloads the service: no control socket in the service user's home
control_socket_disable = True

if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
    # gunicorn's own lines as JSON too. A logging dict would do it but would also turn on
    # gunicorn's access log (a second line a request, and its cost); a logger class that only
    # changes the formatter does not. The app's lines go through the handler create_app puts on
    # the root logger.
    from gunicorn.glogging import Logger

    class JsonLogger(Logger):
        def setup(self, cfg):
            super().setup(cfg)
            from gateway.logs import JsonFormatter

            for handler in self.error_log.handlers + self.access_log.handlers:
                handler.setFormatter(JsonFormatter())

    logger_class = JsonLogger


def on_starting(server):
    """With PROMETHEUS_MULTIPROC_DIR set, every worker writes its counts there; make sure it exists."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        os.makedirs(path, exist_ok=True)


def child_exit(server, worker):
    """A worker that exits leaves its counts behind (they still add up) but its live gauges go."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
