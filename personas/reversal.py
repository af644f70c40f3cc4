"""Which clauses of an older trait a newer one says no longer hold ("I'm not vegetarian anymore").

Why: the bank's cosine merge took "I am not vegetarian anymore." (0.90 to "I am a vegetarian.")
as the old trait said again, so the user's change of diet counted as one more rehearsal of
being vegetarian; and beside a longer trait ("I am a vegetarian and I love hiking in the
Alps.", 0.52) it was stored as a second current trait, so the prompt held both. Exclusive
subjects (home, job, name, age) already let the newer trait win; a reversal is any subject.

A clause is *reversed* by a first-person clause of the other polarity that says the same thing of
the speaker: the negated clause's core (its verb, unless that is "be", and the verb's first
complement with that complement's own modifiers: "play guitar", "live Paris", "eat red meat",
"vegetarian"; for "quit" / "stop" / "give up", what was given up) must all be in the other's
core, and one of its words must say something on its own (not only "have", "like"…): "I don't
play guitar anymore" reverses "I play the guitar in a band"; "I don't like it anymore" reverses
nothing; "I don't eat red meat" is not reversed by "I eat meat", nor "I enjoy eating fish" by
"I didn't enjoy fishing". Cosine cannot draw this line ("guitar" and "piano" sentences sit at
0.74); the parse can. Clauses are a trait's sentences, split again where a new first-person
clause starts ("…, and I love hiking"), so the clauses a reversal leaves stay true
(:func:`still_holds`); a clause of several coordinated things ("I have two dogs and a cat", "I
eat meat, fish and eggs") has a core per thing and loses only the one reversed ("I have a
cat."), and a verbless fragment left alone ("Sadly ...") is dropped. A bare verb denied ("I
can't swim", "I don't remember") reverses only with the change said ("anymore", "no longer",
"quit"): it is an ability or a moment as often; a wish or a plan ("I would love to…", "I'm
going to…") never reverses nor is reversed.

Measured on MSC's real chats (every ordered pair of one speaker's traits, sessions 1-4): a bag of
content words reversed 17 pairs in 100 episodes, nearly all wrongly ("I have many books." by "I
can't get through books fast enough."); these rules, 2 of 68,258 pairs in 250 episodes, both
defensible ("I never had enough money to afford tickets." → "I have enough money saved up…"),
and the same 2 with a core per coordinated thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from memory.nlp import has_verb, shared_parser
from memory.text import split_sentences

__all__ = ["opposed", "still_holds"]

_NO_LONGER = re.compile(r"\bno\s+(?:longer|more)\b", re.IGNORECASE)
_CHANGE = re.compile(r"\b(?:any\s*more|any\s+longer|no\s+longer|no\s+more)\b", re.IGNORECASE)
# every word spaCy may hang on a verb as its negation, and the verbs of giving a habit up: a
# trait without any cannot hold a negated clause (so two such traits are not parsed at all)
_OPPOSED = re.compile(r"\b(?:not|never|no|nor|cannot|nt|(?:do|does|did|is|are|was|were|have|has|"
                      r"had|ca|can|could|would|should|wo|must|need|ai)n['’]?t|quit|quits|"
                      r"quitting|stop|stops|stopped|stopping|(?:give|gives|gave|given|giving)"
                      r"\s+up)\b|n['’]t\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z]+")
_CLAUSE_START = re.compile(r",?\s+(?:and|but|so|because|though|although|while)\s+"
                           r"(?=(?:I|I'm|I've|I'd|I'll|my|My)\b)|,\s+(?=(?:I|I'm|I've|My)\b)")
_GIVING_UP = frozenset({"quit", "stop"})  # and "give" with "up"
# "would", "could"…: a wish or a maybe, not how things are ("I would love to go to Hawaii")
_MAYBE = frozenset({"would", "could", "might", "may", "should", "'d", "will", "'ll", "wo",
                    "shall"})
_GOING_TO = re.compile(r"\b(?:going\s+to|gonna|plan(?:ning)?\s+to|want\s+to|hope\s+to)\b",
                       re.IGNORECASE)
_COMPLEMENTS = ("dobj", "attr", "acomp", "xcomp", "oprd")
_MODIFIERS = ("amod", "compound")
# prepositions of time: what follows says when, not what ("I stopped running after my surgery")
_WHEN = frozenset({"after", "before", "since", "during", "until", "till"})
# a coordinated part's children that are not its own words (the next part, the "and", the
# clause's subject and auxiliaries when the part is the clause's root)
_OUTSIDE = frozenset({"conj", "cc", "punct", "preconj", "nsubj", "nsubjpass", "aux", "auxpass",
                      "neg", "mark", "advcl", "expl"})
# verbs that say nothing on their own ("I don't like it anymore" names nothing to reverse)
_GENERIC = frozenset({"have", "like", "love", "want", "need", "make", "take", "feel", "think",
                      "know", "enjoy", "use", "see", "say", "keep", "go", "come", "let", "find",
                      "put", "seem", "look", "mean", "get", "do", "remember", "forget", "believe",
                      "guess", "understand", "care", "mind", "agree", "able", "sure", "thing",
                      "lot", "way", "kind", "bit", "one", "much", "many", "more"})


@dataclass(frozen=True)
class _Clause:
    """One clause of a trait: its polarity and one core per coordinated complement ("I have
    two dogs and a cat": have+dog, have+cat), so that a reversal of one of them leaves the
    others standing."""

    text: str
    negated: bool
    parts: tuple[frozenset[str], ...] = ()  # cores, normalised (:func:`_key`); (): not the speaker's
    telling: tuple[bool, ...] = ()  # per part: a word that says something on its own
    verb: str = ""  # its verb, normalised ("be" for "I am a vegetarian")
    # the text around the parts and each part's own words, to say the clause without some
    # ("I have", ("two dogs", "a cat"), "", "and"); None: the clause is one part, or unsure
    frame: tuple[str, tuple[str, ...], str, str] | None = None
    says: bool = True  # has a verb: a fragment ("Sadly ...") is no trait once left alone

    def without(self, gone: set[int]) -> str:
        """The clause said without the parts ``gone`` ("" when that is all of them)."""
        if len(gone) >= len(self.parts) or self.frame is None:
            return ""
        before, items, after, joiner = self.frame
        left = [item for i, item in enumerate(items) if i not in gone]
        listed = left[0] if len(left) == 1 else \
            f"{', '.join(left[:-1])} {joiner} {left[-1]}"
        return f"{before}{listed}{after}".strip()


def still_holds(new: str, old: str) -> str | None:
    """What of the trait ``old`` still holds once ``new`` is said: None when ``new`` reverses
    none of its clauses; "" when it reverses all; else what it leaves, as one text (a clause
    of several coordinated things loses only the one reversed: "I have two dogs and a cat." →
    "I have a cat." once "I don't have a dog anymore.")."""
    if not _might_reverse(new, old):
        return None
    new_clauses, old_clauses = _clauses(new), _clauses(old)
    kept, reversed_any = [], False
    for clause in old_clauses:
        gone = {i for i in range(len(clause.parts))
                if any(_reverses(n, clause, i) for n in new_clauses)}
        if not gone:
            if clause.says:
                kept.append(clause.text)
            continue
        reversed_any = True
        if rest := clause.without(gone):
            kept.append(rest)
    if not reversed_any:
        return None
    return " ".join(_sentence(text) for text in kept)


def opposed(new: str, old: str) -> bool:
    """Whether two traits differ in polarity ("I am a vegetarian." / "I am not vegetarian
    anymore."): never the same trait said again, however close their embeddings."""
    return _glance(new)[0] != _glance(old)[0]


def _might_reverse(new: str, old: str) -> bool:
    """Whether the parse is worth it: one of the two may hold a negated clause, and they share
    a content word (a reversal's core is in both). Most pairs of a bank are neither; a chat
    turn's trait is compared with every active trait of its owner."""
    new_negated, new_stems = _glance(new)
    old_negated, old_stems = _glance(old)
    return (new_negated or old_negated) and not new_stems.isdisjoint(old_stems)


@lru_cache(maxsize=4096)
def _glance(text: str) -> tuple[bool, frozenset[str]]:
    """Whether a trait may hold a negation, and the stems of its content words (cached: a
    turn's trait meets each of its owner's traits)."""
    from spacy.lang.en.stop_words import STOP_WORDS

    words = (w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS)
    return bool(_OPPOSED.search(text)), frozenset(
        _key(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w)
        for w in words)


def _reverses(new: _Clause, old: _Clause, part: int) -> bool:
    """Whether ``new`` reverses the ``part``-th core of ``old``: a telling negated core all in
    a positive core of the same verb."""
    if new.negated == old.negated or new.verb != old.verb:
        return False
    core = old.parts[part]
    if old.negated:
        return old.telling[part] and any(core <= other for other in new.parts)
    return any(telling and core >= other
               for other, telling in zip(new.parts, new.telling, strict=True))


@lru_cache(maxsize=4096)
def _clauses(text: str) -> tuple[_Clause, ...]:
    """The clauses of a trait whose subject is the speaker ("I", "we"), each with its polarity
    and core (one parse each; cached, as a bank compares one trait with many)."""
    pieces = [p.strip(" ,;") for s in split_sentences(text) for p in _CLAUSE_START.split(s)]
    pieces = [p for p in pieces if p]
    if not pieces:
        return ()
    out = []
    for piece, doc in zip(pieces, shared_parser().parse_many(pieces), strict=True):
        if not has_verb(doc):
            out.append(_Clause(piece, False, says=False))
            continue
        root = next((t for t in doc if t.dep_ == "ROOT"), None)
        # the parser may hang "I" on the auxiliary of an adjective it made the root ("I'm not
        # vegetarian any more": I → 'm → vegetarian)
        holders = [root, *(c for c in root.children if c.dep_ in ("aux", "auxpass"))] \
            if root is not None else []
        if not any(c.dep_ in ("nsubj", "nsubjpass") and c.lower_ in ("i", "we")
                   for h in holders for c in h.children):
            out.append(_Clause(piece, False))  # not the speaker's: kept
            continue
        if _GOING_TO.search(piece) or any(c.dep_ == "aux" and c.lower_ in _MAYBE
                                          or c.dep_ in ("mark", "advcl") for c in root.children):
            out.append(_Clause(piece, False))  # "I would play soccer if…"
            continue
        negated = any(c.dep_ == "neg" for c in root.children) or bool(_NO_LONGER.search(piece))
        changed = bool(_CHANGE.search(piece))
        if _lemma(root) in _GIVING_UP or _lemma(root) == "give" and any(
                c.dep_ == "prt" and c.lower_ == "up" for c in root.children):
            negated = changed = True
            root = _complement(root) or root
        if not root.tag_.startswith("VB") and any(_lemma(h) == "be" for h in holders[1:]):
            # that root is what the speaker is: "be" with it as the complement
            verb, heads = "be", _coordinated(root)
            cores = [{_lemma(h)} | _modifiers(h) for h in heads]
        else:
            verb, heads = _key(_lemma(root)), _coordinated(_complement(root))
            cores = [_core(root, h) for h in heads] or [_core(root, None)]
        parts = tuple(frozenset(_key(w) for w in words) for words in cores)
        # a bare verb denied ("I can't swim", "I don't remember", "I am not working") is a
        # moment or an ability as often as a change: it reverses only when it says the change
        # ("I don't run anymore", "I quit smoking")
        telling = tuple(bool(words - _GENERIC) and bool(keys) and (
            changed or not negated or keys != {verb}) for words, keys in zip(
                cores, parts, strict=True))
        out.append(_Clause(piece, negated, parts, telling, verb,
                           _frame(doc, heads) if len(heads) > 1 and doc.text == piece
                           else None))
    return tuple(out)


def _coordinated(head) -> list:
    """``head`` and the words coordinated with it that are of its kind ("two dogs and a cat":
    dogs, cat; "tall and thin"), in order; [] without a head."""
    if head is None:
        return []
    kind = _kind(head)
    return sorted([head, *(c for c in head.conjuncts if kind and _kind(c) == kind)],
                  key=lambda t: t.i)


def _kind(token) -> str:
    """What a coordinated word is: a thing or a quality ("vegan and gluten-free" are one
    kind), an action, or neither."""
    return "verb" if token.tag_.startswith("VB") else (
        "thing" if token.tag_.startswith(("NN", "JJ")) else "")


def _frame(doc, heads) -> tuple[str, tuple[str, ...], str, str] | None:
    """The clause's text before its first coordinated part, each part's own words, the text
    after the last, and the word joining them; None when their words do not follow one
    another (the parse is not sure enough to cut)."""
    spans = []
    for head in heads:
        own = [head.i]
        for child in head.children:
            if child.dep_ not in _OUTSIDE:
                own.extend(t.i for t in child.subtree)
        spans.append((min(own), max(own)))
    if any(a[1] >= b[0] for a, b in zip(spans, spans[1:], strict=False)):
        return None
    joiner = next((t.lower_ for h in heads for t in h.children if t.dep_ == "cc"), "and")
    items = tuple(doc[a:b + 1].text for a, b in spans)
    return (doc.text[:doc[spans[0][0]].idx], items,
            doc.text[doc[spans[-1][1]].idx + len(doc[spans[-1][1]].text):],
            "or" if joiner in ("or", "nor") else "and")


def _core(root, comp) -> set[str]:
    """The verb (unless "be") and one of its complements with the complement's modifiers and
    owner ("his books" is not "books"); a complement that is itself a verb ("love hiking",
    "stopped eating meat") brings its own."""
    words = set() if _lemma(root) == "be" else {_lemma(root)}
    if comp is not None:
        words |= {_lemma(comp)} | _modifiers(comp)
        if comp.tag_.startswith("VB") and comp.dep_ in ("xcomp", "conj"):
            inner = _complement(comp)
            if inner is not None:
                words.add(_lemma(inner))
    return {w for w in words if w}


def _modifiers(word) -> set[str]:
    """A word's owner and its noun, adjective or participle modifiers ("his", "red", "comic")."""
    return {_lemma(m) for m in word.children if m.dep_ == "poss" or (
        m.dep_ in _MODIFIERS and m.tag_.startswith(("NN", "JJ", "VB")))}


def _complement(verb):
    """A verb's first object, attribute or complement, else the object of its first
    preposition that is not one of time ("live in Paris": Paris; "run before work": none)."""
    comp = next((c for c in verb.children if c.dep_ in _COMPLEMENTS), None)
    if comp is None:
        prep = next((c for c in verb.children
                     if c.dep_ == "prep" and c.lower_ not in _WHEN), None)
        comp = next((c for c in prep.children if c.dep_ == "pobj"), None) if prep else None
    return comp


def _lemma(token) -> str:
    return (token.lemma_ or token.lower_).lower().strip("'’-")


def _key(word: str) -> str:
    """A word's comparable stem: "smoking" (a noun to the tagger) and "smoke" meet as "smok",
    "running" and "run" as "run"."""
    if len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
        if len(word) > 2 and word[-1] == word[-2]:
            word = word[:-1]
    return word.rstrip("e") if len(word) > 3 else word


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
