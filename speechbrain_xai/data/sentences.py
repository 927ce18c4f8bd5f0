"""Sentences for text-to-speech, drawn from a built-in word list.

About 370 common English content words (nouns, past-tense verbs, adjectives,
adverbs) and 48 short everyday phrases fill a dozen sentence templates
(statements, questions, numbers, times, digit strings); one to three clauses
are joined, so sentences run from one word ("Hello.") to about twenty.

Two disjoint pools
    Every fourth content word and every fourth phrase (by position in the
    lists below) belong to the *held-out* pool (91 words, 12 phrases), the
    rest to the *training* pool (281 words, 36 phrases). Content words occur
    once over all lists and in no phrase, and every phrase holds a word of
    its own, so each pool has words the other never writes
    (:func:`content_words`). A sentence takes all its content words and
    phrases from one pool and every template has a content slot, so no
    held-out sentence can equal a training sentence. Pronouns, determiners,
    prepositions, the templates' own words and numbers are shared.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> text = make_sentence(rng, held_out=False)
>>> isinstance(text, str) and text[-1] in ".?!"
True
>>> words = set(text.lower().replace(",", "").rstrip(".?!").split())
>>> words & content_words(held_out=True)
set()
"""

from __future__ import annotations

from typing import FrozenSet

import numpy as np

_NOUNS = """
time year people way day man woman child world life hand part place case week
company system program question work government number night point home water
room mother area money story fact month lot right study book eye job word
business issue side kind head house service friend father power hour game
line end member law car city community name president team minute idea kid
body information back parent face others level office door health person art
war history party result change morning reason research girl guy moment air
teacher force education foot boy age policy music market sense nation plan
college interest death experience effect class control field development role
effort rate heart drug show leader light voice wife police mind price report
decision son view relationship town road table garden window kitchen bread
apple coffee letter paper river mountain street bridge train station ticket
phone computer picture dog cat bird tree flower shirt shoe bag box bottle
chair bed clock key cup glass plate spoon knife dinner lunch breakfast cake
""".split()

_VERBS = """
said made went took came saw knew got gave found thought told became showed
left felt brought began kept held wrote stood heard let meant set met ran paid
sat spoke lay led read grew lost fell sent built understood drew broke spent
cut rose drove bought wore chose asked called tried needed wanted looked used
worked seemed helped talked turned started moved liked lived believed happened
carried opened closed walked watched learned changed followed stopped created
remembered loved considered appeared waited served died sold reached killed
raised passed decided returned explained hoped developed dropped pulled
""".split()

_ADJECTIVES = """
good new first last long great little own other old right big high different
small large next early young important few public bad same able late hard
major better economic strong possible whole free military true federal
international full special easy clear recent certain personal open red
difficult available likely short single medical current wrong private past
foreign fine common poor natural significant similar hot dead central happy
serious ready simple left physical general environmental financial blue
democratic dark various entire close legal religious cold final main green
nice huge popular traditional cultural quiet warm heavy bright empty soft
""".split()

_ADVERBS = """
up so out just now how then more also here well only very even back there
down still in as too when never really most often always quickly slowly
together again already almost later soon today tomorrow yesterday carefully
""".split()

_PHRASES = """
hello|good morning|thank you very much|catch you later|excuse me|how are you
|nice to meet you|what time does it open|I am sorry|good night|can you help me
|where is the station|let me think|that sounds great|of course|no problem
|have a nice day|welcome back|see you tomorrow|I do not know|come in please
|just a moment|are you sure|hold on a second|good afternoon|not at all
|thanks a lot|what do you mean|I will call you back|that is right
|how much is it|wait for me|it is over there|sounds good to me|take care
|happy birthday|I agree with you|let us go|one more time|are you ready
|see you soon|it does not matter|what happened|I guess so|maybe later
|call me tonight|keep going|please sit down
""".replace("\n", "").split("|")

_PRONOUNS = ("I", "you", "we", "they", "he", "she", "somebody", "my friend", "our neighbour")
_DETERMINERS = ("the", "a", "this", "that", "my", "your", "our", "every", "another")
_PREPOSITIONS = ("in", "on", "near", "behind", "under", "with", "from", "after", "before")
_CONJUNCTIONS = (", and", ", but", ". Then", ", so", ". After that,", ". Meanwhile")
# the words the templates below write themselves (shared by both pools)
_TEMPLATE_WORDS = "the was it is number at did see where".split()
_SHARED = frozenset(
    w.lower()
    for group in (_PRONOUNS, _DETERMINERS, _PREPOSITIONS, _CONJUNCTIONS, _TEMPLATE_WORDS)
    for phrase in group
    for w in phrase.replace(",", " ").replace(".", " ").split()
)


