"""Writing a report: ``reports/{period start}/{type}-{role}.{csv,json,xml}``.

JSON holds the whole structure (amounts as exact decimal strings). CSV is one table in long
form: a ``section`` column, then the union of the sections' columns (totals are the section
``totals``). XML, when asked for, mirrors the JSON.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from decimal import Decimal

from timesheet_batch.reports.content import ReportContent
from timesheet_batch.storage import Storage, layout

FORMATS = ("csv", "json", "xml")


def report_keys(report_type: str, role: str, period_start, formats: list[str]) -> dict[str, str]:
    """Format -> storage key of the report's files."""
    stem = f"{report_type.lower().replace('_', '-')}-{role.lower()}"
    return {fmt: layout.report_key(period_start, f"{stem}.{fmt}") for fmt in formats}


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def render_json(content: ReportContent) -> bytes:
    return json.dumps(content.as_dict(), default=_plain, indent=2, ensure_ascii=False).encode()


def render_csv(content: ReportContent) -> bytes:
    sections = {"totals": [content.totals], **content.sections}
    columns: list[str] = []
    for rows in sections.values():
        for row in rows:
            columns.extend(c for c in row if c not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["section", *columns], lineterminator="\n")
    writer.writeheader()
    for name, rows in sections.items():
        for row in rows:
            writer.writerow({"section": name, **{k: _plain(v) for k, v in row.items()}})
    return buffer.getvalue().encode()


def render_xml(content: ReportContent) -> bytes:
    data = content.as_dict()
    root = ET.Element("report", {k: str(data[k]) for k in ("report_type", "role", "generated_at")})
    ET.SubElement(root, "period", {k: str(v) for k, v in data["period"].items()})
    _row_element(root, "totals", data["totals"])
    for name, rows in data["sections"].items():
        section = ET.SubElement(root, "section", {"name": name})
        for row in rows:
            _row_element(section, "row", row)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _row_element(parent: ET.Element, tag: str, row: dict) -> None:
    element = ET.SubElement(parent, tag)
    for key, value in row.items():
        ET.SubElement(element, key).text = "" if value is None else str(_plain(value))


_RENDERERS = {"csv": render_csv, "json": render_json, "xml": render_xml}


def write_report(storage: Storage, content: ReportContent, formats: list[str]) -> dict[str, str]:
    """Write the report in every format (each atomically); format -> key written."""
    keys = report_keys(content.report_type, content.role, content.period.start, formats)
    for fmt, key in keys.items():
        storage.write_bytes(key, _RENDERERS[fmt](content))
    return keys
