"""The retry policy, in one place: which errors retry, how long to wait, when to give up."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy.exc import OperationalError

from timesheet_batch.errors import TimesheetBatchError

# Errors from libraries that mean "the service hiccuped", not "the file is bad".
_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError, OperationalError)


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the same job later may succeed."""
    if isinstance(exc, TimesheetBatchError):
        return exc.transient
    return isinstance(exc, _TRANSIENT_TYPES)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with "equal" jitter: attempt n waits between half and all of base × 2ⁿ, capped."""

    base_s: float = 2.0
    cap_s: float = 120.0

    @classmethod
    def from_settings(cls, settings) -> Backoff:
        return cls(base_s=settings.retry_backoff_s, cap_s=settings.retry_backoff_cap_s)

    def delay_s(self, attempt: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.cap_s, self.base_s * (2 ** max(0, attempt)))
        return (rng or random).uniform(ceiling / 2, ceiling)
