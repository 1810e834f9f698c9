"""Evaluate the bundled classifier on a corpus split and print JSON.

    python scripts/eval_classifier.py [--split test] [--model-dir models]

Reports precision/recall/F1 per label on the split (with the shipped int8 model and its
thresholds), the macro-F1 over dismissive, missed_validation and validation, F1 on
hard-case subsets, the confusions between labels that are easy to mix up, invariance to
recogniser-style text and spoken fillers, recogniser-text results (``asr_variants.jsonl``)
and the interruption head on the timing corpus.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voicecoach.classify.evaluate import (  # noqa: E402
    add_fillers,
    asr_style,
    decisions_agree,
    label_matrix,
    load_jsonl,
    per_label_metrics,
    prf,
)
from voicecoach.classify.labels import TEXT_LABELS  # noqa: E402
from voicecoach.classify.model import Classifier, Exchange  # noqa: E402
from voicecoach.types import Timing  # noqa: E402

CORE = ("dismissive", "missed_validation", "validation")
CONFUSABLE = [
    ("validation", "reflection"),
    ("reflection", "validation"),
    ("dismissive", "missed_validation"),
    ("missed_validation", "dismissive"),
    ("empowerment", "trigger_care"),
    ("trigger_care", "empowerment"),
    ("open_question", "pressuring"),
    ("open_question", "clinical_focus"),
    ("self_focus", "missed_validation"),
]
HARD_CASES = {
    "negation": re.compile(
        r"\b(not|n't|never)\b.*\b(overreact|crazy|weak|wrong|fault|silly|dramatic|stupid|alone)",
        re.I,
    ),
    "but_or_at_least": re.compile(r"\b(but|at least)\b", re.I),
    "recogniser_style": re.compile(r"^[^A-Z.,!?;:]*$"),
    "one_or_two_words": re.compile(r"^\W*\w+(\W+\w+)?\W*$"),
    "question": re.compile(r"\?\s*$"),
}


def predict(
    clf: Classifier, items: list[dict[str, Any]], trainee_key: str = "trainee"
) -> list[set[str]]:
    judgements = clf.classify_batch(
        [Exchange(r[trainee_key], r.get("peer")) for r in items], explain=False
    )
    return [set(j.flags) | set(j.strengths) for j in judgements]


def matrix(pred: list[set[str]]) -> np.ndarray:
    return np.array([[label in p for label in TEXT_LABELS] for p in pred], dtype=bool)


def evaluate(clf: Classifier, items: list[dict[str, Any]]) -> dict[str, Any]:
    pred = predict(clf, items)
    y = label_matrix(items, TEXT_LABELS)
    per_label = per_label_metrics(y, matrix(pred), TEXT_LABELS)
    return {
        "items": len(items),
        "macro_f1_core": round(float(np.mean([per_label[k]["f1"] for k in CORE])), 4),
        "macro_f1_all": round(float(np.mean([v["f1"] for v in per_label.values()])), 4),
        "per_label": per_label,
        "_pred": pred,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "assets" / "corpus")
    ap.add_argument("--split", default="test")
    ap.add_argument("--model-dir", type=Path)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)

    clf = Classifier.load(args.model_dir)
    items = load_jsonl(args.corpus / f"{args.split}.jsonl")
    main_eval = evaluate(clf, items)
    pred = main_eval.pop("_pred")
    gold = [set(r["labels"]) for r in items]
    report: dict[str, Any] = {"model": clf.model_id, "split": args.split, **main_eval}

    hard: dict[str, Any] = {}
    for name, pattern in HARD_CASES.items():
        idx = [i for i, r in enumerate(items) if pattern.search(r["trainee"].strip())]
        if not idx:
            continue
        exact = sum(pred[i] == gold[i] for i in idx) / len(idx)
        core = {
            k: prf(np.array([k in gold[i] for i in idx]), np.array([k in pred[i] for i in idx]))[
                "f1"
            ]
            for k in CORE
        }
        hard[name] = {"items": len(idx), "exact_match": round(exact, 4), "f1_core": core}
    report["hard_cases"] = hard
    report["confusions"] = {
        f"{a}->{b}": sum(
            1 for p, g in zip(pred, gold, strict=True) if a in g and a not in p and b in p
        )
        for a, b in CONFUSABLE
    }

    rng = random.Random(args.seed)
    plain = [
        {
            **r,
            "trainee": asr_style(r["trainee"]),
            "peer": asr_style(r["peer"]) if r.get("peer") else r.get("peer"),
        }
        for r in items
    ]
    fillers = [{**r, "trainee": add_fillers(r["trainee"], rng, n=1)} for r in items]
    report["invariance"] = {
        "no_punctuation_or_case": round(decisions_agree(pred, predict(clf, plain)), 4),
        "filler_added": round(decisions_agree(pred, predict(clf, fillers)), 4),
    }

    asr_path = args.corpus / "asr_variants.jsonl"
    if asr_path.exists():
        by_id = {r["id"]: r for r in items}
        variants = [
            {**by_id[v["id"]], "trainee": v["trainee_asr"]}
            for v in load_jsonl(asr_path)
            if v.get("id") in by_id and v.get("trainee_asr")
        ]
        if variants:
            asr_eval = evaluate(clf, variants)
            asr_eval.pop("_pred")
            report["recogniser_text"] = {
                k: asr_eval[k] for k in ("items", "macro_f1_core", "macro_f1_all")
            }

    timing_path = args.corpus / f"timing_{args.split}.jsonl"
    if timing_path.exists():
        rows = load_jsonl(timing_path)
        judged = clf.classify_batch(
            [
                Exchange(
                    r["trainee"], r["peer"], Timing(r["gap_s"], r["overlap_s"], r["peer_complete"])
                )
                for r in rows
            ],
            explain=False,
        )
        y = np.array([bool(r["interruption"]) for r in rows])
        p = np.array(["interruption" in j.flags for j in judged])
        report["interruption"] = prf(y, p)
        bc = [i for i, r in enumerate(rows) if r.get("backchannel")]
        report["interruption"]["backchannels_flagged"] = int(p[bc].sum()) if bc else 0
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
