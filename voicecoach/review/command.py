"""`voicecoach review PATH` and `voicecoach progress [SESSIONS_DIR]`: reports a trainee reads.

``review`` prints a summary (scores as bars, each flag with its time, quote and a better
reply) and writes one self-contained HTML report. ``progress`` shows scores across sessions
(a sparkline per practice) and writes an HTML page with a trend chart and the most frequent
flags.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from voicecoach.errors import InputError

if TYPE_CHECKING:
    from rich.console import Console

    from voicecoach.review.progress import ProgressView
    from voicecoach.review.report import CohortEntry, ReportView, ReviewSource

BAR_WIDTH = 20


def add_parser(sub: argparse._SubParsersAction) -> None:
    review = sub.add_parser(
        "review",
        help="review a session: terminal summary and a self-contained HTML report",
        description=(
            "Review a practice session directory, an audio file (scored first) or a score "
            "JSON: prints scores and flags, and writes an HTML report with the waveform, "
            "the conversation, every flag's evidence and a better reply, and playback."
        ),
    )
    review.add_argument(
        "path", type=Path, metavar="PATH", help="session directory, audio file or score JSON"
    )
    review.add_argument(
        "--html",
        type=Path,
        metavar="OUT",
        help="where to write the report (default: report.html in a session directory, "
        "else <name>.report.html next to the input); for a score JSON of several files, "
        "a folder for one report each plus index.html (default: <name>.reports/)",
    )
    review.add_argument("--open", action="store_true", help="open the report in a web browser")
    review.set_defaults(func=run_review)

    progress = sub.add_parser(
        "progress",
        help="scores across practice sessions over time",
        description=(
            "Read every session.json under SESSIONS_DIR (default: your voicecoach sessions "
            "folder) and show each practice's score over time and the most frequent flags."
        ),
    )
    progress.add_argument(
        "sessions_dir",
        type=Path,
        nargs="?",
        metavar="SESSIONS_DIR",
        help="a folder of session directories (default: where practice saves them)",
    )
    progress.add_argument(
        "--html",
        type=Path,
        metavar="OUT",
        help="where to write the HTML page (default: progress.html in SESSIONS_DIR)",
    )
    progress.add_argument("--open", action="store_true", help="open the page in a web browser")
    progress.set_defaults(func=run_progress)


def default_report_path(source: ReviewSource) -> Path:
    """report.html inside a session directory, else ``<stem>.report.html`` beside the input."""
    if source.kind == "session":
        return source.path / "report.html"
    return source.path.with_name(f"{source.path.stem}.report.html")


def write_text(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise InputError(
            f"{path}: cannot write the report ({err.strerror or err}); choose another place "
            "with --html OUT"
        ) from None


def open_in_browser(path: Path) -> None:
    import webbrowser

    if not webbrowser.open(path.resolve().as_uri()):
        print(f"voicecoach: could not start a web browser; open {path} yourself", file=sys.stderr)


def _console() -> Console:
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False, soft_wrap=False)


def run_review(args: argparse.Namespace) -> int:
    from voicecoach.cli import ExitCode
    from voicecoach.review.report import load_sources, make_report, render_html

    sources = load_sources(args.path)
    if len(sources) > 1:
        return review_cohort(args, sources)
    source = sources[0]
    view = make_report(source)
    out = args.html or default_report_path(source)
    write_text(out, render_html(view))
    print_review(view, out, _console())
    for line in view.warnings:
        print(f"voicecoach: warning: {line}", file=sys.stderr)
    if args.open:
        open_in_browser(out)
    return ExitCode.FAILED if view.missing or view.error else ExitCode.OK


def report_name(k: int, file: object) -> str:
    """``NN-<audio stem>.html``: the k-th (0-based) report of a multi-file review."""
    stem = re.sub(r"[^\w.-]+", "_", Path(str(file or "")).stem).strip("._")[:60]
    return f"{k + 1:02d}-{stem or 'file'}.html"


def review_cohort(args: argparse.Namespace, sources: list[ReviewSource]) -> int:
    """A score JSON of several files: one report each and an index page, in one folder."""
    from voicecoach.cli import ExitCode
    from voicecoach.review.report import (
        cohort_entry,
        make_report,
        render_cohort_html,
        render_html,
    )

    path: Path = args.path
    out_dir: Path = args.html or path.with_name(f"{path.stem}.reports")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(
            f"{out_dir}: exists and is not a folder; a score JSON of {len(sources)} files gets "
            "a folder of reports (choose one with --html DIR)"
        )
    entries = []
    warnings: list[str] = []
    failed = False
    for k, source in enumerate(sources):
        view = make_report(source)
        name = report_name(k, source.record.get("file"))
        write_text(out_dir / name, render_html(view))
        entries.append(cohort_entry(view, str(source.record.get("file") or name), name))
        warnings.extend(view.warnings)
        failed = failed or bool(view.missing or view.error)
    index = out_dir / "index.html"
    title = f"{path.name}: {len(entries)} scored files"
    write_text(index, render_cohort_html(title, entries))
    print_cohort(title, entries, index, _console())
    for line in warnings:
        print(f"voicecoach: warning: {line}", file=sys.stderr)
    if args.open:
        open_in_browser(index)
    return ExitCode.FAILED if failed else ExitCode.OK


def print_cohort(title: str, entries: list[CohortEntry], index: Path, console: Console) -> None:
    """One line per scored file: length, flags, strengths and the overall score."""
    from rich.table import Table
    from rich.text import Text

    from voicecoach.review.report import clock

    console.print(Text(title, style="bold"))
    table = Table(show_header=True, box=None, pad_edge=False, padding=(0, 1))
    table.add_column("file", overflow="fold")
    table.add_column("length", justify="right", no_wrap=True)
    table.add_column("flags", justify="right", no_wrap=True)
    table.add_column("strengths", justify="right", no_wrap=True)
    table.add_column("overall", justify="right", no_wrap=True)
    for e in entries:
        overall = "failed" if e.error else ("–" if e.overall is None else str(e.overall))
        table.add_row(Text(e.file), clock(e.duration_s), str(e.flags), str(e.strengths), overall)
    console.print(table)
    console.print(f"Reports: {index}", soft_wrap=True, markup=False, highlight=False)


def bar(value: int | None, width: int = BAR_WIDTH) -> str:
    """A text bar for a 0-100 score (``░`` for unscored)."""
    if value is None:
        return "░" * width
    filled = round(width * max(0, min(100, value)) / 100)
    return "█" * filled + "░" * (width - filled)


def print_review(view: ReportView, out: Path, console: Console) -> None:
    """The terminal summary of a report."""
    from rich.table import Table
    from rich.text import Text

    from voicecoach.review.report import clock

    console.print(Text(view.title, style="bold"))
    trainee = sum(1 for t in view.turns if t.speaker == "trainee")
    console.print(
        f"{clock(view.duration_s)} long, {len(view.turns)} turns ({trainee} trainee), "
        f"{len(view.flags)} flags, {view.strengths_total} strengths"
    )
    table = Table(show_header=False, box=None, pad_edge=False, padding=(0, 1))
    table.add_column("practice", no_wrap=True)
    table.add_column("bar", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    for card in view.score_cards:
        value = "–" if card.value is None else str(card.value)
        style = "bold" if card.name == "overall" else ""
        table.add_row(Text(card.title, style=style), bar(card.value), value)
    console.print(table)
    if view.flags:
        console.print(Text(f"Flags ({len(view.flags)})", style="bold"))
        flags = Table.grid(padding=(0, 2))
        flags.add_column("when", justify="right", no_wrap=True)
        flags.add_column("what")
        for flag in view.flags:
            quote = flag.evidence or next(
                (t.text for t in view.turns if t.index == flag.turn_index), ""
            )
            what = Text.assemble(("⚠ " + flag.title, "bold"), f"  “{quote}”")
            if flag.suggestion:
                what.append(f"\ntry: {flag.suggestion}", style="green")
            flags.add_row(clock(flag.start_s), what)
        console.print(flags)
    strong = [t for t in view.turns if t.strengths]
    if strong:
        console.print(Text("Went well", style="bold"))
        good = Table.grid(padding=(0, 2))
        good.add_column("when", justify="right", no_wrap=True)
        good.add_column("what")
        for turn in strong:
            names = ", ".join(s.title for s in turn.strengths)
            good.add_row(
                clock(turn.start_s), Text.assemble(("✓ " + names, "bold"), f"  “{turn.text}”")
            )
        console.print(good)
    console.print(f"Report: {out}", soft_wrap=True, markup=False, highlight=False)


def run_progress(args: argparse.Namespace) -> int:
    from voicecoach.cli import ExitCode
    from voicecoach.paths import user_data_dir
    from voicecoach.review.progress import build_progress, find_sessions, render_progress_html

    root: Path = args.sessions_dir or user_data_dir() / "sessions"
    if not root.exists():
        raise InputError(
            f"{root}: no such directory (practice sessions are saved under "
            f"{user_data_dir() / 'sessions'}; or give a folder of session directories)"
        )
    if not root.is_dir():
        raise InputError(f"{root}: not a directory; give a folder of session directories")
    sessions, warnings = find_sessions(root)
    if not sessions:
        raise InputError(
            f"{root}: no scored sessions (no session.json in it or its sub-folders); practise "
            "first, or point at the folder that holds your sessions"
        )
    view = build_progress(sessions, root=root, warnings=warnings)
    out = args.html or root / "progress.html"
    write_text(out, render_progress_html(view))
    print_progress(view, out, _console())
    for line in warnings:
        print(f"voicecoach: warning: {line}", file=sys.stderr)
    if args.open:
        open_in_browser(out)
    return ExitCode.OK


def print_progress(view: ProgressView, out: Path, console: Console) -> None:
    """The terminal summary of progress across sessions."""
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    from voicecoach.review.progress import sparkline

    first, last = view.sessions[0], view.sessions[-1]
    console.print(
        Text(
            f"Progress over {len(view.sessions)} sessions "
            f"({first.when:%Y-%m-%d} to {last.when:%Y-%m-%d})",
            style="bold",
        )
    )
    table = Table(show_header=True, box=None, pad_edge=False, padding=(0, 1))
    table.add_column("practice", no_wrap=True)
    table.add_column("trend", no_wrap=True)
    table.add_column("first", justify="right")
    table.add_column("latest", justify="right")
    table.add_column("best", justify="right")
    for series in view.series:
        values = [v for v in series.values if v is not None]
        table.add_row(
            series.title,
            sparkline(series.values),
            str(values[0]) if values else "–",
            str(values[-1]) if values else "–",
            str(max(values)) if values else "–",
        )
    console.print(table)
    if view.top_flags:
        console.print(Text("Most frequent flags", style="bold"))
        for item in view.top_flags:
            console.print(
                f"  {item.count:>3}×  [bold]⚠ {escape(item.title)}[/bold] "
                f"(in {item.sessions} of {len(view.sessions)} sessions)"
            )
    if view.focus:
        console.print(f"[bold]Work on next:[/bold] {escape(view.focus)}")
    console.print(f"Progress page: {out}", soft_wrap=True, markup=False, highlight=False)
