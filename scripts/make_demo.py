"""Build assets/demo/: a stereo role-play spoken by espeak-ng, with its ground truth.

    python scripts/make_demo.py [--out assets/demo]

Writes ``roleplay.wav`` (16 kHz stereo: channel 0 trainee, channel 1 peer),
``roleplay.truth.json`` (every line with its exact times and what it is meant to show) and
``roleplay.transcript.json`` (the same conversation as a written transcript). The session
holds good replies, a backchannel, a missed validation, an interruption and a dismissal.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voicecoach.roleplay import Line, render, write_wav  # noqa: E402

PEER = "en-us-nyc+f3"
TRAINEE = "en-us+m3"

SCRIPT = [
    Line(
        "peer",
        "Hi. My sister said I should talk to somebody. I lost my apartment in a fire last month.",
        0.0,
        PEER,
        158,
    ),
    Line(
        "trainee",
        "Thank you for coming in. Losing your home like that is a lot. What has "
        "this month been like for you?",
        0.8,
        TRAINEE,
        165,
        ("reflection", "open_question"),
    ),
    Line(
        "peer",
        "Honestly, I can't sleep. Every time I close my eyes I smell the smoke, and I "
        "keep thinking about my mother's photos, all of it just gone.",
        0.9,
        PEER,
        158,
    ),
    Line("trainee", "Mm-hm.", -3.2, TRAINEE, 165, ("backchannel",)),
    Line(
        "trainee",
        "Have you tried melatonin? It works great for me.",
        0.9,
        TRAINEE,
        165,
        ("missed_validation",),
    ),
    Line(
        "peer",
        "I guess. The thing is, the fire started in my kitchen, and I keep thinking "
        "that it was my fault, and then at night I just",
        0.9,
        PEER,
        158,
    ),
    Line(
        "trainee",
        "At least you still have your sister's place to stay.",
        -0.5,
        TRAINEE,
        165,
        ("interruption", "dismissive"),
    ),
    Line("peer", "I was still talking.", 0.4, PEER, 158),
    Line(
        "trainee",
        "You're right, I'm sorry I cut you off. Please go on.",
        0.8,
        TRAINEE,
        165,
        ("empowerment",),
    ),
    Line("peer", "I just feel like it's my fault. Like I did this to myself.", 0.9, PEER, 158),
    Line(
        "trainee",
        "It makes sense that you'd feel guilty. Anyone would, after a fire like "
        "that. And we only go as far into it as you want.",
        1.0,
        TRAINEE,
        165,
        ("validation", "empowerment"),
    ),
    Line("peer", "Thank you. Nobody has said that to me yet.", 1.0, PEER, 158),
    Line(
        "trainee",
        "What helps you get through the nights right now?",
        0.9,
        TRAINEE,
        165,
        ("open_question",),
    ),
    Line("peer", "My sister's dog sleeps next to me. That helps a little.", 0.9, PEER, 158),
    Line(
        "trainee",
        "So having her close gives you a bit of comfort at night.",
        0.9,
        TRAINEE,
        165,
        ("reflection",),
    ),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "assets" / "demo")
    args = ap.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    audio, timeline = render(SCRIPT)
    write_wav(out / "roleplay.wav", audio)
    (out / "roleplay.truth.json").write_text(
        json.dumps({"duration_s": round(audio.shape[1] / 16000, 3), "lines": timeline}, indent=2)
        + "\n"
    )
    transcript = {
        "turns": [
            {k: line[k] for k in ("speaker", "text", "start_s", "end_s")} for line in timeline
        ]
    }
    (out / "roleplay.transcript.json").write_text(json.dumps(transcript, indent=2) + "\n")
    print(json.dumps({"wav": str(out / "roleplay.wav"), "duration_s": audio.shape[1] / 16000}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
