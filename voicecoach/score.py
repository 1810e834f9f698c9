"""`voicecoach score PATH...`: audio files, transcripts and sessions in; scored JSON out.

Each input becomes one FILE record (see :mod:`voicecoach.record`). A file that fails is
reported in its record's ``error`` and the rest go on.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TextIO

from voicecoach.errors import InputError, VoicecoachError

AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".m4a", ".ogg", ".opus", ".webm", ".aac", ".mp4"}
TRANSCRIPT_SUFFIXES = {".json"}


@dataclass(frozen=True)
class ScoreOptions:
    """How `voicecoach score` reads and judges its inputs."""

    #: Whisper model: "tiny.en" (bundled), "base" (optional extra) or a local directory.
    model: str = "tiny.en"
    #: Which stereo channel is which speaker, as (channel 0, channel 1).
    channels: tuple[str, str] = ("trainee", "peer")
    #: Scenario whose peer lines identify the peer's speech in mono recordings.
    scenario: str | None = None
    #: A classifier directory other than the bundled one.
    classifier_dir: str | None = None
    #: Add evidence and suggestions to flags.
    explain: bool = True
    #: Keep per-word times in the output.
    words: bool = True


# -- finding inputs -----------------------------------------------------------------------
def is_session_dir(path: Path) -> bool:
    return path.is_dir() and ((path / "session.json").is_file() or (path / "audio.wav").is_file())


def collect_inputs(specs: Sequence[str]) -> list[Path]:
    """Files to score, from paths, directories (walked) and glob patterns, in a stable order."""
    found: list[Path] = []
    for spec in specs:
        path = Path(spec)
        try:
            exists = path.exists()
        except PermissionError:
            raise InputError(
                f"{spec}: permission denied (a folder on the way is not readable)"
            ) from None
        if exists:
            matches = [path]
        elif glob.has_magic(spec):
            matches = [Path(p) for p in sorted(glob.glob(spec, recursive=True))]
            if not matches:
                raise InputError(f"{spec}: the pattern matches no file")
        else:
            raise InputError(f"{spec}: no such file or directory")
        for match in matches:
            if match.is_dir() and not is_session_dir(match):
                inside = sorted(_walk(match))
                if not inside:
                    raise InputError(
                        f"{match}: no audio files, transcripts (.json) or sessions in this "
                        "directory"
                    )
                found.extend(inside)
            else:
                found.append(match)
    unique: dict[str, Path] = {}
    for p in found:
        unique.setdefault(str(p.resolve()), p)
    return list(unique.values())


def _walk(root: Path) -> Iterator[Path]:
    """Audio files, transcripts and session directories below ``root``, in name order."""
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if is_session_dir(here):  # a session is scored whole, never file by file
            dirnames.clear()
            yield here
            continue
        dirnames.sort()
        for name in sorted(filenames):
            suffix = Path(name).suffix.lower()
            if suffix in AUDIO_SUFFIXES or suffix in TRANSCRIPT_SUFFIXES:
                yield here / name


# -- scoring one input --------------------------------------------------------------------
def score_path(path: Path, options: ScoreOptions) -> dict[str, Any]:
    """The FILE record for one input; failures become a record with ``error`` set."""
    from voicecoach.record import SessionRecord

    try:
        return _score(path, options).to_dict(words=options.words)
    except VoicecoachError as err:
        return SessionRecord(file=str(path), error=str(err)).to_dict()
    except PermissionError:
        message = f"{path}: permission denied (check the file's permissions)"
        return SessionRecord(file=str(path), error=message).to_dict()
    except OSError as err:
        message = f"{path}: cannot read ({err.strerror or err})"
        return SessionRecord(file=str(path), error=message).to_dict()
    except MemoryError:
        return SessionRecord(file=str(path), error=f"{path}: out of memory").to_dict()


def _score(path: Path, options: ScoreOptions):  # type: ignore[no-untyped-def]
    from voicecoach.classify.model import Classifier
    from voicecoach.pipeline import judge
    from voicecoach.record import SessionRecord

    classifier = Classifier.load(options.classifier_dir)
    if path.is_dir():
        from voicecoach.sessions import score_session_dir

        return score_session_dir(path, options)
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: permission denied (check the file's permissions)")
    if path.suffix.lower() in TRANSCRIPT_SUFFIXES:
        from voicecoach.transcript import load_transcript

        utterances = load_transcript(path)
        record = SessionRecord(
            file=str(path),
            duration_s=max((u.end_s for u in utterances if u.end_s is not None), default=None),
            models={"classifier": classifier.model_id},
            options={"input": "transcript", "explain": options.explain},
            turns=judge(utterances, classifier, explain=options.explain),
        )
        if not any(u.speaker == "trainee" for u in utterances):
            record.warnings.append(f"{path}: no trainee turns to judge")
        return record
    from voicecoach.audio_scoring import score_audio

    return score_audio(path, options, classifier)


# -- output -------------------------------------------------------------------------------
def format_text(record: dict[str, Any]) -> str:
    """A readable summary of one FILE record."""
    lines = [f"== {record['file']}"]
    if record.get("error"):
        lines.append(f"   error: {record['error']}")
        return "\n".join(lines)
    duration = record.get("duration_s")
    trainee = sum(1 for t in record["turns"] if t["speaker"] == "trainee")
    lines.append(
        f"   {len(record['turns'])} turns ({trainee} trainee)"
        + (f", {duration:.1f} s" if duration is not None else "")
    )
    scores = record["scores"]
    if scores.get("overall") is not None:
        lines.append(
            "   scores: "
            + "  ".join(f"{k.replace('_', ' ')} {v}" for k, v in scores.items() if v is not None)
        )
    for flag in record["flags"]:
        when = f"{flag['start_s']:6.1f}s" if flag.get("start_s") is not None else " " * 7
        lines.append(f'   {when}  {flag["label"]:<18} "{flag["evidence"]}"')
        if flag.get("suggestion"):
            lines.append(f"{'':30}try: {flag['suggestion']}")
    for warning in record.get("warnings", []):
        lines.append(f"   warning: {warning}")
    return "\n".join(lines)


class Progress:
    """Files, audio minutes and ETA on stderr; silent when stderr is not a terminal."""

    def __init__(self, paths: Sequence[Path], stream: TextIO, enabled: bool) -> None:
        self.enabled = enabled
        self.total_files = len(paths)
        self.done_files = 0
        self.durations = {str(p): _duration_hint(p) if enabled else 0.0 for p in paths}
        self.total_audio = sum(self.durations.values())
        self.done_audio = 0.0
        self.started = time.monotonic()
        self.stream = stream
        self.draw()

    def advance(self, path: Path) -> None:
        self.done_files += 1
        self.done_audio += self.durations.get(str(path), 0.0)
        self.draw()

    def draw(self) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.started
        share = (
            self.done_audio / self.total_audio
            if self.total_audio > 0
            else self.done_files / max(self.total_files, 1)
        )
        eta = f"{elapsed / share - elapsed:4.0f}s" if share > 0 else "   ?"
        width = 24
        bar = "#" * int(width * share) + "-" * (width - int(width * share))
        self.stream.write(
            f"\r[{bar}] {self.done_files}/{self.total_files} files  "
            f"{self.done_audio / 60:.1f}/{self.total_audio / 60:.1f} audio min  ETA {eta} "
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _duration_hint(path: Path) -> float:
    if path.suffix.lower() not in AUDIO_SUFFIXES:
        return 0.0
    try:
        from voicecoach.audio.decode import probe

        return float(probe(path).duration_s or 0.0)
    except Exception:  # the real error is reported when the file is scored
        return 0.0


def score_many(
    paths: Sequence[Path], options: ScoreOptions, jobs: int
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(input index, FILE record) as each input finishes."""
    if jobs <= 1 or len(paths) <= 1:
        for i, path in enumerate(paths):
            yield i, score_path(path, options)
        return
    ctx = get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        pending: dict[Future[dict[str, Any]], int] = {
            pool.submit(score_path, path, options): i for i, path in enumerate(paths)
        }
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                i = pending.pop(future)
                try:
                    yield i, future.result()
                except Exception as err:  # a worker died (e.g. out of memory)
                    from voicecoach.record import SessionRecord

                    yield i, SessionRecord(file=str(paths[i]), error=f"{paths[i]}: {err}").to_dict()


