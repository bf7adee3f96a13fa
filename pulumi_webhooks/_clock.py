"""The clock that retries wait on and deadlines and token expiries are measured with.

Production uses :data:`SYSTEM_CLOCK`; a test hands a client (through its
:class:`~pulumi_webhooks._http.RetryPolicy`) a clock whose sleeps return at once.
Timestamps that go on the wire (request signatures) always use the real time.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """A monotonic clock for deadlines, a wall clock for expiries, and a way to wait."""

    def monotonic(self) -> float: ...

    def time(self) -> float:
        """Seconds since the epoch."""
        ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The process's real clocks; :meth:`sleep` blocks the thread."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK: Clock = SystemClock()
