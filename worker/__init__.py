"""Background work on RQ and Redis: checks, reminders, alerts and sending."""
