"""Benchmark `voicecoach score`: speed against real time and against bare faster-whisper.

    python scripts/bench_score.py [--minutes 3] [--model tiny.en]

Builds a two-speaker stereo role-play of at least ``--minutes`` with espeak-ng, then
measures (warm models, 2 cores):

- ``score``: the whole pipeline (decode, VAD, Whisper with word times, turns, classifier
  with evidence and suggestions) on the file, as real-time factor and × real time;
- ``bare_whisper``: faster-whisper alone (same model, beam 1, vad_filter, word timestamps)
  transcribing the same two channels, and the ratio score / bare;
- ``peak_rss_mb`` of a fresh process scoring the file (models loaded from disk);
- ``transcript_turns_per_s`` for a written transcript of 2,000 turns.

Targets (issue 3): >= 15x real time, ratio <= 1.3, RSS <= 700 MB, >= 100 turns/s.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.make_demo import SCRIPT  # noqa: E402
from voicecoach.roleplay import render, write_wav  # noqa: E402


def build_session(path: Path, minutes: float) -> float:
    lines = []
    while True:
        lines.extend(SCRIPT)
        audio, _ = render(lines)
        if audio.shape[1] / 16000 >= minutes * 60:
            break
    write_wav(path, audio)
    return audio.shape[1] / 16000


def bare_whisper(path: Path, model_name: str) -> float:
    from faster_whisper import WhisperModel

    from voicecoach.asr import resolve_model
    from voicecoach.audio.decode import read_channels

    model = WhisperModel(
        str(resolve_model(model_name).path), device="cpu", compute_type="int8", cpu_threads=2
    )
    channels = read_channels(path)
    t = time.perf_counter()
    for channel in channels:
        segments, _ = model.transcribe(
            channel,
            beam_size=1,
            vad_filter=True,
            word_timestamps=True,
            language="en",
            condition_on_previous_text=False,
        )
        list(segments)
    return time.perf_counter() - t


def ours(path: Path, model_name: str) -> tuple[float, int]:
    from voicecoach.score import ScoreOptions, score_path

    options = ScoreOptions(model=model_name)
    score_path(path, options)  # warm: load models once
    t = time.perf_counter()
    record = score_path(path, options)
    elapsed = time.perf_counter() - t
    assert record["error"] is None, record["error"]
    return elapsed, len(record["turns"])


def last_line_of_fresh_process(code: str) -> str:
    """Run ``code`` in a new Python process (models loaded from disk) and return the last
    line it prints."""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return out.stdout.strip().splitlines()[-1]


def fresh_process_rss(path: Path, model_name: str) -> float:
    code = (
        "import resource, sys; from voicecoach.cli import main; "
        f"rc = main(['score', {str(path)!r}, '--format', 'json', '--model', {model_name!r}, "
        "'--output', '/dev/null']); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    return int(last_line_of_fresh_process(code)) / 1024


def transcript_rate(tmp: Path) -> float:
    """Turns/s for a 2,000-turn written transcript, in a process of its own as the CLI
    would run it (no Whisper loaded: its OpenMP threads slow onnxruntime down by ~20 %)."""
    turns = []
    for i, line in enumerate(SCRIPT * 134):
        turns.append(
            {"speaker": line.speaker, "text": line.text, "start_s": i * 3.0, "end_s": i * 3.0 + 2.5}
        )
    path = tmp / "transcript.json"
    path.write_text(json.dumps({"turns": turns[:2000]}))
    code = (
        "import sys, time; from pathlib import Path; "
        "from voicecoach.score import ScoreOptions, score_path; "
        f"p = Path({str(path)!r}); score_path(p, ScoreOptions()); "
        "t = time.perf_counter(); score_path(p, ScoreOptions()); "
        "print(2000 / (time.perf_counter() - t))"
    )
    return float(last_line_of_fresh_process(code))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--model", default="tiny.en")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        path = tmp / "session.wav"
        duration = build_session(path, args.minutes)
        bare_s = bare_whisper(path, args.model)
        score_s, n_turns = ours(path, args.model)
        rss = fresh_process_rss(path, args.model)
        rate = transcript_rate(tmp)
    print(
        json.dumps(
            {
                "benchmark": "score",
                "model": args.model,
                "audio_s": round(duration, 1),
                "turns": n_turns,
                "score_s": round(score_s, 2),
                "score_x_realtime": round(duration / score_s, 1),
                "bare_whisper_s": round(bare_s, 2),
                "ratio_to_bare_whisper": round(score_s / bare_s, 3),
                "peak_rss_mb": round(rss, 1),
                "transcript_turns_per_s": round(rate, 1),
                "bench_process_rss_mb": round(
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
                ),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
