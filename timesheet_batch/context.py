"""The services one process needs (settings, vendor catalog, storage), built once per process.

Keyed by process id: a forked worker child builds its own storage client rather than
sharing its parent's sockets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from timesheet_batch.settings import Settings, get_settings
from timesheet_batch.storage import Storage, open_storage
from timesheet_batch.vendors import VendorCatalog, load_catalog


@dataclass(frozen=True)
class FarmContext:
    """Everything a task or command needs besides its arguments."""

    settings: Settings
    catalog: VendorCatalog
    storage: Storage

    @property
    def database_url(self) -> str:
        return self.settings.effective_database_url

    @property
    def masking_key(self) -> bytes:
        return self.settings.masking_key.get_secret_value().encode()


_contexts: dict[int, FarmContext] = {}


def get_context() -> FarmContext:
    """This process's context (settings errors surface here as ConfigurationError)."""
    pid = os.getpid()
    context = _contexts.get(pid)
    if context is None:
        settings = get_settings()
        if settings.storage_url is None:  # the embedded default: ours to create
            (settings.data_path / "storage").mkdir(parents=True, exist_ok=True)
        context = FarmContext(
            settings=settings,
            catalog=load_catalog(settings.effective_vendors_file),
            storage=open_storage(settings.effective_storage_url, s3_endpoint_url=settings.s3_endpoint_url),
        )
        _contexts[pid] = context
    return context


def get_catalog() -> VendorCatalog:
    """The vendor catalog alone (routing needs no storage)."""
    return get_context().catalog
