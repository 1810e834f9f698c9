"""The review report: what a session input holds, the view model a template draws, the HTML.

Three kinds of input become one :class:`ReviewSource`: a practice session directory
(``session.json`` + ``audio.wav`` + ``events.jsonl``), an audio file (scored first) or a
score JSON document. :func:`build_view` turns it into a :class:`ReportView` (turns with
highlighted evidence, flags with the rubric's explanation and a better reply, strengths,
score cards, waveform envelopes, the peer's trust) and :func:`render_html` draws it with
``templates/report.html.j2`` into one self-contained HTML file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

from voicecoach.errors import InputError
from voicecoach.paths import ASSETS_DIR
from voicecoach.scores import PRACTICES, session_scores
from voicecoach.types import SPEAKERS

SourceKind = Literal["session", "audio", "score"]

SESSION_FILES = ("session.json", "audio.wav", "events.jsonl")

LABEL_TITLES = {
    "interruption": "Interruption",
    "dismissive": "Dismissive",
    "missed_validation": "Missed validation",
    "clinical_focus": "Clinical focus",
    "self_focus": "Self-focus",
    "pressuring": "Pressuring",
    "validation": "Validation",
    "reflection": "Reflection",
    "open_question": "Open question",
    "empowerment": "Empowerment",
    "trigger_care": "Trigger care",
}
PRACTICE_TITLES = {
    "active_listening": "Active listening",
    "validation": "Validation",
    "empowerment": "Empowerment",
    "trigger_awareness": "Trigger awareness",
    "overall": "Overall",
}


def label_title(label: str) -> str:
    """A label as people read it ("missed_validation" -> "Missed validation")."""
    return LABEL_TITLES.get(label, label.replace("_", " ").capitalize())


@cache
def _suggestion_bank() -> dict[str, Any]:
    try:
        return dict(json.loads((ASSETS_DIR / "suggestions.json").read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def explanation(label: str) -> str:
    """The suggestion bank's plain-language explanation of a risk or strength label."""
    bank = _suggestion_bank()
    entry = (bank.get("labels") or {}).get(label) or (bank.get("strengths") or {}).get(label)
    return str((entry or {}).get("explanation", ""))


# -- inputs -------------------------------------------------------------------------------
@dataclass
class ReviewSource:
    """Everything a review report is built from."""

    #: The path the user gave.
    path: Path
    kind: SourceKind
    #: The FILE record as a dict (see ``voicecoach/data/score.schema.json``).
    record: dict[str, Any]
    #: Audio to draw and play, when there is any.
    audio_path: Path | None = None
    #: Practice-session events (``events.jsonl``), in file order.
    events: list[dict[str, Any]] = field(default_factory=list)
    #: Problems with the input, one line each (also printed on stderr).
    warnings: list[str] = field(default_factory=list)
    #: Session files that are missing or unreadable.
    missing: list[str] = field(default_factory=list)


def load_source(path: Path) -> ReviewSource:
    """The first (usually only) source of :func:`load_sources`."""
    return load_sources(path)[0]


def load_sources(path: Path) -> list[ReviewSource]:
    """Read a session directory, audio file or score JSON (one source per scored file);
    raises InputError if unusable."""
    from voicecoach.score import AUDIO_SUFFIXES

    try:
        exists = path.exists()
    except PermissionError:
        raise InputError(
            f"{path}: permission denied (a folder on the way is not readable)"
        ) from None
    if not exists:
        raise InputError(
            f"{path}: no such file or directory (give a session directory, an audio file or "
            "a score JSON)"
        )
    if path.is_dir():
        return [_load_session_dir(path)]
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _load_score_json(path)
    if suffix in AUDIO_SUFFIXES:
        return [_load_audio(path)]
    raise InputError(
        f"{path}: not a session directory, audio file or score JSON (audio: "
        f"{', '.join(sorted(AUDIO_SUFFIXES))})"
    )


def _load_audio(path: Path) -> ReviewSource:
    from voicecoach.score import ScoreOptions, score_path

    record = score_path(path, ScoreOptions())
    if record.get("error"):
        raise InputError(str(record["error"]))
    return ReviewSource(path, "audio", record, path, warnings=list(record.get("warnings") or ()))


