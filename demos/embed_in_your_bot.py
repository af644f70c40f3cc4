"""Embedding Kindred in your own chatbot: the five-line API, then a replayed two-session dialogue.

    python demos/embed_in_your_bot.py                # the embedded local model
    python demos/embed_in_your_bot.py --model fake   # instant, deterministic replies

Replayed messages carry their own time (``at=``): Kindred never uses the wall clock when a time
is given, so the two-day gap below ends the first session and turns it into a long-term event.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import datetime, timedelta, timezone

from agent import Kindred


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="local", help="local | fake | openai:<m> | ollama:<m>")
    parser.add_argument("--data-dir", default=None, help="default: a fresh temporary folder")
    args = parser.parse_args()
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="kindred-demo-")

    bot = Kindred(data_dir=data_dir, chat_model=args.model)
    reply = bot.chat("alice", "My dog is called Biscuit.")
    print(reply.text)

    # A replayed dialogue: Monday, then Wednesday.
    monday = datetime(2026, 11, 23, 18, 0, tzinfo=timezone.utc)
    bot.chat("bob", "I just moved to Lisbon for a new job as a nurse.", at=monday)
    bot.chat("bob", "The hospital is near the river.", at=monday + timedelta(minutes=2))
    later = bot.chat("bob", "Any tips for my new job?", at=monday + timedelta(days=2))
    print("\nbob, two days later:", later.text)
    print("\nWhy:\n" + later.trace.explain())
    print("\nWhat Kindred knows about bob:", [t.text for t in bot.persona("bob")])
    print("alice's memory stays alice's:",
          [m.text for m in bot.chat("alice", "Where do I work?").trace.retrieved])
    bot.close()


if __name__ == "__main__":
    main()
