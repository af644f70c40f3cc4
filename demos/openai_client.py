"""The official ``openai`` client against ``kindred serve``: plain, streaming, and two users.

    kindred serve --model fake &          # or the local model: kindred serve
    python demos/openai_client.py --base-url http://127.0.0.1:8765/v1

Nothing Kindred-specific but the base URL, ``model="kindred"`` and the ``user`` field: that is
how an existing OpenAI chatbot gets a memory.
"""

from __future__ import annotations

import argparse

import httpx
from openai import OpenAI


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8765/v1")
    args = parser.parse_args()
    client = OpenAI(base_url=args.base_url, api_key="unused-without-a-token")

    told = client.chat.completions.create(
        model="kindred", user="alice",
        messages=[{"role": "user", "content": "My dog is called Biscuit."}])
    print("alice, plain:", told.choices[0].message.content)

    print("alice, streamed: ", end="")
    for chunk in client.chat.completions.create(
            model="kindred", user="alice", stream=True,
            messages=[{"role": "user", "content": "What is my dog called?"}]):
        print(chunk.choices[0].delta.content or "", end="", flush=True)
    print()

    asked = client.chat.completions.create(
        model="kindred", user="bob", messages=[{"role": "user", "content": "What is my dog called?"}])
    trace = httpx.get(f"{args.base_url}/traces/{asked.id}", params={"user": "bob"}).json()
    print("bob recalled:", [m["text"] for m in trace["retrieved"]])  # alice's memory stays hers


if __name__ == "__main__":
    main()
