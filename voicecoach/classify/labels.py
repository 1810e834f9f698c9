"""The rubric's labels (docs/rubric.md), in the order every model head and report uses."""

from __future__ import annotations

RISKS: tuple[str, ...] = (
    "interruption",
    "dismissive",
    "missed_validation",
    "clinical_focus",
    "self_focus",
    "pressuring",
)
STRENGTHS: tuple[str, ...] = (
    "validation",
    "reflection",
    "open_question",
    "empowerment",
    "trigger_care",
)
LABELS: tuple[str, ...] = RISKS + STRENGTHS

#: Labels judged from the words of the exchange (the text model's heads).
TEXT_LABELS: tuple[str, ...] = tuple(label for label in LABELS if label != "interruption")

#: Labels that need the peer turn before the trainee's to be judged at all.
NEEDS_PEER: frozenset[str] = frozenset({"missed_validation", "interruption"})
