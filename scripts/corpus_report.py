"""Describe the split corpus: sizes, label balance, speech-likeness and diversity.

Reads ``train.jsonl``, ``dev.jsonl`` and ``test.jsonl`` from ``--corpus`` (default
``assets/corpus``; run ``scripts/split_corpus.py`` first), writes ``REPORT.md`` there (or to
``--out``) and prints the same figures as JSON.

Measures:

* items per topic, label and split; histogram of labels per item;
* share of items with no peer turn; share of trainee turns that look like recogniser output
  (no uppercase letter and no punctuation, apostrophes allowed); share of trainee (and peer)
  turns with a filler (um, uh, like, you know; "like" over-counts since it is also a verb);
  share of trainee turns of one or two words;
* diversity of trainee turns: distinct-1/2/3 (distinct n-grams / all n-grams over the whole
  set), type/token ratio and its length-robust mean-segmental form (MSTTR, 100-token
  windows); the mean and 95th percentile of each turn's nearest-neighbour cosine similarity
  under TF-IDF over word 1-2-grams (a sparse inverted-index implementation, fine for
  thousands of turns); and the ten word 4-grams found in the most trainee turns, which is
  where templated writing shows.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from voicecoach.classify.evaluate import SPLITS, load_splits  # noqa: E402

LABELS = (
    "dismissive",
    "missed_validation",
    "clinical_focus",
    "self_focus",
    "pressuring",
    "validation",
    "reflection",
    "open_question",
    "empowerment",
    "trigger_care",
)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")
_UPPER = re.compile(r"[A-Z]")
_PUNCT = re.compile(r"[^\w\s']")
_FILLER = re.compile(r"\b(?:u+m+|u+h+|like|you know)\b")


def tokens(text: str | None) -> list[str]:
    """Lowercase word tokens (apostrophes kept inside words)."""
    return _WORD.findall((text or "").lower().replace("\u2019", "'"))


def ngrams(toks: list[str], n: int) -> list[tuple[str, ...]]:
    """Word n-grams of a token list."""
    return [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]


def looks_asr(text: str) -> bool:
    """No uppercase letter and no punctuation (apostrophes allowed)."""
    return not _UPPER.search(text) and not _PUNCT.search(text)


def has_filler(text: str | None) -> bool:
    """Whether the text contains um, uh, like or you know."""
    return bool(text) and bool(_FILLER.search(" ".join(tokens(text))))


def share(flags: list[bool]) -> float:
    """Fraction of true values, rounded."""
    return round(sum(flags) / len(flags), 4) if flags else 0.0


def msttr(toks: list[str], window: int = 100) -> float:
    """Mean type/token ratio over consecutive full windows (plain TTR if shorter)."""
    if len(toks) < window:
        return round(len(set(toks)) / len(toks), 4) if toks else 0.0
    ratios = [
        len(set(toks[i : i + window])) / window for i in range(0, len(toks) - window + 1, window)
    ]
    return round(float(np.mean(ratios)), 4)


def tfidf_nearest(texts: list[str]) -> np.ndarray:
    """Each text's highest cosine similarity to another text (TF-IDF, word 1-2-grams).

    Term frequency is sublinear (1 + log tf), idf is smoothed (log((1+n)/(1+df)) + 1), rows
    are L2-normalised. Dot products are accumulated through posting lists, so memory stays
    proportional to the number of non-zeros. A text with no words gets 0.
    """
    n = len(texts)
    docs: list[Counter[str]] = []
    df: Counter[str] = Counter()
    for text in texts:
        toks = tokens(text)
        feats = Counter(toks) + Counter(" ".join(g) for g in ngrams(toks, 2))
        docs.append(feats)
        df.update(feats.keys())
    vocab = {f: k for k, f in enumerate(sorted(df))}
    idf = {f: math.log((1 + n) / (1 + d)) + 1.0 for f, d in df.items()}
    rows: list[tuple[np.ndarray, np.ndarray]] = []
    postings: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for i, feats in enumerate(docs):
        idx = np.array([vocab[f] for f in feats], dtype=np.int64)
        val = np.array([(1 + math.log(c)) * idf[f] for f, c in feats.items()], dtype=np.float64)
        norm = float(np.linalg.norm(val))
        if norm > 0:
            val /= norm
        rows.append((idx, val))
        for k, v in zip(idx.tolist(), val.tolist(), strict=True):
            postings[k].append((i, v))
    post_arr = {
        k: (np.array([d for d, _ in p], dtype=np.int64), np.array([w for _, w in p]))
        for k, p in postings.items()
    }
    best = np.zeros(n, dtype=np.float64)
    scores = np.zeros(n, dtype=np.float64)
    for i, (idx, val) in enumerate(rows):
        if idx.size == 0:
            continue
        scores[:] = 0.0
        for k, v in zip(idx.tolist(), val.tolist(), strict=True):
            docs_k, w_k = post_arr[k]
            if docs_k.size > 1:
                scores[docs_k] += v * w_k
        scores[i] = -1.0
        best[i] = max(0.0, float(scores.max())) if n > 1 else 0.0
    return best


def build_report(records: list[dict[str, Any]]) -> dict[str, Any]:
    """All figures as a JSON-able dict."""
    trainee = [r["trainee"] for r in records]
    toks = [tokens(t) for t in trainee]
    all_toks = [t for ts in toks for t in ts]
    cardinality = Counter(len(r["labels"]) for r in records)
    label_counts = Counter(lab for r in records for lab in r["labels"])
    per_split = Counter(r["split"] for r in records)
    distinct: dict[str, float] = {}
    for n in (1, 2, 3):
        grams = [g for ts in toks for g in ngrams(ts, n)]
        distinct[f"distinct_{n}"] = round(len(set(grams)) / len(grams), 4) if grams else 0.0
    four_df: Counter[tuple[str, ...]] = Counter()
    for ts in toks:
        four_df.update(set(ngrams(ts, 4)))
    nn = tfidf_nearest(trainee) if trainee else np.zeros(0)
    return {
        "items": len(records),
        "scenarios": len({r["scenario"] for r in records}),
        "per_topic": dict(sorted(Counter(r["topic"] for r in records).items())),
        "per_label": {lab: label_counts[lab] for lab in LABELS},
        "per_split": {s: per_split[s] for s in SPLITS},
        "label_cardinality": {str(k): cardinality[k] for k in sorted(cardinality)},
        "share_no_peer": share([r.get("peer") is None for r in records]),
        "share_asr_like_trainee": share([looks_asr(t) for t in trainee]),
        "share_filler_trainee": share([has_filler(t) for t in trainee]),
        "share_filler_peer": share([has_filler(r.get("peer")) for r in records]),
        "share_1_2_word_trainee": share([1 <= len(ts) <= 2 for ts in toks]),
        "diversity": {
            **distinct,
            "type_token_ratio": round(len(set(all_toks)) / len(all_toks), 4) if all_toks else 0.0,
            "msttr_100": msttr(all_toks),
            "trainee_tokens": len(all_toks),
            "nn_cosine_mean": round(float(nn.mean()), 4) if nn.size else 0.0,
            "nn_cosine_p95": round(float(np.percentile(nn, 95)), 4) if nn.size else 0.0,
            "share_nn_cosine_ge_0_9": share([bool(x >= 0.9) for x in nn]),
        },
        "top_trainee_4grams": [
            {"ngram": " ".join(g), "turns": c}
            for g, c in sorted(four_df.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        ],
    }


def _table(header: tuple[str, str], rows: list[tuple[str, Any]]) -> list[str]:
    out = [f"| {header[0]} | {header[1]} |", "|---|---:|"]
    out += [f"| {k} | {v} |" for k, v in rows]
    return out + [""]


def to_markdown(rep: dict[str, Any]) -> str:
    """REPORT.md text."""
    div = rep["diversity"]
    lines = [
        "# Corpus report",
        "",
        "Generated by `scripts/corpus_report.py` from the train/dev/test split files.",
        "",
        f"- items: **{rep['items']}** in {rep['scenarios']} scenarios",
        f"- no peer turn: {rep['share_no_peer']:.1%}",
        f"- trainee turns that look like recogniser text: {rep['share_asr_like_trainee']:.1%}",
        f"- trainee turns with a filler (um/uh/like/you know): {rep['share_filler_trainee']:.1%}"
        f" (peer turns: {rep['share_filler_peer']:.1%})",
        f"- trainee turns of 1-2 words: {rep['share_1_2_word_trainee']:.1%}",
        "",
        "## Splits",
        "",
        *_table(("split", "items"), list(rep["per_split"].items())),
        "## Topics",
        "",
        *_table(("topic", "items"), list(rep["per_topic"].items())),
        "## Labels",
        "",
        *_table(("label", "items"), list(rep["per_label"].items())),
        "## Labels per item",
        "",
        *_table(("labels", "items"), list(rep["label_cardinality"].items())),
        "## Diversity of trainee turns",
        "",
        *_table(
            ("measure", "value"),
            [
                ("distinct-1", div["distinct_1"]),
                ("distinct-2", div["distinct_2"]),
                ("distinct-3", div["distinct_3"]),
                ("type/token ratio", div["type_token_ratio"]),
                ("MSTTR (100-token windows)", div["msttr_100"]),
                ("tokens", div["trainee_tokens"]),
                ("nearest-neighbour cosine, mean", div["nn_cosine_mean"]),
                ("nearest-neighbour cosine, 95th percentile", div["nn_cosine_p95"]),
                ("share with a neighbour at cosine >= 0.9", div["share_nn_cosine_ge_0_9"]),
            ],
        ),
        "Nearest-neighbour cosine uses TF-IDF over word 1-2-grams of the trainee turns.",
        "",
        "## Most repeated trainee 4-grams",
        "",
        *_table(("4-gram", "turns"), [(g["ngram"], g["turns"]) for g in rep["top_trainee_4grams"]]),
    ]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=PROJECT_DIR / "assets" / "corpus")
    parser.add_argument("--out", type=Path, help="markdown path (default CORPUS/REPORT.md)")
    args = parser.parse_args(argv)
    records = load_splits(args.corpus, missing_ok=True)
    if not records:
        print(
            f"error: no split files in {args.corpus} (run scripts/split_corpus.py)", file=sys.stderr
        )
        return 2
    report = build_report(records)
    out = args.out or args.corpus / "REPORT.md"
    out.write_text(to_markdown(report), encoding="utf-8")
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
