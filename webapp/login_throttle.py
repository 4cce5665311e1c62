"""Log-in throttling: after too many failed attempts for one account or from one client
address within a window, every attempt (even with the right password, or the throttle
would only slow guessing down) is refused with 429 for a lockout period.

State is in-process memory, guarded by a lock (the server's request threads share
it): it is per server process, so with N processes an attacker gets N times the
attempts, and a restart forgets it. The number of tracked keys is capped
(max_keys): when full, keys with nothing left to remember go first, then the least
recently touched, so memory stays bounded whatever an attacker sends.

Known trade-off: the per-account limit lets anyone lock a steward out for the
lockout period by failing on purpose; the per-address limit cannot stop an attacker
with many addresses. Both together make online guessing impractical.

The address is request.remote_addr. Behind a reverse proxy that is the proxy's
address; configure werkzeug's ProxyFix (KG_PROXY_FIX) for the real client address.
X-Forwarded-For is never trusted by default: anyone can send it.
"""
from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Record:
    failures: deque = field(default_factory=deque)  # monotonic times of recent failures
    locked_until: float = 0.0


class LoginThrottle:
    def __init__(self, *, max_account: int = 5, max_address: int = 20, window: float = 900,
                 lockout: float = 900, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = {"account": max(1, max_account), "address": max(1, max_address)}
        self.window = window
        self.lockout = lockout
        self.max_keys = max(2, max_keys)
        self.clock = clock
        self._records: OrderedDict[tuple[str, str], _Record] = OrderedDict()
        self._lock = threading.Lock()

    def _keys(self, name: str, address: str) -> list[tuple[str, str]]:
        # names over 64 characters are no account (kg.stewards): a long one is cut, not kept whole
        return [("account", name[:200]), ("address", (address or "unknown")[:100])]

    def retry_after(self, name: str, address: str) -> int:
        """Seconds until this account and address may try again; 0: now."""
        now = self.clock()
        with self._lock:
            waits = [r.locked_until - now for k in self._keys(name, address)
                     if (r := self._records.get(k)) is not None]
        wait = max(waits, default=0)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, name: str, address: str) -> int:
        """Count a failed attempt; returns the lockout it started (seconds) or 0."""
        now = self.clock()
        started = 0
        with self._lock:
            for key in self._keys(name, address):
                r = self._records.pop(key, None) or _Record()
                self._records[key] = r  # most recently touched last
                while r.failures and r.failures[0] <= now - self.window:
                    r.failures.popleft()
                r.failures.append(now)
                if len(r.failures) >= self.limits[key[0]] and r.locked_until <= now:
                    r.locked_until = now + self.lockout
                    r.failures.clear()
                    started = math.ceil(self.lockout)
            self._trim(now)
        return started

    def succeeded(self, name: str) -> None:
        """A correct password: the account's failures are forgotten (the address's are
        not, or one valid account would reset the count for guessing at others)."""
        with self._lock:
            r = self._records.get(("account", name))
            if r is not None and r.locked_until <= self.clock():
                del self._records[("account", name)]

    def _trim(self, now: float) -> None:
        if len(self._records) <= self.max_keys:
            return
        for key in [k for k, r in self._records.items()
                    if r.locked_until <= now and (not r.failures or r.failures[-1] <= now - self.window)]:
            del self._records[key]
        while len(self._records) > self.max_keys:
            self._records.popitem(last=False)

    def __len__(self) -> int:
        return len(self._records)