# -- command ------------------------------------------------------------------------------
def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        help="score audio files, transcripts and sessions into JSON",
        description=(
            "Score recordings (any format PyAV reads; stereo: channel 0 trainee, channel 1 "
            "peer), written transcripts (.json) and practice session directories. "
            "Directories are walked and glob patterns accepted."
        ),
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument(
        "--format",
        choices=("text", "json", "jsonl"),
        help="default: text on a terminal, json otherwise",
    )
    p.add_argument("--output", "-o", type=Path, help="write here instead of stdout")
    p.add_argument("--jobs", "-j", type=int, default=1, help="worker processes (default 1)")
    p.add_argument(
        "--model",
        default="tiny.en",
        help="whisper model: tiny.en (default), base, or a local model directory",
    )
    p.add_argument(
        "--channels",
        default="trainee,peer",
        help="speakers of stereo channels 0,1 (default trainee,peer)",
    )
    p.add_argument("--scenario", help="scenario whose peer lines identify peer speech in mono")
    p.add_argument("--classifier-dir", help="a classifier model directory (default: bundled)")
    p.add_argument("--no-words", action="store_true", help="leave per-word times out")
    p.add_argument("--no-explain", action="store_true", help="skip evidence and suggestions")
    p.set_defaults(func=run)


def parse_channels(value: str) -> tuple[str, str]:
    parts = tuple(x.strip() for x in value.split(","))
    if sorted(parts) != ["peer", "trainee"]:
        raise InputError(
            f"--channels {value!r}: give both speakers in channel order, e.g. peer,trainee"
        )
    return parts[0], parts[1]


