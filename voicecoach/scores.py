"""Session scores per practice, 0-100. The formulas are explained in docs/scoring.md.

Each practice has strengths that show it and risks that undo it. Over the trainee's judged
turns (backchannels excluded):

    shown = share of turns with at least one of the practice's strengths
    undone = share of turns with at least one of the practice's risks
    score = 100 * clamp(BASE + GAIN * min(1, shown / target) - LOSS * undone, 0, 1)

A session with no strengths and no risks scores BASE (40); reaching the target share of
strengths with no risks scores 100; every turn with a risk costs LOSS / turns. ``overall``
is the mean of the four practices. With no judged trainee turn every score is None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from voicecoach.types import Turn

BASE = 0.4
GAIN = 0.6
LOSS = 1.0


@dataclass(frozen=True)
class Practice:
    name: str
    strengths: tuple[str, ...]
    risks: tuple[str, ...]
    #: The share of turns showing a strength that earns the full GAIN.
    target: float
    summary: str


PRACTICES: tuple[Practice, ...] = (
    Practice(
        "active_listening",
        ("reflection", "open_question"),
        ("interruption", "self_focus"),
        0.5,
        "reflections and open questions; interruptions and self-focus count against",
    ),
    Practice(
        "validation",
        ("validation", "reflection"),
        ("dismissive", "missed_validation"),
        0.5,
        "validating and reflecting feelings; dismissals and missed opportunities count against",
    ),
    Practice(
        "empowerment",
        ("empowerment",),
        ("pressuring", "clinical_focus"),
        0.2,
        "choice and agency offered; pressure and case-style questions count against",
    ),
    Practice(
        "trigger_awareness",
        ("trigger_care",),
        ("pressuring", "dismissive"),
        0.2,
        "check-ins, permission, pauses; pushing past limits and shutting down count against",
    ),
)
SCORE_NAMES = (*(p.name for p in PRACTICES), "overall")


def practice_score(practice: Practice, labels_per_turn: Sequence[set[str]]) -> int:
    n = len(labels_per_turn)
    shown = sum(1 for labels in labels_per_turn if labels & set(practice.strengths)) / n
    undone = sum(1 for labels in labels_per_turn if labels & set(practice.risks)) / n
    value = BASE + GAIN * min(1.0, shown / practice.target) - LOSS * undone
    return round(100 * min(1.0, max(0.0, value)))


def session_scores(turns: Sequence[Turn]) -> dict[str, int | None]:
    """The score of each practice and ``overall``; None for all when nothing was judged."""
    judged = [
        set(t.judgement.flags) | set(t.judgement.strengths)
        for t in turns
        if t.judgement is not None and not _is_backchannel(t)
    ]
    if not judged:
        return dict.fromkeys(SCORE_NAMES)
    scores: dict[str, int | None] = {p.name: practice_score(p, judged) for p in PRACTICES}
    values = [v for v in scores.values() if v is not None]
    scores["overall"] = round(sum(values) / len(values))
    return scores


def _is_backchannel(turn: Turn) -> bool:
    """A listening noise said over the peer, which the scores do not count as a turn."""
    return (
        turn.timing is not None
        and turn.timing.gap_s < 0
        and len(turn.utterance.text.split()) <= 3
        and turn.judgement is not None
        and not turn.judgement.flags
        and not turn.judgement.strengths
    )
