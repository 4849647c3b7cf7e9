"""Cut the elements of one top-level JSON array out of UTF-8 bytes with numpy, in batches.

Between two objects of an array of objects there is ``}``, a comma and ``{`` (white space
allowed after the comma). :class:`ArraySplitter` takes every ``},`` outside a string as a
*separator*: strings are found from the real quotes (those not after an odd run of
backslashes), counted across blocks. A batch is ``chunk_size`` elements with their separators
blanked, i.e. a plain sequence of objects for ``pyarrow.json``
(:mod:`~timesheet_batch.formats.arrow_json`).

The scan does not validate anything; the caller's parse does, with these checks here:

* each element starts with ``{`` after white space (pyarrow crashes on a batch that starts
  with ``null``, and takes a ``null`` between objects for a row);
* the caller requires as many rows as elements. A blanked separator nested inside a value
  (``[{..} {..}]``) is a syntax error for pyarrow, and two separators cannot share a gap
  between two values (each follows a ``}``), so with that count every gap holds exactly one
  separator and nothing else: the original text is exactly ``[obj, obj, ...]``. The strings
  pyarrow sees are those the scan saw (quotes and backslashes are untouched), so no separator
  taken for being outside a string can be inside one.

A ``,`` that follows white space instead of ``}`` is not taken for a separator: pyarrow then
fails on it, and Python reads that part. Anything unusual — something before the ``[`` or after
the ``]``, an element that does not start with ``{``, a truncated array, an element over the
size limit — makes :meth:`ArraySplitter.batches` stop; the caller reads the rest in Python from
:meth:`ArraySplitter.handover` (from the start of the batch, so the errors are Python's own).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import chain
from typing import NamedTuple

import numpy as np

_QUOTE, _BACKSLASH, _COMMA, _CLOSE_OBJECT = ord('"'), ord("\\"), ord(","), ord("}")
_SPACE = np.zeros(256, dtype=bool)
_SPACE[[ord(c) for c in " \t\n\r"]] = True  # JSON's white space, no more
_JSON_SPACE = b" \t\n\r"
_HEADER = re.compile(rb"[ \t\n\r]*\[")
_OBJECT_FIRST = re.compile(rb"[ \t\n\r]*\{")
#: Longest white space after a separator checked with numpy; longer ones one by one.
_MAX_GAP = 16


class Batch(NamedTuple):
    """``count`` elements as a whitespace-separated sequence of objects, for pyarrow."""

    data: bytes
    count: int


class ArraySplitter:
    """Batches of the elements of the array in ``blocks`` (UTF-8 bytes, already validated)."""

    def __init__(self, blocks: Iterator[bytes], max_record: int):
        self._blocks = blocks
        self._max_record = max_record
        self._pieces: list[bytes] = []  # bytes since the last batch
        self._size = 0
        self._seps: list[np.ndarray] = []  # separator positions in the pieces' bytes
        self._in_string = False
        self._backslashes = 0  # backslashes ending the text scanned so far
        self._last_byte = 0
        self._head = b""  # up to and including "[": given back if the first batch fails
        self._batch_text = b""
        self._batch_count = 0
        self.count = 0  # elements handed out in batches
        self.done = False  # the whole file was read and handed out

    def batches(self, chunk_size: int) -> Iterator[Batch]:
        """Batches of ``chunk_size`` elements (the last one shorter); stops early on trouble."""
        if not self._start():
            return
        while True:
            seps = self._separators()
            if len(seps) >= chunk_size:
                batch = self._cut(seps[: chunk_size - 1], int(seps[chunk_size - 1]))
                if batch is None:
                    return
                yield batch
                continue
            after = int(seps[-1]) + 1 if len(seps) else 0
            if self._size - after > self._max_record:
                return  # a huge element (or a lot of white space): Python decides
            block = next(self._blocks, None)
            if block is None:
                yield from self._last(seps)
                return
            self._scan(block, self._size)
            self._pieces.append(block)
            self._size += len(block)

    def handover(self, refused: bool = False) -> tuple[Iterator[bytes], int]:
        """(UTF-8 bytes from where Python must go on, elements before them).

        The bytes start with the "[" when no element was handed out, else with the comma
        after the last one. ``refused``: pyarrow refused the last batch, which is read again.
        """
        if refused:
            self.count -= self._batch_count
            self._pieces = [self._batch_text]
        text = b"".join(self._pieces)
        if self.count == 0:
            return chain([self._head, text], self._blocks), 0
        return chain([b",", text], self._blocks), self.count

    def _start(self) -> bool:
        """Consume the white space and "[" before the first element; False if not there."""
        text = b""
        while True:
            block = next(self._blocks, None)
            text += block or b""
            match = _HEADER.match(text)
            if match:
                self._head, body = text[: match.end()], text[match.end() :]
                self._pieces, self._size = [body], len(body)
                self._last_byte = ord("[")
                self._scan(body, 0)
                return True
            if text.lstrip(_JSON_SPACE) or block is None or len(text) > self._max_record:
                self._pieces = [text]  # not an array (or an empty file): Python's rules apply
                return False

    def _separators(self) -> np.ndarray:
        if not self._seps:
            # Found by fuzzing (issue #12): text read so far ending at "[" (b"[") scans no
            # block, and np.concatenate([]) raised ValueError instead of a truncated-array error.
            self._seps = [np.zeros(0, dtype=np.intp)]
        seps = np.concatenate(self._seps) if len(self._seps) != 1 else self._seps[0]
        self._seps = [seps]
        return seps

    def _scan(self, block: bytes, base: int) -> None:
        """Record the separators of ``block`` (at offset ``base``); carry the string state."""
        x = np.frombuffer(block, np.uint8)
        if not len(x):
            return
        quotes = np.flatnonzero(x == _QUOTE)
        if len(quotes) and (self._backslashes or block.find(b"\\") >= 0):
            quotes = quotes[~self._escaped(x, quotes)]
        else:
            self._backslashes = 0
        commas = np.flatnonzero(x == _COMMA)
        before = x[np.maximum(commas - 1, 0)]
        if len(commas) and commas[0] == 0:
            before[0] = self._last_byte
        seps = commas[before == _CLOSE_OBJECT]
        outside = ((np.searchsorted(quotes, seps) + self._in_string) & 1) == 0
        self._seps.append(base + seps[outside])
        self._in_string = bool((len(quotes) + self._in_string) & 1)
        self._last_byte = int(x[-1])

    def _escaped(self, x: np.ndarray, quotes: np.ndarray) -> np.ndarray:
        """Which ``quotes`` follow an odd run of backslashes; updates the carried run."""
        carried, self._backslashes = self._backslashes, 0
        escaped = np.zeros(len(quotes), dtype=bool)
        if carried & 1 and quotes[0] == 0:
            escaped[0] = True  # the run began in the previous block
        slashes = np.flatnonzero(x == _BACKSLASH)
        if not len(slashes):
            return escaped
        starts_run = np.ones(len(slashes), dtype=bool)
        starts_run[1:] = slashes[1:] - 1 != slashes[:-1]
        run_start = np.maximum.accumulate(np.where(starts_run, slashes, -1))
        # Backslashes so far in each run (a run at the block start continues the carried one).
        lengths = slashes - run_start + 1 + np.where(run_start == 0, carried, 0)
        if slashes[-1] == len(x) - 1:
            self._backslashes = int(lengths[-1])
        follows = quotes > 0
        prev = quotes[follows] - 1
        idx = np.minimum(np.searchsorted(slashes, prev), len(slashes) - 1)
        escaped[follows] = (slashes[idx] == prev) & (lengths[idx] & 1).astype(bool)
        return escaped

    def _last(self, seps: np.ndarray) -> Iterator[Batch]:
        """At the end of the file: the elements before the closing "]"."""
        data = b"".join(self._pieces)
        self._pieces = [data]
        body = data.rstrip(_JSON_SPACE)
        if not body.endswith(b"]"):
            return  # truncated, or data after the array
        body = body[:-1].rstrip(_JSON_SPACE)
        if not body:
            self.done = self.count == 0  # "[]" holds no records; "[{...}, ]" is an error
            return
        if not body.endswith(b"}"):
            return
        batch = self._cut(seps, len(body))
        if batch is not None:
            yield batch
            self.done = True

    def _cut(self, inner: np.ndarray, end: int) -> Batch | None:
        """The elements up to ``end``, separated by ``inner``; None if one is not an object."""
        data = b"".join(self._pieces)
        self._pieces = [data]
        if not (_OBJECT_FIRST.match(data) and _objects_follow(data, inner)):
            return None
        raw = np.frombuffer(data, np.uint8, count=end).copy()
        raw[inner] = ord(" ")
        count = len(inner) + 1
        rest = end + 1  # what is left starts after the separator (or "]") that ended the batch
        self._pieces, self._size = [data[rest:]], len(data) - rest
        self._seps = [self._seps[0][count:] - rest]
        self._batch_text, self._batch_count = data, count
        self.count += count
        return Batch(raw.tobytes(), count)


def _objects_follow(data: bytes, seps: np.ndarray) -> bool:
    """Whether the first byte after each separator but white space is ``{``."""
    raw = np.frombuffer(data, np.uint8)
    at = seps + 1
    for _ in range(_MAX_GAP):
        if not len(at):
            return True
        if at[-1] >= len(raw):
            return False
        found = raw[at]
        if (~_SPACE[found] & (found != ord("{"))).any():
            return False
        at = at[_SPACE[found]] + 1
    return all(_OBJECT_FIRST.match(data, int(p)) for p in at)
