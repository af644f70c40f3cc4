"""Persona extraction on MSC, measured as LD-Agent measures it (Table 3), plus what the bank keeps.

For every utterance: does it carry a persona fact (accuracy, precision, recall, F1 against the
presence of ``persona_text``)? For every utterance with a gold ``persona_text``: BLEU-2, BLEU-3
and ROUGE-L of the extracted trait against it, where **an utterance the extractor passes over
scores 0** (this reproduces the issue's naive-rule figures: 77.7% / ROUGE-L 30.0 on the whole split).

Implementations: ROUGE-L is Google's ``rouge-score`` (``RougeScorer(["rougeL"],
use_stemmer=False)``, F1 over its lower-cased alphanumeric tokens); BLEU is NLTK's
``sentence_bleu`` over the same tokens with uniform 2-/3-gram weights and ``SmoothingFunction()
.method1`` (short sentences have no 3-gram matches often; unsmoothed BLEU would be 0 for them).

Bank coverage: sessions 1–3 of each ``dialogue/session_3`` episode are replayed, speaker by speaker,
into a fresh :class:`personas.bank.PersonaBank` (each sentence of an extracted trait is observed as
one trait, at the session's time); a persona fact of the episode counts as held when an active
trait's embedding has cosine ≥ :data:`COVERAGE_THRESHOLD` with it.
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evals.msc import MSCEpisode, MSCUtterance
from memory.embeddings import Embedder
from memory.text import split_sentences
from personas.extract.base import ExtractedTrait

__all__ = ["COVERAGE_THRESHOLD", "bank_coverage", "evaluate_extraction", "naive_rule",
           "text_scores", "word_tokens"]

COVERAGE_THRESHOLD = 0.7
_TOKEN = re.compile(r"[a-z0-9]+")


def word_tokens(text: str) -> list[str]:
    """Lower-cased alphanumeric tokens, as ``rouge-score`` tokenises (BLEU and Dist use them too)."""
    return _TOKEN.findall(text.lower())


def text_scores(gold: str, predicted: str) -> dict[str, float]:
    """BLEU-2, BLEU-3 and ROUGE-L (F1) of one prediction; 0 for an empty prediction."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    if not predicted.strip():
        return {"bleu2": 0.0, "bleu3": 0.0, "rougeL": 0.0}
    ref, hyp = word_tokens(gold), word_tokens(predicted)
    smooth = SmoothingFunction().method1
    return {"bleu2": float(sentence_bleu([ref], hyp, weights=(0.5, 0.5),
                                         smoothing_function=smooth)) if hyp else 0.0,
            "bleu3": float(sentence_bleu([ref], hyp, weights=(1 / 3, 1 / 3, 1 / 3),
                                         smoothing_function=smooth)) if hyp else 0.0,
            "rougeL": _rouge().score(gold, predicted)["rougeL"].fmeasure}


_SCORER: list = []


def _rouge():
    if not _SCORER:
        from rouge_score import rouge_scorer

        _SCORER.append(rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False))
    return _SCORER[0]


_FIRST_PERSON = re.compile(r"\b(i|i'm|im|i've|i'd|i'll|my|me|mine|myself)\b", re.IGNORECASE)


def naive_rule(text: str) -> str:
    """The issue's baseline: keep first-person sentences that are not questions."""
    return " ".join(s for s in split_sentences(text)
                    if _FIRST_PERSON.search(s) and not s.endswith("?"))


def _summary(predicted: Sequence[str], utterances: Sequence[MSCUtterance]) -> dict[str, Any]:
    tp = sum(1 for p, u in zip(predicted, utterances, strict=True) if p and u.persona_text)
    fp = sum(1 for p, u in zip(predicted, utterances, strict=True) if p and not u.persona_text)
    fn = sum(1 for p, u in zip(predicted, utterances, strict=True) if not p and u.persona_text)
    n = len(utterances)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    scored = [text_scores(u.persona_text, p)
              for p, u in zip(predicted, utterances, strict=True) if u.persona_text]
    extraction = {k: statistics.fmean(s[k] for s in scored) if scored else 0.0
                  for k in ("bleu2", "bleu3", "rougeL")}
    return {"detection": {"accuracy": (n - fp - fn) / n if n else 0.0, "precision": precision,
                          "recall": recall,
                          "f1": 2 * precision * recall / (precision + recall)
                          if precision + recall else 0.0},
            "extraction": extraction}