def _load_score_json(path: Path) -> list[ReviewSource]:
    """One source per FILE record of a score document (``voicecoach score --format json``)."""
    from voicecoach.record import load_document

    doc = load_document(str(path))
    files = doc.get("files")
    if not isinstance(files, list) or not files or not all(isinstance(f, dict) for f in files):
        raise InputError(f"{path}: the score document holds no file records; nothing to review")
    sources = []
    for raw in files:
        record = _checked_record(raw, path)
        warnings = list(record.get("warnings") or ())
        audio = _find_audio(record.get("file"), path.parent)
        if audio is None:
            warnings.append(
                f"{path}: the scored audio {record.get('file')!r} was not found, so the report "
                "has no waveform or playback"
            )
        sources.append(ReviewSource(path, "score", record, audio, warnings=warnings))
    return sources


def _checked_record(record: dict[str, Any], where: Path) -> dict[str, Any]:
    """A FILE record with its scores and flags recomputed from its turns (the source of truth)."""
    from voicecoach.record import SessionRecord

    try:
        parsed = SessionRecord.from_dict(record)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise InputError(
            f"{where}: not a valid voicecoach FILE record ({type(err).__name__}: {err}); "
            "score the audio again with voicecoach score"
        ) from None
    out = parsed.to_dict()
    out["error"] = record.get("error")
    return out


def _find_audio(name: Any, base: Path) -> Path | None:
    if not isinstance(name, str) or not name:
        return None
    candidate = Path(name)
    for path in (candidate, base / candidate, base / candidate.name):
        if path.is_file():
            return path
        if path.is_dir() and (path / "audio.wav").is_file():  # a session directory
            return path / "audio.wav"
    return None


def _load_session_dir(path: Path) -> ReviewSource:
    """Whatever a (possibly crashed or damaged) session directory holds, and what it lacks."""
    from voicecoach.score import ScoreOptions
    from voicecoach.sessions import load_session_dir, score_session_dir

    if not any((path / name).exists() for name in SESSION_FILES):
        raise InputError(
            f"{path}: not a practice session directory (none of {', '.join(SESSION_FILES)}); "
            "give a session directory, an audio file or a score JSON"
        )
    loaded = load_session_dir(path)
    warnings = list(loaded.warnings)
    missing = list(loaded.missing)
    for name in SESSION_FILES:
        if name not in missing and (path / name).exists():
            unusable = (name == "session.json" and loaded.record is None) or (
                name == "audio.wav" and loaded.audio_path is None
            )
            if unusable:
                missing.append(f"{name} (unreadable)")
    for name in loaded.missing:
        what = {"audio.wav": "no waveform or playback", "events.jsonl": "no event log"}
        warnings.append(f"{path / name}: missing" + (f" ({what[name]})" if name in what else ""))
    record: dict[str, Any] | None = None
    if loaded.record is not None:
        record = loaded.record.to_dict()
    elif loaded.audio_path is not None:
        try:
            record = score_session_dir(path, ScoreOptions()).to_dict()
        except InputError as err:
            warnings.append(str(err))
    if record is None:
        record = _record_from_events(path, loaded.events)
    else:
        record = _checked_record(record, path / "session.json")
    for line in record.get("warnings") or ():
        if line not in warnings:
            warnings.append(line)
    return ReviewSource(
        path, "session", record, loaded.audio_path, loaded.events, warnings, missing
    )


