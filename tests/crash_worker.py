"""A Kindred process for the crash tests (tests/test_crash_safety.py): it chats, ingests, ends
sessions and gives feedback for two users, forever, logging each call before it starts ("try")
and after it returned ("ack", with the stored turn ids), each line synced to disk, until it is
killed. Every message is unique (it carries its call number), so a duplicate is detectable.

    python tests/crash_worker.py DATA_DIR LOG_FILE
"""

from __future__ import annotations

import json
import os
import sys

from memory.process import apply_process_defaults

apply_process_defaults()

from agent import Kindred  # noqa: E402

T0 = 1_700_000_000.0
DAY = 86400.0
OPS = ("chat", "chat", "chat", "ingest", "chat", "end_session", "feedback")


def at_of(n: int) -> float:
    """Call n's time: a minute apart, and a two-day gap every 9 calls (a session ends there)."""
    return T0 + n * 60 + (n // 9) * 2 * DAY


def main() -> None:
    data_dir, log_path = sys.argv[1], sys.argv[2]
    last = 0
    if os.path.exists(log_path):
        for line in open(log_path):
            if line.startswith("try "):
                last = max(last, int(line.split()[1]))
    log = open(log_path, "a")

    def write(line: str) -> None:
        log.write(line + "\n")
        log.flush()
        os.fsync(log.fileno())

    bot = Kindred(data_dir=data_dir, chat_model="fake")
    write(f"ready {json.dumps(bot.last_repair.__dict__)}")
    n = last
    while True:
        n += 1
        user, op, at = f"u{n % 2}", OPS[n % len(OPS)], at_of(n)
        write(f"try {n} {op} {user}")
        ids: list[str] = []
        if op == "chat":
            ids = bot.chat(user, f"Message {n}: I went to the market number {n}.",
                           at=at).trace.turn_ids
        elif op == "ingest":
            ids = bot.ingest(user, [
                {"speaker": user, "text": f"Replayed {n}a: I like river {n}.", "at": at},
                {"speaker": "Kindred", "role": "agent", "text": f"Replayed {n}b.", "at": at},
                {"speaker": user, "text": f"Replayed {n}c: my bike {n} is red.", "at": at}])
        elif op == "end_session":
            bot.end_session(user, at=at)
        else:
            bot.feedback(user, f"Correction {n}: please be brief.", at=at)
        write(f"ack {n} {op} {user} {json.dumps(ids)}")


if __name__ == "__main__":
    main()
