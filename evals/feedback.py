"""A MemPrompt-style stream to measure feedback memory: does a correction come back when a
similar request comes again, and never for unrelated requests?

The generator (our own templates, no external data): task kinds, each with slot values that make
distinct requests, and six paraphrases per request. Paraphrases 0-2 are seen during the stream and
used to calibrate the threshold; paraphrases 3-5 are **held out** (calibration never sees them).
A simulated user gives feedback on the first failure of each request; the stream then asks
paraphrases again and unrelated requests (other tasks entirely). Per step it logs the memory size,
whether a record matched and whether it was the right one.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memory.feedback import FeedbackMemory

__all__ = ["Request", "generate_requests", "UNRELATED", "run_feedback_stream", "calibrate",
           "plot_learning_curve"]

_TASKS: list[tuple[str, list[str], list[str], str]] = [
    ("restaurant",
     ["Recommend a {x} restaurant for tonight.", "Can you suggest a {x} place to eat tonight?",
      "Where should I go for {x} food this evening?", "Any good {x} restaurants for dinner tonight?",
      "I fancy {x} food tonight, where should I eat?", "Suggest somewhere serving {x} food tonight."],
     ["Italian", "Thai", "Mexican", "Japanese", "Indian", "Greek"],
     "I am vegetarian, so only places with real vegetarian dishes."),
    ("alarm",
     ["Set an alarm for {x}.", "Wake me up at {x}.", "Please set my alarm to {x}.",
      "I need an alarm at {x}.", "Can you make an alarm for {x}?", "Alarm at {x}, please."],
     ["6 o'clock", "7 o'clock", "half past eight", "quarter to nine", "eleven"],
     "I meant in the evening, not the morning."),
    ("distance",
     ["How far is {x} from here?", "What's the distance to {x}?", "How many kilometres to {x}?",
      "How long is the trip to {x}?", "Tell me how far away {x} is.", "Distance from here to {x}?"],
     ["Paris", "Berlin", "Madrid", "Vienna", "Lisbon", "Prague"],
     "Please give distances in miles, not kilometres."),
    ("synonym",
     ["Give me a word that means {x}.", "What's another word for {x}?",
      "Find a synonym for {x}.", "Which word could I use instead of {x}?",
      "Tell me a different word for {x}.", "I need a synonym of {x}."],
     ["happy", "big", "fast", "angry", "tired", "clever"],
     "I meant a formal word I can use in a cover letter."),
    ("recipe",
     ["How do I make {x}?", "Give me a recipe for {x}.", "What's a good way to cook {x}?",
      "Can you tell me how to prepare {x}?", "Walk me through making {x}.",
      "I want to cook {x}, how?"],
     ["lasagne", "pancakes", "risotto", "curry", "banana bread", "soup"],
     "I have no oven, only a stove."),
    ("reminder",
     ["Remind me to call {x} tomorrow.", "Set a reminder to phone {x} tomorrow.",
      "Don't let me forget to ring {x} tomorrow.", "Tomorrow I must call {x}, remind me.",
      "Add a reminder: call {x} tomorrow.", "Can you remind me tomorrow to call {x}?"],
     ["my mother", "the dentist", "my landlord", "the bank", "my brother"],
     "Remind me at lunchtime, not first thing in the morning."),
]

UNRELATED = [
    "What's the weather like today?", "Tell me a joke.", "What is the capital of Australia?",
    "How do you say thank you in Japanese?", "What is 17 times 23?", "Who wrote Hamlet?",
    "Play some relaxing music.", "What time is it in New York?", "Explain photosynthesis simply.",
    "How many legs does a spider have?", "Translate good morning into Spanish.",
    "What's the square root of 144?", "Who painted the Mona Lisa?", "Define democracy.",
    "How tall is Mount Everest?", "What year did the Berlin Wall fall?", "Tell me a fun fact.",
    "How do vaccines work?", "What's the boiling point of water?", "Recommend a good book.",
    "How do I change a flat tyre?", "What's a haiku?", "Summarise the plot of Cinderella.",
    "How do I reset my password?", "What's the population of Canada?",
    "Give me a motivational quote.", "Why is the sky blue?", "How do magnets work?",
    "What should I name my goldfish?", "Convert 100 dollars to euros.",
    "Who won the football world cup in 2014?", "What does DNA stand for?",
    "How do I tie a tie?", "Is a tomato a fruit?", "What's the longest river in Africa?",
    "How many minutes are in a day?", "Spell necessary for me.", "What rhymes with orange?",
    "How do I meditate?", "Which planet is closest to the sun?", "Tell me about the Roman empire.",
    "How do I start running?", "What's the difference between weather and climate?",
    "Write a short poem about autumn.", "How do I clean a cast iron pan?",
    "What is machine learning?", "How much water should I drink a day?",
    "Suggest a name for a black cat.", "What are the rules of chess?", "How do bees make honey?",
    "Describe the Eiffel Tower.", "What's the speed of light?", "How do I apologise to a friend?",
    "What's a good stretch for back pain?", "How old is the universe?",
    "Give me ideas for a birthday present for my dad.", "How do airplanes fly?",
    "What is inflation?", "What's the best way to learn a language?", "Who discovered penicillin?",
]


@dataclass(frozen=True)
class Request:
    kind: str        # the request: task and slot value ("restaurant:Thai")
    text: str
    paraphrase: int  # 0-2 seen in the stream and calibration, 3-5 held out
    feedback: str


def generate_requests() -> list[Request]:
    out = []
    for task, templates, values, feedback in _TASKS:
        for value in values:
            for n, template in enumerate(templates):
                out.append(Request(f"{task}:{value}", template.format(x=value), n, feedback))
    return out


def _stream(seed: int) -> tuple[list[Request], list[Request], list[str]]:
    rng = random.Random(seed)
    requests = generate_requests()
    seen = [r for r in requests if r.paraphrase < 3]
    held = [r for r in requests if r.paraphrase >= 3]
    rng.shuffle(seen)
    return seen, held, list(UNRELATED)


def run_feedback_stream(memory: FeedbackMemory, *, seed: int = 0, user_id: str = "eval"
                        ) -> dict[str, Any]:
    """Run the stream on ``memory`` (fresh); returns the report with per-step logs."""
    seen, held, unrelated = _stream(seed)
    corrected: dict[str, str] = {}     # kind -> record id
    steps, lookups_ms = [], []
    t = 1_700_000_000.0
    for n, req in enumerate(seen):
        start = time.perf_counter()
        match = memory.lookup(user_id, req.text, count_hit=False)
        lookups_ms.append((time.perf_counter() - start) * 1000)
        right = match is not None and corrected.get(req.kind) == match.record.id
        understood = right
        if req.kind not in corrected:
            # the agent fails the first time; the simulated user corrects it
            rec = memory.add(user_id, req.text, req.feedback, t + n)
            corrected[req.kind] = rec.id
        steps.append({"step": n, "memory_size": len(corrected), "matched": match is not None,
                      "right": right, "understood": understood,
                      "score": match.score if match else None})
    hits = []
    for req in held:
        if req.kind in corrected:
            match = memory.lookup(user_id, req.text, count_hit=False)
            hits.append(match is not None and match.record.id == corrected[req.kind])
    false = [memory.lookup(user_id, text, count_hit=False) is not None for text in unrelated]
    return {"steps": len(steps), "hit_rate": round(float(np.mean(hits)), 4),
            "false_match_rate": round(float(np.mean(false)), 4),
            "memory_size": len(corrected), "threshold": memory.threshold, "mode": memory.mode,
            "lookup_ms_p50": round(statistics.median(lookups_ms), 2), "log": steps}


def calibrate(memory_factory, thresholds: list[float], *, seed: int = 0) -> list[dict[str, float]]:
    """Hit and false-match rates on the *seen* paraphrases only (held-out ones never used).

    For each threshold: the first paraphrase of every request is stored, paraphrases 1-2 are
    looked up (hits), and the unrelated requests are looked up (false matches).
    """
    requests = [r for r in generate_requests() if r.paraphrase < 3]
    rows = []
    for threshold in thresholds:
        memory = memory_factory(threshold)
        ids = {}
        for r in requests:
            if r.paraphrase == 0:
                ids[r.kind] = memory.add("cal", r.text, r.feedback, 0.0).id
        hit = [getattr(memory.lookup("cal", r.text, count_hit=False), "record", None)
               for r in requests if r.paraphrase in (1, 2)]
        right = [h is not None and h.id == ids[r.kind]
                 for h, r in zip(hit, [r for r in requests if r.paraphrase in (1, 2)],
                                 strict=True)]
        false = [memory.lookup("cal", u, count_hit=False) is not None for u in UNRELATED]
        rows.append({"threshold": threshold, "hit_rate": float(np.mean(right)),
                     "false_match_rate": float(np.mean(false))})
    return rows


def plot_learning_curve(report: dict[str, Any], out: Path, window: int = 20) -> None:
    """Share of requests understood (right correction applied), moving average, plus memory size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    log = report["log"]
    understood = np.array([s["understood"] for s in log], dtype=float)
    avg = np.convolve(understood, np.ones(window) / window, mode="valid")
    fig, ax = plt.subplots(figsize=(6.5, 4), dpi=120)
    ax.plot(np.arange(window - 1, len(log)), avg, label=f"understood (moving avg, {window})")
    ax.set_xlabel("step")
    ax.set_ylabel("share of requests with the right correction")
    ax.set_ylim(0, 1.05)
    ax2 = ax.twinx()
    ax2.plot([s["memory_size"] for s in log], color="grey", ls="--", label="memory size")
    ax2.set_ylabel("feedback records")
    ax.set_title(f"Feedback memory learning curve (threshold {report['threshold']})")
    fig.legend(loc="lower right", bbox_to_anchor=(0.86, 0.2))
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
