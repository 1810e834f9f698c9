"""Personas the simulated peer plays, read from TOML files and checked line by line.

A persona file (``assets/scenarios/<name>.toml``) holds who the peer is, how their voice
sounds, the triggers and boundaries they name, and every line they can say, grouped by the
situation that calls for it. ``docs/peer.md`` describes the schema for trainers.

Every problem with a file is one :class:`ScenarioError` line naming the file, the field and
what is wrong, e.g. ``dee.toml: lines.quiet: 3 lines, need at least 4``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicecoach.errors import InputError
from voicecoach.paths import ASSETS_DIR

#: Where bundled personas live.
SCENARIOS_DIR = ASSETS_DIR / "scenarios"

#: Disclosure layers, shallowest first.
LAYERS: tuple[str, ...] = ("layer1", "layer2", "layer3", "layer4")

#: Reaction lists: lines said in answer to a kind of trainee turn, or at the start or end.
REACTIONS: tuple[str, ...] = (
    "interrupted",
    "dismissed",
    "pressured",
    "clinical",
    "self_focus",
    "missed",
    "guarded",
    "quiet",
    "warming",
    "checked_in",
    "empowered",
    "neutral",
    "breakthrough",
    "ending",
    "closing",
)

#: Every ``[lines]`` list in file order, with the fewest lines each must have.
LINE_LISTS: dict[str, int] = {
    "opening": 2,
    **{layer: 5 for layer in LAYERS},
    **{reaction: 4 for reaction in REACTIONS},
}

#: eSpeak NG voice variants a persona may use.
VARIANTS: frozenset[str] = frozenset(
    [f"m{i}" for i in range(1, 8)]
    + [f"f{i}" for i in range(1, 6)]
    + ["croak", "whisper", "klatt"]
    + [f"klatt{i}" for i in range(2, 7)]
)

RATE_RANGE: tuple[int, int] = (80, 300)

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_ESPEAK = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]+)*$")
_TOP_FIELDS = ("name", "title", "summary", "background", "voice", "limits", "lines")
_VOICE_FIELDS = ("espeak", "variant", "rate")
_LIMIT_FIELDS = ("triggers", "boundaries")


class ScenarioError(InputError):
    """A persona cannot be found or its file is invalid; the message is one line."""


@dataclass(frozen=True)
class VoiceSpec:
    """How the peer's text-to-speech voice sounds: eSpeak NG language, variant and speed."""

    espeak: str
    variant: str
    rate: int

    def to_dict(self) -> dict[str, Any]:
        return {"espeak": self.espeak, "variant": self.variant, "rate": self.rate}


