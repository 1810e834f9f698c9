"""The rebuild script trains, exports and quantises a model the runtime can load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from voicecoach.classify.evaluate import load_jsonl
from voicecoach.classify.labels import LABELS
from voicecoach.classify.model import Classifier
from voicecoach.paths import ASSETS_DIR, PROJECT_DIR

pytest.importorskip("torch", reason="training needs the [train] extra")


def _rebuild(corpus: Path, out: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """Run the rebuild script on ``corpus`` into ``out``."""
    script = PROJECT_DIR / "scripts" / "train_classifier.py"
    command = [sys.executable, str(script), "--corpus", str(corpus), "--out", str(out), *options]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def test_rebuild_on_a_tiny_corpus(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for split, n in (("train", 48), ("dev", 24), ("test", 12)):
        rows = load_jsonl(ASSETS_DIR / "corpus" / f"{split}.jsonl")[:n]
        (corpus / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    timing = load_jsonl(ASSETS_DIR / "corpus" / "timing.jsonl")[:64]
    (corpus / "timing.jsonl").write_text("".join(json.dumps(r) + "\n" for r in timing))
    out = tmp_path / "model"
    proc = _rebuild(
        corpus,
        out,
        *("--epochs", "2", "--max-steps", "3", "--batch-size", "8"),
        *("--average-last", "2", "--save-state", str(tmp_path / "states")),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout)
    assert set(summary["thresholds"]) == set(LABELS)
    config = json.loads((out / "coach.json").read_text())
    assert config["training"]["seed"] == 13
    assert config["training"]["average_last"] == 2
    assert (out / "coach-minilm-int8.onnx").stat().st_size < 40e6
    clf = Classifier(out)
    judgement = clf.classify("I can't stop shaking.", "That sounds frightening.")
    assert set(judgement.labels) == set(LABELS)

    # A soup of the saved epoch weights exports like a trained model.
    states = sorted((tmp_path / "states").glob("epoch*.pt"))
    assert [p.name for p in states] == ["epoch1.pt", "epoch2.pt"]
    soup = tmp_path / "soup"
    proc = _rebuild(corpus, soup, "--average", *map(str, states))
    assert proc.returncode == 0, proc.stderr[-2000:]
    config = json.loads((soup / "coach.json").read_text())
    assert config["training"]["averaged_from"] == [str(p) for p in states]
    assert set(Classifier(soup).classify(None, "Okay.").labels) == set(LABELS)
