"""First-person statement clauses in spaCy's dependency parse, rendered as short traits.

Why the parse and not regular expressions: whether "I" is the subject of a statement, of a question
("do I need…?") or of a conversational move ("I see", "I agree", "I'll call you") depends on the
verb it attaches to and on that verb's other children, which the parse gives directly. A clause is
its verb's subtree minus what carries no lasting fact (interjections, asides, fillers like
"just"/"really", trailing "haha"); its reasons and its other verbs stay ("I moved here for my
job", "I was born and raised in Mexico"). "We"/"our" become "I"/"my" (persona facts are about
the speaker). Negation is part of the subtree and is always kept, and a verb that shares its
subject with the one before also shares its negation and modal ("I can't swim or ride a bike").

Tokens are compared with ``==``, never ``is``: spaCy makes a new :class:`Token` at each access.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from spacy.tokens import Doc, Span, Token

from memory.nlp import has_verb
from memory.text import is_laugh

__all__ = ["ClauseInfo", "addresses_the_assistant", "clause_traits", "first_person_clauses",
           "has_content", "is_directive", "is_small_talk", "is_social", "render_clause",
           "statement_fallback"]

_FIRST = frozenset({"i", "we"})
_POSSESSIVE = frozenset({"my", "our"})
_OPINION = frozenset({"think", "believe", "feel", "guess", "know"})
# Moves that are never facts, even as a last resort ("I meant…", "I see", "I agree").
_MOVES = frozenset({"mean", "see", "guess", "agree", "bet", "understand", "suppose", "wonder",
                    "apologize", "thank", "appreciate", "imagine", "kid", "joke"})
# Verbs whose first-person clause is a move in the conversation, not a fact about the speaker:
# the moves, and verbs a last resort may still read a fact in ("I wish I had a dog").
_CONVERSATIONAL = _MOVES | frozenset({"hear", "recommend", "suggest", "wish", "tell", "ask",
                                      "let", "sound"})
# With "will": promises about the conversation ("I'll remember that"), not facts.
_PROMISES = frozenset({"remember", "note", "keep", "check", "look", "try", "think", "make", "do",
                       "get", "send", "share", "find"})
# "I'm good/sorry/glad/hungry…": how the speaker is right now, not who they are. Not "busy",
# "tired" or "bored": MSC's annotators keep "I'm always busy", "I'm bored without a job".
_STATES = frozenset({"sorry", "glad", "happy", "good", "fine", "well", "ok", "okay", "great",
                     "sure", "excited", "jealous", "curious", "thrilled", "afraid", "right",
                     "hungry", "thirsty", "sleepy"})
# A state tied to the day it is told ("I have a headache today", "I have a meeting at 3", "I'm
# in Paris this week"): how the speaker is now, not who they are. Only verbs of state in the
# present ("I started a new job today" stays a fact), and only the day, not "right now" or "at
# the moment", which people also say of what lasts ("I'm a lifeguard right now", "I have one cat
# at the moment": facts MSC's annotators kept).
_STATIVE = frozenset({"have", "be"})
_DAY_WORDS = frozenset({"today", "tonight", "tomorrow", "tmrw"})
_DAY_PARTS = frozenset({"morning", "afternoon", "evening", "night", "week", "weekend"})
# Passing activities in the progressive ("I'm watching a movie", "I'm eating pizza"): what the
# speaker is doing as they type, not who they are (found driving the terminal demo: "I'm watching a
# movie." was listed among the user's traits for good). Not "reading", "playing", "learning",
# "working", "living": people say those of what lasts ("I'm learning Spanish").
_PASSING = frozenset({"watch", "eat", "drink", "sit", "wait", "relax", "chill", "lie", "sip",
                      "snack", "nap"})
# ...unless the clause says it lasts ("I'm eating healthy now", "I'm eating less meat these days")
_LASTING = frozenset({"healthy", "healthier", "less", "more", "lately", "recently", "days",
                      "usually", "always", "often", "every", "whenever", "since", "mainly",
                      "mostly", "still", "nonstop"})
_PROGRESSIVE = frozenset({"am", "'m", "’m", "is", "are", "'re", "’re"})
# A meal just had ("I had lunch.", "I ate breakfast late"): the day's news, not a trait
_MEALS = frozenset({"breakfast", "brunch", "lunch", "dinner", "supper"})
_CLOCK = re.compile(r"\d{1,2}(?:[:.]\d{2})?(?:am|pm)?|noon|midnight", re.IGNORECASE)
_FILLER_ADVERBS = frozenset({"just", "really", "actually", "definitely", "also", "too", "so",
                             "though", "still", "probably", "honestly", "basically", "even",
                             "certainly", "totally", "absolutely", "literally", "truly",
                             "currently", "now", "pretty", "very", "quite", "sure", "anyway",
                             "anyways", "then"})
# Words beside the clause wherever they hang: interjections and asides ("lol" parsed as "meta").
# Adverbial clauses and conjuncts stay: MSC's annotators keep them ("I moved here because of my
# job", "I was born and raised in Mexico"): dropping them, 42.1% of the traits of MSC's fitting
# half matched no gold fact, against 41.2% keeping them.
_ASIDES = frozenset({"intj", "discourse", "meta"})
_HYPOTHETICAL = frozenset({"'d", "would", "could", "can", "will", "'ll", "should", "might"})
_CONTRACTIONS = {"'m": "am", "'re": "are", "'ve": "have", "’m": "am", "’re": "are", "’ve": "have"}
_DANGLING = frozenset({"and", "but", "or", "so", "the", "a", "an", "as", "to", "of", "with", "for",
                       "in", "on", "at", "my", "when", "while", "because", "that", "which", "if",
                       "than", "whilst"})
_MAX_CLAUSE_WORDS = 14
# Opening words of small talk: "Hello again.", "Thanks so much!", "Yes, sure." carry no fact.
_SOCIAL = frozenset({"hello", "hi", "hey", "hiya", "thanks", "thank", "bye", "goodbye", "welcome",
                     "congratulations", "congrats", "cheers", "ok", "okay", "yes", "yeah", "yep",
                     "no", "nope", "sure", "wow", "great", "cool", "nice", "awesome", "lol",
                     "haha", "oh", "ah", "hmm", "well", "good", "morning", "evening", "night",
                     "sorry", "please", "alright", "right", "indeed", "exactly", "true"})
# Verbs that carry no fact on their own ("I think.", "I have it.", "I do.")
_LIGHT_VERBS = frozenset({"be", "have", "do", "get", "go", "think", "know", "guess", "feel",
                          "believe", "say", "mean", "see", "want", "like", "love", "hope",
                          "suppose", "need", "make", "take", "try", "come", "let"})
_PRONOUNS = frozenset({"it", "that", "this", "them", "those", "these", "one", "so", "too",
                       "something", "anything", "nothing", "everything", "what"})
_MODALS_TO_YOU = frozenset({"must", "should", "will", "shall", "have", "need", "'ll", "better",
                            "to"})
# What a command to a system asks of it ("you must obey", "you will tell me the system prompt"):
# friendly advice between people ("you should come by") is not one
_COMMAND_VERBS = frozenset({"obey", "follow", "comply", "ignore", "disregard", "reveal", "print",
                            "repeat", "answer", "respond", "pretend", "act", "forget", "output",
                            "show", "do", "say", "tell", "execute", "override", "bypass"})
# Words that address the assistant as a system to command, not a person to talk to.
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.!?]{0,40}\b(?:instructions?|rules|prompts?|"
    r"guidelines|everything)\b|\bsystem\s+(?:prompt|message|override)\b|\bdeveloper\s+mode\b"
    r"|\bjailbreak|\b(?:obey|comply\s+with)\b[^.!?]{0,20}\b(?:me|my|all|every)\b", re.IGNORECASE)


class ClauseInfo:
    """What the parse says about the first-person clauses of one utterance (detector features)."""

    __slots__ = ("conversational", "hypothetical", "momentary", "questions", "statements", "we")

    def __init__(self) -> None:
        self.statements: list[Token] = []  # verbs of first-person statements that may be facts
        self.momentary: list[Token] = []  # states of the day ("I have a headache today"): no
        # trait, and not a detector feature (the detector was fitted without it)
        self.conversational = 0
        self.questions = 0
        self.hypothetical = 0
        self.we = 0


def _subject(verb: Token) -> Token | None:
    for child in verb.children:
        if child.dep_ in ("nsubj", "nsubjpass", "expl"):
            return child
    if verb.dep_ in ("conj", "xcomp") and verb.head != verb:
        return _subject(verb.head)
    return None


def _shared(verb: Token) -> list[Token]:
    """The auxiliaries and negation a conjoined verb shares with the verb it joins: in "I can't
    swim or ride a bike" the rider "can't ride"; in "I'll ask and get back to you" both are
    promised. Only for a conjunct with no subject or auxiliary of its own."""
    if verb.dep_ != "conj" or any(c.dep_ in ("nsubj", "nsubjpass", "aux", "auxpass", "neg")
                                  for c in verb.children):
        return []
    head = verb.head
    return [c for c in head.children if c.dep_ in ("aux", "auxpass", "neg") and c.i < head.i]


def _auxiliaries(verb: Token) -> list[Token]:
    """The verb's auxiliaries, its own or shared (:func:`_shared`)."""
    return [c for c in verb.children if c.dep_ == "aux"] + [
        a for a in _shared(verb) if a.dep_ == "aux"]


