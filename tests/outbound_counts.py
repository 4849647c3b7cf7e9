"""Counting records in files of each format, independently of the package's readers."""

from __future__ import annotations

import json
from pathlib import Path

from lxml import etree


def count_records(path: Path, fmt: str) -> int:
    """Records in an outbound file of format ``fmt`` (sample data has no embedded newlines)."""
    data = path.read_bytes()
    if fmt == "json":
        return len(json.loads(data))
    if fmt == "xml":
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
        return len(root)
    lines = [line for line in data.splitlines() if line.strip()]
    return len(lines) - 1 if fmt == "csv" else len(lines)
