"""Password-guessing throttle: token buckets per account and per client address, kept per replica.

Every password check (``/identityServer/basic`` or Basic credentials on any route) first takes one
token from the account's bucket and one from the address's bucket; with either empty the request is
answered 429 with ``Retry-After`` and no scrypt is run. A successful check gives its tokens back, so only
failures count. Buckets refill steadily (an account: :data:`ACCOUNT_BURST` guesses, then one per
:data:`ACCOUNT_REFILL` seconds; an address: :data:`ADDRESS_BURST`, then one per :data:`ADDRESS_REFILL`).

State lives in each replica's memory (no store round trip on the login path, nothing to write under a
flood), so N replicas behind a balancer allow at most N times these budgets. Signed-in clients are not
locked out by someone guessing their password: tokens never touch the throttle, and Basic credentials
this replica has already verified pass (see :meth:`UserStore.verify_known`).
"""

from __future__ import annotations

import math
import threading
import time

ACCOUNT_BURST = 10
ACCOUNT_REFILL = 30.0  # seconds per further guess at one account
ADDRESS_BURST = 30
ADDRESS_REFILL = 1.0  # seconds per further guess from one address
MAX_KEYS = 100_000  # buckets kept at most (full ones are dropped first: they equal a fresh bucket)


class _Buckets:
    def __init__(self, burst: int, refill: float) -> None:
        self.burst = float(burst)
        self.refill = refill
        self.state: dict[str, tuple[float, float]] = {}  # key -> (tokens, at monotonic time)

    def level(self, key: str, now: float) -> float:
        tokens, at = self.state.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - at) / self.refill)

    def wait(self, key: str, now: float) -> float:
        """Seconds until ``key`` has a whole token (0 when it has one now)."""
        return max(0.0, (1.0 - self.level(key, now)) * self.refill)

    def add(self, key: str, now: float, delta: float) -> None:
        self.state[key] = (min(self.burst, self.level(key, now) + delta), now)
        if len(self.state) > MAX_KEYS:
            full = [k for k in self.state if self.level(k, now) >= self.burst]
            for k in full or list(self.state)[: len(self.state) // 2]:
                del self.state[k]


class LoginThrottle:
    """Per-account and per-address token buckets of one replica (thread-safe)."""

    def __init__(
        self,
        account_burst: int = ACCOUNT_BURST,
        account_refill: float = ACCOUNT_REFILL,
        address_burst: int = ADDRESS_BURST,
        address_refill: float = ADDRESS_REFILL,
    ) -> None:
        self._accounts = _Buckets(account_burst, account_refill)
        self._addresses = _Buckets(address_burst, address_refill)
        self._lock = threading.Lock()

    def acquire(self, account: str, address: str) -> int | None:
        """Take a token for one password check: ``None`` when allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            wait = max(self._accounts.wait(account, now), self._addresses.wait(address, now))
            if wait > 0:
                return max(1, math.ceil(wait))
            self._accounts.add(account, now, -1.0)
            self._addresses.add(address, now, -1.0)
            return None

    def succeeded(self, account: str, address: str) -> None:
        """The check passed: give its tokens back (only failures count)."""
        now = time.monotonic()
        with self._lock:
            self._accounts.add(account, now, 1.0)
            self._addresses.add(address, now, 1.0)
