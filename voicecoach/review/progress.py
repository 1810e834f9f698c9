"""Progress across a trainee's sessions: scores per practice over time and the most frequent flags.

Sessions are the directories under a root that hold a ``session.json`` (a FILE record). A
session's date is, in order of preference, an ISO time in the record (``started_at``,
``start_time``, ``created_at`` or ``date``), a date in the directory name
(``2026-11-27T14-06-33``, ``20261127-140633``, ``2026-11-27`` ...) or the time
``session.json`` was last written.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voicecoach.review.report import PRACTICE_TITLES, explanation, label_title
from voicecoach.scores import PRACTICES, SCORE_NAMES

SPARKS = "▁▂▃▄▅▆▇█"
TIME_FIELDS = ("started_at", "start_time", "created_at", "date")
_DIR_DATE = re.compile(
    r"(?P<y>\d{4})-?(?P<m>\d{2})-?(?P<d>\d{2})"
    r"(?:[T_ -]?(?P<H>\d{2})[:-]?(?P<M>\d{2})(?:[:-]?(?P<S>\d{2}))?)?"
)
#: How many recent sessions decide what to work on next.
RECENT = 3


@dataclass(frozen=True)
class SessionSummary:
    """One session as progress needs it."""

    path: Path
    #: When the session took place (naive UTC, or local time when only the name says).
    when: datetime
    scenario: str | None
    scores: dict[str, int | None]
    flag_counts: dict[str, int]
    #: label -> (evidence, suggestion) of the flag's last occurrence in the session.
    examples: dict[str, tuple[str, str]] = field(default_factory=dict)


def session_time(directory: Path, record: dict[str, Any], written: Path) -> datetime:
    """When a session took place (see the module docstring for the order)."""
    for key in TIME_FIELDS:
        value = record.get(key)
        if isinstance(value, str):
            try:
                when = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            if when.tzinfo is not None:
                when = when.astimezone(UTC).replace(tzinfo=None)
            return when
    match = _DIR_DATE.search(directory.name)
    if match:
        parts = {k: int(v) for k, v in match.groupdict().items() if v is not None}
        try:
            return datetime(
                parts["y"], parts["m"], parts["d"], parts.get("H", 0), parts.get("M", 0),
                parts.get("S", 0),
            )  # fmt: skip
        except ValueError:
            pass
    mtime = written.stat().st_mtime
    return datetime.fromtimestamp(mtime, UTC).replace(tzinfo=None)


def summarise(directory: Path) -> SessionSummary:
    """Read ``directory/session.json``; raises ValueError or OSError when it is unusable."""
    from voicecoach.record import SessionRecord

    path = directory / "session.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "turns" not in data:
        raise ValueError("not a FILE record (no turns)")
    try:
        record = SessionRecord.from_dict(data).to_dict(words=False)
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"not a FILE record ({type(err).__name__}: {err})") from None
    counts = Counter(f["label"] for f in record["flags"])
    examples = {f["label"]: (f["evidence"], f["suggestion"]) for f in record["flags"]}
    scenario = data.get("scenario")
    return SessionSummary(
        path=directory,
        when=session_time(directory, data, path),
        scenario=scenario if isinstance(scenario, str) else None,
        scores=dict(record["scores"]),
        flag_counts=dict(counts),
        examples=examples,
    )


def find_sessions(root: Path) -> tuple[list[SessionSummary], list[str]]:
    """Every readable session under ``root``, oldest first, and one warning per unusable one."""
    sessions: list[SessionSummary] = []
    warnings: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        if "session.json" not in filenames:
            if "events.jsonl" in filenames or "audio.wav" in filenames:
                dirnames.clear()
                warnings.append(
                    f"{dirpath}: left out, no session.json (an unfinished session); "
                    f"voicecoach review {dirpath} shows what it holds"
                )
            continue
        dirnames.clear()
        directory = Path(dirpath)
        try:
            sessions.append(summarise(directory))
        except (OSError, ValueError) as err:
            reason = getattr(err, "msg", None) or getattr(err, "strerror", None) or str(err)
            warnings.append(f"{directory / 'session.json'}: skipped, unreadable ({reason})")
    sessions.sort(key=lambda s: (s.when, str(s.path)))
    return sessions, warnings


def sparkline(values: Sequence[int | None]) -> str:
    """One block character per 0-100 value (a space where a session has no score)."""
    out = []
    for value in values:
        if value is None:
            out.append(" ")
        else:
            out.append(SPARKS[min(len(SPARKS) - 1, max(0, value) * len(SPARKS) // 101)])
    return "".join(out)


@dataclass(frozen=True)
class Series:
    """One practice's scores, one value per session in date order."""

    name: str
    title: str
    values: tuple[int | None, ...]
    summary: str


