"""Tests of the corpus scripts (split, near duplicates, timing corpus) on small in-test data."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def load_script(name: str) -> ModuleType:
    """Import scripts/<name>.py (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"_script_{name}", SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


split_corpus = load_script("split_corpus")
check_near_duplicates = load_script("check_near_duplicates")
make_timing_corpus = load_script("make_timing_corpus")

PEERS = [
    "I haven't slept since the fire, I keep smelling smoke.",
    "My brother won't return my calls and I don't know why.",
    "The landlord changed the locks while I was at work.",
    "He said it was my fault, that I made him do it.",
    "I finally told my sister what happened when we were kids.",
    "They followed me around the store the whole time.",
]
TRAINEES = [
    "That sounds exhausting. What's it been like at night?",
    "It makes sense you'd feel shaken after that.",
    "Have you tried calling the housing office?",
    "You should just move on from it.",
    "What was that like for you?",
    "You get to decide what we talk about.",
    "Is it okay if we slow down for a moment?",
    "So you've been carrying this on your own.",
]


def make_raw(raw: Path) -> list[dict[str, Any]]:
    """Two raw files, several scenarios and topics, all valid; returns the records."""
    raw.mkdir(parents=True)
    records: list[dict[str, Any]] = []
    topics = {"w1": ("fire", "combat"), "w2": ("housing",)}
    for fname, file_topics in topics.items():
        lines = []
        for s in range(8):
            topic = file_topics[s % len(file_topics)]
            scenario = f"{fname}-s{s:02d}"
            for k in range(5 + s % 3):
                rec = {
                    "id": f"{scenario}-{k}",
                    "topic": "none" if k == 0 else topic,
                    "scenario": scenario,
                    "peer": None if k == 0 else PEERS[(s + k) % len(PEERS)],
                    "trainee": f"{TRAINEES[k % len(TRAINEES)]} ({scenario} turn {k})",
                    "labels": ["open_question"] if k % 2 else [],
                }
                records.append(rec)
                lines.append(json.dumps(rec))
        (raw / f"{fname}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return records


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_split_keeps_scenarios_whole_and_is_deterministic(tmp_path: Path) -> None:
    records = make_raw(tmp_path / "raw")
    split_corpus.main(["--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "a")])
    split_corpus.main(["--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "b")])
    for name in ("train.jsonl", "dev.jsonl", "test.jsonl", "splits.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()

    splits = json.loads((tmp_path / "a" / "splits.json").read_text())
    seen: dict[str, str] = {}
    total = 0
    for split in ("train", "dev", "test"):
        rows = read_jsonl(tmp_path / "a" / f"{split}.jsonl")
        assert rows, f"{split} is empty"
        total += len(rows)
        for row in rows:
            assert row["split"] == split
            assert splits[row["scenario"]] == split
            assert seen.setdefault(row["scenario"], split) == split
        # every split gets scenarios from every topic and every raw file
        assert {r["topic"] for r in rows} >= {"fire", "combat", "housing"}
        assert {r["id"][:2] for r in rows} == {"w1", "w2"}
    assert total == len(records)
    assert set(splits) == {r["scenario"] for r in records}

    split_corpus.main(["--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "c"), "--seed", "7"])
    other = json.loads((tmp_path / "c" / "splits.json").read_text())
    assert set(other) == set(splits)


def test_kept_split_holds_old_scenarios_and_trains_on_new_ones(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    make_raw(raw)
    split_corpus.main(["--raw", str(raw), "--out", str(tmp_path / "a")])
    frozen = json.loads((tmp_path / "a" / "splits.json").read_text())
    held_out = {sp: read_jsonl(tmp_path / "a" / f"{sp}.jsonl") for sp in ("dev", "test")}

    added = [
        {
            "id": f"w9-{k}",
            "topic": "fire",
            "scenario": f"w9-s{k // 4:02d}",
            "peer": PEERS[k % len(PEERS)],
            "trainee": f"{TRAINEES[k % len(TRAINEES)]} (new turn {k})",
            "labels": [],
        }
        for k in range(12)
    ]
    (raw / "w9.jsonl").write_text("".join(json.dumps(r) + "\n" for r in added), encoding="utf-8")
    keep = ["--keep", str(tmp_path / "a" / "splits.json")]
    assert split_corpus.main(["--raw", str(raw), "--out", str(tmp_path / "b"), *keep]) == 0

    now = json.loads((tmp_path / "b" / "splits.json").read_text())
    assert {s: now[s] for s in frozen} == frozen
    assert {now[r["scenario"]] for r in added} == {"train"}
    for sp, rows in held_out.items():
        assert read_jsonl(tmp_path / "b" / f"{sp}.jsonl") == rows
    train_ids = {r["id"] for r in read_jsonl(tmp_path / "b" / "train.jsonl")}
    assert {r["id"] for r in added} <= train_ids


def test_bad_lines_are_reported_and_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tmp_path / "raw"
    make_raw(raw)
    good = {"topic": "fire", "scenario": "w3-s01", "peer": "It burned down.", "labels": []}
    lines = [
        json.dumps({**good, "id": "w3-1", "trainee": "What was that like?"}),
        json.dumps({**good, "id": "w3-2", "trainee": "   "}),
        json.dumps({**good, "id": "w3-3", "trainee": "Okay.", "labels": ["rude"]}),
        '{"id": "w3-4", "topic": "fire", "scen',
        json.dumps({**good, "id": "w3-1", "trainee": "Another turn entirely."}),
        json.dumps({**good, "id": "w3-6", "trainee": "what was that like"}),
        json.dumps(
            {k: v for k, v in {**good, "id": "w3-7"}.items() if k != "peer"} | {"trainee": "x"}
        ),
    ]
    (raw / "w3.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert split_corpus.main(["--raw", str(raw), "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    err = captured.err
    assert "w3.jsonl:2: field 'trainee' is empty" in err
    assert "w3.jsonl:3: unknown label 'rude'" in err
    assert "w3.jsonl:4: invalid JSON" in err
    assert "w3.jsonl:5: duplicate id 'w3-1'" in err
    assert "w3.jsonl:7: missing field 'peer'" in err
    summary = json.loads(captured.out)
    assert summary["bad_lines"] == 4
    assert summary["duplicate_ids"] == 1
    assert summary["duplicate_pairs"] == 1  # w3-6 repeats w3-1 after normalisation
    ids = {
        r["id"]
        for split in ("train", "dev", "test")
        for r in read_jsonl(tmp_path / "out" / f"{split}.jsonl")
    }
    assert "w3-1" in ids
    assert not ids & {"w3-2", "w3-3", "w3-4", "w3-6", "w3-7"}


def test_near_duplicates_finds_planted_paraphrase_only() -> None:
    planted = (
        "That sounds really frightening, and it makes sense you would still feel shaken by it."
    )
    paraphrase = (
        "That sounds really frightening -- it makes sense that you would still feel shaken by it!"
    )
    items_a = [*TRAINEES, planted]
    items_b = [*(p for p in PEERS), paraphrase, "What was the drive home like for you afterwards?"]
    hits = check_near_duplicates.near_duplicates(items_a, items_b, 0.8)
    assert [(i, j) for i, j, _ in hits] == [(len(TRAINEES), len(PEERS))]
    assert hits[0][2] >= 0.8
    # an exact copy up to case and punctuation is a perfect match
    exact = check_near_duplicates.near_duplicates(
        ["What was that like?"], ["what was that like"], 0.8
    )
    assert exact == [(0, 0, 1.0)]
    assert check_near_duplicates.near_duplicates(TRAINEES, PEERS, 0.5) == []


def test_near_duplicates_matches_brute_force() -> None:
    texts = [*TRAINEES, *PEERS, *(t.upper() + " yes" for t in TRAINEES)]
    sets = [check_near_duplicates.char_ngrams(t) for t in texts]
    for threshold in (0.3, 0.6, 0.8):
        fast = {
            (i, j) for i, j, _ in check_near_duplicates.near_duplicates(texts, texts, threshold)
        }
        slow = {
            (i, j)
            for i in range(len(texts))
            for j in range(len(texts))
            if check_near_duplicates.jaccard(sets[i], sets[j]) >= threshold
        }
        assert fast == slow


def test_timing_ground_truth_holds_for_every_row(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    make_raw(tmp_path / "raw")
    split_corpus.main(["--raw", str(tmp_path / "raw"), "--out", str(corpus)])
    assert make_timing_corpus.main(["--corpus", str(corpus), "--n", "600", "--seed", "5"]) == 0
    rows = read_jsonl(corpus / "timing.jsonl")
    assert len(rows) == 600
    keys = {"peer", "trainee", "gap_s", "overlap_s", "peer_complete", "backchannel", "interruption"}
    for row in rows:
        assert set(row) == keys
        expected = not row["backchannel"] and (
            row["overlap_s"] > 0.2 or (not row["peer_complete"] and row["gap_s"] < 1.2)
        )
        assert row["interruption"] == expected
        assert row["overlap_s"] >= 0.0
        assert -2.0 <= row["gap_s"] <= 2.5
    assert sum(r["backchannel"] for r in rows) == 300
    assert 0 < sum(r["interruption"] for r in rows) < 300
    assert any(not r["peer_complete"] for r in rows) and any(r["peer_complete"] for r in rows)
    # near-boundary edge cases are present
    assert any(0.1 <= r["overlap_s"] <= 0.3 and not r["backchannel"] for r in rows)
    assert any(1.0 <= r["gap_s"] <= 1.4 and not r["peer_complete"] for r in rows)
    # reproducible
    again = tmp_path / "again.jsonl"
    make_timing_corpus.main(
        ["--corpus", str(corpus), "--n", "600", "--seed", "5", "--out", str(again)]
    )
    assert again.read_bytes() == (corpus / "timing.jsonl").read_bytes()


def test_backchannel_list_is_varied() -> None:
    assert len({make_timing_corpus.bc_key(b) for b in make_timing_corpus.BACKCHANNELS}) >= 60
    for spelling in ("mm-hm", "mhm", "uh huh", "yep", "yup", "Mm-hm.", "OK."):
        assert make_timing_corpus.bc_key(spelling) in make_timing_corpus.BACKCHANNEL_KEYS
