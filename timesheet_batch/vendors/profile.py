"""Vendor profiles read from YAML (docs/architecture.md, "Vendor file") and validated.

A :class:`VendorCatalog` holds the role masking table and every :class:`VendorProfile`.
Validation collects every problem as (vendor, field, message) so ``vendors check`` can
report them all at once instead of the first one only.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from timesheet_batch.errors import UnknownVendorError, VendorProfileError

VENDOR_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
VENDOR_ID_RE = re.compile(VENDOR_ID_PATTERN)

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

    @model_validator(mode="after")
    def _consistent(self) -> VendorCatalog:
        seen: set[str] = set()
        for vendor in self.vendors:
            if vendor.id in seen:
                raise ValueError(f"vendor id {vendor.id!r} appears twice")
            seen.add(vendor.id)
            if vendor.role not in self.roles:
                raise ValueError(f"vendor {vendor.id!r}: role {vendor.role!r} is not in roles")
        for role, policy in self.roles.items():
            unknown = sorted(set(policy) - set(CANONICAL_INPUT_FIELDS) - {"amount"})
            if unknown:
                raise ValueError(f"role {role!r} masks unknown field(s) {unknown}")
        return self

    def get(self, vendor_id: str) -> VendorProfile:
        """The vendor's profile, or UnknownVendorError naming the id."""
        for vendor in self.vendors:
            if vendor.id == vendor_id:
                return vendor
        raise UnknownVendorError(f"unknown vendor {vendor_id!r}: not in the vendor file")

    def masking_for(self, role: str) -> dict[str, MaskStrategy]:
        """Field -> strategy for a role; an unknown role masks every personal field."""
        if role not in self.roles:
            return {field: "redact" for field in PERSONAL_FIELDS}
        return dict(self.roles[role])


def load_catalog(path: str | Path) -> VendorCatalog:
    """Read and validate a vendor file; every problem is listed in VendorProfileError."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise VendorProfileError(f"cannot read vendor file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise VendorProfileError(f"vendor file {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise VendorProfileError(f"vendor file {path} must be a mapping with 'roles' and 'vendors'")
    try:
        return VendorCatalog.model_validate(raw)
    except ValidationError as exc:
        problems = [_describe(error, raw) for error in exc.errors()]
        lines = "\n".join(f"  vendor {v}: {f}: {m}" for v, f, m in problems)
        raise VendorProfileError(f"vendor file {path} has {len(problems)} problem(s):\n{lines}", problems) from None


def _describe(error: dict, raw: dict) -> tuple[str, str, str]:
    """(vendor id or '-', dotted field path, message) for one pydantic error."""
    loc = list(error["loc"])
    vendor = "-"
    if len(loc) >= 2 and loc[0] == "vendors" and isinstance(loc[1], int):
        entries = raw.get("vendors") or []
        entry = entries[loc[1]] if loc[1] < len(entries) else {}
        vendor = str(entry.get("id", f"#{loc[1] + 1}")) if isinstance(entry, dict) else f"#{loc[1] + 1}"
        loc = loc[2:]
    field = ".".join(str(part) for part in loc) or "(vendor)"
    message = error["msg"].removeprefix("Value error, ")
    return vendor, field, message
