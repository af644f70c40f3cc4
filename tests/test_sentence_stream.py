"""The local models' stream: whole sentences out, and a reply cut by the token limit ends at its
last full one (the models themselves run in test_local_model.py, marked slow)."""

from __future__ import annotations

import pytest

from agent.sentence_stream import SentenceStream


def _run(pieces: list[str], *, cut: bool, stop: list[str] | None = None) -> list[str]:
    stream = SentenceStream(stop)
    return [stream.feed(p) for p in pieces] + [stream.finish(cut=cut)]


def test_sentences_go_out_whole_and_the_unfinished_one_at_the_limit_is_dropped():
    pieces = ["Hello", ". I remember", " your dog, Biscuit. It was", " a few years ago when Max was"]
    assert _run(pieces, cut=True) == ["", "Hello.", " I remember your dog, Biscuit.", "", ""]
    # a model that stopped on its own keeps every word
    assert "".join(_run(pieces, cut=False)) == "".join(pieces)


@pytest.mark.parametrize("pieces, expected", [
    (["It was a few", " years ago when"], "It was a few years ago when…"),  # nothing finished
    (["Pi is 3.14 and e.g. this. Done."], "Pi is 3.14 and e.g. this. Done."),  # no false ends
    (["Tips:\n1. Breathe.\n", "2."], "Tips:\n1. Breathe.\n"),  # the next item's bare number
    (["All done", "."], "All done."),  # the limit fell just after an end
])
def test_what_a_reply_cut_by_the_limit_keeps(pieces, expected):
    assert "".join(_run(pieces, cut=True)) == expected


def test_a_stop_string_ends_the_reply_where_it_begins_even_across_pieces():
    assert "".join(_run(["The sea is", " a vast"], cut=True, stop=["s "])) == "The sea i"
    assert "".join(_run(["The sea. It is", " a vast"], cut=True, stop=["is a"])) == "The sea. It "
    assert _run(["5."], cut=False) == ["", "5."]  # a short answer is not a list's number
