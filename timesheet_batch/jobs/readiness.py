"""Can this worker serve? Checked once when a worker starts, before it takes a message.

A worker that cannot run its jobs (a bad vendor file, an unreachable database, a schema that
was not migrated, a storage root that is not there) must not start: started, it would take
messages and fail each of them. The caller turns the error into an exit code (2: fix a
setting or file; 3: a service is down).
"""

from __future__ import annotations

from timesheet_batch.context import FarmContext, ensure_embedded_storage, get_context
from timesheet_batch.db.engine import check_database
from timesheet_batch.db.migrate import require_current_schema
from timesheet_batch.settings import Settings


def check_worker_can_serve(settings: Settings) -> FarmContext:
    """The worker's context once every service it needs answers; else the error that says which."""
    ensure_embedded_storage(settings)  # the embedded default's folder is ours to create
    ctx = get_context()  # loads the vendor file: VendorProfileError names the vendor and field
    ctx.storage.check()
    check_database(ctx.database_url, timeout_s=settings.service_timeout_s)
    require_current_schema(ctx.database_url)
    return ctx