@dataclass(frozen=True)
class Scenario:
    """One persona: who the peer is, their voice, their limits and every line they can say.

    ``lines`` maps each list in :data:`LINE_LISTS` to its lines, in file order.
    """

    name: str
    title: str
    summary: str
    background: str
    voice: VoiceSpec
    triggers: tuple[str, ...]
    boundaries: tuple[str, ...]
    lines: dict[str, tuple[str, ...]] = field(hash=False)
    path: Path = field(compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The public description (no lines): name, title, summary, voice, limits."""
        return {
            "name": self.name,
            "title": self.title,
            "summary": self.summary,
            "voice": self.voice.to_dict(),
            "triggers": list(self.triggers),
            "boundaries": list(self.boundaries),
        }


def peer_lines(scenario: Scenario) -> list[str]:
    """Every line the peer can say, in file order (for matching peer speech in mono audio)."""
    return [line for name in LINE_LISTS for line in scenario.lines[name]]


def bundled_names() -> list[str]:
    """Names of the bundled personas, sorted."""
    return sorted(p.stem for p in SCENARIOS_DIR.glob("*.toml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a bundled persona by name (``"dee"``) or any persona file by path.

    Raises :class:`ScenarioError` for an unknown name, a missing file or an invalid file.
    """
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith(".toml") or "/" in text or "\\" in text:
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            what = "is a directory" if path.is_dir() else "no such file"
            raise ScenarioError(f"{path}: {what} (give a persona .toml file or a bundled name)")
        return _load_file(path)
    path = SCENARIOS_DIR / f"{text}.toml"
    if not _NAME.match(text) or not path.is_file():
        available = ", ".join(bundled_names()) or "none"
        raise ScenarioError(f"unknown scenario {text!r} (available: {available})")
    return _load_file(path)


def list_scenarios() -> list[Scenario]:
    """Every bundled persona, sorted by name (an invalid bundled file raises)."""
    return [_load_file(SCENARIOS_DIR / f"{name}.toml") for name in bundled_names()]


def _load_file(path: Path) -> Scenario:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ScenarioError(f"{path}: cannot read ({err.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ScenarioError(f"{path}: not UTF-8 text (byte {err.start})") from None
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{path}: not valid TOML: {_one_line(str(err))}") from None
    return parse_scenario(data, path)


def parse_scenario(data: dict[str, Any], path: Path) -> Scenario:
    """Check a parsed persona file field by field and build the :class:`Scenario`."""
    check = _Checker(path)
    check.known(data, "", _TOP_FIELDS)
    name = check.text(data, "name")
    if not _NAME.match(name):
        check.fail("name", f"{name!r} must be lowercase letters, digits, - or _")
    if name != path.stem:
        check.fail("name", f"{name!r} does not match the file name {path.name!r} (rename one)")
    title = check.text(data, "title")
    summary = check.text(data, "summary")
    background = check.text(data, "background")

    voice = check.table(data, "voice")
    check.known(voice, "voice.", _VOICE_FIELDS)
    espeak = check.text(voice, "espeak", "voice.")
    if not _ESPEAK.match(espeak):
        check.fail("voice.espeak", f"{espeak!r} is not an eSpeak NG voice name like 'en-us'")
    variant = check.text(voice, "variant", "voice.")
    if variant not in VARIANTS:
        check.fail(
            "voice.variant",
            f"{variant!r} is not an eSpeak NG variant (use m1..m7, f1..f5, croak, whisper, "
            "klatt..klatt6)",
        )
    rate = check.require(voice, "rate", "voice.")
    if not isinstance(rate, int) or isinstance(rate, bool):
        check.fail("voice.rate", f"expected a whole number of words per minute, got {rate!r}")
    lo, hi = RATE_RANGE
    if not lo <= rate <= hi:
        check.fail("voice.rate", f"{rate} is outside {lo}-{hi} words per minute")

    limits = check.table(data, "limits")
    check.known(limits, "limits.", _LIMIT_FIELDS)
    triggers = check.strings(limits, "triggers", "limits.", minimum=1)
    boundaries = check.strings(limits, "boundaries", "limits.", minimum=1)

    table = check.table(data, "lines")
    check.known(table, "lines.", tuple(LINE_LISTS))
    lines = {
        key: check.strings(table, key, "lines.", minimum=minimum)
        for key, minimum in LINE_LISTS.items()
    }
    seen: dict[str, str] = {}
    for key, values in lines.items():
        for i, line in enumerate(values):
            norm = " ".join(line.lower().split())
            where = f"lines.{key}[{i}]"
            if norm in seen:
                check.fail(where, f"repeats {seen[norm]} ({_quote(line)}); every line must differ")
            seen[norm] = where
    return Scenario(
        name=name,
        title=title,
        summary=summary,
        background=background,
        voice=VoiceSpec(espeak, variant, rate),
        triggers=triggers,
        boundaries=boundaries,
        lines=lines,
        path=path,
    )


class _Checker:
    """Field checks that raise one-line :class:`ScenarioError` messages for one file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, problem: str) -> None:
        raise ScenarioError(f"{self.path}: {where}: {_one_line(problem)}")

    def known(self, table: dict[str, Any], prefix: str, allowed: tuple[str, ...]) -> None:
        for key in table:
            if key not in allowed:
                self.fail(
                    f"{prefix}{key}", f"unknown field (expected one of: {', '.join(allowed)})"
                )

    def require(self, table: dict[str, Any], key: str, prefix: str = "") -> Any:
        if key not in table:
            self.fail(f"{prefix}{key}", "missing")
        return table[key]

    def text(self, table: dict[str, Any], key: str, prefix: str = "") -> str:
        value = self.require(table, key, prefix)
        if not isinstance(value, str):
            self.fail(f"{prefix}{key}", f"expected text, got {_kind(value)}")
        if not value.strip():
            self.fail(f"{prefix}{key}", "is empty")
        return value.strip()

    def table(self, table: dict[str, Any], key: str) -> dict[str, Any]:
        value = self.require(table, key)
        if not isinstance(value, dict):
            self.fail(key, f"expected a [{key}] table, got {_kind(value)}")
        return value

    def strings(
        self, table: dict[str, Any], key: str, prefix: str, *, minimum: int
    ) -> tuple[str, ...]:
        where = f"{prefix}{key}"
        value = self.require(table, key, prefix)
        if not isinstance(value, list):
            self.fail(where, f"expected a list of text, got {_kind(value)}")
        if not value:
            self.fail(where, f"is empty (give at least {minimum})")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.fail(f"{where}[{i}]", f"expected text, got {_kind(item)}")
            if not item.strip():
                self.fail(f"{where}[{i}]", "is empty")
        if len(value) < minimum:
            self.fail(where, f"{len(value)} lines, need at least {minimum}")
        return tuple(item.strip() for item in value)


def _kind(value: Any) -> str:
    names = {bool: "true/false", int: "a number", float: "a number", str: "text"}
    names.update({list: "a list", dict: "a table"})
    return names.get(type(value), type(value).__name__)


def _quote(line: str, limit: int = 60) -> str:
    line = " ".join(line.split())
    return repr(line if len(line) <= limit else line[: limit - 1] + "…")


def _one_line(text: str) -> str:
    return " ".join(text.split())
