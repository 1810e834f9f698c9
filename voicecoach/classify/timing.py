"""Did a speaker's utterance reach a possible completion point?

Used to fill ``Timing.peer_complete`` from recognised text: "and then I..." is not complete;
"I couldn't sleep." is. Speech recognisers often drop the final full stop, so the last words
decide as much as the punctuation does.
"""

from __future__ import annotations

import re

# Words that, when they end an utterance, leave the thought hanging.
_HANGING = {
    "and", "but", "so", "or", "because", "cause", "cuz", "then", "when", "while", "if",
    "that", "which", "who", "the", "a", "an", "my", "his", "her", "their", "our", "your",
    "to", "of", "in", "on", "at", "with", "for", "from", "about", "like", "um", "uh", "er",
    "i", "we", "he", "she", "they", "you", "it's", "i'm", "was", "were", "is", "am", "are",
    "just", "really", "kind", "sort", "even", "also", "since", "until", "after", "before",
    "though", "although", "where", "what", "how", "didn't", "couldn't", "wasn't", "not",
}  # fmt: skip
_TRAILING_DASH = re.compile(r"(-|\u2014|\u2013|\.\.\.|\u2026)\s*$")
_WORDS = re.compile(r"[a-z']+")


def utterance_complete(text: str) -> bool:
    """True when ``text`` ends at a point where the speaker could have finished."""
    stripped = text.strip()
    if not stripped:
        return True
    if _TRAILING_DASH.search(stripped):
        return False
    words = _WORDS.findall(stripped.lower())
    if not words:
        return True
    return words[-1] not in _HANGING
