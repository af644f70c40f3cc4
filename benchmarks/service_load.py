"""Many users at once through the OpenAI-compatible route: throughput, latency, isolation.

    .venv/bin/python benchmarks/service_load.py [--users 50] [--turns 20] [--replicas 2]

Real servers on loopback, each a separate process: a bare FastAPI app whose
``/v1/chat/completions`` returns the same canned reply with no memory at all; one
``kindred serve --model fake`` on the embedded backend (so only Kindred's own work is timed:
memory, graph, HTTP); then ``--replicas`` of them sharing one PostgreSQL and one Chroma server
(started here; Debian's postgresql, ``make services``), each user's turns sent to the replicas in
turn (turn n to replica n mod R, so every turn crosses processes). ``--users`` clients each send
``--turns`` messages in order (each user's turns sequential, the users concurrent). Reported per
run: requests/s, p50/p95 latency, errors, the replies whose trace holds another user's memory
(every user tells a code word of their own; every reply's trace is fetched and searched for the
others' words), and the turns lost or duplicated, counted in the stores afterwards (records, words
and vectors must hold each user's 2 × turns turns once). Throughput is also given as a ratio to the
embedder-bound ceiling measured in this process before and after the runs (their mean): the
encodes one turn needs (its query; the user's turn and the reply, one batch), one turn after
another.
"""

from __future__ import annotations

import _common  # noqa: F401  (process defaults before torch)

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

from _common import machine, pct, stamp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from servers import chroma_server, free_port, postgres_server  # noqa: E402

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


async def _run(bases: list[str] | str, users: int, turns: int) -> dict:
    latencies: list[float] = []
    errors = 0
    replies: list[tuple[int, str]] = []
    bases = [bases] if isinstance(bases, str) else bases
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:
        async def one_user(u: int) -> None:
            nonlocal errors
            for n, text in enumerate(_messages(u, turns)):
                started = time.perf_counter()
                try:
                    r = await client.post(bases[n % len(bases)] + "/v1/chat/completions", json={
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


def _serve(port: int, data_dir: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([str(Path(sys.executable).parent / "kindred"), "serve", "--model",
                             "fake", "--port", str(port), "--data-dir", str(data_dir)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kindred_run(bases: list[str], procs: list[subprocess.Popen], args) -> dict:
    try:
        for base, proc in zip(bases, procs, strict=True):
            _wait(base, proc)
        run = asyncio.run(_run(bases, args.users, args.turns))
        run["leaks"] = _leaks(bases[0], run["replies"], args.users)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
    return run


def _counted(data_dir: Path, storage: dict, users: int, turns: int) -> dict:
    """Turns lost or duplicated, from the stores themselves (records, words, vectors)."""
    from agent import Kindred

    lost = duplicated = disagree = 0
    with Kindred(data_dir=data_dir, chat_model="fake", storage=storage) as bot:
        stores = bot.memory.stores
        for u in range(users):
            user = f"user{u:03d}"
            turns_of = stores.records.list(user, "turn")
            ids = [r.id for r in turns_of]
            said = [r.value["text"] for r in turns_of if r.value["role"] == "user"]
            lost += len(set(_messages(u, turns)) - set(said))
            duplicated += len(said) - len(set(said)) + len(ids) - len(set(ids))
            disagree += sorted(ids) != sorted(stores.lexical.ids(user))
            disagree += sorted(ids) != sorted(i["id"] for i in stores.vectors.get("turns", user))
    return {"lost": lost, "duplicated": duplicated, "users_whose_stores_disagree": disagree}


def _ceiling(turns: int = 200) -> float:
    """Turns per second if a turn cost only its encodes (query; the user's turn and the reply)."""
    from memory.embeddings import default_embedder

    embedder = default_embedder()
    embedder.clear_cache()  # a second measurement must not find the first one's vectors
    embedder.embed(["warm up"])
    started = time.perf_counter()
    for n in range(turns):
        embedder.embed([f"What did I say about my garden on day {n}?"])
        embedder.embed([f"Let me tell you about my garden, day {n}.",
                        f"Thanks for telling me about day {n}, I will remember that."])
    return turns / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    env = {**os.environ, "KINDRED_LIMITS__KEEP_TRACES": str(args.turns + 5)}
    runs: dict[str, dict] = {}
    ceilings = [_ceiling()]  # before and after the runs: it moved 52-67 turns/s between runs
    with tempfile.TemporaryDirectory() as tmp:
        bare_file = Path(tmp) / "bare_app.py"
        bare_file.write_text(_BARE)
        bare_port = free_port()
        bare = subprocess.Popen([sys.executable, "-m", "uvicorn", "bare_app:app", "--port",
                                 str(bare_port), "--log-level", "warning"], cwd=tmp,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait(f"http://127.0.0.1:{bare_port}", bare)
            runs["bare FastAPI"] = asyncio.run(_run(f"http://127.0.0.1:{bare_port}", args.users,
                                                    args.turns))
        finally:
            bare.terminate()
            bare.wait(timeout=30)
        port = free_port()
        data = Path(tmp) / "embedded"
        runs["Kindred, embedded"] = _kindred_run([f"http://127.0.0.1:{port}"],
                                                 [_serve(port, data, env)], args)
        runs["Kindred, embedded"].update(_counted(data, {}, args.users, args.turns))
        with postgres_server() as url, chroma_server() as (host, cport):
            storage = {"database_url": url, "chroma_host": host, "chroma_port": cport}
            senv = {**env, "KINDRED_DATABASE_URL": url, "KINDRED_CHROMA_HOST": host,
                    "KINDRED_CHROMA_PORT": str(cport)}
            ports = [free_port() for _ in range(args.replicas)]
            name = f"Kindred, {args.replicas} replicas"
            runs[name] = _kindred_run(
                [f"http://127.0.0.1:{p}" for p in ports],
                [_serve(p, Path(tmp) / f"replica{n}", senv) for n, p in enumerate(ports)], args)
            runs[name].update(_counted(Path(tmp) / "reader", storage, args.users, args.turns))
    ceilings.append(_ceiling())
    ceiling = sum(ceilings) / len(ceilings)
    base = runs["bare FastAPI"]
    print(f"# service load, {stamp()}, {machine()}")
    print(f"{args.users} users x {args.turns} turns, /v1/chat/completions, fake chat model; "
          f"embedder-bound ceiling {ceiling:.1f} turns/s (before the runs {ceilings[0]:.1f}, "
          f"after {ceilings[1]:.1f})")
    for name, r in runs.items():
        print(f"{name:22s} {r['rps']:7.1f} req/s  p50 {r['p50_ms']:8.1f} ms  p95 "
              f"{r['p95_ms']:8.1f} ms  errors {r['errors']}  wall {r['wall_s']:.1f} s")
        if "leaks" in r:
            print(f"{'':22s} leaks {r['leaks']} of {len(r['replies'])}; lost {r['lost']}, "
                  f"duplicated {r['duplicated']}, users whose stores disagree "
                  f"{r['users_whose_stores_disagree']}; p50 {r['p50_ms'] / base['p50_ms']:.1f}x "
                  f"bare; throughput {r['rps'] / ceiling:.2f} of the ceiling")
    if args.json:
        for r in runs.values():
            r.pop("replies")
        args.json.write_text(json.dumps({"runs": runs, "ceiling_turns_per_s": ceiling,
                                         "users": args.users, "turns": args.turns}, indent=2))


if __name__ == "__main__":
    main()
