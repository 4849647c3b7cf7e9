"""The one exception tree of timesheet_batch.

Every error the package raises on purpose derives from :class:`TimesheetBatchError`.
Whether an error is worth retrying is a property of its class (``transient``), so the
retry policy lives in one place (the task layer) and never in ``except`` ladders::

    TimesheetBatchError
    ├── ConfigurationError            bad setting or vendor file      exit 2, permanent
    │   └── VendorProfileError        a vendor file that does not validate
    ├── ServiceUnavailableError       broker / database / storage down  exit 3, transient
    │   ├── BrokerUnavailableError
    │   ├── DatabaseUnavailableError
    │   └── StorageUnavailableError
    ├── StorageError                  storage refused a request        permanent
    │   ├── UnsafeKeyError            a key that escapes its folder
    │   └── ObjectNotFoundError
    ├── BadFileError                  the file itself is bad: the job FAILS at once
    │   ├── UnknownVendorError
    │   ├── UnreadableFileError       cannot be parsed or decoded
    │   └── RejectLimitExceededError  too many bad records (the skip limit)
    ├── JobCancelledError             the job was cancelled while it ran
    ├── JobHandedBackError            the worker is shutting down: the job goes back to the queue
    ├── TransientJobError             a transient failure while a worker held a job   transient
    └── WaitFailedError               a command's wait for work to finish ended (timeout, workers gone)

Messages never carry record contents: they name keys, vendors, fields and rules only.
"""

from __future__ import annotations

from typing import ClassVar


class TimesheetBatchError(Exception):
    """Root of every error raised on purpose by timesheet_batch."""

    transient: ClassVar[bool] = False
    exit_code: ClassVar[int] = 1


class ConfigurationError(TimesheetBatchError):
    """A setting or configuration file is wrong; the user must fix it."""

    exit_code = 2


class VendorProfileError(ConfigurationError):
    """A vendor file does not validate; ``problems`` lists (subject, field, message), the subject
    being ``vendor 'ACME'``, ``vendor #3 (no id)``, ``role 'SUPERVISOR'`` or ``file``."""

    def __init__(self, message: str, problems: list[tuple[str, str, str]] | None = None):
        super().__init__(message)
        self.problems = problems or []


class SchemaNotCurrentError(ConfigurationError):
    """The database schema is not at the revision this code needs (migrations are their own step)."""


class ServiceUnavailableError(TimesheetBatchError):
    """A required service cannot be reached; retrying later may succeed."""

    transient = True
    exit_code = 3


class BrokerUnavailableError(ServiceUnavailableError):
    """The message broker cannot be reached."""


class DatabaseUnavailableError(ServiceUnavailableError):
    """The database cannot be reached."""


class StorageUnavailableError(ServiceUnavailableError):
    """The object store or file system cannot be reached."""


class StorageError(TimesheetBatchError):
    """Storage refused a request for a reason retrying will not fix."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


class UnsafeKeyError(StorageError):
    """A storage key or vendor id that would escape its folder."""


class ObjectNotFoundError(StorageError):
    """The storage key does not exist."""


class BadFileError(TimesheetBatchError):
    """The file itself is bad; the job fails with this reason and is not retried."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


class UnknownVendorError(BadFileError):
    """The file sits in a folder of no configured vendor."""


class UnreadableFileError(BadFileError):
    """The file cannot be decoded or parsed at all."""


class RejectLimitExceededError(BadFileError):
    """More records were rejected than the vendor's ``max_reject_ratio`` allows."""


class JobCancelledError(TimesheetBatchError):
    """The job was cancelled; it stops at the next chunk boundary and publishes nothing."""


class JobHandedBackError(TimesheetBatchError):
    """The worker is shutting down and its grace period is over: the job goes back to the queue."""


class TransientJobError(TimesheetBatchError):
    """A transient failure while a worker held a job: the task retries it, or gives up after the last attempt.

    ``held`` is the claim (job id, version, attempts) the worker held; ``cause`` what failed.
    """

    transient = True

    def __init__(self, held, cause: BaseException):
        super().__init__(f"{type(cause).__name__}: {cause}"[:500])
        self.held = held
        self.cause = cause


class JobNotCompletedError(TimesheetBatchError):
    """A job task's job ended FAILED or DEAD (its row says why): raised by the task after the
    row is written, so Celery records the task as a FAILURE (red in Flower) instead of a
    SUCCESS. Job tasks declare it expected: one log line, no traceback, and no retry."""

    @classmethod
    def of(cls, job_id: str, status: str, reason: str | None) -> JobNotCompletedError:
        # One string argument: Celery rebuilds a stored exception from its args.
        return cls(f"job {job_id} {status}: {reason or 'no reason recorded'}"[:500])


class WaitFailedError(TimesheetBatchError):
    """A command that waits for work to finish gave up: its timeout passed or its workers stopped."""
