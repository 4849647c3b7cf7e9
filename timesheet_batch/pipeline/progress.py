"""What a pipeline reports after each chunk (imports nothing heavy: the job layer uses it too)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ChunkProgress:
    """Progress after one chunk: its 0-based index and running totals for the file.

    One more call comes right before anything is published, repeating the last chunk's index
    (0 for a file without records) with the final totals (cross-record rejects included), so
    a job cancelled after its last chunk still publishes nothing.
    """

    chunk_index: int
    records_read: int
    records_rejected: int
    #: True on the call right before publishing (not part of equality: the same progress).
    final: bool = field(default=False, compare=False)
