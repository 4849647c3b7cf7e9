"""The Redis result backend, without a subscription per published task.

Celery's Redis backend subscribes to every task it publishes, so that a later
``AsyncResult.get()`` is fast. The farm never waits on a task's result in the publisher
(completion is watched in the database), and one SUBSCRIBE per file of a 2,500-file
batch costs publishing time and leaves subscriptions to undo at interpreter exit.
``get()`` still works: it subscribes when it is called.
"""

from __future__ import annotations

from celery.backends.redis import RedisBackend


class PublishOnlyRedisBackend(RedisBackend):
    """RedisBackend whose publishers do not subscribe to their tasks' results."""

    def on_task_call(self, producer, task_id):
        """Do not subscribe at publish time (see module docstring)."""


#: ``override_backends`` Celery setting: the URL schemes this class serves.
OVERRIDES = {
    "redis": f"{__name__}:PublishOnlyRedisBackend",
    "rediss": f"{__name__}:PublishOnlyRedisBackend",
}
