"""`voicecoach scenarios`: list the bundled personas, or check persona files."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
from pathlib import Path
from typing import TextIO

from voicecoach.peer.scenario import Scenario, ScenarioError, list_scenarios, load_scenario


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scenarios",
        help="list the personas the peer can play",
        description=(
            "List the bundled personas (name, title, summary), or check persona files with "
            "--check before using them (see docs/peer.md for the file format)."
        ),
    )
    p.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text: a table (default); json: a list with name, title, summary, voice, limits",
    )
    p.add_argument(
        "--check",
        metavar="FILE",
        type=Path,
        nargs="+",
        action="extend",
        help="check persona .toml files instead of listing them",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from voicecoach.cli import ExitCode

    if args.check:
        failed = 0
        for path in args.check:
            try:
                scenario = load_scenario(path)
            except ScenarioError as err:
                print(f"voicecoach: error: {err}", file=sys.stderr)
                failed += 1
                continue
            count = sum(len(lines) for lines in scenario.lines.values())
            print(f"{path}: ok ({scenario.name}, {count} lines)")
        if not failed:
            return ExitCode.OK
        return ExitCode.USAGE if failed == len(args.check) else ExitCode.FAILED
    scenarios = list_scenarios()
    if args.format == "json":
        json.dump([s.to_dict() for s in scenarios], sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        write_table(scenarios, sys.stdout)
    return ExitCode.OK


def write_table(scenarios: list[Scenario], out: TextIO, width: int | None = None) -> None:
    """Write name, title and summary as a plain-text table, wrapping the summary."""
    width = width or shutil.get_terminal_size((100, 24)).columns
    rows = [("NAME", "TITLE", "SUMMARY")] + [(s.name, s.title, s.summary) for s in scenarios]
    name_w = max(len(r[0]) for r in rows)
    title_w = min(max(len(r[1]) for r in rows), 48)
    summary_w = max(width - name_w - title_w - 4, 30)
    for name, title, summary in rows:
        titles = textwrap.wrap(title, title_w) or [""]
        summaries = textwrap.wrap(summary, summary_w) or [""]
        for i in range(max(len(titles), len(summaries))):
            cells = (
                name if i == 0 else "",
                titles[i] if i < len(titles) else "",
                summaries[i] if i < len(summaries) else "",
            )
            out.write(f"{cells[0]:<{name_w}}  {cells[1]:<{title_w}}  {cells[2]}".rstrip() + "\n")
