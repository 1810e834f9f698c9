"""Benchmark the classifier: load time, per-exchange latency, batch throughput, size, RSS.

    python scripts/bench_classifier.py [--model-dir models] [--n 300]

Prints one JSON object. Targets (issue 2): p95 <= 10 ms per exchange on 2 cores,
>= 150 exchanges/s in batch, load <= 1 s, model files <= 40 MB, RSS <= 300 MB.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voicecoach.classify.evaluate import load_jsonl  # noqa: E402
from voicecoach.classify.model import Classifier, Exchange  # noqa: E402
from voicecoach.paths import MODELS_DIR  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, default=MODELS_DIR)
    ap.add_argument("--corpus", type=Path, default=ROOT / "assets" / "corpus" / "test.jsonl")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    items = load_jsonl(args.corpus)[: args.n]
    t0 = time.perf_counter()
    clf = Classifier(args.model_dir, threads=args.threads)
    load_s = time.perf_counter() - t0

    clf.classify(items[0].get("peer"), items[0]["trainee"], explain=False)  # warm-up
    single = []
    for r in items:
        t = time.perf_counter()
        clf.classify(r.get("peer"), r["trainee"], explain=False)
        single.append((time.perf_counter() - t) * 1000)
    explained = []
    for r in items[:100]:
        t = time.perf_counter()
        clf.classify(r.get("peer"), r["trainee"], explain=True)
        explained.append((time.perf_counter() - t) * 1000)

    batch = [Exchange(r["trainee"], r.get("peer")) for r in items]
    t = time.perf_counter()
    clf.classify_batch(batch, explain=False)
    batch_rate = len(batch) / (time.perf_counter() - t)

    size = sum(p.stat().st_size for p in args.model_dir.iterdir() if p.is_file())
    print(
        json.dumps(
            {
                "benchmark": "classifier",
                "threads": args.threads,
                "exchanges": len(items),
                "load_s": round(load_s, 3),
                "latency_ms": {
                    "p50": round(float(np.percentile(single, 50)), 2),
                    "p95": round(float(np.percentile(single, 95)), 2),
                },
                "latency_with_evidence_ms": {
                    "p50": round(float(np.percentile(explained, 50)), 2),
                    "p95": round(float(np.percentile(explained, 95)), 2),
                },
                "batch_exchanges_per_s": round(batch_rate, 1),
                "model_files_mb": round(size / 1e6, 2),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
