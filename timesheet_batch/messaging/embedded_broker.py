"""The embedded broker: kombu's file-system transport, consuming queues in priority order.

With no ``TIMESHEET_BROKER_URL`` the farm runs on ``embedded://``: messages are files under
``{data_dir}/broker``, shared by every local process, so no server is needed. kombu's
virtual transports cycle round-robin over queues; here the cycle restarts at the first
queue on every poll, so ``-Q high,medium,low`` drains ``high`` first, as on Redis with
``queue_order_strategy=priority``.
"""

from __future__ import annotations

from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.scheduling import FairCycle

SCHEME = "embedded"


class PriorityCycle(FairCycle):
    """A FairCycle that always tries resources from the first one."""

    def get(self, callback, **kwargs):
        self.pos = 0
        return super().get(callback, **kwargs)


class Channel(filesystem.Channel):
    """File-system channel whose queue cycle honours queue order."""

    def _reset_cycle(self):
        self._cycle = PriorityCycle(self._get_and_deliver, self._active_queues, filesystem.Empty)


class Transport(filesystem.Transport):
    """File-system transport with :class:`Channel`."""

    Channel = Channel
    driver_type = "filesystem"
    driver_name = "embedded"


def register() -> None:
    """Make ``embedded://`` URLs resolve to :class:`Transport` (idempotent)."""
    TRANSPORT_ALIASES.setdefault(SCHEME, f"{__name__}:Transport")


register()
