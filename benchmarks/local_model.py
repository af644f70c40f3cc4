"""Cold start and generation speed of the embedded local model (SmolLM2-135M, CPU).

* cold start: from process start to the first streamed reply token of ``Kindred.stream`` with the
  local model, on a new data dir: once with an empty weight cache (the GGUF is dequantised and
  cached) and once with the cache in place (every later start). The ratio shows what the cache cuts.
* tokens/s: reply tokens after the first, through Kindred's streaming path, against a bare
  ``model.generate`` of the same weights in the same process (the baseline).

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

CHILD = r"""
import json, sys, tempfile, time
t_import = time.time()
from agent import Kindred
bot = Kindred(data_dir=tempfile.mkdtemp(), chat_model="local", model_cache_dir=sys.argv[1],
              max_new_tokens=64)
t_ready = time.time()
first = None
pieces = []
for item in bot.stream("bench", "Hi! I love hiking in the mountains. Any tips for a beginner?"):
    if isinstance(item, str):
        if first is None:
            first = time.time()
            print("FIRST", flush=True)
        pieces.append(item)
end = time.time()
tok = bot.chat_model._tokenizer
n = len(tok.encode("".join(pieces), add_special_tokens=False))
import torch
inputs = tok.apply_chat_template([{"role": "user", "content": "Tell me about mountains."}],
                                 add_generation_prompt=True, return_tensors="pt", return_dict=True)
s = time.time()
with torch.inference_mode():
    out = bot.chat_model._model.generate(**inputs, max_new_tokens=64, min_new_tokens=64,
                                         do_sample=False)
bare = (out.shape[1] - inputs["input_ids"].shape[1]) / (time.time() - s)
print(json.dumps({"ready_s": t_ready - t_import, "tokens": n,
                  "stream_tps": (n - 1) / (end - first) if n > 1 else 0.0, "bare_tps": bare}))
"""


def run(cache_dir: str) -> dict:
    start = time.time()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, cache_dir], stdout=subprocess.PIPE,
                            text=True, env={**os.environ})
    first_line = proc.stdout.readline()
    first_token_s = time.time() - start
    assert first_line.strip() == "FIRST", first_line
    result = json.loads(proc.stdout.readline())
    proc.wait()
    return {**result, "first_token_s": first_token_s}


def main() -> None:
    cache = tempfile.mkdtemp(prefix="kindred-model-cache-")
    cold = run(cache)   # empty cache: converts the GGUF
    warm = run(cache)   # cached weights: every later start
    print(f"# local model — {stamp()} — {machine()}")
    print(f"cold start, process start → first streamed token, empty weight cache: "
          f"{cold['first_token_s']:.1f} s")
    print(f"cold start, process start → first streamed token, cached weights:     "
          f"{warm['first_token_s']:.1f} s  (ratio {warm['first_token_s'] / cold['first_token_s']:.2f})")
    print(f"generation through Kindred.stream: {warm['stream_tps']:.1f} tokens/s "
          f"({warm['tokens']} tokens); bare model.generate, same process: "
          f"{warm['bare_tps']:.1f} tokens/s (ratio {warm['stream_tps'] / warm['bare_tps']:.2f})")


if __name__ == "__main__":
    main()
