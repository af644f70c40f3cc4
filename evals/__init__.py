"""Evaluations of Kindred on real dialogue data: dataset runners, metrics, reports, ``kindred eval``.

A client of the public API, like a demo: it builds agents with ``Kindred(...)`` and measures them
through ``ingest``, ``end_session``, ``recall``, ``preview`` and ``chat`` only, so what it measures
is what a chat turn does. Its extra dependencies (matplotlib, rouge-score, nltk) come with
``pip install 'kindred[eval]'``; ``pip install kindred`` alone does not pull them.
"""

__all__: list[str] = []