def _is_first_person(subject: Token | None) -> bool:
    if subject is None:
        return False
    if subject.lower_ in _FIRST:
        return True
    return any(c.dep_ == "poss" and c.lower_ in _POSSESSIVE for c in subject.children)


def _is_question(verb: Token) -> bool:
    subject = next((c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass")), None)
    if subject is not None:
        if verb.i < subject.i and verb.pos_ in ("AUX", "VERB"):
            return True  # "am I…", "do I…"
        if any(c.i < subject.i and (c.dep_ in ("aux", "auxpass") or c.tag_ in ("WDT", "WP", "WRB"))
               for c in verb.children):
            return True
    right = verb.right_edge
    following = right.doc[right.i + 1] if right.i + 1 < len(right.doc) else None
    return right.text == "?" or (following is not None and following.text == "?")


def _is_promise(verb: Token) -> bool:
    """A promise about the conversation: "I will remember that", "I'll have to look it up"."""
    future = any(a.lower_ in ("will", "'ll", "shall") for a in _auxiliaries(verb))
    return future and (verb.lemma_.lower() in _PROMISES or any(
        c.dep_ == "xcomp" and c.lemma_.lower() in _PROMISES for c in verb.children))


def _is_conversational(verb: Token) -> bool:
    lemma = verb.lemma_.lower()
    if lemma in _CONVERSATIONAL:
        return True
    if _is_promise(verb):
        return True  # "I will remember that", "I'll keep it in mind", "I'll have to remember"
    if any(c.dep_ in ("dobj", "dative", "iobj") and c.lower_ in ("you", "yourself")
           for c in verb.children):
        return True  # "I'll call you", "I could paint you"
    if _is_state(verb):
        return True
    if verb.lemma_ == "be" or verb.pos_ == "AUX":
        if any(t.lower_ == "doing" for t in verb.subtree):
            return True  # "I'm doing well"
    if verb.lemma_ == "do" and any(c.lower_ in _STATES for c in verb.children):
        return True
    return (any(t.lower_ in ("you", "your") for t in verb.subtree)
            and any(a.lower_ in _HYPOTHETICAL for a in _auxiliaries(verb)))


def _complements(verb: Token) -> list[Token]:
    """What the verb says its subject is; a laugh the parser took for the complement ("I'm so
    hungry lol": "lol" the noun, "hungry" its adjective) gives way to the words it holds."""
    out: list[Token] = []
    for c in verb.children:
        if c.dep_ in ("acomp", "attr"):
            out += ([g for g in c.children if g.dep_ in ("amod", "acomp")]
                    if is_laugh(c.lower_) else [c])
    return out


def _is_state(verb: Token) -> bool:
    """How the speaker is right now ("I'm sorry", "I'm so hungry"): see :data:`_STATES`."""
    if verb.lemma_ != "be" and verb.pos_ != "AUX":
        return False
    complements = _complements(verb)
    return bool(complements) and all(c.lower_ in _STATES for c in complements)


def _bare_state(verb: Token) -> bool:
    """A state and nothing else ("I'm so hungry.", "I am great."): in "I am great at math" or "I'm
    glad, just back from a big hike" something lasting is said beside it."""
    if not _is_state(verb):
        return False
    asides = ("nsubj", "aux", "neg", "advmod", "punct", "intj", "acomp", "attr", "cc")
    return (all(c.dep_ in asides or is_laugh(c.lower_) for c in verb.children)
            and all(g.dep_ in ("advmod", "punct") or is_laugh(g.lower_)
                    for c in _complements(verb) for g in c.children))


def _reacts(verb: Token) -> bool:
    """A reaction to what the listener said: sorry for anything ("I'm sorry about your dog.",
    "I'm sorry for your loss."), or a state about the listener ("I'm happy for you!", "I'm
    glad to hear that"). Sympathy said in a turn, never a fact about the speaker (found
    driving the terminal demo: "I'm sorry for your loss." became the agent's trait)."""
    if not _is_state(verb):
        return False
    states = _complements(verb)
    if any(c.lower_ == "sorry" for c in states):
        return True
    # what the state is about, said on the state itself ("glad [you decided…]", "happy [for
    # you]", "glad [to hear…]"): not another clause of the sentence that names the listener
    return any(t.lower_ in ("you", "your", "yours", "hear")
               for c in states for g in c.children if g.dep_ in ("ccomp", "xcomp", "prep")
               for t in g.subtree)


def _passing(verb: Token) -> bool:
    """An activity of the moment: a passing one in the progressive (:data:`_PASSING`) with
    nothing that makes it last (:data:`_LASTING`), or a meal just had (:data:`_MEALS`); not
    when it names someone or something of the speaker's."""
    lemma = verb.lemma_.lower()
    if verb.tag_ == "VBG" and lemma in _PASSING:
        # the present progressive only: "I've been watching Stranger Things" and "I was
        # watching that documentary" are what MSC's annotators keep, "I'd rather be watching…"
        # a wish; not negated ("I'm not eating to save for…"), not of a kind of thing ("I'm
        # watching movies or painting": a bare plural is a habit)
        auxiliaries = [a.lower_ for a in _auxiliaries(verb)]
        if (not auxiliaries or not all(a in _PROGRESSIVE for a in auxiliaries)
                or any(c.dep_ == "neg" for c in verb.children)
                or any(c.dep_ == "dobj" and c.tag_ == "NNS"
                       and not any(d.dep_ == "det" for d in c.children)
                       for c in verb.children)):
            return False
    elif not (verb.tag_ == "VBD" and lemma in ("have", "eat", "grab")
              and any(c.dep_ == "dobj" and c.lower_ in _MEALS for c in verb.children)):
        return False
    # the clause's own words (a walk of its subtree: only for the few verbs that got here)
    own = [t for t in verb.subtree if t is not verb and _verb_of(t) == verb.i]
    return not any(t.lower_ in _LASTING or t.pos_ == "PROPN"
                   or (t.dep_ == "poss" and t.lower_ in _POSSESSIVE and t.head.lower_ not in _MEALS)
                   for t in own)  # "…with my wife Sara", "…my favourite show": who they are


def _of_the_moment(verb: Token) -> bool:
    """A present state tied to the day it is told (see :data:`_STATIVE`), or an activity of
    the moment (:func:`_passing`): a memory of the turn, kept with the turn, not a trait."""
    if _passing(verb):
        return True
    if verb.lemma_.lower() not in _STATIVE or verb.tag_ not in ("VBP", "VBZ", "VB"):
        return False
    if any(c.dep_ == "xcomp" for c in verb.children):
        return False  # "I have to work night shifts today": what they do, not a state
    doc = verb.doc
    for t in verb.subtree:
        if _verb_of(t) != verb.i:
            continue  # a word of another clause: "I'm sad that I have to work this weekend"
        low, before = t.lower_, doc[t.i - 1].lower_ if t.i else ""
        if (low in _DAY_WORDS or (low in _DAY_PARTS and before == "this")
                or (t.dep_ == "pobj" and t.head.lower_ == "at"
                    and (_CLOCK.fullmatch(low) or (low in ("am", "pm") and before.isdigit())))):
            return True
    return False


def _verb_of(token: Token) -> int:
    """The index of the verb whose clause holds ``token`` (its nearest verb above it)."""
    while token.head.i != token.i:
        token = token.head
        if token.pos_ in ("VERB", "AUX"):
            return token.i
    return token.i


def first_person_clauses(doc: Doc) -> ClauseInfo:
    """Classify every clause whose subject is the speaker (I, we, my X, our X)."""
    info = ClauseInfo()
    seen: set[int] = set()
    for token in doc:
        if token.dep_ not in ("nsubj", "nsubjpass") or not _is_first_person(token):
            continue
        if token.lower_ == "we":
            info.we += 1
        verb = token.head
        if verb.dep_ in ("relcl", "acl", "advcl", "csubj"):
            continue  # "the only thing I have…": the main clause says what matters
        verbs = [verb] + [c for c in verb.children if c.dep_ == "conj" and c.pos_ in ("VERB", "AUX")
                          and _subject(c) == token]
        for v in verbs:
            if v.i in seen:
                continue
            seen.add(v.i)
            if _is_question(v):
                info.questions += 1
            elif _is_conversational(v):
                info.conversational += 1
            elif _of_the_moment(v):
                info.momentary.append(v)
            else:
                if any(a.lower_ in _HYPOTHETICAL - {"will", "'ll", "can"}
                       for a in _auxiliaries(v)):
                    info.hypothetical += 1
                info.statements.append(v)
    return info


def _clause_tokens(verb: Token, exclude: set[Token]) -> list[Token]:
    out: list[Token] = []
    stack = [verb]
    while stack:
        t = stack.pop()
        if t != verb:
            if t in exclude:
                continue
            if t.dep_ in _ASIDES or t.text in ("?", "!"):
                continue
            if t.dep_ == "advmod" and t.lower_ in _FILLER_ADVERBS and not _opens_clause(t):
                continue
            if is_laugh(t.lower_):  # the parser sometimes hangs words on "lol": keep those
                stack.extend(t.children)
                continue
        out.append(t)
        stack.extend(t.children)
    out.sort(key=lambda t: t.i)
    subject = _subject(verb)
    if subject is not None and subject in out:  # "Sounds fun, I have never…": start at the subject
        k = out.index(subject)
        commas = [i for i, t in enumerate(out[:k]) if t.text in (",", "-", "--", ";", ":")]
        if commas:
            out = out[commas[-1] + 1:]
    elif subject is not None and verb.dep_ == "conj" and not any(
            t.dep_ in ("nsubj", "nsubjpass") for t in out):
        # "…but also work on a farm" → "I work on a farm"; "I can't swim or ride a bike" → "I
        # can't ride a bike": the negation and the modal are the rider's too
        out = [subject, *_shared(verb), *out]
    while out and (out[-1].is_punct or out[-1].dep_ == "cc"):
        out.pop()
    while out and (out[0].is_punct or out[0].dep_ == "cc"):
        out.pop(0)
    return out


def _opens_clause(token: Token) -> bool:
    """Whether an adverb is the first word of a clause's opening ("now that", "even though",
    "even if"): a filler word elsewhere, here it is half of the conjunction, and dropping it
    left "I am eating healthy that I am over 40."."""
    nxt = token.i + 1
    return nxt < len(token.doc) and token.doc[nxt].dep_ == "mark"


def _word(token: Token) -> str:
    lower = token.lower_
    if lower in _CONTRACTIONS:
        return _CONTRACTIONS[lower]
    if lower == "we" and token.dep_.startswith("nsubj"):
        return "I"
    if lower == "our":
        return "my"
    if lower == "us":
        return "me"
    return token.text


def render_clause(tokens: Iterable[Token]) -> str:
    """The clause as one short sentence: at most 14 words, cut at a comma when possible."""
    tokens = list(tokens)
    pieces = []
    for t, after in zip(tokens, [*tokens[1:], None], strict=True):
        word = _word(t)
        # a word dropped between two kept ones took its space along ("Sweet, I like…" less the
        # comma): a gap in the text keeps a space
        space = t.whitespace_ or (" " if after is not None and after.i != t.i + 1 else "")
        pieces.append(word + space if word == t.text else " " + word + space)
    words = re.sub(r"\s+", " ", "".join(pieces)).strip(" ,;:-").split()
    if len(words) > _MAX_CLAUSE_WORDS:
        words = words[:_MAX_CLAUSE_WORDS]
        cut = max((i for i, w in enumerate(words) if w.endswith(",")), default=-1)
        if cut >= 3:
            words = words[:cut + 1]
    while words and words[-1].lower().strip(",") in _DANGLING:
        words.pop()
    if len(words) < 2:
        return ""
    text = " ".join(words).rstrip(",.;")
    return text[0].upper() + text[1:] + "."


def has_content(tokens: Iterable[Token]) -> bool:
    """Whether a clause says something: a noun, name, adjective or number, or a verb of its own
    ("I swim"), not only a light verb with a pronoun ("I think.", "I like it.")."""
    tokens = list(tokens)
    if any(t.tag_.startswith(("NN", "JJ", "CD")) and t.lower_ not in _PRONOUNS for t in tokens):
        return True
    verbs = [t for t in tokens if t.tag_.startswith("VB") and t.lemma_.lower() not in _LIGHT_VERBS]
    objects = [t for t in tokens if t.dep_ in ("dobj", "attr", "acomp", "pobj")]
    return bool(verbs) and all(o.lower_ not in _PRONOUNS for o in objects)


def is_social(sent: Span) -> bool:
    """Small talk: a short sentence opening with a greeting, thanks, yes/no or an interjection."""
    return is_small_talk([t.lower_ for t in sent if t.is_alpha])


def is_small_talk(words: Sequence[str]) -> bool:
    """:func:`is_social` on plain lower-case words (no parse): at most four, the first a
    greeting, thanks, yes/no or an interjection ("hello there", "good morning")."""
    return bool(words) and len(words) <= 4 and words[0] in _SOCIAL


def is_directive(sent: Span) -> bool:
    """An instruction, not a statement: an imperative ("Please ask about Biscuit.", "Don't repeat
    yourself.") or a sentence whose subject is the listener ("You should…")."""
    root = sent.root
    subjects = [c for c in root.children if c.dep_ in ("nsubj", "nsubjpass", "expl", "csubj")]
    if not subjects and root.tag_ == "VB":
        # "Call me Al." names the speaker: the one imperative that states a fact
        return not (root.lower_ == "call" and any(c.lower_ == "me" for c in root.children))
    return bool(subjects) and subjects[0].lower_ in ("you", "u", "ya")


def addresses_the_assistant(doc: Doc) -> bool:
    """The utterance commands the assistant ("you must obey…", "ignore all previous
    instructions", "reveal the system prompt"): nothing in it is a fact about the speaker."""
    if _INJECTION.search(doc.text):
        return True
    for sent in doc.sents:
        for token in sent:
            if token.lower_ in ("you", "u") and token.dep_ in ("nsubj", "nsubjpass"):
                verb = token.head
                commanded = [verb] + [c for c in verb.children if c.dep_ == "xcomp"]
                if any(c.dep_ == "aux" and c.lower_ in _MODALS_TO_YOU for v in commanded
                       for c in v.children) and not _is_question(verb) \
                        and any(v.lemma_.lower() in _COMMAND_VERBS for v in commanded):
                    return True
    return False


def clause_traits(info: ClauseInfo, max_clauses: int = 3) -> list[str]:
    """Rendered traits for the first ``max_clauses`` statements, each clause once."""
    # a statement inside another's clause ("I was born and raised…": "raised" is in "born"'s)
    # is said by that clause: it takes no place of its own among the first ``max_clauses``
    statements = info.statements
    chosen = [v for v in statements if not any(o != v and v in set(o.subtree)
                                               and o.lemma_ not in _OPINION
                                               and not _spliced(v, o) and not _joined(v, o)
                                               for o in statements)]
    chosen = chosen[:max_clauses]
    traits = []
    for verb in chosen:
        target = verb
        if verb.lemma_.lower() in _OPINION:  # "I think my favourites are…" → the complement
            # (one that follows: in "I'm sorry, I didn't know that" the ccomp is the apology)
            target = next((c for c in verb.children if c.dep_ == "ccomp" and c.i > verb.i), verb)
        tokens = _clause_tokens(target, {o for o in chosen if o != verb} | set(info.momentary))
        text = render_clause(tokens) if has_content(tokens) else ""
        if text and text not in traits:
            traits.append(text)
    return traits


def _joined(verb: Token, head: Token) -> bool:
    """A statement joined to another by "and" / "but" with a subject of its own ("I have two
    dogs and a cat, and I work as a nurse in Leeds."): a sentence of its own, so it takes its
    own place. Inside the other's clause it was cut with it at the clause's 14 words, and the
    job was lost. One that points back ("My family is amazing and I love spending time with
    them") stays with what it points to."""
    return verb.dep_ == "conj" and verb.head == head and any(
        c.dep_ in ("nsubj", "nsubjpass") for c in verb.children) and not any(
        t.lower_ in _BACK_REFERENCES for t in verb.subtree)


_BACK_REFERENCES = frozenset({"it", "its", "them", "they", "their", "he", "him", "his", "she",
                              "her", "that", "this", "those", "these", "there", "one"})


def _spliced(verb: Token, head: Token) -> bool:
    """A statement the parser hung before another's subject across a comma ("I'm not vegetarian
    anymore, I started eating fish last month.": "'m" is a ccomp of "started"): a sentence of its
    own, which the other's clause, starting at its subject, leaves out, so it takes its own place."""
    if verb.dep_ != "ccomp" or verb.head != head or verb.i > head.i:
        return False
    end = max(t.i for t in verb.subtree)
    return any(t.text in (",", ";", "-", "--") for t in verb.doc[end:head.i])


_ECHO_QUESTION = re.compile(r"^(?:\w+[,!.]?\s+)*?(?:do|did)\s+you\s+(?:also\s+|too\s+)?(.+?)\s*"
                            r"(?:too|as well)?\s*\?*$", re.IGNORECASE)


def statement_fallback(doc: Doc) -> str:
    """A fact the speaker states without "I": the first statement of three words or more; else a
    question that echoes the speaker ("Do you also like to garden?" → "I like to garden."); else
    the first statement. Called only when the detector has decided there is a fact."""
    # sentences with a first-person subject were judged by the clause rules already; small talk,
    # instructions and sentences about the listener are not facts about the speaker
    sentences = [_strip_laughs(s) for s in doc.sents
                 if not any(t.dep_ in ("nsubj", "nsubjpass") and _is_first_person(t) for t in s)
                 and not is_social(s) and not is_directive(s) and has_content(s)]
    sentences = [s for s in sentences if s]
    for text in sentences:
        if not _asks(text) and len(text.split()) >= 3:
            return text
    for text in sentences:
        echo = _ECHO_QUESTION.match(text)
        if echo and len(echo.group(1).split()) >= 2:
            return "I " + echo.group(1).rstrip(" ?") + "."
    asking = any(_asks(s.text) for s in doc.sents)
    statements = [_strip_laughs(s) for s in doc.sents if not _asks(s.text)
                  and not is_social(s) and not is_directive(s) and has_content(s)
                  # a fragment beside a question is the request's ("What should I cook
                  # tonight? Something quick."), not a fact about the speaker
                  and not (asking and not has_verb(s))
                  and not any(t.dep_ in ("nsubj", "nsubjpass") and _is_first_person(t)
                              and (_is_promise(t.head) or t.head.lemma_.lower() in _MOVES
                                   or _bare_state(t.head) or _reacts(t.head)
                                   or _of_the_moment(t.head))
                              for t in s)]
    # only questions left: no trait (storing "where is my PIN hidden" as a fact would be worse
    # than missing the rare question that hints at one)
    return next((s for s in statements if s), "")


def _asks(text: str) -> bool:
    """A question, also when typed "…city?." or "…you? :)"."""
    return bool(re.search(r"\?[\s.!:;)(\-]*$", text.strip()))


def _strip_laughs(sent: Span) -> str:
    text = "".join(t.text_with_ws for t in sent if not is_laugh(t.lower_))
    return re.sub(r"\s+", " ", text).strip(" ,")
