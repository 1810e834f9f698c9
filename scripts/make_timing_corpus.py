"""Make the synthetic timing corpus for the interruption head.

Writes ``--out`` (default ``assets/corpus/timing.jsonl``): ``--n`` (default 3,000) rows of
``{"peer", "trainee", "gap_s", "overlap_s", "peer_complete", "backchannel", "interruption"}``,
all drawn from one ``random.Random(--seed)`` (default 13), so the file is reproducible.

Peer text is a real peer turn from the split corpus (``--split``: train, dev, test or all;
default train, so the dev/test peer turns stay unseen). About half the rows have
``peer_complete = false``: the turn is cut mid-sentence at a word boundary and often ends on a
connective ("and", "but", "so then I", "because") or a filler ("um", "you know"), with no
final punctuation. Some peer and trainee texts are rewritten the way a recogniser writes
them (lowercase, no punctuation).

Trainee text is a backchannel from ``BACKCHANNELS`` (half the rows, ``backchannel = true``) or
a substantive real trainee turn (the other half; turns that are themselves a backchannel,
such as "Okay.", are not used as substantive turns).

Timing, in seconds, relative to the end of the peer's speech:

* ``gap_s`` is when the trainee starts: positive is a pause, negative means the trainee started
  before the peer stopped. It comes from a mixture: long pauses 0.4-2.5 s (40 %), short pauses
  0-0.4 s (30 %), overlaps -2.0-0 s (30 %). About 15 % of rows are instead edge cases placed
  near the decision boundaries (overlap 0.1-0.3 s, gap 1.0-1.4 s on incomplete turns,
  gaps around 0, long overlapping backchannels).
* ``overlap_s`` is how long both speak at once: ``max(0, -gap_s)`` for most rows, but at most
  the trainee's own speaking time (a short "mm" said early overlaps only for its length),
  and for some incomplete turns with a pause the peer resumes and talks over the trainee,
  giving an overlap with ``gap_s > 0``.

Ground truth (applied to the stored, rounded values)::

    interruption = not backchannel and (overlap_s > 0.2 or (not peer_complete and gap_s < 1.2))

A backchannel never interrupts; speaking over the peer for more than 0.2 s does; starting
within 1.2 s of a pause in an unfinished thought does.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
SPLITS = ("train", "dev", "test")
OVERLAP_LIMIT = 0.2
GAP_LIMIT = 1.2

# Written by hand: what listeners say to keep the speaker going, in writers' and recognisers'
# spellings, with and without case and punctuation.
BACKCHANNELS: tuple[str, ...] = (
    "mm-hm",
    "Mm-hm.",
    "mhm",
    "Mhm.",
    "mm hmm",
    "Mm-hmm.",
    "mmhmm",
    "mm",
    "Mm.",
    "mmm",
    "hmm",
    "Hmm.",
    "uh-huh",
    "Uh-huh.",
    "uh huh",
    "yeah",
    "Yeah.",
    "yeah yeah",
    "Yeah, yeah.",
    "yeah yeah yeah",
    "yea",
    "yep",
    "Yep.",
    "yup",
    "Yup.",
    "right",
    "Right.",
    "right right",
    "Right, right.",
    "okay",
    "Okay.",
    "ok",
    "OK.",
    "okay okay",
    "Okay, yeah.",
    "i see",
    "I see.",
    "oh i see",
    "Oh, I see.",
    "sure",
    "Sure.",
    "wow",
    "Wow.",
    "Wow...",
    "oh wow",
    "oh no",
    "Oh no.",
    "oh no oh no",
    "Oh gosh.",
    "oh god",
    "oh",
    "Oh.",
    "Oh!",
    "ah",
    "Ahh.",
    "go on",
    "Go on.",
    "mm go on",
    "sure sure",
    "totally",
    "Totally.",
    "exactly",
    "Exactly.",
    "of course",
    "Of course.",
    "i hear you",
    "I hear you.",
    "gotcha",
    "Got it.",
    "uh huh yeah",
    "mm yeah",
    "Mm, yeah.",
    "yes",
    "Yes.",
    "really",
    "Really?",
    "no way",
    "Damn.",
    "jeez",
    "Huh.",
    "hm",
    "mm okay",
    "Oh, okay.",
    "ah okay",
    "Ah, right.",
    "oh right",
    "Oh yeah.",
    "right yeah",
    "yeah i see",
    "Mm-hm, yeah.",
    "uh-huh uh-huh",
    "mhm mhm",
    "Mm, right.",
    "yes yes",
    "i know",
    "I know.",
    "oh my god",
    "Oh my gosh.",
    "oh dear",
    "Goodness.",
    "ugh",
    "aw",
    "Aww.",
    "oh man",
    "geez",
    "Yikes.",
    "oof",
    "for sure",
    "true",
    "Fair.",
)

CONNECTIVES: tuple[str, ...] = (
    "and",
    "and",
    "but",
    "but",
    "so",
    "so then I",
    "because",
    "and then",
    "and I just",
    "or",
    "when",
    "which",
    "and like",
    "cause",
    "so I was",
    "but then he",
    "and she",
    "until",
    "and that's when",
)
FILLERS: tuple[str, ...] = ("um", "uh", "like", "you know", "I mean", "um and", "uh so", "and um")

DANGLING = frozenset(
    [
        "a",
        "an",
        "the",
        "to",
        "of",
        "my",
        "his",
        "her",
        "their",
        "our",
        "your",
        "in",
        "on",
        "at",
        "with",
        "for",
        "from",
    ]
)

_PUNCT = re.compile(r"[^\w\s']")
_SPACE = re.compile(r"\s+")
_END_PUNCT = re.compile(r"[\s.,;:!?\u2026\u2014-]+$")


def asr_style(text: str) -> str:
    """Lowercase, punctuation removed (apostrophes kept), whitespace collapsed."""
    return _SPACE.sub(" ", _PUNCT.sub(" ", text.lower())).strip()


def bc_key(text: str) -> str:
    """Normalised form used to recognise backchannels (hyphens count as spaces)."""
    return asr_style(text.replace("-", " "))


BACKCHANNEL_KEYS = frozenset(bc_key(b) for b in BACKCHANNELS)


def is_interruption(backchannel: bool, overlap_s: float, peer_complete: bool, gap_s: float) -> bool:
    """The ground-truth rule (see the module docstring)."""
    return not backchannel and (
        overlap_s > OVERLAP_LIMIT or (not peer_complete and gap_s < GAP_LIMIT)
    )


def load_turns(corpus: Path, split: str) -> tuple[list[str], list[str]]:
    """Distinct peer turns and distinct substantive trainee turns of the chosen split(s)."""
    names = SPLITS if split == "all" else (split,)
    peers: dict[str, None] = {}
    trainees: dict[str, None] = {}
    for name in names:
        path = corpus / f"{name}.jsonl"
        if not path.exists():
            raise FileNotFoundError(f"{path} not found (run scripts/split_corpus.py)")
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                rec = json.loads(line)
                if rec.get("peer"):
                    peers.setdefault(rec["peer"].strip(), None)
                text = rec["trainee"].strip()
                if bc_key(text) not in BACKCHANNEL_KEYS:
                    trainees.setdefault(text, None)
    return list(peers), list(trainees)


def truncate(peer: str, rng: random.Random) -> str:
    """The peer turn cut mid-sentence at a word boundary, often ending on a connective."""
    words = peer.split()
    if len(words) >= 3:
        cut = rng.randint(max(1, len(words) // 4), len(words) - 1)
        words = words[:cut]
    else:
        words = words[:1]
    words[-1] = _END_PUNCT.sub("", words[-1]) or words[-1]
    text = " ".join(words)
    r = rng.random()
    if words[-1].lower() in DANGLING:
        pass  # "...at the" is unfinished already
    elif r < 0.5:
        text = f"{text} {rng.choice(CONNECTIVES)}"
    elif r < 0.7:
        text = f"{text}, {rng.choice(FILLERS)}"
    if rng.random() < 0.15:
        text += rng.choice(("...", " -", ","))
    return text


def speaking_time(text: str, rng: random.Random) -> float:
    """A plausible duration of saying ``text`` (about 0.3 s a word)."""
    return max(0.25, len(text.split()) * rng.uniform(0.22, 0.38) + rng.uniform(0.05, 0.2))


def draw_timing(
    rng: random.Random, backchannel: bool, peer_complete: bool, trainee: str
) -> tuple[float, float, str]:
    """(gap_s, overlap_s, kind) for one row."""
    kind: str
    if rng.random() < 0.15:
        edges = ["edge_overlap", "edge_gap", "edge_zero"]
        kind = rng.choice([*edges, "edge_bc_overlap"] if backchannel else edges)
        if kind == "edge_overlap":
            gap = -rng.uniform(0.1, 0.3)
        elif kind == "edge_gap":
            gap = rng.uniform(1.0, 1.4)
        elif kind == "edge_zero":
            gap = rng.uniform(-0.08, 0.08)
        else:
            gap = -rng.uniform(0.4, 1.8)
    else:
        r = rng.random()
        if r < 0.4:
            kind, gap = "long_pause", rng.uniform(0.4, 2.5)
        elif r < 0.7:
            kind, gap = "short_pause", rng.uniform(0.0, 0.4)
        else:
            kind, gap = "overlap", -rng.uniform(0.0, 2.0)
    overlap = max(0.0, -gap)
    if overlap > 0 and kind != "edge_overlap":
        overlap = min(overlap, speaking_time(trainee, rng))
    elif gap > 0 and not peer_complete and rng.random() < 0.1:
        overlap = rng.uniform(0.05, 1.5)  # the peer resumes and talks over the trainee
        kind = "peer_resumes"
    return round(gap, 3), round(overlap, 3), kind


def vary_backchannel(text: str, rng: random.Random) -> str:
    """Small spelling variation: sometimes lowercased and stripped, sometimes capitalised."""
    r = rng.random()
    if r < 0.25:
        return asr_style(text)
    if r < 0.35:
        return text[:1].upper() + text[1:]
    return text


def make_rows(
    peers: list[str], trainees: list[str], n: int, seed: int
) -> tuple[list[dict[str, Any]], Counter[str]]:
    """``n`` timing rows and a count of how each row's timing was drawn."""
    if not peers or not trainees:
        raise ValueError("need at least one peer turn and one substantive trainee turn")
    rng = random.Random(seed)
    kinds: Counter[str] = Counter()
    rows: list[dict[str, Any]] = []
    flags = [True] * (n // 2) + [False] * (n - n // 2)
    rng.shuffle(flags)
    for backchannel in flags:
        peer_complete = rng.random() < 0.5
        peer = rng.choice(peers)
        if not peer_complete:
            peer = truncate(peer, rng)
        elif rng.random() < 0.3:
            peer = asr_style(peer)
        if not peer_complete and rng.random() < 0.3:
            peer = asr_style(peer)
        if backchannel:
            trainee = vary_backchannel(rng.choice(BACKCHANNELS), rng)
        else:
            trainee = rng.choice(trainees)
            if rng.random() < 0.3:
                trainee = asr_style(trainee)
        gap, overlap, kind = draw_timing(rng, backchannel, peer_complete, trainee)
        kinds[kind] += 1
        rows.append(
            {
                "peer": peer,
                "trainee": trainee,
                "gap_s": gap,
                "overlap_s": overlap,
                "peer_complete": peer_complete,
                "backchannel": backchannel,
                "interruption": is_interruption(backchannel, overlap, peer_complete, gap),
            }
        )
    return rows, kinds


def summarise(rows: list[dict[str, Any]], kinds: Counter[str]) -> dict[str, Any]:
    """Counts of the generated rows."""
    n = len(rows)

    def count(key: str) -> int:
        return sum(1 for r in rows if r[key])

    substantive = [r for r in rows if not r["backchannel"]]
    return {
        "n": n,
        "backchannel": count("backchannel"),
        "peer_complete": count("peer_complete"),
        "interruption": count("interruption"),
        "interruption_share_of_substantive": round(
            sum(r["interruption"] for r in substantive) / len(substantive), 3
        )
        if substantive
        else 0.0,
        "overlap_gt_0_2": sum(1 for r in rows if r["overlap_s"] > OVERLAP_LIMIT),
        "timing_kinds": dict(sorted(kinds.items())),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=PROJECT_DIR / "assets" / "corpus")
    parser.add_argument("--split", choices=(*SPLITS, "all"), default="train")
    parser.add_argument("--out", type=Path, help="default CORPUS/timing.jsonl")
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    try:
        peers, trainees = load_turns(args.corpus, args.split)
        rows, kinds = make_rows(peers, trainees, args.n, args.seed)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = args.out or args.corpus / "timing.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    summary = summarise(rows, kinds)
    summary["source_split"] = args.split
    summary["peer_turns"] = len(peers)
    summary["trainee_turns"] = len(trainees)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
