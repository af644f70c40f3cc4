"""Growable float32 vector rows kept in fixed-size blocks, for the in-process copies of a user's
vectors (:mod:`memory.hot`, :mod:`memory.backends.cached`).

Why blocks: a copy kept as one matrix must move to grow. Doubling it holds up to twice the
capacity it needs (40 users of 360 turns: 31 MB for 21 MB of vectors) and frees the old matrix
into the heap at each doubling; growing by a copy of exactly the new size (``np.vstack``, as the
events' and traits' copies did) copies the whole matrix on every write. Blocks are never moved or
freed while the copy lives: memory follows the rows stored, with at most one partly used block
per copy (blocks grow from 8 rows to 128, so a copy of a few rows is small). A product over a few
blocks costs little more than over one matrix (10,000 rows of 384: 0.8 ms against 0.24 ms).
(A soak's RSS steps at 64, 128 and 256 turns a user were first put down to the doublings; they
stayed with blocks: benchmarks/RESULTS.md, 2026-12-06.)

``quantized``: rows held as int8 with one float32 scale each (scalar quantization, as FAISS's SQ8
and Qdrant's scalar quantization do): 388 bytes a 384-wide row instead of 1,536. Why: the turn
copies are the part of a server's memory that grows with every message (a soak's 14,400 messages
held 27 MB of float32 rows, most of its growth); a row read back differs from the stored one by at
most half a step (its largest component / 254), which moves a MiniLM cosine by 3e-4 on average
(at most 2e-3 over 60,000 LoCoMo pairs: near ties among the dense top ten may swap; LoCoMo's
hybrid recall was the same to the second decimal). float16 would halve the rows with less
error, but numpy converts it to float32 ten times slower than int8 (7.8 ms against 0.8 ms for
10,000 rows here), and a product needs float32.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

import numpy as np

__all__ = ["BLOCK_ROWS", "FIRST_ROWS", "VectorBlocks"]

BLOCK_ROWS = 128
"""Rows per block: 192 KiB of 384-dimensional vectors; a user's copy wastes at most one block's
unused rows (most chat users hold fewer turns than one block)."""

FIRST_ROWS = 8
"""Rows of a copy's first block; each next block doubles, up to the block size."""


class VectorBlocks:
    """``dim``-wide float32 rows (or int8 ones, ``quantized``), appended, overwritten in place and
    multiplied as one matrix.

    Blocks start at :data:`FIRST_ROWS` rows and double up to ``block`` rows, then stay there: a
    user's events or traits (a few dozen) do not each hold a 128-row block (a soak's probe: 40
    users' first events took 7.9 MB of blocks), and a long history still adds blocks of one size.
    """

    def __init__(self, dim: int, block: int = BLOCK_ROWS, *, quantized: bool = False) -> None:
        self.dim, self._block, self.quantized = dim, block, quantized
        self._blocks: list[np.ndarray] = []
        self._scales: list[np.ndarray] = []  # quantized: each block's rows' scales
        self._starts: list[int] = []  # the first row of each block
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def _capacity(self) -> int:
        return self._starts[-1] + len(self._blocks[-1]) if self._blocks else 0

    def _at(self, row: int) -> tuple[int, int]:
        """The block holding ``row`` and the row's place in it."""
        if not 0 <= row < self._n:
            raise IndexError(f"row {row} of {self._n}")
        b = bisect_right(self._starts, row) - 1
        return b, row - self._starts[b]

    def append(self, vectors: np.ndarray) -> None:
        """Add ``vectors`` (one per row) after the last row."""
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        done = 0
        while done < len(vectors):
            if self._n == self._capacity():
                size = min(self._block, FIRST_ROWS << len(self._blocks))
                self._starts.append(self._n)
                self._blocks.append(np.zeros((size, self.dim),
                                             dtype=np.int8 if self.quantized else np.float32))
                if self.quantized:
                    self._scales.append(np.zeros(size, dtype=np.float32))
            block, at = self._blocks[-1], self._n - self._starts[-1]
            take = min(len(block) - at, len(vectors) - done)
            self._write(len(self._blocks) - 1, at, vectors[done: done + take])
            done += take
            self._n += take

    def __setitem__(self, row: int, vector: np.ndarray) -> None:
        """Overwrite one existing row."""
        b, at = self._at(row)
        self._write(b, at, np.asarray(vector, dtype=np.float32).reshape(1, self.dim))

    def _write(self, b: int, at: int, rows: np.ndarray) -> None:
        """Put float32 ``rows`` into block ``b`` from row ``at`` (quantized: each row scaled so
        its largest component is 127)."""
        if not self.quantized:
            self._blocks[b][at: at + len(rows)] = rows
            return
        scales = np.abs(rows).max(axis=1) / 127.0
        scales[scales == 0] = 1.0  # an all-zero row stays zero
        self._blocks[b][at: at + len(rows)] = np.rint(rows / scales[:, None])
        self._scales[b][at: at + len(rows)] = scales

    def _float(self, b: int) -> np.ndarray:
        """Block ``b`` as float32 rows (itself unless quantized)."""
        if not self.quantized:
            return self._blocks[b]
        return self._blocks[b].astype(np.float32) * self._scales[b][:, None]

    def take(self, rows: Sequence[int]) -> np.ndarray:
        """A new ``len(rows) × dim`` array of the given rows, in that order."""
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        for i, row in enumerate(rows):
            b, at = self._at(row)
            out[i] = self._blocks[b][at]
            if self.quantized:
                out[i] *= self._scales[b][at]
        return out

    def dot(self, vector: np.ndarray) -> np.ndarray:
        """Every row's product with ``vector`` (a new array of ``len(self)`` values)."""
        if not self._blocks:
            return np.zeros(0, dtype=np.float32)
        vector = np.asarray(vector, dtype=np.float32)
        if self.quantized:  # scale the products, not the rows: one multiply a row
            return np.concatenate([(block.astype(np.float32) @ vector) * scales for block, scales
                                   in zip(self._blocks, self._scales, strict=True)])[: self._n]
        if len(self._blocks) == 1:
            return self._blocks[0][: self._n] @ vector
        return np.concatenate([block @ vector for block in self._blocks])[: self._n]

    def array(self) -> np.ndarray:
        """A copy of every row as one ``len(self) × dim`` matrix."""
        if not self._blocks:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate([self._float(b) for b in range(len(self._blocks))])[: self._n]
