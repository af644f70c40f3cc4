"""A soak: one ``kindred serve`` at a steady request rate for a long time, its memory sampled.

    .venv/bin/python benchmarks/soak.py [--minutes 30] [--rate 4] [--users 40] [--plot OUT.png]
                                        [--backend server]

The server (fake chat model, embedded backend) gets ``--rate`` requests per second on
``/v1/chat/completions`` from ``--users`` users in turn, each user's messages new text (so caches
keep meeting new keys), a session boundary every 30 turns of a user (so consolidation runs).
Every 15 s the server process's resident memory (``/proc/PID/status`` VmRSS) is sampled. Reported:
RSS after the warm-up (the first fifth of the run) and at the end, the growth between them (target
under 5%), requests served, errors, p50/p95 latency; ``--plot`` draws RSS over time.

``--backend server``: the same server on PostgreSQL + a Chroma server (both started here, on
loopback), as a replica runs. The vectors' index then lives in the Chroma server's process, whose
RSS is sampled and reported beside Kindred's: on the embedded backend Chroma's HNSW segments sit
in Kindred's own process and grow with every stored vector.
"""

from __future__ import annotations

import _common  # noqa: F401  (process defaults before torch)

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from _common import machine, pct, stamp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from servers import free_port, wait_for_port  # noqa: E402


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _after_warmup(samples: list[tuple[float, float]], minutes: float) -> float:
    """The first RSS sampled after the warm-up (the run's first fifth)."""
    return next(mb for t, mb in samples if t >= minutes * 60 / 5)


@contextlib.contextmanager
def _storage(backend: str):
    """Environment for the server on ``backend`` and the Chroma server's pid (None: embedded)."""
    if backend == "embedded":
        yield {}, None
        return
    import psutil

    from servers import chroma_server, postgres_server

    with postgres_server() as url, chroma_server() as (host, port):
        [pid] = [c.pid for c in psutil.net_connections("tcp")
                 if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN]
        yield {"KINDRED_DATABASE_URL": url, "KINDRED_CHROMA_HOST": host,
               "KINDRED_CHROMA_PORT": str(port)}, pid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=4.0, help="requests per second")
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--backend", choices=("embedded", "server"), default="embedded",
                        help="server: PostgreSQL + a Chroma server, started here")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp, _storage(args.backend) as (env, chroma_pid):
        proc = subprocess.Popen([str(Path(sys.executable).parent / "kindred"), "serve", "--model",
                                 "fake", "--port", str(port), "--data-dir", str(Path(tmp) / "d")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, **env})
        try:
            wait_for_port(port, timeout=180, proc=proc)
            base = f"http://127.0.0.1:{port}/v1/chat/completions"
            samples: list[tuple[float, float]] = []
            chroma: list[tuple[float, float]] = []  # the Chroma server's RSS (server backend)
            latencies: list[float] = []
            errors = sent = 0
            stop = threading.Event()
            started = time.time()

            def take() -> None:
                samples.append((time.time() - started, _rss_mb(proc.pid)))
                if chroma_pid:
                    chroma.append((time.time() - started, _rss_mb(chroma_pid)))

            def sample() -> None:
                while not stop.is_set():
                    take()
                    stop.wait(15)

            threading.Thread(target=sample, daemon=True).start()
            end = started + args.minutes * 60
            per_user: dict[int, int] = {}
            with httpx.Client(timeout=120) as client:
                while time.time() < end:
                    due = started + sent / args.rate
                    if due > time.time():
                        time.sleep(due - time.time())
                    user = sent % args.users
                    n = per_user[user] = per_user.get(user, -1) + 1
                    if n and n % 30 == 0:
                        client.post(f"http://127.0.0.1:{port}/v1/users/soak{user}/end_session",
                                    json={})
                    t = time.perf_counter()
                    r = client.post(base, json={
                        "model": "kindred", "user": f"soak{user}", "messages": [
                            {"role": "user", "content": f"Day {n}: I walked {n % 17} km and "
                                                        f"cooked recipe number {n * 7 + user}."}]})
                    latencies.append(time.perf_counter() - t)
                    errors += r.status_code != 200
                    sent += 1
            stop.set()
            take()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    after_warmup, last = _after_warmup(samples, args.minutes), samples[-1][1]
    growth = 100 * (last - after_warmup) / after_warmup
    print(f"# soak, {stamp()}, {machine()}")
    print(f"{args.minutes:.0f} min at {args.rate} req/s, {args.users} users, fake model, "
          + ("embedded" if args.backend == "embedded" else "PostgreSQL + Chroma server"))
    print(f"requests {sent}, errors {errors}, p50 {1000 * pct(latencies, 50):.0f} ms, "
          f"p95 {1000 * pct(latencies, 95):.0f} ms")
    print(f"RSS: start {samples[0][1]:.0f} MB, after warm-up {after_warmup:.0f} MB, end "
          f"{last:.0f} MB, max {max(mb for _, mb in samples):.0f} MB; growth after warm-up "
          f"{growth:+.1f}% (target < 5%)")
    if chroma:
        c_warm = _after_warmup(chroma, args.minutes)
        print(f"Chroma server RSS: start {chroma[0][1]:.0f} MB, after warm-up {c_warm:.0f} MB, "
              f"end {chroma[-1][1]:.0f} MB ({100 * (chroma[-1][1] - c_warm) / c_warm:+.1f}%)")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.plot([t / 60 for t, _ in samples], [mb for _, mb in samples], marker=".",
                label="kindred serve")
        if chroma:
            ax.plot([t / 60 for t, _ in chroma], [mb for _, mb in chroma], marker=".",
                    label="Chroma server")
        ax.axvline(args.minutes / 5, color="grey", linestyle=":", label="end of warm-up")
        ax.set(xlabel="minutes", ylabel="RSS (MB)",
               title=f"kindred serve at {args.rate} req/s")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