def _record_from_events(path: Path, events: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The record rebuilt from the events alone (when there is neither session.json nor audio)."""
    from voicecoach.record import SessionRecord
    from voicecoach.sessions import extra_from_events

    turns: list[dict[str, Any]] = []
    for event in events:
        speaker = {"peer_line": "peer", "trainee_turn": "trainee"}.get(str(event.get("kind")))
        if speaker is None or not isinstance(event.get("text"), str):
            continue
        start = _number(event.get("start_s", event.get("t_s")))
        turn: dict[str, Any] = {
            "index": len(turns),
            "speaker": speaker,
            "start_s": start,
            "end_s": _number(event.get("end_s")) or start,
            "text": event["text"],
        }
        judgement = event.get("judgement")
        if speaker == "trainee" and isinstance(judgement, dict):
            turn.update(judgement)
            if isinstance(event.get("timing"), dict):
                turn["timing"] = event["timing"]
        turns.append(turn)
    times = [_number(e.get("t_s")) for e in events]
    duration = max((t for t in times if t is not None), default=None)
    try:
        record = SessionRecord.from_dict(
            {
                "file": str(path),
                "duration_s": duration,
                "turns": turns,
                **extra_from_events(list(events)),
            }
        ).to_dict()
    except (KeyError, TypeError, ValueError, AttributeError):
        record = SessionRecord(file=str(path), duration_s=duration).to_dict()
    record["warnings"] = [
        f"{path}: rebuilt from events.jsonl only (no usable session.json or audio.wav)"
    ]
    return record


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# -- view model ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Segment:
    """A piece of a turn's text; ``flags`` are the ids of the flags whose evidence it is.

    ``ends`` are the numbers of the flags whose evidence ends with this piece (the report
    puts them after it as a superscript).
    """

    text: str
    flags: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    ends: tuple[int, ...] = ()


@dataclass(frozen=True)
class FlagView:
    """One flag as the report shows it."""

    #: Stable id in the page, e.g. "flag-3" (1-based, in session order).
    id: str
    number: int
    label: str
    title: str
    turn_index: int
    start_s: float | None
    end_s: float | None
    evidence: str
    #: Character span of the evidence inside the turn text, or None if it is not there.
    span: tuple[int, int] | None
    explanation: str
    suggestion: str
    score: float


@dataclass(frozen=True)
class StrengthView:
    label: str
    title: str
    explanation: str


@dataclass(frozen=True)
class TurnView:
    index: int
    speaker: str
    start_s: float | None
    end_s: float | None
    text: str
    segments: tuple[Segment, ...]
    flags: tuple[FlagView, ...]
    strengths: tuple[StrengthView, ...]
    #: Seconds the trainee spoke over the peer when the turn started (0 if none).
    overlap_s: float = 0.0


@dataclass(frozen=True)
class ScoreCard:
    name: str
    title: str
    value: int | None
    #: One line on how the score is computed.
    summary: str


@dataclass(frozen=True)
class WaveformView:
    """Waveform polygons (SVG ``points``) per speaker, in a ``width`` x ``height`` box."""

    duration_s: float
    points: int
    width: int
    height: int
    #: speaker -> "x,y x,y ..." polygon (max edge forward, min edge back).
    polygons: dict[str, str]


@dataclass(frozen=True)
class TrustPoint:
    t_s: float
    trust: float
    distress: float | None


@dataclass(frozen=True)
class ReportView:
    """Everything ``report.html.j2`` draws."""

    title: str
    source: str
    kind: SourceKind
    generated_at: str
    duration_s: float
    scenario: str | None
    seed: int | None
    warnings: tuple[str, ...]
    missing: tuple[str, ...]
    error: str | None
    turns: tuple[TurnView, ...]
    flags: tuple[FlagView, ...]
    strengths_total: int
    score_cards: tuple[ScoreCard, ...]
    waveform: WaveformView | None
    trust: tuple[TrustPoint, ...]
    audio_uri: str | None
    models: dict[str, Any]

    def script_data(self) -> dict[str, Any]:
        """The data the page's script (and tests) read from ``#report-data``."""
        return {
            "duration_s": self.duration_s,
            "turns": [
                {
                    "index": t.index,
                    "speaker": t.speaker,
                    "start_s": t.start_s,
                    "end_s": t.end_s,
                    "text": t.text,
                    "flags": [f.label for f in t.flags],
                    "strengths": [s.label for s in t.strengths],
                }
                for t in self.turns
            ],
            "flags": [
                {
                    "id": f.id,
                    "label": f.label,
                    "turn": f.turn_index,
                    "start_s": f.start_s,
                    "end_s": f.end_s,
                    "evidence": f.evidence,
                }
                for f in self.flags
            ],
        }


_TOKEN = re.compile(r"\S+")
_NON_WORD = re.compile(r"[^\w']+")


def _norm(token: str) -> str:
    return _NON_WORD.sub("", token.lower())


def evidence_span(text: str, evidence: str) -> tuple[int, int] | None:
    """Where ``evidence`` (words of the turn, maybe re-spaced) is in ``text``, or None.

    An exact (case-insensitive) match wins; otherwise the evidence's words are matched
    against the text's words ignoring case and punctuation.
    """
    if not evidence.strip() or not text:
        return None
    at = text.lower().find(evidence.strip().lower())
    if at >= 0:
        return at, at + len(evidence.strip())
    tokens = [(m.start(), m.end(), _norm(m.group())) for m in _TOKEN.finditer(text)]
    wanted = [w for w in (_norm(t) for t in evidence.split()) if w]
    words = [t for t in tokens if t[2]]
    if not wanted:
        return None
    for i in range(len(words) - len(wanted) + 1):
        if all(words[i + k][2] == wanted[k] for k in range(len(wanted))):
            return words[i][0], words[i + len(wanted) - 1][1]
    return None


def segments(text: str, spans: Sequence[tuple[tuple[int, int], str, str]]) -> tuple[Segment, ...]:
    """``text`` cut at every span boundary; each piece lists the flags covering it."""
    cuts = {0, len(text)}
    for (start, end), _, _ in spans:
        cuts.update((start, end))
    ordered = sorted(c for c in cuts if 0 <= c <= len(text))
    out: list[Segment] = []
    for a, b in zip(ordered, ordered[1:], strict=False):
        if a == b:
            continue
        covering = [(fid, label, e) for (s, e), fid, label in spans if s <= a and b <= e]
        out.append(
            Segment(
                text[a:b],
                tuple(f for f, _, _ in covering),
                tuple(sorted({lb for _, lb, _ in covering})),
                tuple(int(f.rsplit("-", 1)[-1]) for f, _, e in covering if e == b),
            )
        )
    return tuple(out) or (Segment(text),)


def build_view(
    source: ReviewSource,
    *,
    audio_uri: str | None = None,
    envelope: Any = None,
    duration_s: float | None = None,
    now: datetime | None = None,
) -> ReportView:
    """The report's view model. ``envelope`` is a :class:`voicecoach.review.audio.Envelope`."""
    from voicecoach.types import Turn

    record = source.record
    turns = [Turn.from_dict(t) for t in record.get("turns") or ()]
    flag_views: list[FlagView] = []
    turn_views: list[TurnView] = []
    for turn in turns:
        j = turn.judgement
        text = turn.utterance.text
        mine: list[FlagView] = []
        spans: list[tuple[tuple[int, int], str, str]] = []
        for label in j.flags if j else ():
            number = len(flag_views) + 1
            evidence = (j.evidence.get(label) if j else "") or ""
            span = evidence_span(text, evidence)
            view = FlagView(
                id=f"flag-{number}",
                number=number,
                label=label,
                title=label_title(label),
                turn_index=turn.index,
                start_s=turn.utterance.start_s,
                end_s=turn.utterance.end_s,
                evidence=evidence,
                span=span,
                explanation=explanation(label),
                suggestion=(j.suggestions.get(label) if j else "") or "",
                score=float((j.labels.get(label) if j else None) or 0.0),
            )
            flag_views.append(view)
            mine.append(view)
            if span is not None:
                spans.append((span, view.id, label))
        strengths = tuple(
            StrengthView(s, label_title(s), explanation(s)) for s in (j.strengths if j else ())
        )
        turn_views.append(
            TurnView(
                index=turn.index,
                speaker=turn.speaker,
                start_s=turn.utterance.start_s,
                end_s=turn.utterance.end_s,
                text=text,
                segments=segments(text, spans),
                flags=tuple(mine),
                strengths=strengths,
                overlap_s=turn.timing.overlap_s if turn.timing else 0.0,
            )
        )
    scores = session_scores(turns)
    summaries = {p.name: p.summary for p in PRACTICES}
    summaries["overall"] = "the mean of the four practices"
    cards = tuple(
        ScoreCard(name, PRACTICE_TITLES.get(name, name), scores.get(name), summaries[name])
        for name in scores
    )
    ends = [t.end_s for t in turn_views if t.end_s is not None]
    duration = max([d for d in (duration_s, _number(record.get("duration_s"))) if d] + ends + [1.0])
    trust = trust_series(record, source.events)
    extra_seed = record.get("seed")
    return ReportView(
        title=_title(source, record),
        source=str(source.path),
        kind=source.kind,
        generated_at=(now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
        duration_s=round(duration, 3),
        scenario=record.get("scenario") if isinstance(record.get("scenario"), str) else None,
        seed=extra_seed if isinstance(extra_seed, int) else None,
        warnings=tuple(source.warnings),
        missing=tuple(source.missing),
        error=record.get("error"),
        turns=tuple(turn_views),
        flags=tuple(flag_views),
        strengths_total=sum(len(t.strengths) for t in turn_views),
        score_cards=cards,
        waveform=waveform_view(envelope, duration) if envelope is not None else None,
        trust=trust,
        audio_uri=audio_uri,
        models=dict(record.get("models") or {}),
    )


def _title(source: ReviewSource, record: dict[str, Any]) -> str:
    name = source.path.name or str(source.path)
    scenario = record.get("scenario")
    if isinstance(scenario, str) and scenario:
        return f"Practice with {scenario.replace('_', ' ').title()} — {name}"
    return f"Session review — {name}"


def waveform_view(
    envelope: Any, duration_s: float, width: int = 1000, height: int = 60
) -> WaveformView:
    """SVG polygons of each speaker's envelope, scaled so ``duration_s`` spans ``width``."""
    polygons: dict[str, str] = {}
    scale_x = (
        width * (envelope.duration_s / duration_s if duration_s > 0 else 1.0) / envelope.points
    )
    mid = height / 2
    for channel in range(min(envelope.channels, len(SPEAKERS))):
        mins = envelope.mins[channel]
        maxs = envelope.maxs[channel]
        xs = [round(i * scale_x, 1) for i in range(envelope.points)]
        top = [f"{x},{round(mid - float(v) * mid, 1)}" for x, v in zip(xs, maxs, strict=True)]
        bottom = [
            f"{x},{round(mid - float(v) * mid, 1)}"
            for x, v in zip(reversed(xs), reversed(mins), strict=True)
        ]
        polygons[SPEAKERS[channel]] = " ".join(top + bottom)
    return WaveformView(duration_s, envelope.points, width, height, polygons)


def trust_series(
    record: dict[str, Any], events: Sequence[dict[str, Any]]
) -> tuple[TrustPoint, ...]:
    """The peer's trust over the session: ``trust_timeline`` or else ``peer_state`` events."""
    points: list[TrustPoint] = []
    timeline = record.get("trust_timeline")
    rows = (
        timeline
        if isinstance(timeline, list) and timeline
        else [e for e in events if e.get("kind") == "peer_state"]
    )
    for row in rows:
        if not isinstance(row, dict):
            continue
        t, trust = _number(row.get("t_s")), _number(row.get("trust"))
        if t is None or trust is None:
            continue
        points.append(TrustPoint(t, min(1.0, max(0.0, trust)), _number(row.get("distress"))))
    return tuple(sorted(points, key=lambda p: p.t_s))


# -- HTML ---------------------------------------------------------------------------------
def template_environment():  # type: ignore[no-untyped-def]
    """The Jinja2 environment of the review templates (autoescaping on)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["clock"] = clock
    env.globals["label_title"] = label_title
    env.globals["time_ticks"] = time_ticks
    return env


def clock(seconds: float | None) -> str:
    """``m:ss`` (or ``h:mm:ss``) for a time in seconds; an en dash when unknown."""
    if seconds is None:
        return "–"
    total = int(max(0.0, seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def time_ticks(duration_s: float, most: int = 12) -> list[float]:
    """Round tick times for a time axis of ``duration_s`` with at most ``most`` ticks."""
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if duration_s / step <= most:
            break
    return [float(t) for t in range(0, int(duration_s) + 1, step)]


@dataclass(frozen=True)
class CohortEntry:
    """One scored file in a cohort index: its report and headline numbers."""

    file: str
    href: str
    duration_s: float
    trainee_turns: int
    flags: int
    strengths: int
    overall: int | None
    error: str | None


def cohort_entry(view: ReportView, file: str, href: str) -> CohortEntry:
    overall = next((c.value for c in view.score_cards if c.name == "overall"), None)
    return CohortEntry(
        file=file,
        href=href,
        duration_s=view.duration_s,
        trainee_turns=sum(1 for t in view.turns if t.speaker == "trainee"),
        flags=len(view.flags),
        strengths=view.strengths_total,
        overall=overall,
        error=view.error,
    )


def render_cohort_html(title: str, entries: list[CohortEntry]) -> str:
    """The index page of a multi-file review: one row and link per scored file."""
    return (
        template_environment()
        .get_template("cohort.html.j2")
        .render(title=title, entries=entries, clock=clock)
    )


def render_html(view: ReportView) -> str:
    """The report as one self-contained HTML document."""
    return template_environment().get_template("report.html.j2").render(v=view)


def make_report(source: ReviewSource) -> ReportView:
    """Decode and embed the audio (when there is any) and build the view model."""
    from voicecoach.review.audio import data_uri, prepare_audio

    if source.audio_path is None:
        return build_view(source)
    try:
        audio = prepare_audio(source.audio_path)
    except InputError as err:
        source.warnings.append(f"{err} (the report has no waveform or playback)")
        return build_view(source)
    for line in audio.warnings:
        if line not in source.warnings:
            source.warnings.append(line)
    return build_view(
        source,
        audio_uri=data_uri(audio.ogg_opus),
        envelope=audio.envelope,
        duration_s=audio.duration_s,
    )
