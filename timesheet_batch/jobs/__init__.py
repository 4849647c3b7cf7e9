"""The life of a job, without Celery: kinds, discovery, claims and leases, the runner, the
summary, cancel, the sweeper and the dead letters.

This layer talks to the broker only through a :class:`~timesheet_batch.jobs.publisher.Publisher`
that the caller (the Celery tasks, the CLI) hands in, so it never imports Celery or kombu.
"""
