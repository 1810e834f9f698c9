"""`voicecoach classify`: JSON lines of exchanges in, one judgement line out per input line."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from voicecoach.classify.model import Classifier, Exchange
from voicecoach.classify.timing import utterance_complete
from voicecoach.types import Timing


class LineError(ValueError):
    """An input line that cannot be judged; the message names the problem."""


@dataclass
class Outcome:
    ok: int = 0
    failed: int = 0


def parse_line(text: str) -> tuple[dict[str, Any], Exchange]:
    """The record and the exchange it describes, or :class:`LineError`."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as err:
        raise LineError(f"not valid JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(record, dict):
        raise LineError('expected a JSON object with a "trainee" field')
    trainee = record.get("trainee")
    if not isinstance(trainee, str):
        raise LineError(
            'missing "trainee" text' if trainee is None else '"trainee" must be a string'
        )
    peer = record.get("peer")
    if peer is not None and not isinstance(peer, str):
        raise LineError('"peer" must be a string or null')
    timing = None
    if any(k in record for k in ("gap_s", "overlap_s", "peer_complete")):
        gap = _number(record, "gap_s", None)
        overlap = _number(record, "overlap_s", None)
        if gap is None and overlap is None:
            raise LineError('timing needs "gap_s" or "overlap_s" (seconds)')
        if overlap is None:
            overlap = max(0.0, -(gap or 0.0))
        if gap is None:
            gap = -overlap
        complete = record.get("peer_complete")
        if complete is None:
            complete = utterance_complete(peer or "")
        elif not isinstance(complete, bool):
            raise LineError('"peer_complete" must be true or false')
        timing = Timing(gap, overlap, complete)
    earlier = record.get("earlier", [])
    if not isinstance(earlier, list) or not all(isinstance(t, str) for t in earlier):
        raise LineError('"earlier" must be a list of the peer\'s earlier turns (strings)')
    return record, Exchange(trainee, peer, timing, tuple(earlier))


def _number(record: dict[str, Any], key: str, default: float | None) -> float | None:
    value = record.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise LineError(f'"{key}" must be a finite number of seconds')
    return float(value)


def classify_lines(
    classifier: Classifier,
    lines: Iterable[str],
    out: TextIO,
    *,
    explain: bool = True,
    batch_size: int = 32,
) -> Outcome:
    """Judge each non-blank line and write one output line for it, in input order."""
    outcome = Outcome()
    for batch in _batches(enumerate(lines, start=1), batch_size):
        parsed: list[tuple[int, dict[str, Any] | str, Exchange | None]] = []
        for number, line in batch:
            try:
                record, exchange = parse_line(line)
                parsed.append((number, record, exchange))
            except LineError as err:
                parsed.append((number, str(err), None))
        good = [x for _, _, x in parsed if x is not None]
        judgements = iter(classifier.classify_batch(good, explain=explain))
        for number, fields, item in parsed:
            if item is None or not isinstance(fields, dict):
                outcome.failed += 1
                row: dict[str, Any] = {"line": number, "error": f"line {number}: {fields}"}
            else:
                outcome.ok += 1
                row = {**fields, **next(judgements).to_dict()}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        out.flush()
    return outcome


def _batches(numbered: Iterable[tuple[int, str]], size: int) -> Iterator[list[tuple[int, str]]]:
    batch: list[tuple[int, str]] = []
    for number, line in numbered:
        if not line.strip():
            continue
        batch.append((number, line))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
