"""Pick the bank's better reply that fits what the peer said.

Each alternative in ``assets/suggestions.json`` is tagged with the situation it fits
("grief", "fear", "limit"...). The peer's words are mapped to the same tags through a small
lexicon of word stems. The alternative sharing the most tags with the peer's last turn
wins; their earlier turns break ties and decide when the last turn names no situation
("Mm. Yeah." after a story about a house fire still gets a reply about the fire). Word
overlap with the situation text breaks the remaining ties. (The fine-tuned classifier's
embedding was measured to be a poor judge of topic: it matched pride, combat and discharge
alike to a grief situation.)
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

#: Word stems (prefixes) that signal each situation tag.
TOPIC_STEMS: dict[str, tuple[str, ...]] = {
    "grief": (
        "died",
        "death",
        "dead",
        "passed away",
        "passed on",
        "he passed",
        "she passed",
        "mom passed",
        "dad passed",
        "funeral",
        "grave",
        "miss",
        "lost him",
        "lost her",
        "buried",
        "anniversar",
        "widow",
        "memorial",
    ),
    "loss": (
        "lost",
        "loss",
        "gone",
        "took everything",
        "burn",
        "fire ",
        "stuff that",
        "my home",
        "my house",
        "pictures of",
        "photos of",
    ),
    "fire": ("fire ", "fires ", "burn", "flames", "smoke", "ashes", "firefighter"),
    "fear": (
        "scared",
        "afraid",
        "fear",
        "terrif",
        "frighten",
        "panic",
        "shaking",
        "nervous",
        "anxious",
        "on edge",
        "jump",
    ),
    "sleep": ("sleep", "nightmare", "awake", "insomnia", "bed", "night"),
    "limit": (
        "don't want to talk",
        "dont want to talk",
        "do not want to talk",
        "not ready",
        "can't talk",
        "cant talk",
        "rather not",
        "don't want to get into",
        "not going there",
        "leave it",
        "off limits",
        "can we not",
    ),
    "abuse": (
        "hit me",
        "hurt me",
        "abus",
        "beat",
        "violent",
        "he hurt",
        "she hurt",
        "molest",
        "assault",
        "rape",
        "choked",
        "stepdad",
        "stepfather",
    ),
    "family": (
        "mom",
        "mum",
        "mother",
        "dad",
        "father",
        "sister",
        "brother",
        "family",
        "kids",
        "son",
        "daughter",
        "wife",
        "husband",
        "aunt",
        "parents",
    ),
    "anger": ("angry", "furious", "mad", "rage", "pissed", "hate"),
    "numbness": ("numb", "nothing", "empty", "don't feel", "dont feel", "flat"),
    "relapse": ("relapse", "slipped", "used again", "drank", "drinking", "using again", "fell off"),
    "substance use": (
        "sober",
        "clean",
        "meeting",
        "sponsor",
        "drink",
        "drug",
        "pills",
        "using",
        "rehab",
        "chip",
    ),
    "hospital": (
        "hospital",
        "ward",
        "discharg",
        "psych",
        "inpatient",
        "locked unit",
        "hold",
        "nurses",
        "restrain",
    ),
    "housing": (
        "evict",
        "shelter",
        "homeless",
        "car",
        "street",
        "apartment",
        "rent",
        "couch",
        "housing",
        "landlord",
    ),
    "combat": (
        "deploy",
        "combat",
        "war",
        "unit",
        "explosion",
        "ied",
        "afghan",
        "iraq",
        "army",
        "marine",
        "over there",
        "tour",
        "platoon",
    ),
    "veteran": ("veteran", "military", "service", "army", "navy", "corps", "va "),
    "shame": ("ashamed", "shame", "embarrass", "stupid", "pathetic", "disgust"),
    "guilt": ("my fault", "guilt", "blame myself", "should have", "shouldn't have"),
    "pride": (
        "proud",
        "did it",
        "finally",
        "made it",
        "achievement",
        "chip",
        "passed my",
        "got the job",
        "days sober",
        "days clean",
    ),
    "good news": ("good news", "finally", "excited", "happy", "relieved", "great day"),
    "hope": ("hope", "hoping", "looking forward", "maybe things", "better"),
    "loneliness": ("alone", "lonely", "nobody", "no one", "isolated", "by myself"),
    "safety": (
        "end it",
        "kill myself",
        "not be here",
        "don't want to be here",
        "suicid",
        "hurt myself",
        "no point",
        "give up",
        "disappear",
    ),
    "not believed": (
        "believe me",
        "believed",
        "didn't believe",
        "lying",
        "brushed off",
        "made it up",
        "nobody listened",
        "dismissed",
    ),
    "crying": ("cry", "crying", "tears", "sobbing"),
    "money": ("money", "bills", "insurance", "receipt", "rent", "afford", "pay for", "broke"),
    "overwhelm": (
        "don't know what to",
        "dont know what to",
        "overwhelm",
        "too much",
        "so much to",
        "everything at once",
        "paperwork",
        "forms",
        "receipts",
    ),
    "stress": (
        "don't know what to",
        "dont know what to",
        "overwhelm",
        "too much",
        "can't handle",
        "cant handle",
        "so much to",
        "everything at once",
        "paperwork",
        "forms",
    ),
    "distress": ("falling apart", "can't cope", "cant cope", "breaking down", "losing it"),
    # the peer closing up after not being heard (a limit they name is "limit")
    "pulling back": (
        "moving on",
        "forget it",
        "never mind",
        "nevermind",
        "doesn't matter",
        "doesnt matter",
        "have it worse",
        "not a big deal",
        "what else",
        "anyway ",
    ),
    "paperwork": ("paperwork", "forms", "receipt", "insurance", "claim", "application"),
    "work": ("job", "work", "boss", "fired", "shift"),
}

#: How many of the peer's turns before the one answered still shape the suggestion.
EARLIER_PEER_LINES = 2

#: Word overlap (Jaccard) at which two replies read as the same advice given twice.
SAME_REPLY_OVERLAP = 0.3

_WORD = re.compile(r"[a-z']+")
_STOP_WORDS = (
    "i me my you your the a an and or but to of in on at for with is am are was were be been "
    "it its that this they them their he she his her we our so just not do does did have has "
    "had what when how about from as by if than then there here all any some peer says said "
    "they're i'm it's"
)
_STOP = frozenset(_STOP_WORDS.split())


def topic_tags(text: str) -> set[str]:
    """The situation tags whose stems occur in ``text``.

    A stem matches at the start of a word; one ending in a space ("fire ") matches only
    the whole word, so "fired" is not a fire.
    """
    lowered = " " + " ".join(_WORD.findall(text.lower())) + " "
    return {
        tag
        for tag, stems in TOPIC_STEMS.items()
        if any((" " + stem.replace("'", "")) in lowered.replace("'", "") for stem in stems)
    }


def _content(text: str) -> list[str]:
    return [w[:5] for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2]


def same_reply(a: str, b: str) -> bool:
    """Whether two replies share enough words to read as the same advice given twice."""
    wa, wb = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    return len(wa & wb) >= SAME_REPLY_OVERLAP * max(1, len(wa | wb))


def choose(
    alternatives: Sequence[dict[str, Any]],
    context: str,
    earlier: Sequence[str] = (),
    avoid: Sequence[str] = (),
) -> dict[str, Any] | None:
    """The alternative that best fits ``context`` (the peer's turn), or None when empty.

    Tags of ``context`` decide first. ``earlier`` (the peer's turns before it, most recent
    last) breaks ties, and decides alone when ``context`` names no situation ("Mm. Yeah.");
    the nearer a turn, the more it counts. Word overlap with the situation text comes last.
    An alternative that reads like one of the replies in ``avoid`` (already suggested for
    another flag on the same turn) loses to any other that fits the last turn as well.
    """
    if not alternatives:
        return None
    now = topic_tags(context)
    before: dict[str, float] = {}
    words = {w: 1.0 for w in _content(context)}
    for back, turn in enumerate(reversed(earlier[-EARLIER_PEER_LINES:]), start=1):
        weight = 0.5**back
        for tag in topic_tags(turn):
            before[tag] = max(before.get(tag, 0.0), weight)
        for w in _content(turn):
            words[w] = max(words.get(w, 0.0), weight)
    docs = [set(_content(a["situation"] + " " + " ".join(a.get("tags", ())))) for a in alternatives]
    df: dict[str, int] = {}
    for doc in docs:
        for w in doc:
            df[w] = df.get(w, 0) + 1

    def overlap(doc: set[str]) -> float:
        shared = doc & words.keys()
        weight = sum(words[w] * math.log((len(docs) + 1) / (df[w] + 1)) for w in shared)
        return weight / (1.0 + len(doc))

    def fit(i: int) -> tuple[int, bool, float, float, int]:
        tags = set(alternatives[i].get("tags", ()))
        fresh = not any(same_reply(alternatives[i]["text"], said) for said in avoid)
        before_fit = sum(before.get(t, 0.0) for t in tags)
        return (len(tags & now), fresh, before_fit, overlap(docs[i]), -i)

    return alternatives[max(range(len(alternatives)), key=fit)]
