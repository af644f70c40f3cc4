"""What a reply must not do: copy the prompt's instructions, or repeat an earlier reply verbatim.

Seen with the 135M local model on the embedded defaults: every reply after the first was the same
sentence, and replies carried the prompt's own words ("You are talking with alice. Use what you
remember about her: … Reply to alice's last message in at most 60 words."). Both are cheap to see
without a model:

* a **leak** is a sentence of the reply that shares a run of four words with the instruction text
  of the prompt (the templates with their fields filled in, not the recalled memories: repeating a
  remembered fact is the point), or that copies the memory lines' own format ("3 days ago, alice
  said: …") or a section tag (``<memory>`` in any case, or any all-capitals tag);
* a **repeat** is a reply whose words are (nearly) those of an earlier reply of the same session.

The ``review`` node strips leaked sentences and regenerates once when nothing is left or the
reply repeats itself (:mod:`graphs.nodes.review`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from graphs import prompts
from memory.text import split_sentences
from personas.extract.clauses import is_small_talk

__all__ = ["echoes", "instruction_text", "leaked_sentences", "repeats", "said_before",
           "statements", "strip_leaks", "unsaid"]

_WORD = re.compile(r"[\w']+")  # any script's letters (a Chinese reply has no a-z words)
# the prompt's own block tags in any case ("</memory>" came back in a 135M model's reply), and any
# all-capitals tag ("<FEEDBACK>"); a reply's lower-case markup ("<div>") is its own
_BLOCK_TAGS = "|".join(sorted(set(re.findall(r"</?(\w+)>", prompts.MEMORY_BLOCK))))
_TAG = re.compile(rf"</?\s*(?:(?i:{_BLOCK_TAGS})|[A-Z][A-Z_]{{2,}})\s*>")
_MEMORY_LINE = re.compile(r"(?:^|\s)-?\s*(?:\d+ days? \d+ hours?|\d+ minutes?|on \w+day \d+ \w+ "
                          r"\d{4}) ago,?\s+[\w.@-]+ said:", re.IGNORECASE)
_GRAM = 4
_REPEAT_OVERLAP = 0.85
_SAID_BEFORE_WORDS = 6  # shorter: only the same words, or nearly
_SENTENCE_SAID = 0.75  # of a sentence's word pairs: a word left out or put in, said before
_CHAT_WORDS = 80  # longer (lists, tables, documents): revisions repeat most sentences by design
_TIC_NEW_WORDS = 3  # what a reply must say that is new for its sentences said before to be cut


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _grams(words: Sequence[str], n: int = _GRAM) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def instruction_text(templates: Iterable[str], **fields: str) -> str:
    """The instruction parts of a prompt: its templates with the given fields filled in and every
    other field left out."""
    out = []
    for template in templates:
        text = template
        for name, value in fields.items():
            text = text.replace("{" + name + "}", value)
        out.append(re.sub(r"\{[a-z_]+\}", " ", text))
    return "\n".join(out)


def leaked_sentences(reply: str, instructions: str, run: int = _GRAM) -> list[str]:
    """Sentences of ``reply`` that copy ``run`` words in a row of the instructions, the memory
    lines' format or a tag."""
    known = _grams(_words(instructions), run)
    leaked = []
    for sentence in split_sentences(reply):
        if (_TAG.search(sentence) or _MEMORY_LINE.search(sentence)
                or _grams(_words(sentence), run) & known):
            leaked.append(sentence)
    return leaked


def strip_leaks(reply: str, leaked: Sequence[str]) -> str:
    """``reply`` without the leaked sentences (and any tag left in it)."""
    kept = [s for s in split_sentences(reply) if s not in set(leaked)]
    return _TAG.sub("", " ".join(kept)).strip()


def echoes(reply: str, message: str, overlap: float = _REPEAT_OVERLAP) -> str | None:
    """``message`` when ``reply`` only says it back (:func:`repeats`): "I live in Paris."
    answered with "I live in Paris.". Small talk said back is an answer, not an echo ("Good
    morning!" to "Good morning!"): a retry of it with the 135M model began a letter."""
    if not message or is_small_talk(_words(message)):
        return None
    return repeats(reply, [message], overlap)


