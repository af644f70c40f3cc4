"""One process per embedded data dir: a lock held while the stores are open.

Why: on the embedded backends two processes on one data dir each keep their own view of a user's
thread, per-user lock and in-process vectors, so they lose acknowledged turns and fail on each
other's stale vectors (measured: 5 of 29 acknowledged turns of one user in no store, 10 of 20
alternating requests failed). Serialising them across processes is the server backends' job
(PostgreSQL and a Chroma server, where no lock is taken); on the embedded ones the second process
is refused at start with a message that says so.

The lock is ``flock`` on ``DATA/.kindred.lock``, taken without waiting; the kernel releases it
when the process ends, however it ends (a SIGKILL leaves no stale lock). Within one process the
stores of one data dir may be opened more than once (a test reopening a dir, a tool beside the
server): opens are counted and the lock is dropped with the last close.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from typing import IO

from memory.errors import StoreError

__all__ = ["DataDirLock"]

_held: dict[Path, tuple[IO[str], int]] = {}
_guard = threading.Lock()


class DataDirLock:
    """The process's hold on one data dir (see the module docstring)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = (Path(data_dir) / ".kindred.lock").resolve()
        self._open = False
        with _guard:
            held = _held.get(self.path)
            if held is not None:
                _held[self.path] = (held[0], held[1] + 1)
            else:
                handle = open(self.path, "a+")  # noqa: SIM115 - held until the last close
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.seek(0)
                    owner = handle.read().strip() or "another process"
                    handle.close()
                    raise StoreError(
                        f"The data dir {data_dir} is in use by {owner}: the embedded stores "
                        "serve one process at a time (two would lose each other's turns). Stop "
                        "the other process, give this one its own --data-dir, or run replicas "
                        "on the server backends (KINDRED_DATABASE_URL=postgresql://… and "
                        "KINDRED_CHROMA_HOST=…).") from None
                handle.seek(0)
                handle.truncate()
                handle.write(f"process {os.getpid()}\n")
                handle.flush()
                _held[self.path] = (handle, 1)
        self._open = True

    def release(self) -> None:
        if not self._open:
            return
        self._open = False
        with _guard:
            handle, count = _held[self.path]
            if count > 1:
                _held[self.path] = (handle, count - 1)
                return
            del _held[self.path]
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
