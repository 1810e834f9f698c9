"""Benchmark the live practice loop in real time, from files: prints JSON.

    python scripts/bench_live.py [--turns assets/demo/trainee] [--seed 1] [--out FILE]

Runs (1) a file-driven session with the bundled demo trainee (one file per turn, real-time
pacing, the peer's voice written to a WAV) and reports the voice-to-voice gap (trainee stops
speaking -> peer audio starts) p50/p95 with its breakdown (endpoint wait, ASR, classify,
peer, TTS), and (2) scripted barge-ins (the trainee talks over the peer's opening) and
reports how long the peer took to stop. Peak RSS is the whole process's high-water mark.

Targets: gap p50 <= 800 ms, p95 <= 1200 ms, barge-in stop <= 250 ms, RSS <= 600 MB.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voicecoach.practice import (  # noqa: E402
    LIVE_VAD,
    PracticeOptions,
    PracticeResult,
    PracticeSession,
    ScriptedTurnsSource,
    percentile,
)

TARGETS = {"gap_p50_ms": 800, "gap_p95_ms": 1200, "barge_in_ms": 250, "rss_mb": 600}
BARGE_IN_TEXT = "Sorry, can I ask where you are staying right now?"


def load_models(classifier_dir: str | None = None) -> dict[str, Any]:
    from voicecoach.peer import load_scenario
    from voicecoach.practice_command import load_models as load_practice_models

    t0 = time.perf_counter()
    scenario = load_scenario("rosa")
    models = load_practice_models(scenario, classifier_dir=classifier_dir)
    return {**models, "scenario": scenario, "load_s": round(time.perf_counter() - t0, 2)}


SPECULATION: dict[str, int] = {}


def run(
    models: dict[str, Any], work: Path, name: str, make_source: Any, seed: int, **opts: Any
) -> PracticeResult:
    from voicecoach.audio.sinks import WavFileSink
    from voicecoach.audio.sources import SessionClock
    from voicecoach.peer import Peer
    from voicecoach.sessions import SessionRecorder

    options = PracticeOptions(seed=seed, **opts)
    clock = SessionClock()
    recorder = SessionRecorder(work / name, clock)
    sink = WavFileSink(work / f"{name}-peer.wav", clock, on_played=recorder.add_played)
    session = PracticeSession(
        source=make_source(clock),
        sink=sink,
        recorder=recorder,
        clock=clock,
        peer=Peer(models["scenario"], seed=seed),
        voice=models["voice"],
        classifier=models["classifier"],
        transcriber=models["transcriber"],
        options=options,
    )
    result = session.run()
    for key, value in session.speculation.items():
        SPECULATION[key] = SPECULATION.get(key, 0) + value
    return result


def summarize_gaps(latencies: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "turns": len(latencies),
        "p50_ms": percentile([x["total_ms"] for x in latencies], 50),
        "p95_ms": percentile([x["total_ms"] for x in latencies], 95),
        "breakdown_p50_ms": {
            key: percentile([x[key] for x in latencies], 50)
            for key in ("endpoint_ms", "asr_ms", "classify_ms", "peer_ms", "tts_ms")
        },
        "speculative_turns": sum(bool(x.get("speculative")) for x in latencies),
        "per_turn": latencies,
    }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=Path, default=ROOT / "assets" / "demo" / "trainee")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--barge-ins", type=int, default=3, help="scripted barge-in sessions")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--classifier-dir", help="a classifier model directory (default: bundled)")
    parser.add_argument(
        "--speculative-silence-ms",
        type=int,
        default=LIVE_VAD.speculative_silence_ms,
        help="silence after which the turn is prepared speculatively",
    )
    parser.add_argument(
        "--no-speculative",
        action="store_true",
        help="transcribe, judge and synthesise only after the turn has ended (for comparison)",
    )
    args = parser.parse_args(argv)

    from voicecoach.audio.sources import WavFileSource
    from voicecoach.practice import turn_files
    from voicecoach.roleplay import espeak, write_wav

    models = load_models(args.classifier_dir)
    vad = dataclasses.replace(LIVE_VAD, speculative_silence_ms=args.speculative_silence_ms)
    report: dict[str, Any] = {
        "speculative": not args.no_speculative,
        "speculative_silence_ms": args.speculative_silence_ms,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_avg_at_start": list(os.getloadavg()),
        "models_load_s": models["load_s"],
    }
    with tempfile.TemporaryDirectory(prefix="voicecoach-bench-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        files = turn_files(args.turns)
        result = run(
            models,
            work,
            "demo",
            lambda clock: ScriptedTurnsSource(files, clock),
            args.seed,
            closing=False,
            speculative=not args.no_speculative,
            vad=vad,
        )
        report["session"] = {
            "trainee_turn_files": len(files),
            "wall_s": round(time.perf_counter() - t0, 1),
            "end_reason": result.reason,
            "peer_state": result.extra["peer_state"],
        }
        report["voice_to_voice_gap"] = summarize_gaps(result.latencies)
        report["voice_to_voice_gap"]["speculations"] = dict(SPECULATION)

        stops = []
        clip = espeak(BARGE_IN_TEXT, "en-us+m7", 170)
        for i in range(args.barge_ins):
            start = 1.6 + 0.4 * i
            track = np.zeros(round(7.0 * 16000), dtype=np.float32)
            a = round(start * 16000)
            track[a : a + clip.size] = clip[: track.size - a]
            path = work / f"barge{i}.wav"
            write_wav(path, track)
            r = run(
                models,
                work,
                f"barge{i}",
                lambda clock, p=path: WavFileSource(p, clock=clock),
                args.seed + i,
                closing=False,
            )
            stops.extend(b["stop_ms"] for b in r.barge_ins)
        report["barge_in"] = {
            "count": len(stops),
            "stop_ms": stops,
            "max_ms": max(stops) if stops else None,
            "p50_ms": percentile(stops, 50),
        }
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report["peak_rss_mb"] = round(rss_kb / 1024 if sys.platform != "darwin" else rss_kb / 2**20, 1)
    gap = report["voice_to_voice_gap"]
    report["targets"] = TARGETS
    report["meets"] = {
        "gap_p50": gap["p50_ms"] is not None and gap["p50_ms"] <= TARGETS["gap_p50_ms"],
        "gap_p95": gap["p95_ms"] is not None and gap["p95_ms"] <= TARGETS["gap_p95_ms"],
        "barge_in": bool(stops) and max(stops) <= TARGETS["barge_in_ms"],
        "rss": report["peak_rss_mb"] <= TARGETS["rss_mb"],
    }
    report["load_avg_at_end"] = list(os.getloadavg())
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
