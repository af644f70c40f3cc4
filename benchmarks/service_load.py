"""Many users at once through the OpenAI-compatible route: throughput, latency, isolation.

    .venv/bin/python benchmarks/service_load.py [--users 50] [--turns 20]

Two real servers on loopback, each a separate process: ``kindred serve --model fake`` (so only
Kindred's own work is timed: memory, graph, HTTP) and a bare FastAPI app whose
``/v1/chat/completions`` returns the same canned reply with no memory at all. ``--users`` clients
each send ``--turns`` messages in order (each user's turns are sequential, the users concurrent),
first to the bare app, then to Kindred, in the same run. Reported: requests/s, p50/p95 latency,
errors, and the replies whose trace holds another user's memory (every user tells a code word of
their own; after the run every reply's trace is fetched and searched for the others' words).
Kindred's added latency is its p50 (p95) as a ratio to the bare endpoint's.
"""

from __future__ import annotations

import _common  # noqa: F401  (process defaults before torch)

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

from _common import machine, pct, stamp

_BARE = textwrap.dedent('''
    from fastapi import FastAPI
    app = FastAPI()

    @app.post("/v1/chat/completions")
    def completions(body: dict) -> dict:
        return {"id": "chatcmpl-bare", "object": "chat.completion", "created": 0,
                "model": "kindred", "choices": [{"index": 0, "finish_reason": "stop",
                "message": {"role": "assistant", "content": "Thanks for telling me."}}]}

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}
''')

_TOPICS = ("my garden", "my cello lessons", "the marathon", "my sister's wedding", "my new job",
           "the weekend trip", "my dog's vet visit", "a recipe I tried", "my book club")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(base: str, proc: subprocess.Popen, limit: float = 180) -> None:
    deadline = time.time() + limit
    while True:
        try:
            httpx.get(base + "/health", timeout=2)
            return
        except httpx.TransportError:
            if proc.poll() is not None or time.time() > deadline:
                raise SystemExit(f"server at {base} did not start") from None
            time.sleep(0.5)


def _messages(user: int, turns: int) -> list[str]:
    word = f"zq{user:03d}x"
    out = [f"My code word is {word}."]
    out += [f"Let me tell you about {_TOPICS[(user + n) % len(_TOPICS)]}, day {n}."
            for n in range(1, turns)]
    return out


async def _run(base: str, users: int, turns: int) -> dict:
    latencies: list[float] = []
    errors = 0
    replies: list[tuple[int, str]] = []
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as client:
        async def one_user(u: int) -> None:
            nonlocal errors
            for text in _messages(u, turns):
                started = time.perf_counter()
                try:
                    r = await client.post("/v1/chat/completions", json={
                        "model": "kindred", "user": f"user{u:03d}",
                        "messages": [{"role": "user", "content": text}]})
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - started)
                if not ok:
                    errors += 1
                else:
                    replies.append((u, r.json()["id"]))

        started = time.perf_counter()
        await asyncio.gather(*(one_user(u) for u in range(users)))
        wall = time.perf_counter() - started
    return {"requests": users * turns, "wall_s": wall, "rps": users * turns / wall,
            "p50_ms": pct(latencies, 50) * 1000, "p95_ms": pct(latencies, 95) * 1000,
            "errors": errors, "replies": replies}


def _leaks(base: str, replies: list[tuple[int, str]], users: int) -> int:
    """Replies whose trace shows another user's code word."""
    words = {u: f"zq{u:03d}x" for u in range(users)}
    leaked = 0
    with httpx.Client(base_url=base, timeout=60) as client:
        for u, reply_id in replies:
            trace = client.get(f"/v1/traces/{reply_id}", params={"user": f"user{u:03d}"})
            shown = json.dumps(trace.json())
            if trace.status_code != 200 or any(w in shown for o, w in words.items() if o != u):
                leaked += 1
    return leaked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    env = {**os.environ, "KINDRED_LIMITS__KEEP_TRACES": str(args.turns + 5)}
    with tempfile.TemporaryDirectory() as tmp:
        bare_file = Path(tmp) / "bare_app.py"
        bare_file.write_text(_BARE)
        bare_port, kindred_port = _port(), _port()
        bare = subprocess.Popen([sys.executable, "-m", "uvicorn", "bare_app:app", "--port",
                                 str(bare_port), "--log-level", "warning"], cwd=tmp,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        kindred = subprocess.Popen([str(Path(sys.executable).parent / "kindred"), "serve",
                                    "--model", "fake", "--port", str(kindred_port),
                                    "--data-dir", str(Path(tmp) / "data")], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            bare_base, kindred_base = (f"http://127.0.0.1:{bare_port}",
                                       f"http://127.0.0.1:{kindred_port}")
            _wait(bare_base, bare)
            _wait(kindred_base, kindred)
            base_run = asyncio.run(_run(bare_base, args.users, args.turns))
            run = asyncio.run(_run(kindred_base, args.users, args.turns))
            leaks = _leaks(kindred_base, run["replies"], args.users)
        finally:
            for proc in (bare, kindred):
                proc.terminate()
                proc.wait(timeout=30)
    print(f"# service load, {stamp()}, {machine()}")
    print(f"{args.users} users x {args.turns} turns, /v1/chat/completions, fake chat model")
    for name, r in (("bare FastAPI", base_run), ("Kindred", run)):
        print(f"{name:13s} {r['rps']:7.1f} req/s  p50 {r['p50_ms']:8.1f} ms  p95 "
              f"{r['p95_ms']:8.1f} ms  errors {r['errors']}  wall {r['wall_s']:.1f} s")
    print(f"replies whose trace holds another user's memory: {leaks} of {len(run['replies'])}")
    print(f"Kindred / bare: p50 {run['p50_ms'] / base_run['p50_ms']:.1f}x, p95 "
          f"{run['p95_ms'] / base_run['p95_ms']:.1f}x, throughput "
          f"{run['rps'] / base_run['rps']:.3f}x")
    if args.json:
        for r in (base_run, run):
            r.pop("replies")
        args.json.write_text(json.dumps({"bare": base_run, "kindred": run, "leaks": leaks,
                                         "users": args.users, "turns": args.turns}, indent=2))


if __name__ == "__main__":
    main()