@dataclass(frozen=True)
class FlagCount:
    label: str
    title: str
    count: int
    #: In how many sessions the flag came up.
    sessions: int
    explanation: str
    #: The most recent evidence and better reply for this flag.
    example: str
    suggestion: str


@dataclass(frozen=True)
class ProgressView:
    """Everything ``progress.html.j2`` draws."""

    root: str
    generated_at: str
    sessions: tuple[SessionSummary, ...]
    series: tuple[Series, ...]
    top_flags: tuple[FlagCount, ...]
    #: One sentence on what to work on next ("" when there is nothing to say).
    focus: str
    warnings: tuple[str, ...] = ()


def build_progress(
    sessions: Sequence[SessionSummary],
    *,
    root: Path,
    warnings: Sequence[str] = (),
    now: datetime | None = None,
    top: int = 5,
) -> ProgressView:
    """The progress view model over ``sessions`` (oldest first)."""
    summaries = {p.name: p.summary for p in PRACTICES}
    summaries["overall"] = "the mean of the four practices"
    series = tuple(
        Series(
            name,
            PRACTICE_TITLES[name],
            tuple(s.scores.get(name) for s in sessions),
            summaries[name],
        )
        for name in SCORE_NAMES
    )
    totals: Counter[str] = Counter()
    present: Counter[str] = Counter()
    examples: dict[str, tuple[str, str]] = {}
    for session in sessions:
        totals.update(session.flag_counts)
        present.update(session.flag_counts.keys())
        examples.update(session.examples)
    top_flags = tuple(
        FlagCount(
            label,
            label_title(label),
            count,
            present[label],
            explanation(label),
            examples.get(label, ("", ""))[0],
            examples.get(label, ("", ""))[1],
        )
        for label, count in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    )
    return ProgressView(
        root=str(root),
        generated_at=(now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
        sessions=tuple(sessions),
        series=series,
        top_flags=top_flags,
        focus=focus_advice(sessions),
        warnings=tuple(warnings),
    )


def focus_advice(sessions: Sequence[SessionSummary]) -> str:
    """The practice with the lowest recent mean score and the flag that pulls it down most."""
    recent = list(sessions)[-RECENT:]
    means: dict[str, float] = {}
    for practice in PRACTICES:
        values = [s.scores.get(practice.name) for s in recent]
        known = [v for v in values if v is not None]
        if known:
            means[practice.name] = sum(known) / len(known)
    if not means:
        return ""
    weakest = min(PRACTICES, key=lambda p: means.get(p.name, 101.0))
    counts: Counter[str] = Counter()
    for session in recent:
        counts.update({k: v for k, v in session.flag_counts.items() if k in weakest.risks})
    text = (
        f"{PRACTICE_TITLES[weakest.name]} (mean {means[weakest.name]:.0f}/100 over the last "
        f"{len(recent)} session{'s' if len(recent) > 1 else ''})"
    )
    if counts:
        label, count = counts.most_common(1)[0]
        text += f": watch for {label_title(label).lower()} ({count}× recently)"
    else:
        strengths = " and ".join(label_title(s).lower() for s in weakest.strengths)
        text += f": show more {strengths}"
    return text + "."


def render_progress_html(view: ProgressView) -> str:
    """The progress page as one self-contained HTML document."""
    from voicecoach.review.report import template_environment

    return template_environment().get_template("progress.html.j2").render(v=view)