def repeats(reply: str, earlier: Sequence[str], overlap: float = _REPEAT_OVERLAP) -> str | None:
    """The earlier reply that ``reply`` (nearly) repeats, if any: the same words, ``overlap`` of
    the word pairs of the longer of the two in common, or every sentence said before in it but
    for a few words (:func:`_new_words`: under a fifth of a reply of 6 to 80 words).

    Why sentences: the 135M local model's second reply in the terminal demo was its first
    behind another greeting ("Miso, hello! I'm glad you're enjoying your new job. How about a
    chat with you? What brings you here today?" after "Dana, welcome to Lisbon! …"), 16 of the
    longer one's 21 word pairs in common. Counting the reply's own pairs instead flagged
    revisions a user asked for (a table with a column added, a recipe for 400 g): their changed
    lines are new sentences, and a revision is not a repeat."""
    mine = _words(reply)
    if not mine:
        return None
    pairs = _grams(mine, 2) or {tuple(mine)}
    chat_sized = _SAID_BEFORE_WORDS <= len(mine) <= _CHAT_WORDS
    sentences = [(len(w), _grams(w, 2) or {tuple(w)})
                 for w in map(_words, split_sentences(reply)) if w] if chat_sized else []
    for old in earlier:
        theirs = _words(old)
        if theirs == mine:
            return old
        other = _grams(theirs, 2) or {tuple(theirs)}
        if other and len(pairs & other) / max(len(pairs), len(other)) >= overlap:
            return old
        if chat_sized and _said_again(sentences, len(mine), other):
            return old
    return None


def unsaid(reply: str, earlier: Sequence[str]) -> str:
    """``reply`` without the sentences said before in ``earlier`` (:data:`_SENTENCE_SAID` of a
    sentence's word pairs among theirs; a one-word sentence is always new): what is left of a
    reply that repeated itself when its one retry repeated too (the review keeps what was new
    rather than send a loop: the 135M model's retry, told what it had said, said it word for word)."""
    return " ".join(sentence for sentence, said in _said_flags(reply, earlier) if not said).strip()


def _said_flags(reply: str, earlier: Sequence[str]) -> list[tuple[str, bool]]:
    """Each sentence of ``reply`` and whether it was said before in ``earlier``
    (:func:`_sentence_said`)."""
    said = set().union(*(_grams(_words(old), 2) for old in earlier)) if earlier else set()
    return [(sentence, _sentence_said(_grams(_words(sentence), 2), said))
            for sentence in split_sentences(reply)]


def said_before(reply: str, earlier: Sequence[str]) -> list[str]:
    """The sentences of a chat-sized reply that were said before in ``earlier``, when the rest of
    it says something new (:data:`_TIC_NEW_WORDS` words or more); else none.

    Why: the 135M local model opened every reply of a session with "Sam, I'm glad to hear that."
    and went on with a new question: not a repeat of a reply (one sentence of two), yet a loop a
    person sees at once. The review sends the rest. A long reply (a revised recipe or table)
    repeats sentences by design and keeps them."""
    if not earlier or not _SAID_BEFORE_WORDS <= len(_words(reply)) <= _CHAT_WORDS:
        return []
    flags = _said_flags(reply, earlier)
    again = [sentence for sentence, said in flags if said]
    new_words = sum(len(_words(sentence)) for sentence, said in flags if not said)
    return again if again and new_words >= _TIC_NEW_WORDS else []


def statements(messages: Sequence[str]) -> list[str]:
    """The sentences of ``messages`` that are not small talk: what a reply must not say back
    as its own ("I can't swim, sadly."), where "Good morning!" said back is an answer."""
    return [s for m in messages for s in split_sentences(m) if not is_small_talk(_words(s))]


def _sentence_said(grams: set[tuple[str, ...]], said: set[tuple[str, ...]]) -> bool:
    """A sentence (its word pairs; a one-word sentence: the word, or nothing) said before:
    :data:`_SENTENCE_SAID` of its pairs among ``said``. A one-word sentence is always new."""
    return bool(grams) and len(grams & said) / len(grams) >= _SENTENCE_SAID


def _said_again(sentences: Sequence[tuple[int, set[tuple[str, ...]]]], n_words: int,
                said: set[tuple[str, ...]]) -> bool:
    """Whether a reply of ``n_words`` words (its ``sentences``: each one's word count and word
    pairs; a one-word sentence: the word) holds two sentences or more said before and under a
    fifth of its words in sentences that were not. A sentence is said before with
    :data:`_SENTENCE_SAID` of its word pairs among ``said`` ("How about a chat with you?" after
    "How about a quick chat with you?": 4 of 5; a one-word sentence is always new). One sentence
    with one word changed is a new answer ("No, the character is not human." after "… not male.")."""
    new = repeated = 0
    for words, grams in sentences:
        if _sentence_said(grams, said):
            repeated += 1
        else:
            new += words
    return repeated >= 2 and new * 5 < n_words
