"""Masking of personal fields, per role, vectorised with pyarrow.compute where possible.

Strategies (docs/architecture.md, "Masking"): ``none`` as is; ``last4`` keeps the last four characters
(an SSN becomes ``***-**-6789``); ``initials`` turns a name into ``J. D.``; ``hash`` is a keyed
HMAC-SHA256, hex, truncated to 16 characters — stable for one key, so masked ids still join
across files and runs; ``redact`` writes ``[REDACTED]`` (a null stays null). A masked column
is always a string column. ``hash`` needs Python's hmac, so it is computed once per distinct
value (dictionary encoding), not once per row.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc

from timesheet_batch.vendors.profile import MaskStrategy

REDACTED = "[REDACTED]"
HASH_LENGTH = 16
#: How long an unmasked reject value may be: enough to see the problem, not a whole blob.
MAX_REJECT_VALUE_CHARS = 64


def _as_strings(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    if pa.types.is_string(column.type):
        return column
    if pa.types.is_date(column.type):
        return pc.strftime(column.cast(pa.timestamp("s")), format="%Y-%m-%d")
    return pc.cast(column, pa.string())


def last4(column: pa.Array | pa.ChunkedArray, *, ssn: bool) -> pa.Array | pa.ChunkedArray:
    """Keep the last four characters (digits only for an SSN): ``***-**-6789`` / ``***6789``."""
    if ssn:
        column = pc.replace_substring_regex(column, r"\D", "")
    tail = pc.utf8_slice_codeunits(column, -4)
    return pc.binary_join_element_wise("***-**-" if ssn else "***", tail, "")


def initials(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """``"Jane Doe"`` -> ``"J. D."`` (the first character of each word, dotted)."""
    dotted = pc.replace_substring_regex(column, r"(\S)\S*\s*", r"\1. ")
    return pc.utf8_rtrim_whitespace(dotted)


def keyed_hash(value: str, key: bytes) -> str:
    """HMAC-SHA256 of ``value`` under ``key``, hex, first 16 characters."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:HASH_LENGTH]


def hash_column(column: pa.Array | pa.ChunkedArray, key: bytes) -> pa.Array:
    """Keyed hash of every value, computed once per distinct value."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = column.dictionary_encode()
    digests = pa.array([keyed_hash(v, key) for v in encoded.dictionary.to_pylist()], pa.string())
    return pc.take(digests, encoded.indices)


def mask_column(
    column: pa.Array | pa.ChunkedArray, field: str, strategy: MaskStrategy, key: bytes
) -> pa.Array | pa.ChunkedArray:
    """``column`` masked with ``strategy``; nulls stay null."""
    if strategy == "none":
        return column
    text = _as_strings(column)
    if strategy == "last4":
        return last4(text, ssn=field == "provider_ssn")
    if strategy == "initials":
        return initials(text)
    if strategy == "hash":
        return hash_column(text, key)
    if strategy == "redact":
        return pc.if_else(pc.is_null(text), pa.scalar(None, pa.string()), REDACTED)
    raise ValueError(f"unknown masking strategy {strategy!r}")


def mask_table(table: pa.Table, policy: Mapping[str, MaskStrategy], key: bytes) -> pa.Table:
    """``table`` with every column named in ``policy`` masked; other columns untouched."""
    for field, strategy in policy.items():
        if field in table.column_names and strategy != "none":
            index = table.column_names.index(field)
            masked = mask_column(table.column(field), field, strategy, key)
            table = table.set_column(index, field, masked)
    return table


def mask_reject_values(field: str, column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Reject values for ``field``, safe to store: SSN -> last 4, name -> initials, else cut."""
    text = _as_strings(column)
    if field == "provider_ssn":
        return last4(text, ssn=True)
    if field == "provider_name":
        return initials(text)
    return pc.utf8_slice_codeunits(text, 0, MAX_REJECT_VALUE_CHARS)


def mask_value(field: str, value: str | None) -> str | None:
    """One reject value made safe to store (scalar form of :func:`mask_reject_values`)."""
    if value is None:
        return None
    return mask_reject_values(field, pa.array([value], pa.string()))[0].as_py()
