"""The ``voicecoach`` command line.

Every sub-command lives in its own module with ``add_parser(subparsers)`` (which sets
``func``) and returns an :class:`ExitCode`. Errors the user can fix are one line on stderr;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence
from enum import IntEnum

from voicecoach import __version__
from voicecoach.errors import VoicecoachError


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # some input could not be processed; the rest was
    USAGE = 2  # bad arguments or unusable input as a whole
    INTERRUPTED = 130


#: Modules providing sub-commands, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "voicecoach.classify.command",
    "voicecoach.score",
    "voicecoach.peer.command",
    "voicecoach.doctor",
    "voicecoach.review.command",
    "voicecoach.practice_command",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voicecoach",
        description="Offline voice role-play trainer for Certified Peer Specialists.",
    )
    parser.add_argument("--version", action="version", version=f"voicecoach {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse already printed its one-line usage error
        return int(exit_.code or 0)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("voicecoach: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except VoicecoachError as err:
        if args.debug:
            traceback.print_exc()
        print(f"voicecoach: error: {err}", file=sys.stderr)
        return ExitCode.USAGE
    except BrokenPipeError:
        return ExitCode.OK
    except Exception as err:  # a bug: still one line unless --debug
        if args.debug:
            traceback.print_exc()
        else:
            print(
                f"voicecoach: internal error: {type(err).__name__}: {err} "
                "(run again with --debug for details)",
                file=sys.stderr,
            )
        return ExitCode.FAILED


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
