"""Vendor profiles: who sends what, in which format, at which priority, masked how."""

from timesheet_batch.vendors.profile import (
    CANONICAL_INPUT_FIELDS,
    ColumnSpec,
    FormatOptions,
    VendorCatalog,
    VendorProfile,
    load_catalog,
)

__all__ = [
    "CANONICAL_INPUT_FIELDS",
    "ColumnSpec",
    "FormatOptions",
    "VendorCatalog",
    "VendorProfile",
    "load_catalog",
]