def run(args: argparse.Namespace) -> int:
    from voicecoach.cli import ExitCode
    from voicecoach.record import document

    if args.jobs < 1:
        raise InputError("--jobs must be 1 or more")
    options = ScoreOptions(
        model=args.model,
        channels=parse_channels(args.channels),
        scenario=args.scenario,
        classifier_dir=args.classifier_dir,
        explain=not args.no_explain,
        words=not args.no_words,
    )
    if options.scenario:
        from voicecoach.peer.scenario import load_scenario

        load_scenario(options.scenario)  # a bad name fails now, once, not per file
    paths = collect_inputs(args.paths)
    fmt = args.format or ("text" if args.output is None and sys.stdout.isatty() else "json")
    out: TextIO
    if args.output:
        try:
            out = args.output.open("w", encoding="utf-8")
        except OSError as err:
            raise InputError(f"{args.output}: cannot write ({err.strerror})") from None
    else:
        out = sys.stdout
    progress = Progress(paths, sys.stderr, enabled=sys.stderr.isatty())
    records: list[dict[str, Any] | None] = [None] * len(paths)
    failed = 0
    try:
        for i, record in score_many(paths, options, args.jobs):
            records[i] = record
            failed += record.get("error") is not None
            progress.advance(paths[i])
            if fmt == "jsonl":
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                out.flush()
            elif fmt == "text":
                progress.close() if progress.enabled else None
                out.write(format_text(record) + "\n")
                out.flush()
    finally:
        progress.close()
        if fmt == "json":
            done = [r for r in records if r is not None]
            out.write(json.dumps(document(done), ensure_ascii=False, indent=2) + "\n")
        if out is not sys.stdout:
            out.close()
    for done_record in records:
        if done_record and done_record.get("error"):
            print(f"voicecoach: {done_record['error']}", file=sys.stderr)
    if failed:
        print(f"voicecoach: {failed} of {len(paths)} files failed", file=sys.stderr)
        return ExitCode.FAILED
    return ExitCode.OK


def options_dict(options: ScoreOptions) -> dict[str, Any]:
    return asdict(options)
