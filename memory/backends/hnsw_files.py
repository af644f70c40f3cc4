"""Zero the bytes of an embedded Chroma index file that hold no element yet.

Why: Chroma's HNSW library (``chroma-hnswlib``) creates a collection's index files at the
collection's first write by writing its whole ``malloc``'d arrays, of the index's initial capacity,
without clearing them: ``length.bin`` (one float per element slot, 400 bytes for 100 slots) and
``data_level0.bin`` (one vector and its links per slot). The slots no element fills yet hold
whatever the allocating thread's heap held before, and that heap is the process's: freed
checkpoints, prompts, replies, any user's words. They stay on disk until elements fill those slots,
which for a small collection is never; Kindred never gives Chroma a word (ids and vectors only), so
these tails are the only way a memory's text reaches Chroma's files, and a ``forget`` could not
reach it there. Measured: a fresh ``length.bin`` held 30 copies of a marker string that another
(finished) thread of the process had freed.

The files' layout (the library's persistence version 1): ``header.bin`` starts with the version
(int32), the level-0 offset, the capacity, the element count and the bytes per element (size_t
each); element ``i`` is at ``i * 4`` in ``length.bin`` and at ``i * bytes per element`` in
``data_level0.bin``. Everything past the element count is unused: the library writes an element's
slot when it persists the element (and the header with the count first), so zeroing the tail is
safe whenever no write to that collection is running.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from memory.errors import StoreError

__all__ = ["HNSW_PERSISTENCE_VERSION", "zero_unused_slots"]

#: the only layout this module knows; another one is refused rather than guessed at
HNSW_PERSISTENCE_VERSION = 1
_HEADER = struct.Struct("<iQQQQ")  # version, level-0 offset, capacity, count, bytes per element
_FLOAT = 4


def zero_unused_slots(segment: str | Path) -> bool:
    """Overwrite with zeros every byte of ``segment``'s ``length.bin`` and ``data_level0.bin``
    past its element count. ``False`` where ``segment`` is not (yet) an HNSW index directory;
    a StoreError for a header of another layout, since its bytes could not be cleaned."""
    segment = Path(segment)
    try:
        header = (segment / "header.bin").read_bytes()
    except FileNotFoundError:
        return False
    if len(header) < _HEADER.size:
        return False  # being written: its first write is not done
    version, _offset, _capacity, count, per_element = _HEADER.unpack_from(header)
    if version != HNSW_PERSISTENCE_VERSION:
        raise StoreError(
            f"Chroma's index files at {segment} are of layout {version}, which this Kindred "
            f"cannot clean of the stale bytes Chroma leaves in them (it knows layout "
            f"{HNSW_PERSISTENCE_VERSION}). Install the chromadb version pyproject.toml names.")
    _zero_from(segment / "length.bin", count * _FLOAT)
    _zero_from(segment / "data_level0.bin", count * per_element)
    return True


def _zero_from(path: Path, start: int) -> None:
    """Zeros from ``start`` to the end of ``path``, on disk before this returns."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return
    try:
        size = os.fstat(fd).st_size
        if size > start:
            os.pwrite(fd, bytes(size - start), start)
            os.fsync(fd)
    finally:
        os.close(fd)
