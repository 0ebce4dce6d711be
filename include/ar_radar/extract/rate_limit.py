"""Client-side rate limiting: stay under an API's limits instead of bouncing off its 429s.

A :class:`RateLimiter` enforces calls-per-window limits (any number of windows), a cap on calls
in flight, and what the server says is left (``observe``): it sleeps *before* a call that would
break a limit. Time comes from a :class:`Clock`, so benchmarks can run hours of limits on a
simulated clock in seconds.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


class Clock:
    """Wall-clock time. Subclass for simulated time."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class SimulatedClock(Clock):
    """Time that only moves when someone sleeps: hours of rate limits in no real time."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.slept = 0.0

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self._now += seconds
                self.slept += seconds


@dataclass(frozen=True)
class Window:
    calls: int
    seconds: float


class LimitExhausted(RuntimeError):
    """A limit that cannot be waited out within this run (for example a daily limit)."""


class RateLimiter:
    """Sliding-window limiter shared by the threads of one organisation or app."""

    def __init__(
        self, windows: tuple[Window, ...], in_flight: int, clock: Clock | None = None, daily: int | None = None
    ) -> None:
        self.windows = windows
        self.clock = clock or Clock()
        self.daily = daily
        self.calls_made = 0
        self._history: deque[float] = deque()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(in_flight)
        self._blocked_until = 0.0
        self._day_remaining: int | None = None

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one in-flight slot for the duration of a call, after waiting for its turn."""
        with self._slots:
            self._wait_turn()
            yield

    def _wait_turn(self) -> None:
        while True:
            with self._lock:
                now = self.clock.now()
                if self._day_remaining is not None and self._day_remaining <= 0:
                    raise LimitExhausted("daily call limit reached")
                if self.daily is not None and self.calls_made >= self.daily:
                    raise LimitExhausted(f"daily call limit of {self.daily} reached")
                longest = max(w.seconds for w in self.windows)
                while self._history and self._history[0] <= now - longest:
                    self._history.popleft()
                wait = self._blocked_until - now
                for window in self.windows:
                    recent = [t for t in self._history if t > now - window.seconds]
                    if len(recent) >= window.calls:
                        wait = max(wait, recent[-window.calls] + window.seconds - now)
                if wait <= 0:
                    self._history.append(now)
                    self.calls_made += 1
                    return
            self.clock.sleep(wait)

    def pause(self, seconds: float) -> None:
        """Make every caller wait ``seconds`` from now (a server asked us to back off)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self.clock.now() + seconds)

    def observe(
        self, remaining_in_window: int | None, window: Window | None = None, day_remaining: int | None = None
    ) -> None:
        """Take the server's count into account: when it says nothing is left, wait out the window."""
        if day_remaining is not None:
            self._day_remaining = day_remaining
        if remaining_in_window is not None and remaining_in_window <= 0 and window is not None:
            with self._lock:
                oldest = self._history[-window.calls] if len(self._history) >= window.calls else None
                until = (oldest if oldest is not None else self.clock.now()) + window.seconds
                self._blocked_until = max(self._blocked_until, until)


def header_int(headers: dict | None, name: str) -> int | None:
    """An integer response header, case-insensitively; None when absent or malformed."""
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name.lower():
            try:
                return int(float(value))
            except (TypeError, ValueError):
                return None
    return None
