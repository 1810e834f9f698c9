"""`voicecoach classify [FILE|-]`: judge exchanges given as JSON lines."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from voicecoach.errors import InputError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "classify",
        help="judge trainee turns given as JSON lines",
        description=(
            'Read JSON lines with "trainee" and optional "peer", "gap_s", "overlap_s", '
            '"peer_complete" and "earlier" (the peer\'s turns before "peer", which help choose '
            "suggestions; other fields are kept) and write one JSON line per input line "
            "with labels, flags, strengths, evidence and suggestions."
        ),
    )
    p.add_argument("file", nargs="?", default="-", help="input file, or - for stdin (default)")
    p.add_argument("--model-dir", type=Path, help="a classifier directory (default: bundled)")
    p.add_argument(
        "--no-explain", action="store_true", help="skip evidence and suggestions (faster)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from voicecoach.classify.jsonl import classify_lines
    from voicecoach.classify.model import Classifier
    from voicecoach.cli import ExitCode

    if args.file == "-":
        source = sys.stdin
    else:
        path = Path(args.file)
        if not path.exists():
            raise InputError(f"{path}: no such file (give a JSON-lines file, or - for stdin)")
        if path.is_dir():
            raise InputError(f"{path}: is a directory (give a JSON-lines file, or - for stdin)")
        try:
            source = path.open(encoding="utf-8", errors="replace")
        except OSError as err:
            raise InputError(f"{path}: cannot read ({err.strerror})") from None
    classifier = Classifier.load(args.model_dir)
    interactive = source.isatty()
    outcome = classify_lines(
        classifier,
        source,
        sys.stdout,
        explain=not args.no_explain,
        batch_size=1 if interactive else 32,
    )
    if outcome.failed:
        print(
            f"voicecoach: {outcome.failed} of {outcome.ok + outcome.failed} lines failed "
            "(see the error objects in the output)",
            file=sys.stderr,
        )
        return ExitCode.FAILED
    return ExitCode.OK
