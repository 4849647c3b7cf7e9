"""The vendor file's boundary (issue #12): ids unique whatever their case, at least one vendor,
every problem named by its vendor (or its position), keys matched to ids exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from timesheet_batch.errors import UnknownVendorError, VendorProfileError
from timesheet_batch.settings import PACKAGED_VENDORS_FILE
from timesheet_batch.vendors import load_catalog


def _packaged() -> dict:
    return yaml.safe_load(PACKAGED_VENDORS_FILE.read_text(encoding="utf-8"))


def _write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "vendors.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _problems(tmp_path: Path, raw: dict) -> tuple[VendorProfileError, list[str]]:
    with pytest.raises(VendorProfileError) as caught:
        load_catalog(_write(tmp_path, raw))
    lines = str(caught.value).splitlines()[1:]
    return caught.value, lines


def test_vendor_ids_differing_only_in_case_are_refused_naming_both(tmp_path):
    raw = _packaged()
    twin = dict(raw["vendors"][0], id="acme", name="Acme again")
    raw["vendors"].append(twin)
    error, lines = _problems(tmp_path, raw)
    assert len(error.problems) == 1
    vendor, field, message = error.problems[0]
    assert vendor == "vendor 'acme'" and field == "id"
    assert "'ACME'" in message and "case" in message
    assert lines == [f"  {vendor}: id: {message}"]


def test_the_same_id_twice_is_refused_naming_the_vendor(tmp_path):
    raw = _packaged()
    raw["vendors"].append(dict(raw["vendors"][1]))
    error, _ = _problems(tmp_path, raw)
    assert [(v, f) for v, f, _ in error.problems] == [("vendor 'BAYCARE'", "id")]


def test_a_vendor_file_without_vendors_is_an_error(tmp_path):
    for vendors in ([], None):
        raw = _packaged() | {"vendors": vendors}
        error, lines = _problems(tmp_path, raw)
        assert error.problems and "vendors" in lines[0], lines


def test_every_problem_names_its_vendor_or_its_position(tmp_path):
    raw = _packaged()
    raw["vendors"][2]["role"] = "NOBODY"             # CENTRAL: a role the file does not define
    del raw["vendors"][4]["id"]                      # the fifth vendor has no id
    raw["vendors"][5]["id"] = "BAD ID"               # an id that is not an id
    raw["vendors"].append("just a string")           # the seventh entry is not a mapping
    error, lines = _problems(tmp_path, raw)
    named = {(vendor, field) for vendor, field, _ in error.problems}
    assert ("vendor 'CENTRAL'", "role") in named
    assert ("vendor #5 (no id)", "id") in named
    assert ("vendor #6 ('BAD ID')", "id") in named
    assert ("vendor #7 (no id)", "(vendor)") in named
    assert all(not line.startswith("  vendor -") for line in lines), lines
    assert all(line.startswith(("  vendor '", "  vendor #", "  role '", "  file:")) for line in lines), lines


def test_role_problems_name_the_role_and_roles_are_unique_whatever_their_case(tmp_path):
    raw = _packaged()
    raw["roles"]["Supervisor"] = {"provider_ssn": "redact"}
    raw["roles"]["AUDITOR"] = {"salary": "hash"}
    error, lines = _problems(tmp_path, raw)
    named = {(vendor, field) for vendor, field, _ in error.problems}
    assert named == {("role 'Supervisor'", "(role)"), ("role 'AUDITOR'", "(role)")}, error.problems
    assert any("'SUPERVISOR'" in line for line in lines)


def test_problems_outside_any_vendor_or_role_name_the_file(tmp_path):
    error, lines = _problems(tmp_path, {"roles": {"ADMIN": {}}, "vendors": [], "extra": 1})
    assert {v for v, _, _ in error.problems} == {"file"}
    assert lines and all(line.startswith("  file: ") for line in lines)


def test_keys_match_vendor_ids_exactly_and_say_which_id_was_meant():
    catalog = load_catalog(PACKAGED_VENDORS_FILE)
    assert catalog.get("ACME").id == "ACME"
    with pytest.raises(UnknownVendorError, match=r"unknown vendor 'acme'.*'ACME'"):
        catalog.get("acme")
    with pytest.raises(UnknownVendorError, match="unknown vendor 'NOPE'"):
        catalog.get("NOPE")


def test_vendors_check_exits_2_on_an_empty_vendor_file(embedded_farm, tmp_path):
    path = _write(tmp_path, {"roles": {"ADMIN": {}}, "vendors": []})
    proc = embedded_farm.cli("vendors", "check", str(path))
    assert proc.returncode == 2 and "OK" not in proc.stdout
    assert "vendors" in proc.stderr and "at least one" in proc.stderr
