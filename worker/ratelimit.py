"""The per-channel send rate: at most SMS_RATE_PER_SECOND requests to the provider in any one second,
however many workers send.

A send holds a slot from before its request leaves until one second after its answer came back,
and at most `rate` slots are held at once. So no 1-second window holds more than `rate` requests
arriving at the provider: of the requests arriving in one window, take the one whose slot was
taken last, at time t. Every other one took its slot before t, and arrived no earlier than a
second before the last arrival in the window, so no earlier than a second before t; its answer
came after its arrival, so its slot was still held at t. With its own, that is at most `rate`.
This holds for every sliding window, not only whole clock seconds, and needs no agreement
between the workers' clocks: Redis's clock stamps every slot.

A worker that dies mid-send leaves its slot to expire after the longest a send can take.
"""
from __future__ import annotations

import threading
import time
import uuid
from contextlib import contextmanager
from typing import Iterator

from redis import Redis

KEY = "fieldline:sms-rate:{channel}"
POLL_SECONDS = 0.02  # at most this long between looks while every slot is held

# The hold after the answer: a second, and a hair for clocks that tick at slightly different rates.
AFTER_ANSWER_US = 1_010_000

# KEYS[1] the channel's sorted set of slots, scored by when each slot frees (microseconds on the
# Redis clock). ARGV: rate, microseconds to hold a new slot at most, the slot's token.
# Returns 0 when the slot is taken, else how many microseconds until the next slot frees.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) / 1000) + 1000)
  return 0
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(first[2]) - now)
"""

# Frees the slot a second after now, the answer having come back. ARGV: hold in µs, the token.
_RELEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
if redis.call('PTTL', KEYS[1]) < 2000 then
  redis.call('PEXPIRE', KEYS[1], 2000)
end
return 1
"""


class RedisRateLimiter:
    """Slots shared through Redis by every worker that sends on a channel."""

    def __init__(self, redis: Redis, rate: int, max_send_seconds: float):
        self.redis = redis
        self.rate = rate
        self.hold_us = int(max_send_seconds * 1_000_000) + AFTER_ANSWER_US
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)

    @contextmanager
    def slot(self, channel: str) -> Iterator[None]:
        """Wait for a free slot, hold it while the body sends, free it a second after."""
        if self.rate <= 0:
            yield
            return
        key = KEY.format(channel=channel)
        token = uuid.uuid4().hex
        while True:
            wait_us = int(self._acquire(keys=[key], args=[self.rate, self.hold_us, token]))
            if wait_us == 0:
                break
            time.sleep(min(wait_us / 1_000_000, POLL_SECONDS))
        try:
            yield
        finally:
            self._release(keys=[key], args=[AFTER_ANSWER_US, token])


class LocalRateLimiter:
    """The same slots in this process only: for the embedded mode, where one process sends."""

    _lock = threading.Lock()
    _slots: dict[str, dict[str, float]] = {}  # channel -> token -> when the slot frees (monotonic)

    def __init__(self, rate: int, max_send_seconds: float):
        self.rate = rate
        self.hold = max_send_seconds + AFTER_ANSWER_US / 1_000_000

    @contextmanager
    def slot(self, channel: str) -> Iterator[None]:
        if self.rate <= 0:
            yield
            return
        token = uuid.uuid4().hex
        while True:
            with self._lock:
                now = time.monotonic()
                slots = self._slots.setdefault(channel, {})
                for other, frees in list(slots.items()):
                    if frees <= now:
                        del slots[other]
                if len(slots) < self.rate:
                    slots[token] = now + self.hold
                    break
                wait = min(slots.values()) - now
            time.sleep(min(max(wait, 0.001), POLL_SECONDS))
        try:
            yield
        finally:
            with self._lock:
                self._slots.setdefault(channel, {})[token] = time.monotonic() + AFTER_ANSWER_US / 1_000_000


def make_limiter(runtime):
    """The limiter for this runtime: on Redis when jobs run on RQ, else in this process."""
    settings = runtime.settings
    max_send = 2 * settings.TWILIO_TIMEOUT_SECONDS + 1  # connecting, then waiting for the answer
    redis = getattr(runtime.queues, "redis", None)
    if redis is not None:
        return RedisRateLimiter(redis, settings.SMS_RATE_PER_SECOND, max_send)
    return LocalRateLimiter(settings.SMS_RATE_PER_SECOND, max_send)
