"""Rendering values from outside (storage keys, vendor ids, file names, roles, message and
command parameters, error texts) for one log line or one line of a command's error output.

A key may hold a line break or a terminal escape (``layout.safe_key`` refuses only what would
leave its folder), so printing it as it is could forge log lines or recolour a terminal.
:func:`safe` escapes it the way ``repr`` does, without the quotes: a backslash, every line
break (``\\n``, ``\\r``, ``\\u2028`` …) and every other character that is not printable
(``\\x1b``, ``\\x00``, bidi controls …) become backslash escapes, so the value stays on one
line and reads back unambiguously; printable text (accents included) is left as it is. Long
values are cut at ``limit`` characters, saying how long they were.

This module imports nothing from the package: any layer may use it (``.importlinter``).
"""

from __future__ import annotations

#: Enough for any storage key (1,024 characters at most) to be logged whole.
DEFAULT_LIMIT = 1024

_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    if char.isprintable():
        return char
    return _code(char)


def _code(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def safe(value: object, limit: int = DEFAULT_LIMIT) -> str:
    """``value`` as text on one line: control characters escaped, at most ``limit`` characters of it."""
    text = value if isinstance(value, str) else str(value)
    cut = text[:limit]
    plain = cut.isprintable() and "\\" not in cut  # the common case: nothing to escape
    escaped = cut if plain else "".join(_escape_char(char) for char in cut)
    if len(text) > limit:
        escaped += f"...[{len(text)} characters]"
    return escaped


def quoted(value: object, limit: int = DEFAULT_LIMIT) -> str:
    """:func:`safe` between single quotes, for a value inside a sentence: ``'a\\nb'``."""
    return f"'{safe(value, limit)}'"


def safe_lines(text: object, limit: int = 20 * DEFAULT_LIMIT) -> str:
    """A message of several lines for a terminal: its ``\\n`` kept, every other character that
    is not printable escaped (``\\r``, ``\\x1b`` …), backslashes left alone.

    For error texts whose line breaks are meant (a vendor file's list of problems) and whose
    values were made safe where they were put in (so an escape already there is not doubled);
    this is the last guard, against a terminal escape or a carriage return that slipped through.
    """
    text = str(text)
    cut = text[:limit]
    if not all(line.isprintable() for line in cut.split("\n")):
        cut = "".join(char if char == "\n" or char.isprintable() else _NAMED.get(char) or _code(char) for char in cut)
    return cut + (f"...[{len(text)} characters]" if len(text) > limit else "")