def _split(words, held_out):
    """Every fourth item (positions 3, 7, ...) is held out."""
    return tuple(w for i, w in enumerate(words) if (i % 4 == 3) == held_out)


def _words(text):
    return set(text.lower().replace(",", " ").replace(".", " ").split())


def _content_lists():
    """The content word lists, each word once over all lists and in no phrase
    and no template (so a content word belongs to exactly one pool)."""
    taken = set(_SHARED)
    for phrase in _PHRASES:
        taken |= _words(phrase)
    lists = {}
    for name, words in (("nouns", _NOUNS), ("verbs", _VERBS), ("adjectives", _ADJECTIVES),
                        ("adverbs", _ADVERBS)):
        kept = []
        for w in words:
            if w not in taken:
                kept.append(w)
                taken.add(w)
        lists[name] = tuple(kept)
    return lists


_POOLS = {
    held_out: {
        **{name: _split(words, held_out) for name, words in _content_lists().items()},
        "phrases": _split(_PHRASES, held_out),
    }
    for held_out in (False, True)
}


def _vocabulary(held_out):
    pool = _POOLS[held_out]
    found = {w.lower() for name in ("nouns", "verbs", "adjectives", "adverbs") for w in pool[name]}
    for phrase in pool["phrases"]:
        found |= _words(phrase)
    return found


def content_words(held_out: bool) -> FrozenSet[str]:
    """The words (lower case) only one pool's sentences use.

    Arguments
    ---------
    held_out : bool
        The held-out pool (test) or the training pool (train and valid).

    Returns
    -------
    frozenset of str
        The pool's content words and the words of its phrases, less every
        word the other pool or the templates can write. Every sentence of the
        pool holds at least one of them.

    Example
    -------
    >>> len(content_words(True) & content_words(False))
    0
    >>> len(content_words(False)) > 250, len(content_words(True)) > 80
    (True, True)
    """
    return frozenset(_vocabulary(held_out) - _vocabulary(not held_out) - _SHARED)


def _number(rng):
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return str(int(rng.integers(0, 100)))
    if kind == 1:
        return str(int(rng.integers(100, 10000)))
    if kind == 2:  # digit string, as in a phone number or a code
        return " ".join(str(d) for d in rng.integers(0, 10, size=int(rng.integers(3, 7))))
    return f"{int(rng.integers(1, 13))} {int(rng.integers(10, 60))}"  # a time


def _clause(rng, pool):
    """One clause; every template has at least one content word from ``pool``."""
    def pick(seq):
        return seq[int(rng.integers(0, len(seq)))]

    noun, noun2 = pick(pool["nouns"]), pick(pool["nouns"])
    verb, adj, adv = pick(pool["verbs"]), pick(pool["adjectives"]), pick(pool["adverbs"])
    pron, det, prep = pick(_PRONOUNS), pick(_DETERMINERS), pick(_PREPOSITIONS)
    templates = (
        f"the {adj} {noun} {verb} {prep} the {noun2}",
        f"{pron} {verb} {det} {noun} {adv}",
        f"{pron} {verb} the {adj} {noun}",
        f"{det} {noun} was {adj}",
        f"it was {adj} {adv}",
        f"{pron} {verb} {_number(rng)} {noun}",
        f"{noun} number {_number(rng)}",
        f"at {_number(rng)} {pron} {verb} {prep} the {noun}",
        f"did {pron} see the {adj} {noun}",
        f"where is {det} {noun}",
        pick(pool["phrases"]),
        f"{pick(pool['phrases'])}, the {noun} is {adj}",
    )
    return templates[int(rng.integers(0, len(templates)))]


def make_sentence(rng: np.random.Generator, held_out: bool = False) -> str:
    """Draws one sentence (one to three clauses) from one word pool.

    Arguments
    ---------
    rng : numpy.random.Generator
        Source of randomness (the sentence is a function of its state).
    held_out : bool
        Draw from the held-out pool (test) instead of the training pool.

    Returns
    -------
    str
        The sentence, capitalised, ending with ``.``, ``?`` or ``!``.

    Example
    -------
    >>> import numpy as np
    >>> a = make_sentence(np.random.default_rng(3), held_out=True)
    >>> a == make_sentence(np.random.default_rng(3), held_out=True)
    True
    """
    pool = _POOLS[bool(held_out)]
    num_clauses = 1 + int(rng.choice(3, p=(0.5, 0.35, 0.15)))
    text = clause = _clause(rng, pool)
    for _ in range(num_clauses - 1):
        clause = _clause(rng, pool)
        text = f"{text}{_CONJUNCTIONS[int(rng.integers(0, len(_CONJUNCTIONS)))]} {clause}"
    end = "?" if clause.split()[0] in ("did", "where") else "!" if rng.random() < 0.1 else "."
    return text[0].upper() + text[1:] + end
