"""Real servers on loopback for tests and benchmarks: PostgreSQL and Chroma.

Why here, not in Kindred: starting a database is the operator's job; the tests (and the
benchmarks, which import this module) need a throwaway one. PostgreSQL comes from Debian's
``postgresql`` package (``make services`` installs it); the cluster lives in a temporary dir and
listens on 127.0.0.1 only, with trust authentication for the local user. As root (CI runs as
root) the server runs as the ``postgres`` account, which initdb requires.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["chroma_server", "free_port", "postgres_server", "wait_for_port"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    """Return once something accepts connections on ``port``; raise if ``proc`` dies first."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listened on port {port} within {timeout:.0f} s")


def _stop(proc: subprocess.Popen, timeout: float) -> None:
    """Terminate a server, killed if it does not end within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run `make services` (apt-get install "
                           "postgresql)")
    return Path(found[-1]).parent


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextmanager
def postgres_server() -> Iterator[str]:
    """A fresh PostgreSQL cluster on a free loopback port; yields its URL (database ``kindred``)."""
    bin_dir = _pg_bin()
    root = Path(tempfile.mkdtemp(prefix="kindred-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    user = "postgres" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
    subprocess.run(_as_owner([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", user,
                              "-E", "UTF8", "--locale=C.UTF-8"]),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = free_port()
    proc = subprocess.Popen(_as_owner([str(bin_dir / "postgres"), "-D", str(data), "-p", str(port),
                                       "-c", "listen_addresses=127.0.0.1",
                                       "-c", f"unix_socket_directories={sock}",
                                       "-c", "max_connections=200", "-c", "fsync=off",
                                       "-c", "synchronous_commit=off"]),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc=proc)
        for _ in range(50):  # accepting connections can precede accepting logins
            ok = subprocess.run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port),
                                 "-U", user, "kindred"], capture_output=True)
            if ok.returncode == 0:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"createdb failed: {ok.stderr.decode(errors='replace')}")
        yield f"postgresql://{user}@127.0.0.1:{port}/kindred"
    finally:
        _stop(proc, 20)
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def chroma_server(path: Path | None = None, port: int | None = None
                  ) -> Iterator[tuple[str, int]]:
    """A real Chroma server (``chroma run``) on a loopback port (a free one unless given: a
    restart on the same one); yields (host, port)."""
    exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    if not Path(exe).exists():
        raise RuntimeError("the `chroma` command is missing: install chromadb (make install)")
    root = Path(path) if path else Path(tempfile.mkdtemp(prefix="kindred-chroma-"))
    port = port or free_port()
    proc = subprocess.Popen([exe, "run", "--path", str(root), "--port", str(port),
                             "--host", "127.0.0.1"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    try:
        wait_for_port(port, proc=proc)
        yield ("127.0.0.1", port)
    finally:
        _stop(proc, 10)
        if path is None:
            shutil.rmtree(root, ignore_errors=True)
