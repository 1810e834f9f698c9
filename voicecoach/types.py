"""Small frozen records that flow between the pipeline's stages.

Units are in the field names (``start_s``, ``sample_rate``). Records that are written to disk
have ``to_dict`` / ``from_dict``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Speaker = Literal["trainee", "peer"]
SPEAKERS: tuple[Speaker, ...] = ("trainee", "peer")


@dataclass(frozen=True)
class AudioChunk:
    """A block of mono float32 audio in [-1, 1], starting ``start_s`` into its stream."""

    samples: np.ndarray
    sample_rate: int
    start_s: float = 0.0

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


@dataclass(frozen=True)
class Word:
    """One recognised word with its time span in the session."""

    text: str
    start_s: float
    end_s: float
    probability: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "probability": round(self.probability, 3),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Word:
        return cls(
            str(d["text"]),
            float(d["start_s"]),
            float(d["end_s"]),
            float(d.get("probability", 1.0)),
        )


@dataclass(frozen=True)
class Utterance:
    """What one speaker said in one go, with times in seconds from the session start."""

    speaker: Speaker
    text: str
    start_s: float | None = None
    end_s: float | None = None
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Timing:
    """How a trainee turn started relative to the peer's speech before it.

    ``gap_s`` is the silence from the end of the peer's speech to the trainee's first word
    (negative when they overlap); ``overlap_s`` is how long both spoke at once;
    ``peer_complete`` says whether the peer's utterance had reached a possible completion
    point (a finished sentence, not "and then I...").
    """

    gap_s: float
    overlap_s: float = 0.0
    peer_complete: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "gap_s": round(self.gap_s, 3),
            "overlap_s": round(self.overlap_s, 3),
            "peer_complete": self.peer_complete,
        }


@dataclass(frozen=True)
class TurnJudgement:
    """The classifier's verdict on one trainee turn.

    ``labels`` maps every rubric label to a probability, or ``None`` where the label cannot
    be judged (``missed_validation`` with no peer turn, ``interruption`` with no timing).
    ``flags`` and ``strengths`` are the risk and strength labels over their thresholds.
    ``evidence`` maps each flag to the trainee's words that drove it and ``suggestions``
    maps each flag to a better reply from the curated bank.
    """

    labels: dict[str, float | None]
    flags: tuple[str, ...] = ()
    strengths: tuple[str, ...] = ()
    evidence: dict[str, str] = field(default_factory=dict)
    suggestions: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": {
                k: (None if v is None else round(float(v), 4)) for k, v in self.labels.items()
            },
            "flags": list(self.flags),
            "strengths": list(self.strengths),
            "evidence": dict(self.evidence),
            "suggestions": dict(self.suggestions),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TurnJudgement:
        return cls(
            labels=dict(d.get("labels") or {}),
            flags=tuple(d.get("flags") or ()),
            strengths=tuple(d.get("strengths") or ()),
            evidence=dict(d.get("evidence") or {}),
            suggestions=dict(d.get("suggestions") or {}),
        )


@dataclass(frozen=True)
class Flag:
    """One risk flag on a trainee turn, as listed in reports."""

    label: str
    score: float
    turn_index: int
    start_s: float | None
    end_s: float | None
    evidence: str
    suggestion: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "score": round(self.score, 4),
            "turn": self.turn_index,
            "start_s": None if self.start_s is None else round(self.start_s, 3),
            "end_s": None if self.end_s is None else round(self.end_s, 3),
            "evidence": self.evidence,
            "suggestion": self.suggestion,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Flag:
        return cls(
            label=d["label"],
            score=float(d.get("score", 1.0)),
            turn_index=int(d["turn"]),
            start_s=d.get("start_s"),
            end_s=d.get("end_s"),
            evidence=d.get("evidence", ""),
            suggestion=d.get("suggestion", ""),
        )


@dataclass(frozen=True)
class Turn:
    """One utterance of the session in order, with its judgement when it is the trainee's."""

    index: int
    utterance: Utterance
    judgement: TurnJudgement | None = None
    timing: Timing | None = None

    @property
    def speaker(self) -> Speaker:
        return self.utterance.speaker

    def to_dict(self, *, words: bool = True) -> dict[str, Any]:
        u = self.utterance
        d: dict[str, Any] = {
            "index": self.index,
            "speaker": u.speaker,
            "start_s": None if u.start_s is None else round(u.start_s, 3),
            "end_s": None if u.end_s is None else round(u.end_s, 3),
            "text": u.text,
        }
        if words and u.words:
            d["words"] = [w.to_dict() for w in u.words]
        if self.timing is not None:
            d["timing"] = self.timing.to_dict()
        j = self.judgement
        d.update(
            j.to_dict()
            if j is not None
            else {"labels": {}, "flags": [], "strengths": [], "evidence": {}, "suggestions": {}}
        )
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Turn:
        utterance = Utterance(
            speaker=d["speaker"],
            text=d.get("text", ""),
            start_s=d.get("start_s"),
            end_s=d.get("end_s"),
            words=tuple(Word.from_dict(w) for w in d.get("words") or ()),
        )
        t = d.get("timing")
        timing = (
            Timing(float(t["gap_s"]), float(t.get("overlap_s", 0.0)), bool(t["peer_complete"]))
            if t
            else None
        )
        judgement = TurnJudgement.from_dict(d) if d["speaker"] == "trainee" else None
        return cls(int(d["index"]), utterance, judgement, timing)
