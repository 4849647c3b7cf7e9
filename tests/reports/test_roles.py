"""Roles at every boundary (issue #12): the CLI, the REPORT kind's parameters, the settings and
the dependency rules accept only roles the vendor file defines, exactly as it spells them.

Exact and case-sensitive, not case-folded: a role is a key of the vendor file's ``roles``, and
the masking, the vendors' ``role``, the ``report_runs`` key and the beat entries all match it
exactly. Folding it in one place only is how ``supervisor`` came to mask everything and still
overwrite ``daily-report-supervisor.csv`` (report file names are lower case).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.jobs.recording import RecordingPublisher
from timesheet_batch.context import FarmContext, check_report_roles
from timesheet_batch.errors import ConfigurationError
from timesheet_batch.jobs import kinds
from timesheet_batch.jobs.submit import submit
from timesheet_batch.kinds import report as report_kind
from timesheet_batch.reports import dependencies
from timesheet_batch.settings import PACKAGED_VENDORS_FILE, Settings
from timesheet_batch.storage import LocalStorage
from timesheet_batch.vendors import load_catalog

DATE = "2026-11-20"
KNOWN = "ADMIN, AUDITOR, CASE_WORKER, SUPERVISOR, VENDOR"


def _context(tmp_path: Path, **settings) -> FarmContext:
    """A context whose database has no tables: reaching it at all fails, and not with ConfigurationError."""
    (tmp_path / "storage").mkdir(exist_ok=True)
    values = {"data_dir": tmp_path, "database_url": f"sqlite:///{tmp_path / 'empty.sqlite'}"} | settings
    return FarmContext(settings=Settings(**values), catalog=load_catalog(PACKAGED_VENDORS_FILE),
                       storage=LocalStorage(tmp_path / "storage"))


@pytest.mark.parametrize("role", ["supervisor", "Supervisor", "NOBODY"])
def test_report_cli_refuses_an_unknown_role_naming_the_option_and_the_known_roles(embedded_farm, role):
    proc = embedded_farm.cli("report", "--type", "DAILY_REPORT", "--date", DATE, "--role", role)
    assert proc.returncode == 2, proc.stderr
    assert f"--role '{role}'" in proc.stderr and KNOWN in proc.stderr
    if role.upper() == "SUPERVISOR":
        assert "did you mean 'SUPERVISOR'" in proc.stderr
    assert not (embedded_farm.storage_root / "reports").exists()


def test_report_cli_refuses_a_bad_report_roles_setting(embedded_farm):
    embedded_farm.env["TIMESHEET_REPORT_ROLES"] = "SUPERVISOR, auditor"
    proc = embedded_farm.cli("report", "--type", "DAILY_REPORT", "--date", DATE)
    assert proc.returncode == 2, proc.stderr
    assert "TIMESHEET_REPORT_ROLES" in proc.stderr and "'auditor'" in proc.stderr and KNOWN in proc.stderr


def test_the_report_kind_parameters_accept_only_known_roles(tmp_path):
    ctx = _context(tmp_path)
    kind = kinds.get("REPORT")
    assert kind.validate({"report_type": "DAILY_REPORT", "role": "AUDITOR"}, ctx).role == "AUDITOR"
    for role in ("supervisor", "NOBODY"):
        with pytest.raises(ConfigurationError, match=rf"bad parameters for job kind REPORT: role: .*'{role}'.*{KNOWN}"):
            kind.validate({"report_type": "DAILY_REPORT", "role": role}, ctx)
        publisher = RecordingPublisher()
        with pytest.raises(ConfigurationError, match=f"'{role}'"):
            submit(ctx, kind="REPORT", params={"report_type": "DAILY_REPORT", "role": role}, publisher=publisher)
        assert publisher.published == []
        # A direct request (the ``report`` command, a message by type and role) is checked the same way.
        with pytest.raises(ConfigurationError, match=f"'{role}'"):
            report_kind.request_report(ctx, report_type_name="DAILY_REPORT", role=role, day=dt.date(2026, 11, 20))


def test_the_report_roles_setting_must_name_known_roles(tmp_path):
    ctx = _context(tmp_path)
    check_report_roles(ctx.settings, ctx.catalog)  # the default, SUPERVISOR
    bad = Settings(data_dir=tmp_path, report_roles="SUPERVISOR,supervisor")
    with pytest.raises(ConfigurationError, match=rf"TIMESHEET_REPORT_ROLES: .*'supervisor'.*{KNOWN}"):
        check_report_roles(bad, ctx.catalog)


def test_dependency_rules_may_name_only_known_roles(tmp_path):
    catalog = load_catalog(PACKAGED_VENDORS_FILE)
    dependencies.load_rules(dependencies.PACKAGED_DEPENDENCIES_FILE).check_roles(catalog.roles)
    path = tmp_path / "deps.yaml"
    path.write_text("rules:\n- {name: a, parents: [DAILY_REPORT], dependent: DAILY_SUMMARY, condition: ON_SUCCESS,"
                    " roles: [SUPERVISOR, supervisor]}\n")
    with pytest.raises(ConfigurationError, match=rf"rule 'a': roles: .*'supervisor'.*{KNOWN}"):
        dependencies.load_rules(path).check_roles(catalog.roles)
    path.write_text("rules:\n- {name: a, parents: [DAILY_REPORT], dependent: DAILY_SUMMARY, condition: ON_SUCCESS,"
                    " parent_role: Admin}\n")
    with pytest.raises(ConfigurationError, match=rf"rule 'a': parent_role: .*'Admin'.*{KNOWN}"):
        dependencies.load_rules(path).check_roles(catalog.roles)
    path.write_text("rules:\n- {name: a, parents: [DAILY_REPORT], dependent: DAILY_SUMMARY, condition: ON_SUCCESS,"
                    " roles: ['../x']}\n")
    with pytest.raises(ConfigurationError, match="TIMESHEET_DEPENDENCIES_FILE"):
        dependencies.load_rules(path)
