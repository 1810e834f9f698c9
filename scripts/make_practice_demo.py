"""Build assets/demo/trainee/: a bundled trainee for a file-driven practice session with Rosa.

    python scripts/make_practice_demo.py [--out assets/demo/trainee]

Writes one 16 kHz mono WAV per trainee turn (``01.wav``, ``02.wav``, ...) spoken by espeak-ng
in a voice no persona uses, and ``README.md`` saying what each file is meant to show.
``voicecoach practice --input-audio assets/demo/trainee`` plays them one per turn, each after
the peer has finished speaking plus a natural gap.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voicecoach.roleplay import espeak, write_wav  # noqa: E402

#: The trainee's voice: American English, male variant 7 (no persona uses en-us+m7).
TRAINEE_VOICE = "en-us+m7"
TRAINEE_RATE = 160
#: Silence around each turn so the endpointer sees a clean start and end.
LEAD_S = 0.15
TAIL_S = 0.3


@dataclass(frozen=True)
class DemoTurn:
    """One trainee turn of the demo and what it is meant to show."""

    text: str
    shows: str


TURNS: tuple[DemoTurn, ...] = (
    DemoTurn(
        "Hi Rosa, thank you for coming in. It sounds like a lot has been going on. "
        "What has been the hardest part for you?",
        "a good opening: welcome, reflection and an open question",
    ),
    DemoTurn(
        "That sounds exhausting. It makes sense that you would feel worn out after everything.",
        "validation",
    ),
    DemoTurn(
        "Okay. Have you filled out the insurance forms yet?",
        "a missed validation: jumps to logistics and ignores what Rosa felt",
    ),
    DemoTurn(
        "At least you got out okay, right? Things could be worse.",
        "dismissive: silver-lining too soon; Rosa should withdraw or go quiet",
    ),
    DemoTurn(
        "I'm sorry, that came out wrong. You lost your home, and it's okay to feel sad about that.",
        "repair: validation after the dismissal",
    ),
    DemoTurn(
        "You get to decide what we talk about. What feels right to you today?",
        "empowerment and an open question",
    ),
    DemoTurn(
        "It makes sense that you would feel that way. Thank you for trusting me with it.",
        "validation",
    ),
)


def build(out: Path) -> list[Path]:
    """Write every turn's WAV and the README into ``out``; returns the WAV paths."""
    import numpy as np

    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.wav"):
        old.unlink()
    paths = []
    lead = np.zeros(round(LEAD_S * 16000), dtype=np.float32)
    tail = np.zeros(round(TAIL_S * 16000), dtype=np.float32)
    for i, turn in enumerate(TURNS, start=1):
        speech = espeak(turn.text, TRAINEE_VOICE, TRAINEE_RATE)
        path = out / f"{i:02d}.wav"
        write_wav(path, np.concatenate([lead, speech, tail]))
        paths.append(path)
    rows = "\n".join(
        f"| `{p.name}` | {t.text} | {t.shows} |" for p, t in zip(paths, TURNS, strict=True)
    )
    (out / "README.md").write_text(
        "# Demo trainee for `voicecoach practice`\n\n"
        "One 16 kHz mono WAV per trainee turn, spoken by espeak-ng "
        f"(`{TRAINEE_VOICE}`, rate {TRAINEE_RATE}; no persona uses this voice), for a "
        "practice session with the persona `rosa` (house-fire survivor). Made by "
        "`python scripts/make_practice_demo.py`.\n\n"
        "```\nvoicecoach practice --scenario rosa --input-audio assets/demo/trainee "
        "--output-audio out/peer.wav --session-dir out/demo-session --seed 1\n```\n\n"
        "plays them in name order, each after the peer has finished speaking plus a natural "
        "gap (0.8 s, `--turn-gap`).\n\n"
        "| file | the trainee says | meant to show |\n|---|---|---|\n" + rows + "\n",
        encoding="utf-8",
    )
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "demo" / "trainee")
    args = parser.parse_args(argv)
    for path in build(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
