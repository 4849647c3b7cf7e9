"""Vendor profiles read from YAML (docs/architecture.md, "Vendor file") and validated.

A :class:`VendorCatalog` holds the role masking table and every :class:`VendorProfile`.
Validation collects every problem as (subject, field, message) so ``vendors check`` can
report them all at once instead of the first one only. The subject is the vendor (``vendor
'ACME'``; ``vendor #3 (no id)`` for an entry without a usable id, by its 1-based position), the
role (``role 'SUPERVISOR'``) or, for what belongs to neither, ``file``.

Vendor ids and role names are unique whatever their case: ``ACME`` and ``acme`` would be two
vendors to the farm but one folder on a case-insensitive file system, and a role's report
files are named in lower case. Everything else matches them exactly (case-sensitively): a key
under ``inbound/{date}/acme/`` is not ACME's (:meth:`VendorCatalog.get` says which id was meant).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Collection
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from timesheet_batch.errors import UnknownVendorError, VendorProfileError
from timesheet_batch.logsafe import quoted, safe

VENDOR_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
VENDOR_ID_RE = re.compile(VENDOR_ID_PATTERN)
#: A role name: it becomes part of report file names (``reports/{date}/{type}-{role}.csv``).
ROLE_NAME_PATTERN = r"^[A-Za-z0-9_]{1,50}$"
ROLE_NAME_RE = re.compile(ROLE_NAME_PATTERN)
#: Set in the validation context by :func:`load_catalog`, which checks the whole file itself.
_PROBLEMS_COLLECTED = "problems_collected"

Priority = Literal["high", "medium", "low"]
FileFormat = Literal["csv", "json", "ndjson", "xml", "fixed_width"]
MaskStrategy = Literal["none", "last4", "initials", "hash", "redact"]

#: Canonical fields a vendor maps from its own field names (``amount`` is derived).
CANONICAL_INPUT_FIELDS: tuple[str, ...] = (
    "provider_id",
    "provider_name",
    "provider_ssn",
    "recipient_id",
    "county_code",
    "work_date",
    "hours",
    "pay_rate",
    "service_code",
)
OPTIONAL_CANONICAL_FIELDS = frozenset({"provider_ssn"})
PERSONAL_FIELDS = frozenset({"provider_name", "provider_ssn"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Strict):
    """One fixed-width column: its name, 0-based start and width in characters."""

    name: str = Field(min_length=1)
    start: int = Field(ge=0)
    width: int = Field(ge=1, le=10_000)


class FormatOptions(_Strict):
    """How one file is laid out, for reading (``input``) or writing (``output``)."""

    format: FileFormat
    encoding: str = "utf-8"
    delimiter: str = ","
    date_format: str = "%Y-%m-%d"
    record_path: str | None = None
    columns: tuple[ColumnSpec, ...] | None = None

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str) -> str:
        if len(value) != 1 or value in "\r\n\"":
            raise ValueError("must be one character other than a quote or a line break")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError as exc:
            raise ValueError(f"unknown encoding {value!r}") from exc
        return value

    @field_validator("date_format")
    @classmethod
    def _has_date_parts(cls, value: str) -> str:
        if not all(part in value for part in ("%Y", "%m", "%d")) and "%y" not in value:
            raise ValueError("must contain %Y (or %y), %m and %d")
        return value

    @model_validator(mode="after")
    def _format_needs(self) -> FormatOptions:
        if self.format == "xml" and not self.record_path:
            raise ValueError("xml needs record_path (e.g. 'timesheets/entry')")
        if self.format == "fixed_width":
            if not self.columns:
                raise ValueError("fixed_width needs columns (name, start, width)")
            _check_no_overlap(self.columns)
        return self


def _check_no_overlap(columns: tuple[ColumnSpec, ...]) -> None:
    spans = sorted((c.start, c.start + c.width, c.name) for c in columns)
    for (_, end, name), (start, _, next_name) in zip(spans, spans[1:], strict=False):
        if start < end:
            raise ValueError(f"fixed_width columns {name!r} and {next_name!r} overlap")


class VendorProfile(_Strict):
    """One vendor: identity, queue priority, masking role, skip limit, formats, field map."""

    id: str = Field(pattern=VENDOR_ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    priority: Priority = "medium"
    role: str = "VENDOR"
    max_reject_ratio: float = Field(default=0.05, ge=0.0, le=1.0)
    input: FormatOptions
    output: FormatOptions
    fields: dict[str, str]

    @field_validator("fields")
    @classmethod
    def _canonical_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(CANONICAL_INPUT_FIELDS))
        if unknown:
            raise ValueError(f"unknown canonical field(s) {unknown}; known: {list(CANONICAL_INPUT_FIELDS)}")
        missing = [f for f in CANONICAL_INPUT_FIELDS if f not in value and f not in OPTIONAL_CANONICAL_FIELDS]
        if missing:
            raise ValueError(f"missing mapping for required field(s) {missing}")
        names = list(value.values())
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"vendor field(s) {repeated} mapped more than once")
        return value

    @model_validator(mode="after")
    def _fixed_width_columns_cover_fields(self) -> VendorProfile:
        for side in (self.input, self.output):
            if side.format == "fixed_width" and side.columns:
                names = {c.name for c in side.columns}
                absent = sorted(set(self.fields.values()) - names)
                if side is self.input and absent:
                    raise ValueError(f"input columns lack vendor field(s) {absent}")
        return self

    @property
    def vendor_fields(self) -> dict[str, str]:
        """Vendor field name -> canonical field name."""
        return {vendor: canonical for canonical, vendor in self.fields.items()}


class VendorCatalog(_Strict):
    """The whole vendor file: roles with their masking, and the vendors."""

    roles: dict[str, dict[str, MaskStrategy]]
    vendors: tuple[VendorProfile, ...]

    @field_validator("vendors")
    @classmethod
    def _some_vendor(cls, value: tuple[VendorProfile, ...]) -> tuple[VendorProfile, ...]:
        if not value:
            raise ValueError("the file has no vendors: at least one is needed")
        return value

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> VendorCatalog:
        if (info.context or {}).get(_PROBLEMS_COLLECTED):
            return self  # load_catalog has checked the raw file, naming every problem
        raw = {"roles": self.roles, "vendors": [{"id": v.id, "role": v.role} for v in self.vendors]}
        problems = _consistency_problems(raw)
        if problems:
            raise ValueError("; ".join(f"{subject}: {field}: {message}" for subject, field, message in problems))
        return self

    def get(self, vendor_id: str) -> VendorProfile:
        """The vendor whose id is exactly ``vendor_id``, or UnknownVendorError naming the id.

        Ids are matched as they are (case-sensitively), like the folders under ``inbound/``;
        for an id that differs only in case, the error names the vendor's real id.
        """
        for vendor in self.vendors:
            if vendor.id == vendor_id:
                return vendor
        folded = str(vendor_id).casefold()
        meant = [vendor.id for vendor in self.vendors if vendor.id.casefold() == folded]
        hint = f" (vendor ids match exactly: did you mean {meant[0]!r}?)" if meant else ""
        raise UnknownVendorError(f"unknown vendor {quoted(vendor_id, 80)}: not in the vendor file{hint}")

    def masking_for(self, role: str) -> dict[str, MaskStrategy]:
        """Field -> strategy for a role; an unknown role masks every personal field."""
        if role not in self.roles:
            return {field: "redact" for field in PERSONAL_FIELDS}
        return dict(self.roles[role])


def role_problem(role: object, roles: Collection[str]) -> str | None:
    """None if ``role`` is one of ``roles`` as spelled there (case-sensitively); else what is
    wrong with it, naming the role meant when only the case differs, and listing the known roles.

    Roles are matched exactly everywhere: masking, vendors' ``role``, report jobs and rules."""
    if isinstance(role, str) and role in roles:
        return None
    text = f"{quoted(role, 60)} is not a role of the vendor file"
    meant = [known for known in roles if isinstance(role, str) and known.casefold() == role.casefold()]
    if meant:
        text += f" (roles match exactly: did you mean {meant[0]!r}?)"
    return f"{text}; known roles: {', '.join(sorted(roles))}"


