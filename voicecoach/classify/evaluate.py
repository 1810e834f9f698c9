"""Corpus loading, metrics and perturbations shared by the training, eval and test code."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

SPLITS = ("train", "dev", "test")
FILLERS = ("um", "uh", "like", "you know", "i mean", "so")
_PUNCT = re.compile(r"[^\w\s'-]")
_SPACE = re.compile(r"\s+")


def load_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Records of a JSON-lines file (blank lines skipped)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_splits(corpus: str | Path, *, missing_ok: bool = False) -> list[dict[str, Any]]:
    """Records of ``train``, ``dev`` and ``test`` .jsonl in ``corpus``, each with its ``split``."""
    rows: list[dict[str, Any]] = []
    for split in SPLITS:
        path = Path(corpus) / f"{split}.jsonl"
        if not path.exists():
            if missing_ok:
                continue
            raise FileNotFoundError(f"{path} not found (run scripts/split_corpus.py)")
        rows.extend({**rec, "split": rec.get("split", split)} for rec in load_jsonl(path))
    return rows


def asr_style(text: str) -> str:
    """The text as a speech recogniser might write it: lowercase, no punctuation."""
    return _SPACE.sub(" ", _PUNCT.sub(" ", text.lower())).strip()


def add_fillers(text: str, rng: random.Random, n: int = 1) -> str:
    """Insert ``n`` spoken fillers ("um", "like"...) at random word boundaries."""
    words = text.split()
    for _ in range(n):
        pos = rng.randint(0, len(words))
        words.insert(pos, rng.choice(FILLERS))
    return " ".join(words)


def best_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The probability cut-off that maximises F1 on (y, p)."""
    best_t, best_f = 0.5, -1.0
    for t in np.arange(0.05, 0.96, 0.01):
        f = prf(y, p >= t)["f1"]
        if f > best_f + 1e-9:
            best_t, best_f = float(t), f
    return round(best_t, 2)


# Thresholds that maximise F1 on dev overfit it: in cross-validation within dev (tune on one
# part, score the other; v8, v10b and v10c alike) cut-offs moved towards 0.5 scored better.
# The shipped cut-off keeps a quarter of the dev-best's distance from 0.5 (models/MODELS.md).
THRESHOLD_SHRINK = 0.25


def dev_threshold(y: np.ndarray, p: np.ndarray, shrink: float = THRESHOLD_SHRINK) -> float:
    """The F1-best cut-off on dev (``best_threshold``) pulled towards 0.5 by ``shrink``."""
    return round(0.5 + shrink * (best_threshold(y, p) - 0.5), 2)


def prf(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Precision, recall, F1 and support of boolean predictions."""
    y = y.astype(bool)
    pred = pred.astype(bool)
    tp = int((y & pred).sum())
    fp = int((~y & pred).sum())
    fn = int((y & ~pred).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(f, 4),
        "support": int(y.sum()),
    }


def label_matrix(records: Sequence[dict[str, Any]], labels: Sequence[str]) -> np.ndarray:
    """Gold labels as a 0/1 matrix [records, labels]."""
    y = np.zeros((len(records), len(labels)), dtype=np.int8)
    for i, r in enumerate(records):
        for j, label in enumerate(labels):
            y[i, j] = label in r.get("labels", ())
    return y


def per_label_metrics(
    y: np.ndarray, pred: np.ndarray, labels: Sequence[str]
) -> dict[str, dict[str, float]]:
    return {label: prf(y[:, j], pred[:, j]) for j, label in enumerate(labels)}


def decisions_agree(a: Iterable[set[str]], b: Iterable[set[str]]) -> float:
    """Share of items whose predicted label sets are identical."""
    pairs = list(zip(a, b, strict=True))
    return sum(x == y for x, y in pairs) / max(len(pairs), 1)
