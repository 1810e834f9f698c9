"""The one text normalisation the classifier sees, in training and at run time.

The rubric judges speech-recogniser text exactly like the same words written carefully, so
the model reads words only: lower case, no punctuation, no hesitation sounds ("um", "uh").
"""

from __future__ import annotations

import re

_PUNCT = re.compile(r"[^\w\s'-]|(?<!\w)[-']|[-'](?!\w)")
_SPACE = re.compile(r"\s+")
HESITATIONS = frozenset({"um", "umm", "uh", "uhh", "uhm", "erm", "er", "ah"})


def normalize(text: str | None) -> str:
    """Lower-case words of ``text`` without punctuation or hesitation sounds."""
    if not text:
        return ""
    words = _PUNCT.sub(" ", text.lower()).split()
    return " ".join(w for w in words if w not in HESITATIONS)
