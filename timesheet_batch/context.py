"""The services one process needs (settings, vendor catalog, storage), built once per process.

Keyed by process id: a forked worker child builds its own storage client rather than
sharing its parent's sockets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from timesheet_batch.errors import ConfigurationError
from timesheet_batch.settings import Settings, get_settings
from timesheet_batch.storage import Storage, open_storage
from timesheet_batch.vendors import VendorCatalog, load_catalog
from timesheet_batch.vendors.profile import role_problem


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
        catalog = load_catalog(settings.effective_vendors_file)
        check_report_roles(settings, catalog)
        context = FarmContext(
            settings=settings,
            catalog=catalog,
            storage=open_storage(settings.effective_storage_url, s3_endpoint_url=settings.s3_endpoint_url),
        )
        _contexts[pid] = context
    return context


def ensure_embedded_storage(settings: Settings) -> None:
    """Create the embedded default's storage folder (ours to create) before work that writes;
    commands that only look never create it."""
    if settings.storage_url is None:
        (settings.data_path / "storage").mkdir(parents=True, exist_ok=True)


def check_report_roles(settings: Settings, catalog: VendorCatalog) -> None:
    """Every role of ``TIMESHEET_REPORT_ROLES`` is a role of the vendor file, as spelled there;
    else ConfigurationError naming the variable (the settings alone cannot know the roles).

    Only a value the operator set is checked: the default (SUPERVISOR) must not stop every
    command of a farm whose own vendor file has other roles (its reports name the role then)."""
    if "report_roles" not in settings.model_fields_set:
        return
    problems = [problem for role in settings.report_role_names if (problem := role_problem(role, catalog.roles))]
    if problems:
        raise ConfigurationError("bad setting: TIMESHEET_REPORT_ROLES: " + "; ".join(problems))


def get_catalog() -> VendorCatalog:
    """The vendor catalog alone (routing needs no storage)."""
    return get_context().catalog
