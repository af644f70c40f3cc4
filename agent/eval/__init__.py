"""Evaluations: dataset runners, metrics and reports (``kindred eval ...``)."""

from agent.eval.locomo import evaluate_locomo, load_locomo, recall_at_k

__all__ = ["evaluate_locomo", "load_locomo", "recall_at_k"]
