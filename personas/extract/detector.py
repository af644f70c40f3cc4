"""Does an utterance reveal something lasting about its speaker? A linear model over parse features.

Why a fitted model on top of the rules: the clause rules find candidate facts, but whether a
conversational turn "carries a persona fact" is a soft call (annotators count "I love karaoke!" but
not "I love that idea!"). A logistic regression over the rules' own counts (statements, questions,
conversational moves, hypotheticals), the lemmas of first-person verbs and a few hundred words
weighs that evidence. It is tiny (a JSON file of weights), runs in microseconds per utterance and
needs no GPU. The shipped weights were fitted on the even-numbered episodes of the MSC test split
(``benchmarks/fit_persona_detector.py``); evaluations report on the odd-numbered ones.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from spacy.tokens import Doc

from memory.errors import ConfigurationError
from personas.extract.clauses import ClauseInfo

__all__ = ["DEFAULT_WEIGHTS", "FEATURE_NAMES", "TraitDetector", "dense_features", "sparse_features"]

DEFAULT_WEIGHTS = Path(__file__).with_name("detector.json")

_POSSESSION = frozenset({"have", "own", "get", "buy", "adopt", "keep", "raise"})
_PREFERENCE = frozenset({"like", "love", "enjoy", "hate", "prefer", "dislike", "adore", "miss"})
_OCCUPATION = frozenset({"work", "teach", "study", "manage", "run", "volunteer", "retire",
                         "graduate"})
_RESIDENCE = frozenset({"live", "move", "grow", "stay", "reside", "rent"})
_INTENTION = frozenset({"plan", "want", "hope", "intend", "try", "need", "decide"})
_BELONGINGS = frozenset({"wife", "husband", "son", "daughter", "kid", "child", "mother", "mom",
                         "mum", "father", "dad", "sister", "brother", "parent", "family",
                         "partner", "girlfriend", "boyfriend", "grandchild", "grandson",
                         "granddaughter", "dog", "cat", "pet", "puppy", "kitten", "horse", "job",
                         "boss", "house", "apartment", "car", "baby", "niece", "nephew", "cousin",
                         "aunt", "uncle", "friend"})

FEATURE_NAMES = (
    "statements", "any_statement", "conversational", "first_person_questions", "sentences",
    "questions", "question_share", "ends_with_question", "starts_with_question", "my_our",
    "you_your", "log_tokens", "possession_verb", "preference_verb", "occupation_verb",
    "residence_verb", "intention_verb", "be_statement", "hypothetical", "we", "my_belongings",
    "past_statement", "i_count", "exclamation", "proper_noun")


def dense_features(doc: Doc, info: ClauseInfo) -> list[float]:
    """The rule counts, in the order of :data:`FEATURE_NAMES`."""
    sents = [s for s in doc.sents if s.text.strip()]
    questions = sum(1 for s in sents if s.text.strip().endswith("?"))
    lemmas = {v.lemma_.lower() for v in info.statements}
    lower = [t.lower_ for t in doc]
    return [
        len(info.statements), float(bool(info.statements)), info.conversational, info.questions,
        len(sents), questions, questions / max(len(sents), 1),
        float(bool(sents) and sents[-1].text.strip().endswith("?")),
        float(bool(sents) and sents[0].text.strip().endswith("?")),
        lower.count("my") + lower.count("our"), lower.count("you") + lower.count("your"),
        math.log1p(len(doc)),
        float(bool(lemmas & _POSSESSION)), float(bool(lemmas & _PREFERENCE)),
        float(bool(lemmas & _OCCUPATION)), float(bool(lemmas & _RESIDENCE)),
        float(bool(lemmas & _INTENTION)), float(any(v.lemma_ == "be" for v in info.statements)),
        info.hypothetical, info.we,
        sum(1 for t in doc if t.lemma_.lower() in _BELONGINGS
            and any(c.lower_ in ("my", "our") for c in t.children)),
        float(any(v.tag_ == "VBD" for v in info.statements)), lower.count("i"),
        float("!" in lower), float(any(t.pos_ == "PROPN" for t in doc)),
    ]


def sparse_features(doc: Doc, info: ClauseInfo) -> set[str]:
    """Words, and the lemmas of first-person verbs (S: statement) and of "you" verbs (YOU:)."""
    keys = {t.lower_ for t in doc if not t.is_punct}
    keys.update("S:" + v.lemma_.lower() for v in info.statements)
    keys.update("YOU:" + t.head.lemma_.lower() for t in doc
                if t.dep_ == "nsubj" and t.lower_ == "you")
    return keys


@dataclass
class TraitDetector:
    """Logistic regression: standardised dense features + binary sparse features."""

    bias: float
    dense_weights: list[float]
    dense_mean: list[float]
    dense_scale: list[float]
    sparse_weights: dict[str, float] = field(default_factory=dict)
    threshold: float = 0.5
    provenance: str = ""

    def probability(self, doc: Doc, info: ClauseInfo) -> float:
        x = (np.asarray(dense_features(doc, info)) - self.dense_mean) / self.dense_scale
        z = self.bias + float(x @ np.asarray(self.dense_weights))
        z += sum(self.sparse_weights.get(k, 0.0) for k in sparse_features(doc, info))
        return 1.0 / (1.0 + math.exp(-z))

    def carries_trait(self, doc: Doc, info: ClauseInfo) -> bool:
        return self.probability(doc, info) > self.threshold

    # ------------------------------------------------------------------ persistence
    @classmethod
    def load(cls, path: str | Path = DEFAULT_WEIGHTS) -> TraitDetector:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            detector = cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigurationError(f"Cannot read the persona detector weights {path}: {exc}. "
                                     "Reinstall Kindred or refit with "
                                     "benchmarks/fit_persona_detector.py.") from exc
        if len(detector.dense_weights) != len(FEATURE_NAMES):
            raise ConfigurationError(f"{path} has {len(detector.dense_weights)} feature weights, "
                                     f"this Kindred computes {len(FEATURE_NAMES)}: refit it.")
        return detector

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.__dict__, indent=1, sort_keys=True) + "\n",
                              encoding="utf-8")

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(cls, examples: Sequence[tuple[Doc, ClauseInfo]], labels: Sequence[bool], *,
            vocabulary: int = 600, l2: float = 30.0, iterations: int = 30,
            provenance: str = "") -> TraitDetector:
        """Fit by Newton's method (IRLS) with an L2 penalty; words: the ``vocabulary`` most frequent."""
        dense = np.array([dense_features(d, i) for d, i in examples], dtype=float)
        sparse = [sparse_features(d, i) for d, i in examples]
        counts = Counter(k for keys in sparse for k in keys)
        vocab = [k for k, _ in counts.most_common(vocabulary)]
        column = {k: j for j, k in enumerate(vocab)}
        mean, scale = dense.mean(0), dense.std(0) + 1e-9
        x = np.zeros((len(examples), 1 + dense.shape[1] + len(vocab)))
        x[:, 0] = 1.0
        x[:, 1:1 + dense.shape[1]] = (dense - mean) / scale
        for row, keys in enumerate(sparse):
            for k in keys:
                if k in column:
                    x[row, 1 + dense.shape[1] + column[k]] = 1.0
        y = np.asarray(labels, dtype=float)
        w = np.zeros(x.shape[1])
        penalty = l2 * np.eye(len(w))
        penalty[0, 0] = 0.0  # the bias is not shrunk
        for _ in range(iterations):
            p = 1.0 / (1.0 + np.exp(-(x @ w)))
            gradient = x.T @ (p - y) + penalty @ w
            hessian = (x * (p * (1 - p))[:, None]).T @ x + penalty
            w -= np.linalg.solve(hessian, gradient)
        n_dense = dense.shape[1]
        return cls(bias=float(w[0]), dense_weights=[round(float(v), 6) for v in w[1:1 + n_dense]],
                   dense_mean=[float(v) for v in mean], dense_scale=[float(v) for v in scale],
                   sparse_weights={k: round(float(w[1 + n_dense + j]), 6)
                                   for k, j in column.items()},
                   provenance=provenance)
