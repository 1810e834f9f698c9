"""The session record: what `voicecoach score` writes per file and `practice` writes per session.

One JSON shape (``voicecoach/data/score.schema.json``) serves scoring, practice and review::

    {"file", "duration_s", "models", "options", "turns", "flags", "scores", "warnings",
     "error", ...practice extras: "scenario", "seed", "peer_state", "latency_ms"}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from voicecoach.errors import InputError
from voicecoach.scores import session_scores
from voicecoach.types import Flag, Turn

SCHEMA_VERSION = 1


@dataclass
class SessionRecord:
    """Everything known about one scored file or practice session."""

    file: str
    duration_s: float | None = None
    models: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    turns: list[Turn] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    #: Practice-session fields (scenario, seed, peer_state, latency_ms), kept as given.
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def flags(self) -> list[Flag]:
        out = []
        for turn in self.turns:
            j = turn.judgement
            if j is None:
                continue
            for label in j.flags:
                out.append(
                    Flag(
                        label=label,
                        score=float(j.labels.get(label) or 0.0),
                        turn_index=turn.index,
                        start_s=turn.utterance.start_s,
                        end_s=turn.utterance.end_s,
                        evidence=j.evidence.get(label, ""),
                        suggestion=j.suggestions.get(label, ""),
                    )
                )
        return out

    def to_dict(self, *, words: bool = True) -> dict[str, Any]:
        return {
            "file": self.file,
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
            "models": self.models,
            "options": self.options,
            "turns": [t.to_dict(words=words) for t in self.turns],
            "flags": [f.to_dict() for f in self.flags],
            "scores": session_scores(self.turns),
            "warnings": list(self.warnings),
            "error": self.error,
            **self.extra,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SessionRecord:
        known = {"file", "duration_s", "models", "options", "turns", "flags", "scores"}
        known |= {"warnings", "error"}
        return cls(
            file=d.get("file", ""),
            duration_s=d.get("duration_s"),
            models=d.get("models") or {},
            options=d.get("options") or {},
            turns=[Turn.from_dict(t) for t in d.get("turns") or ()],
            warnings=list(d.get("warnings") or ()),
            error=d.get("error"),
            extra={k: v for k, v in d.items() if k not in known},
        )


def document(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The `voicecoach score --format json` document around FILE records."""
    return {"schema_version": SCHEMA_VERSION, "files": records}


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of a score document (shipped in the package)."""
    text = resources.files("voicecoach").joinpath("data/score.schema.json").read_text()
    return dict(json.loads(text))


def load_document(path: str) -> dict[str, Any]:
    """Read a score document, refusing another schema version with a clear message."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not a valid JSON score document ({err.msg})") from None
    if not isinstance(doc, dict):
        raise InputError(f"{path}: not a voicecoach score document")
    if "files" not in doc and "turns" in doc:  # a bare FILE record (session.json)
        doc = document([doc])
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise InputError(
            f"{path}: score schema version {version!r} is not supported (this voicecoach "
            f"reads version {SCHEMA_VERSION}); score the audio again with voicecoach score"
        )
    return doc