def evaluate_extraction(extract_many: Callable[[Sequence[str]], list[ExtractedTrait | None]],
                        utterances: Sequence[MSCUtterance], *, batch: int = 512,
                        progress: Callable[[int], Any] | None = None) -> dict[str, Any]:
    """Detection and extraction scores of an extractor, the naive rule's beside it, throughput."""
    predicted: list[str] = []
    seconds = 0.0
    texts = [u.text for u in utterances]
    for start in range(0, len(texts), batch):
        chunk = texts[start:start + batch]
        t0 = time.perf_counter()
        traits = extract_many(chunk)
        seconds += time.perf_counter() - t0
        predicted.extend(t.text if t else "" for t in traits)
        if progress:
            progress(len(chunk))
    report = {"n_utterances": len(utterances),
              "n_with_persona": sum(1 for u in utterances if u.persona_text),
              **_summary(predicted, utterances),
              "utterances_per_s": len(utterances) / seconds if seconds else 0.0,
              "baselines": {"naive_rule": _summary([naive_rule(t) for t in texts], utterances)},
              "by_session": {}}
    for session in sorted({u.session for u in utterances}):
        idx = [i for i, u in enumerate(utterances) if u.session == session]
        report["by_session"][str(session)] = _summary([predicted[i] for i in idx],
                                                      [utterances[i] for i in idx])
    report["examples"] = [{"utterance": u.text, "gold": u.persona_text, "extracted": p}
                          for p, u in list(zip(predicted, utterances, strict=True))[:20]]
    return report


def bank_coverage(extract_many: Callable[[Sequence[str]], list[ExtractedTrait | None]],
                  episodes: Sequence[MSCEpisode], embedder: Embedder, *,
                  threshold: float = COVERAGE_THRESHOLD,
                  progress: Callable[[int], Any] | None = None) -> dict[str, Any]:
    """Share of each episode's accumulated persona facts that its replayed bank holds."""
    from memory.backends import open_stores
    from personas.bank import PersonaBank

    held = total = 0
    per_threshold = {t: 0 for t in (0.5, 0.6, 0.7, 0.8)}
    with tempfile.TemporaryDirectory(prefix="kindred-msc-") as tmp:
        stores = open_stores(Path(tmp))
        bank = PersonaBank(stores, embedder)
        for ep in episodes:
            now = 1_600_000_000.0
            for session_no, utterances in enumerate(ep.sessions, 1):
                if session_no > 1:
                    now += ep.gaps_s[session_no - 2]
                for i, trait in enumerate(extract_many(list(utterances))):
                    if trait is None:
                        continue
                    # as the agent's write_back does: the bank keeps one trait per fact
                    bank.observe(f"msc{ep.episode}-speaker{1 + i % 2}", "user", trait, now + i,
                                 (f"{ep.episode}/{session_no}/{i}",), session_no=session_no)
            for speaker, facts in enumerate(ep.personas, 1):
                traits = [t.text for t in bank.list(f"msc{ep.episode}-speaker{speaker}", "user")]
                if not facts:
                    continue
                total += len(facts)
                if not traits:
                    continue
                sims = np.asarray(embedder.embed(list(facts))) @ np.asarray(embedder.embed(traits)).T
                best = sims.max(axis=1)
                held += int((best >= threshold).sum())
                for t in per_threshold:
                    per_threshold[t] += int((best >= t).sum())
            if progress:
                progress(1)
        stores.close()
    return {"bank_coverage": held / total if total else 0.0, "threshold": threshold,
            "facts": total, "episodes": len(episodes),
            "coverage_at": {str(t): v / total if total else 0.0 for t, v in per_threshold.items()}}
