"""Per-caller query-cost budgets: token buckets, in memory or shared through Redis.

A caller (a user, or an address when signed out) may spend ``per_minute`` cost
units a minute, refilled continuously. With Redis every server process draws from
the same bucket, so the limit holds across instances.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

log = logging.getLogger("ordercenter.ratelimit")

MAX_TRACKED_CALLERS = 100_000


@dataclass(frozen=True, slots=True)
class Spend:
    allowed: bool
    remaining: int
    retry_after: float


class MemoryBudget:
    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def spend(self, key: str, cost: int) -> Spend:
        now = time.monotonic()
        tokens, updated = self._buckets.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - updated) * self.rate)
        allowed = tokens >= cost
        if allowed:
            tokens -= cost
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > MAX_TRACKED_CALLERS:
            # The least recently seen caller has long refilled anyway.
            self._buckets.popitem(last=False)
        retry = 0.0 if allowed else (cost - tokens) / self.rate
        return Spend(allowed=allowed, remaining=int(tokens), retry_after=retry)


_BUCKET = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], 120)
return {allowed, tostring(tokens)}
"""


class RedisBudget:
    """The same bucket in Redis, updated atomically by a script (Redis's own clock)."""

    def __init__(self, url: str, per_minute: int) -> None:
        self.capacity = per_minute
        self.rate = per_minute / 60.0
        # Here, not at the top: redis costs ~9 MiB resident, and memory:// needs none.
        import redis.asyncio as redis

        self._client = redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self._script = self._client.register_script(_BUCKET)

    async def spend(self, key: str, cost: int) -> Spend:
        from redis.exceptions import RedisError

        try:
            allowed, tokens = await self._script(
                keys=[f"ordercenter:budget:{key}"], args=[self.capacity, self.rate, cost]
            )
        except (RedisError, OSError) as error:
            # Availability first: an unreachable limiter must not take the API down.
            log.warning("rate limiter unavailable (%s); allowing the request", error)
            return Spend(allowed=True, remaining=self.capacity, retry_after=0.0)
        left = float(tokens)
        retry = 0.0 if allowed else (cost - left) / self.rate
        return Spend(allowed=bool(allowed), remaining=int(left), retry_after=retry)

    async def close(self) -> None:
        await self._client.aclose()


def make_budget(url: str, per_minute: int) -> MemoryBudget | RedisBudget:
    scheme = url.split("://", 1)[0].lower()
    if scheme == "memory":
        return MemoryBudget(per_minute)
    if scheme in ("redis", "rediss"):
        return RedisBudget(url, per_minute)
    raise ValueError(f"unsupported ORDERCENTER_RATE_LIMIT_URL scheme {scheme!r}")
