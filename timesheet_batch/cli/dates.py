"""Argument types of the CLI."""

from __future__ import annotations

import argparse
import datetime as dt


def parse_date(value: str) -> dt.date:
    """A YYYY-MM-DD argument."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a YYYY-MM-DD date") from None
