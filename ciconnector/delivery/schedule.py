"""When to try a failed delivery again."""
from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetrySchedule:
    """Delays (seconds) after each failed attempt; ``None`` once they are used up.

    Attributes:
        delays: delay after failed attempt 1, 2, …; the default reaches about 27.6 hours
            (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h).
        jitter: +/- fraction applied to each delay, default 0.1.
    """

    delays: tuple[float, ...]
    jitter: float = 0.1

    def delay_after(self, attempts: int, retry_after: float | None = None) -> float | None:
        """Delay before the next attempt after ``attempts`` failed ones; honours a longer ``Retry-After``
        up to the schedule's longest delay (a receiver cannot park a notification for days)."""
        if attempts < 1 or attempts > len(self.delays):
            return None
        base = self.delays[attempts - 1]
        delay = base * random.uniform(1 - self.jitter, 1 + self.jitter)
        return max(delay, min(retry_after or 0.0, max(self.delays)))
