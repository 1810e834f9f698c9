"""Find near-duplicate exchanges that straddle the train/dev/test splits (and the probe set).

Texts are normalised (lowercase, punctuation stripped, whitespace collapsed) and turned into
sets of character 4-grams; two texts are near duplicates when the Jaccard similarity of their
sets is at least ``--threshold`` (default 0.8). Two views are compared for every pair of
splits: the trainee turn alone, and peer + trainee together. Trainee turns shorter than
``--min-chars`` normalised characters (default 12: "okay", "mm-hm", "oh no, why") are left
out of the trainee-only view, since such stock replies recur legitimately under different
peer turns; they still take part in the peer + trainee view.

The search is exact and fast: an inverted index over the rarest grams of each set (prefix
filtering, as in the AllPairs algorithm) yields the only candidates that can reach the
threshold, and only those are scored. ``near_duplicates(items_a, items_b, threshold)`` is the
importable core.

Prints a JSON report; with ``--strict`` the exit status is 1 when any cross-split pair is
found.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
SPLITS = ("train", "dev", "test")
#: Held-out sets outside the split, compared like a split: name -> path under the corpus.
PROBES = {"probe": "probe/ood.jsonl"}
N = 4

_PUNCT = re.compile(r"[^\w\s]")
_SPACE = re.compile(r"\s+")


def normalise(text: str | None) -> str:
    """Lowercase, punctuation stripped, whitespace collapsed ("" for None)."""
    if not text:
        return ""
    return _SPACE.sub(" ", _PUNCT.sub(" ", text.lower())).strip()


def char_ngrams(text: str, n: int = N) -> frozenset[str]:
    """Character n-grams of the normalised text (the whole text when shorter than n)."""
    norm = normalise(text)
    if len(norm) <= n:
        return frozenset([norm]) if norm else frozenset()
    return frozenset(norm[i : i + n] for i in range(len(norm) - n + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|a & b| / |a | b| (0 for two empty sets)."""
    if not a and not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def _prefix_len(size: int, threshold: float) -> int:
    """How many of a set's rarest tokens must be indexed so no pair >= threshold is missed."""
    return size - math.ceil(threshold * size - 1e-9) + 1


def near_duplicates(
    items_a: Sequence[str], items_b: Sequence[str], threshold: float = 0.8
) -> list[tuple[int, int, float]]:
    """All (i, j, jaccard) with jaccard(4-grams of a[i], 4-grams of b[j]) >= threshold.

    Items are texts; empty texts never match. Sorted by similarity, highest first.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError("threshold must be in (0, 1]")
    sets_a = [char_ngrams(t) for t in items_a]
    sets_b = [char_ngrams(t) for t in items_b]
    freq: Counter[str] = Counter()
    for s in (*sets_a, *sets_b):
        freq.update(s)

    def order(s: frozenset[str]) -> list[str]:
        return sorted(s, key=lambda g: (freq[g], g))

    index: dict[str, list[int]] = defaultdict(list)
    sizes_b = [len(s) for s in sets_b]
    for j, s in enumerate(sets_b):
        if s:
            for gram in order(s)[: _prefix_len(len(s), threshold)]:
                index[gram].append(j)
    found: list[tuple[int, int, float]] = []
    for i, s in enumerate(sets_a):
        if not s:
            continue
        lo, hi = threshold * len(s), len(s) / threshold
        candidates: set[int] = set()
        for gram in order(s)[: _prefix_len(len(s), threshold)]:
            candidates.update(j for j in index.get(gram, ()) if lo - 1e-9 <= sizes_b[j] <= hi)
        for j in sorted(candidates):
            sim = jaccard(s, sets_b[j])
            if sim >= threshold - 1e-12:
                found.append((i, j, round(sim, 4)))
    found.sort(key=lambda t: (-t[2], t[0], t[1]))
    return found


def pair_text(rec: dict[str, Any]) -> str:
    """Peer and trainee turn as one text."""
    return f"{rec.get('peer') or ''} || {rec['trainee']}"


def load_splits(corpus: Path) -> dict[str, list[dict[str, Any]]]:
    """Records of train/dev/test.jsonl and the probe set (missing files give empty lists)."""
    out: dict[str, list[dict[str, Any]]] = {}
    files = {**{split: f"{split}.jsonl" for split in SPLITS}, **PROBES}
    for split, name in files.items():
        path = corpus / name
        rows: list[dict[str, Any]] = []
        if path.exists():
            with open(path, encoding="utf-8") as f:
                rows = [json.loads(line) for line in f if line.strip()]
        out[split] = rows
    return out


def cross_split_report(
    splits: dict[str, list[dict[str, Any]]], threshold: float, min_chars: int
) -> dict[str, Any]:
    """Near-duplicate pairs between every two splits, in both views."""
    views = {
        "trainee": lambda r: r["trainee"] if len(normalise(r["trainee"])) >= min_chars else "",
        "peer+trainee": pair_text,
    }
    pairs: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    names = [s for s in splits if splits[s]]
    for view, text_of in views.items():
        counts[view] = 0
        for ai, a in enumerate(names):
            for b in names[ai + 1 :]:
                recs_a, recs_b = splits[a], splits[b]
                hits = near_duplicates(
                    [text_of(r) for r in recs_a], [text_of(r) for r in recs_b], threshold
                )
                counts[view] += len(hits)
                for i, j, sim in hits:
                    ra, rb = recs_a[i], recs_b[j]
                    pairs.append(
                        {
                            "view": view,
                            "similarity": sim,
                            "a": {"split": a, "id": ra["id"], "trainee": ra["trainee"]},
                            "b": {"split": b, "id": rb["id"], "trainee": rb["trainee"]},
                        }
                    )
    pairs.sort(key=lambda p: (-p["similarity"], p["view"], p["a"]["id"], p["b"]["id"]))
    return {
        "threshold": threshold,
        "min_chars": min_chars,
        "items": {s: len(rows) for s, rows in splits.items()},
        "cross_split_pairs": counts,
        "pairs": pairs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=PROJECT_DIR / "assets" / "corpus")
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--min-chars", type=int, default=12)
    parser.add_argument("--limit", type=int, default=200, help="pairs listed (0 = all)")
    parser.add_argument("--strict", action="store_true", help="exit 1 on any cross-split pair")
    args = parser.parse_args(argv)
    splits = load_splits(args.corpus)
    if not any(splits.values()):
        print(
            f"error: no split files in {args.corpus} (run scripts/split_corpus.py)", file=sys.stderr
        )
        return 2
    report = cross_split_report(splits, args.threshold, args.min_chars)
    total = len(report["pairs"])
    if args.limit and total > args.limit:
        report["pairs"] = report["pairs"][: args.limit]
        report["pairs_truncated"] = total - args.limit
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 1 if args.strict and total else 0


if __name__ == "__main__":
    raise SystemExit(main())
