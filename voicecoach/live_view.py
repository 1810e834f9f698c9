"""What the trainee sees during `voicecoach practice`.

:class:`RichView` (a terminal): the live transcript of both sides, every flag the moment it
is raised with a short why and, with hints on, a better reply to try, and a trust indicator.
``q`` or Ctrl-C ends and saves the session, ``h`` toggles hints.

:class:`PlainView` (stdout is not a terminal: tests, pipes, logs): one plain line per event
and no keyboard reading at all, so it never waits for a key.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections import deque
from typing import Any, TextIO


def _bar(value: float, width: int = 20) -> str:
    filled = max(0, min(width, round(value * width)))
    return "█" * filled + "░" * (width - filled)


class PlainView:
    """One line per event on ``out``; never reads the keyboard."""

    def __init__(self, *, hints: bool = True, out: TextIO | None = None) -> None:
        self.hints = hints
        self.out = out or sys.stdout
        self._quit = threading.Event()

    def start(self) -> None:
        """Nothing to set up for plain output."""

    def stop(self) -> None:
        """Nothing to tear down for plain output."""

    def request_quit(self) -> None:
        """End the session at the next block (used by signal handlers and tests)."""
        self._quit.set()

    def quit_requested(self) -> bool:
        return self._quit.is_set()

    def show(self, kind: str, fields: dict[str, Any]) -> None:
        """Print the event as one line (events that add nothing new print nothing)."""
        line = format_event(kind, fields, hints=self.hints)
        if line is None:
            return
        # a closed pipe must not end the session
        with contextlib.suppress(BrokenPipeError, ValueError):
            print(line, file=self.out, flush=True)


def format_event(kind: str, f: dict[str, Any], *, hints: bool = True) -> str | None:
    """The plain-text line for one event, or None for events shown another way."""
    if kind == "session_start":
        return f"session: {f.get('title') or f.get('scenario')} (seed {f.get('seed')})"
    if kind == "peer_speaking":
        return f"peer: {f.get('text', '')}"
    if kind == "peer_line":
        if f.get("stopped_at_s") is not None:
            return f"peer: (stopped at {f['stopped_at_s']:.1f} s after: {f.get('text', '')!r})"
        return None
    if kind == "trainee_turn":
        note = " (backchannel)" if f.get("backchannel") else ""
        return f"you: {f.get('text', '')}{note}"
    if kind == "flag":
        text = f"flag: {f.get('label')}"
        if f.get("why"):
            text += f" — {f['why']}"
        if f.get("evidence"):
            text += f' (you said: "{f["evidence"]}")'
        if hints and f.get("suggestion"):
            text += f' try: "{f["suggestion"]}"'
        return text
    if kind == "peer_state":
        return (
            f"peer: trust {float(f.get('trust', 0)):.2f}, distress "
            f"{float(f.get('distress', 0)):.2f} ({f.get('reaction')})"
        )
    if kind == "latency":
        parts = ", ".join(
            f"{k.removesuffix('_ms')} {float(f[k]):.0f}"
            for k in ("endpoint_ms", "asr_ms", "classify_ms", "peer_ms", "tts_ms")
            if f.get(k) is not None
        )
        return f"latency: {float(f.get('total_ms', 0)):.0f} ms voice to voice ({parts})"
    if kind == "barge_in":
        return f"barge-in: the peer stopped {float(f.get('stop_ms', 0)):.0f} ms after you spoke"
    if kind == "session_end":
        return f"session ended: {f.get('reason')}"
    return None


class RichView:
    """A live terminal screen (rich): transcript, flags with why and hints, trust bar."""

    def __init__(self, *, title: str, hints: bool = True, console: Any = None) -> None:
        from rich.console import Console

        self.title = title
        self.hints = hints
        self.console = console or Console()
        self._lines: deque[tuple[str, str]] = deque(maxlen=14)
        self._flags: deque[dict[str, Any]] = deque(maxlen=4)
        self._trust: float | None = None
        self._distress: float | None = None
        self._status = "the peer is about to speak"
        self._quit = threading.Event()
        self._lock = threading.Lock()
        self._live: Any = None
        self._keys: _KeyReader | None = None

    def start(self) -> None:
        """Show the screen and start reading keys (q ends, h toggles hints)."""
        from rich.live import Live

        self._live = Live(
            get_renderable=self._render,
            console=self.console,
            refresh_per_second=8,
            transient=False,
        )
        self._live.start()
        self._keys = _KeyReader(self._on_key)
        self._keys.start()

    def stop(self) -> None:
        """Stop reading keys and leave the last screen in place."""
        if self._keys is not None:
            self._keys.stop()
            self._keys = None
        if self._live is not None:
            self._live.stop()
            self._live = None

    def request_quit(self) -> None:
        self._quit.set()

    def quit_requested(self) -> bool:
        return self._quit.is_set()

    def _on_key(self, key: str) -> None:
        if key in ("q", "Q", "\x03"):
            self._quit.set()
            self._status = "ending and saving..."
        elif key in ("h", "H"):
            self.hints = not self.hints

    def show(self, kind: str, fields: dict[str, Any]) -> None:
        """Update the screen with one event."""
        with self._lock:
            if kind == "peer_speaking":
                self._lines.append(("peer", str(fields.get("text", ""))))
                self._status = "the peer is speaking (talk to interrupt)"
            elif kind == "trainee_speaking":
                self._status = "listening..."
            elif kind == "trainee_turn":
                note = "  (backchannel)" if fields.get("backchannel") else ""
                self._lines.append(("you", str(fields.get("text", "")) + note))
                self._status = "thinking..."
            elif kind == "peer_line" and fields.get("stopped_at_s") is not None:
                self._lines.append(("note", "(the peer stopped: you started talking)"))
            elif kind == "flag":
                self._flags.append(dict(fields))
            elif kind == "peer_state":
                self._trust = float(fields.get("trust", 0.0))
                self._distress = float(fields.get("distress", 0.0))
                if fields.get("ended"):
                    self._status = "the peer has ended the conversation"
            elif kind == "session_end":
                self._status = f"session ended ({fields.get('reason')}); saved"

    def _render(self) -> Any:
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        with self._lock:
            header = Text(self.title, style="bold")
            if self._trust is not None:
                header.append(f"\ntrust    {_bar(self._trust)} {self._trust:.2f}", style="green")
                header.append(
                    f"\ndistress {_bar(self._distress or 0.0)} {self._distress or 0.0:.2f}",
                    style="red",
                )
            header.append(
                f"\n{self._status}    [q] end and save   [h] hints {'on' if self.hints else 'off'}",
                style="dim",
            )
            talk = Table.grid(padding=(0, 1))
            talk.add_column(style="bold", no_wrap=True)
            talk.add_column()
            for who, text in self._lines:
                style = {"peer": "cyan", "you": "yellow", "note": "dim"}[who]
                talk.add_row(Text(who if who != "note" else "", style=style), Text(text))
            flags = Text()
            for f in self._flags:
                flags.append(f"⚑ {f.get('label')}", style="bold red")
                if f.get("why"):
                    flags.append(f" — {f['why']}")
                if f.get("evidence"):
                    flags.append(f'  you said: "{f["evidence"]}"', style="italic")
                if self.hints and f.get("suggestion"):
                    flags.append(f'\n  try: "{f["suggestion"]}"', style="green")
                flags.append("\n")
            parts: list[Any] = [Panel(header), Panel(talk, title="conversation")]
            if self._flags:
                parts.append(Panel(flags, title="flags"))
            return Group(*parts)


class _KeyReader:
    """Reads single keys from the terminal on a background thread (no Enter needed)."""

    def __init__(self, on_key: Any) -> None:
        self.on_key = on_key
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="voicecoach-keys", daemon=True)
        self._saved: Any = None

    def start(self) -> None:
        if not sys.stdin or not sys.stdin.isatty():
            return
        if os.name != "nt":
            import termios
            import tty

            fd = sys.stdin.fileno()
            self._saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=0.5)
        if self._saved is not None:
            import termios

            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self._saved)
            self._saved = None

    def _run(self) -> None:
        if os.name == "nt":
            import msvcrt

            while not self._stop.wait(0.05):
                while msvcrt.kbhit():  # type: ignore[attr-defined]
                    self.on_key(msvcrt.getwch())  # type: ignore[attr-defined]
            return
        import select

        fd = sys.stdin.fileno()
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                data = os.read(fd, 1)
                if not data:
                    return
                self.on_key(data.decode(errors="ignore"))


def make_view(*, title: str, hints: bool, out: TextIO | None = None) -> PlainView | RichView:
    """A :class:`RichView` when ``out`` (default stdout) is a terminal, else a
    :class:`PlainView`."""
    stream = out or sys.stdout
    if stream.isatty():
        from rich.console import Console

        return RichView(title=title, hints=hints, console=Console(file=stream))
    return PlainView(hints=hints, out=stream)


__all__ = ["PlainView", "RichView", "format_event", "make_view"]
