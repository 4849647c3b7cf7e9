"""The built-in job kinds, one module each; importing this package registers them.

Each module builds one :class:`~timesheet_batch.jobs.kinds.JobKind` and registers it. A kind
of your own is one more such module, named in ``TIMESHEET_JOB_KINDS`` (see
docs/architecture.md, "Adding a job kind").
"""

from timesheet_batch.jobs import kinds as _registry
from timesheet_batch.kinds import export_file, inbound_file, report
from timesheet_batch.settings import Settings

__all__ = ["export_file", "inbound_file", "load_configured", "report"]


def load_configured(settings: Settings) -> None:
    """Register the kinds of ``TIMESHEET_JOB_KINDS`` too (ConfigurationError names a missing module)."""
    _registry.load_modules(settings.job_kind_modules)
