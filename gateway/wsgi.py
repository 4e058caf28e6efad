"""The WSGI entry point for gunicorn: `gunicorn 'gateway.wsgi:app'`."""
from . import create_app

app = create_app()
# a worker's requests hand the ids of reports to check to a thread that pushes them to Redis,
# several messages' at a time, and do not wait on Redis themselves (RQQueues.push_in_background)
if hasattr(app.extensions["fieldline"].queues, "push_in_background"):
    app.extensions["fieldline"].queues.push_in_background()
