"""Written transcripts: ``{"turns": [{"speaker", "text", "start_s"?, "end_s"?}]}``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from voicecoach.errors import InputError
from voicecoach.types import SPEAKERS, Utterance


def load_transcript(path: Path) -> list[Utterance]:
    """The transcript's turns, one utterance each, in file order; InputError when malformed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file (expected a JSON transcript)") from None
    except json.JSONDecodeError as err:
        raise InputError(
            f"{path}: not valid JSON ({err.msg} at line {err.lineno}, column {err.colno}); "
            'a transcript is {"turns": [{"speaker": "peer"|"trainee", "text": "..."}]}'
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("turns"), list):
        raise InputError(
            f'{path}: a transcript needs a "turns" list '
            '({"turns": [{"speaker": "peer"|"trainee", "text": "..."}]})'
        )
    return [_turn(path, n, t) for n, t in enumerate(data["turns"], start=1)]


def _turn(path: Path, n: int, t: Any) -> Utterance:
    where = f"{path}: turn {n}"
    if not isinstance(t, dict):
        raise InputError(f"{where}: expected an object with speaker and text")
    speaker = t.get("speaker")
    if speaker not in SPEAKERS:
        raise InputError(f'{where}: "speaker" must be "peer" or "trainee", not {speaker!r}')
    text = t.get("text")
    if not isinstance(text, str):
        raise InputError(f'{where}: "text" must be a string')
    times = []
    for key in ("start_s", "end_s"):
        value = t.get(key)
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise InputError(f'{where}: "{key}" must be a number of seconds >= 0')
        times.append(None if value is None else float(value))
    start, end = times
    if start is not None and end is not None and end < start:
        raise InputError(f'{where}: "end_s" ({end}) is before "start_s" ({start})')
    return Utterance(speaker, " ".join(text.split()), start, end)