def load_catalog(path: str | Path) -> VendorCatalog:
    """Read and validate a vendor file; every problem is listed in VendorProfileError."""
    path = Path(path)
    shown = safe(path, 300)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise VendorProfileError(f"cannot read vendor file {shown}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise VendorProfileError(f"vendor file {shown} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise VendorProfileError(f"vendor file {shown} must be a mapping with 'roles' and 'vendors'")
    problems: list[tuple[str, str, str]] = []
    catalog = None
    try:
        catalog = VendorCatalog.model_validate(raw, context={_PROBLEMS_COLLECTED: True})
    except ValidationError as exc:
        problems.extend(_describe(error, raw) for error in exc.errors())
    problems.extend(_consistency_problems(raw))
    if catalog is None or problems:
        lines = "\n".join(f"  {subject}: {field}: {message}" for subject, field, message in problems)
        raise VendorProfileError(f"vendor file {shown} has {len(problems)} problem(s):\n{lines}", problems) from None
    return catalog


def _vendor_subject(raw: dict, index: int) -> str:
    """``vendor 'ACME'``; ``vendor #3 (no id)`` or ``vendor #3 ('BAD ID')`` when the id is missing or unusable."""
    entries = raw.get("vendors")
    entry = entries[index] if isinstance(entries, list) and 0 <= index < len(entries) else None
    vendor_id = entry.get("id") if isinstance(entry, dict) else None
    if vendor_id is None:
        return f"vendor #{index + 1} (no id)"
    if isinstance(vendor_id, str) and VENDOR_ID_RE.match(vendor_id):
        return f"vendor '{vendor_id}'"
    return f"vendor #{index + 1} ({quoted(vendor_id, 80)})"


def _describe(error: dict, raw: dict) -> tuple[str, str, str]:
    """(subject, dotted field path, message) for one pydantic error."""
    loc = list(error["loc"])
    if len(loc) >= 2 and loc[0] == "vendors" and isinstance(loc[1], int):
        subject, loc, whole = _vendor_subject(raw, loc[1]), loc[2:], "(vendor)"
    elif len(loc) >= 2 and loc[0] == "roles" and isinstance(loc[1], str):
        subject, loc, whole = f"role {quoted(loc[1], 80)}", loc[2:], "(role)"
    else:
        subject, whole = "file", "(file)"
    field = safe(".".join(str(part) for part in loc), 200) or whole
    message = error["msg"].removeprefix("Value error, ")
    return subject, field, message


def _consistency_problems(raw: dict) -> list[tuple[str, str, str]]:
    """What no single vendor or role shows: ids and role names unique whatever their case,
    role names usable in file names, roles masking known fields, every vendor's role defined.

    Reads the raw file, so it runs even where a field of some vendor is wrong."""
    problems: list[tuple[str, str, str]] = []
    roles = raw.get("roles") if isinstance(raw.get("roles"), dict) else {}
    role_by_folded: dict[str, str] = {}
    for role, policy in roles.items():
        subject = f"role {quoted(role, 80)}"
        if not isinstance(role, str) or not ROLE_NAME_RE.match(role):
            problems.append((subject, "(role)", "a role name is [A-Za-z0-9_]{1,50}"))
            continue
        first = role_by_folded.setdefault(role.casefold(), role)
        if first != role:
            problems.append((subject, "(role)", f"role {role!r} differs from role {first!r} only in case "
                                                f"(role names are unique whatever their case)"))
        if isinstance(policy, dict):
            unknown = sorted(str(f) for f in set(policy) - set(CANONICAL_INPUT_FIELDS) - {"amount"})
            if unknown:
                problems.append((subject, "(role)", f"masks unknown field(s) {unknown}"))
    entries = raw.get("vendors") if isinstance(raw.get("vendors"), list) else []
    first_of: dict[str, tuple[int, str]] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        vendor_id, role = entry.get("id"), entry.get("role", "VENDOR")
        subject = _vendor_subject(raw, index)
        if isinstance(vendor_id, str) and VENDOR_ID_RE.match(vendor_id):
            first = first_of.setdefault(vendor_id.casefold(), (index, vendor_id))
            if first[0] != index:
                other = f"vendor #{first[0] + 1}'s id {first[1]!r}"
                how = f"is also {other}" if first[1] == vendor_id else f"differs only in case from {other}"
                problems.append((subject, "id", f"id {vendor_id!r} {how} (vendor ids are unique whatever their case)"))
        if isinstance(role, str) and isinstance(raw.get("roles"), dict) and role not in roles:
            problems.append((subject, "role", f"role {quoted(role, 80)} is not in roles (known: {sorted(roles)})"))
    return problems
