"""What a USSD session keeps beyond its text: where it (re)started, in Redis with the session's TTL.

Everything else is derived from the text Africa's Talking sends (every answer so far). A session
this store does not know, because it is older than the TTL, was started before Redis lost it, or
came with another phone number, starts over at the main menu: the answers it brought are counted
as its base and only later ones are replayed. Without REDIS_URL (the embedded default, one
process) the store is a dict in the process.
"""
from __future__ import annotations

import json
import logging
import threading
import time

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
TTL_SECONDS = 180
KEY = "fieldline:ussd:{session}"


def _restart_if_unknown(state: dict | None, phone: str, answers: int) -> dict:
    if (state is None or state.get("phone") != phone or not isinstance(state.get("base"), int)
            or state["base"] > answers):
        return {"phone": phone, "base": answers}
    return state


class RedisSessions:
    """Sessions in Redis, shared by every web process behind one address."""

    def __init__(self, redis: Redis):
        self.redis = redis

    def base(self, session_id: str, phone: str, answers: int) -> int:
        """How many of the session's answers came before its (re)start; the TTL starts again."""
        key = KEY.format(session=session_id)
        try:
            raw = self.redis.get(key)
            state = _restart_if_unknown(_read(raw), phone, answers)
            self.redis.set(key, json.dumps(state), ex=TTL_SECONDS)
        except RedisError as exc:
            # The text alone still says where the session is; only a restart is forgotten.
            log.warning("USSD sessions: Redis unavailable (%s); going by the text alone", type(exc).__name__)
            return 0
        return state["base"]


class MemorySessions:
    """Sessions in this process, for the embedded mode without Redis."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.states: dict[str, tuple[float, dict]] = {}
        self.lock = threading.Lock()

    def base(self, session_id: str, phone: str, answers: int) -> int:
        now = self.clock()
        with self.lock:
            if len(self.states) > 1000:
                self.states = {k: v for k, v in self.states.items() if v[0] > now}
            expires, state = self.states.get(session_id, (0.0, None))
            state = _restart_if_unknown(state if expires > now else None, phone, answers)
            self.states[session_id] = (now + TTL_SECONDS, state)
        return state["base"]


def _read(raw: bytes | None) -> dict | None:
    if raw is None:
        return None
    try:
        state = json.loads(raw)
    except ValueError:
        return None
    return state if isinstance(state, dict) else None


def make_sessions(redis_url: str) -> RedisSessions | MemorySessions:
    if not redis_url:
        return MemorySessions()
    # a USSD answer must come back within about 2 seconds: no long waits on Redis
    return RedisSessions(Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1))
