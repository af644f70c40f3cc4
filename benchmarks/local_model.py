"""Cold start and generation speed of the embedded local model (SmolLM2-135M, CPU), both backends.

* cold start: from process start to the first streamed reply token of ``Kindred.stream`` with the
  default ``local`` model, on a new data dir: once with an empty weight cache (the GGUF is converted
  and cached) and once with the cache in place (every later start).
* backends: the same long prompt (a system message the size of a full memory budget, ~600 tokens)
  answered by llama.cpp (``local:llamacpp``, the default when installed) and by transformers
  (``local:transformers``, the baseline) in the same process: seconds per reply, prompt reading
  (a 1-token reply) and reply tokens/s.

    python benchmarks/local_model.py
"""

from __future__ import annotations

import _common  # noqa: F401

import json
import os
import subprocess
import sys
import tempfile
import time

from _common import machine, stamp

COLD = r"""
import sys, tempfile
from agent import Kindred
bot = Kindred(data_dir=tempfile.mkdtemp(), chat_model="local", model_cache_dir=sys.argv[1],
              max_new_tokens=64)
for item in bot.stream("bench", "Hi! I love hiking in the mountains. Any tips for a beginner?"):
    if isinstance(item, str):
        print("FIRST", flush=True)
        break
"""

BACKENDS = r"""
import json, statistics, sys, time
from langchain_core.messages import HumanMessage, SystemMessage
from agent.models import make_chat_model
from agent.settings import Settings

memory = " ".join(f"Memory {i}: the user went hiking near lake {i} with a friend." for i in range(40))
messages = [SystemMessage("You are Kindred, a friendly assistant. What you remember: " + memory),
            HumanMessage("Which lakes did I visit, and what should I pack next time?")]
out = {}
for name in ("local:llamacpp", "local:transformers"):
    long = make_chat_model(name, Settings(model_cache_dir=sys.argv[1], max_new_tokens=64)).load()
    short = make_chat_model(name, Settings(model_cache_dir=sys.argv[1], max_new_tokens=1)).load()
    long.invoke(messages)  # warm-up
    full, prompt = [], []
    for _ in range(3):
        s = time.perf_counter(); text = long.invoke(messages).content; full.append(time.perf_counter() - s)
        s = time.perf_counter(); short.invoke(messages); prompt.append(time.perf_counter() - s)
    if name == "local:llamacpp":
        n_reply = len(long._llm.tokenize(text.encode(), add_bos=False))
        n_prompt = len(long._llm.tokenize("".join(m.content for m in messages).encode()))
    else:
        n_reply = len(long._tokenizer.encode(text, add_special_tokens=False))
        n_prompt = None
    f, p = statistics.median(full), statistics.median(prompt)
    out[name] = {"reply_s": f, "prompt_s": p, "reply_tokens": n_reply, "prompt_tokens": n_prompt,
                 "decode_tps": (n_reply - 1) / (f - p) if f > p and n_reply > 1 else 0.0}
print(json.dumps(out))
"""


def first_token_s(cache_dir: str) -> float:
    start = time.time()
    proc = subprocess.Popen([sys.executable, "-c", COLD, cache_dir], stdout=subprocess.PIPE,
                            text=True, env={**os.environ})
    line = proc.stdout.readline()
    elapsed = time.time() - start
    proc.wait()
    assert line.strip() == "FIRST", line
    return elapsed


def main() -> None:
    cache = tempfile.mkdtemp(prefix="kindred-model-cache-")
    cold, warm = first_token_s(cache), first_token_s(cache)
    backends = json.loads(subprocess.run([sys.executable, "-c", BACKENDS, cache], check=True,
                                         capture_output=True, text=True).stdout)
    print(f"# local model — {stamp()} — {machine()}")
    print(f"cold start (default local model), process start → first streamed token: empty cache "
          f"{cold:.1f} s, cached {warm:.1f} s (ratio {warm / cold:.2f})")
    base = backends["local:transformers"]
    for name, r in backends.items():
        print(f"{name:20s} reply {r['reply_s']:.2f} s ({r['reply_tokens']} tokens), prompt alone "
              f"{r['prompt_s']:.2f} s, reply {r['decode_tps']:.1f} tokens/s; ratio of reply time "
              f"to transformers {r['reply_s'] / base['reply_s']:.2f}")
    print(f"prompt tokens: {backends['local:llamacpp']['prompt_tokens']}")


if __name__ == "__main__":
    main()
