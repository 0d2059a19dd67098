"""Rate limits for public endpoints: a token bucket per client address, in memory.

Per process: behind a load balancer with N processes the effective limit is N times this;
the account lockout (core.accounts) is the limit that holds across processes.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from fastapi import Request

from smartcity.core.errors import TooManyRequests

_MAX_CLIENTS = 50_000


class RateLimiter:
    def __init__(self, per_minute: int, *, window_seconds: float = 60.0) -> None:
        # ``per_minute`` tokens per window (a minute unless told, e.g. an hour for codes).
        self.rate = per_minute / window_seconds
        self.capacity = float(per_minute)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def hit(self, key: str, *, at: float | None = None) -> float:
        """Take one token; return seconds to wait if none is left, else 0."""
        now = time.monotonic() if at is None else at
        tokens, last = self._buckets.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            wait = 0.0
        else:
            self._buckets[key] = (tokens, now)
            wait = (1 - tokens) / self.rate
        while len(self._buckets) > _MAX_CLIENTS:
            self._buckets.popitem(last=False)
        return wait

    def clear(self) -> None:
        self._buckets.clear()


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


async def limit_public(request: Request) -> None:
    """Dependency for public endpoints: 429 with Retry-After when a client sends too fast."""
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.hit(f"{client_ip(request)}:{request.url.path}")
    if wait > 0:
        raise TooManyRequests(
            "Too many requests from your address; wait a moment and try again.",
            headers={"Retry-After": str(int(wait) + 1)},
        )
