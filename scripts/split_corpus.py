"""Validate the raw labelled corpus and split it into train/dev/test by whole scenario.

Reads every ``*.jsonl`` file in ``--raw`` (default ``assets/corpus/raw``). Each line must be a
JSON object with ``id``, ``topic``, ``scenario`` (non-empty strings), ``peer`` (a non-empty
string or null), ``trainee`` (a non-empty string) and ``labels`` (a list of known rubric
labels, see ``docs/rubric.md``). A bad line is reported on stderr as ``file:line: problem``
and skipped; so is a line whose id was already seen. Items whose (peer, trainee) pair is an
exact duplicate of an earlier item after normalisation (lowercase, punctuation stripped,
whitespace collapsed) are dropped as well (counted in the summary, first one kept).

Scenarios are never split: every item of a scenario goes to the same split. A scenario's
stratum is (raw file, main topic), the main topic being the most frequent topic other than
``"none"`` among its items. Within each stratum the scenarios are shuffled with ``--seed``;
when a stratum has at least three scenarios, one goes to dev and one to test first, so
every split sees every topic and every raw file; the rest go one by one to the split
furthest below its cumulative item target (70/15/15). The result depends only on the data
and the seed.

With ``--keep SPLITS_JSON`` (the committed ``assets/corpus/splits.json``) the split is
frozen instead: every scenario listed there keeps its split and scenarios added since go to
train, so new training material never moves or grows the held-out dev and test sets.

Writes ``train.jsonl``, ``dev.jsonl``, ``test.jsonl`` (the records plus ``"split"``) and
``splits.json`` (``{scenario: split}``) to ``--out`` (default ``assets/corpus``) and prints a
JSON summary.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter, defaultdict
from contextlib import ExitStack
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
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
SPLITS = ("train", "dev", "test")
RATIOS = {"train": 0.70, "dev": 0.15, "test": 0.15}
NO_TOPIC = "none"

_PUNCT = re.compile(r"[^\w\s]")
_SPACE = re.compile(r"\s+")


def normalise(text: str | None) -> str:
    """Lowercase, punctuation stripped, whitespace collapsed ("" for None)."""
    if text is None:
        return ""
    return _SPACE.sub(" ", _PUNCT.sub(" ", text.lower())).strip()


def validate(obj: Any) -> str | None:
    """The problem with one parsed line, or None when it is a valid record."""
    if not isinstance(obj, dict):
        return "not a JSON object"
    for key in ("id", "topic", "scenario", "trainee"):
        if key not in obj:
            return f"missing field {key!r}"
        if not isinstance(obj[key], str):
            return f"field {key!r} is not a string"
        if not obj[key].strip():
            return f"field {key!r} is empty"
    if "peer" not in obj:
        return "missing field 'peer'"
    peer = obj["peer"]
    if peer is not None and not isinstance(peer, str):
        return "field 'peer' is neither a string nor null"
    if isinstance(peer, str) and not peer.strip():
        return "field 'peer' is an empty string (use null)"
    if "labels" not in obj:
        return "missing field 'labels'"
    labels = obj["labels"]
    if not isinstance(labels, list):
        return "field 'labels' is not a list"
    for label in labels:
        if not isinstance(label, str):
            return f"label {label!r} is not a string"
        if label not in LABELS:
            return f"unknown label {label!r}"
    if len(set(labels)) != len(labels):
        return "repeated label"
    return None


def load_raw(raw_dir: Path) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Valid, de-duplicated records of all raw files (each tagged with ``_file``) and counts."""
    files = sorted(raw_dir.glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"no *.jsonl files in {raw_dir}")
    stats = {"lines": 0, "bad_lines": 0, "duplicate_ids": 0, "duplicate_pairs": 0}
    records: list[dict[str, Any]] = []
    seen_ids: set[str] = set()
    seen_pairs: set[tuple[str, str]] = set()
    for path in files:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                stats["lines"] += 1
                where = f"{path}:{lineno}"
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    print(f"{where}: invalid JSON ({exc.msg})", file=sys.stderr)
                    stats["bad_lines"] += 1
                    continue
                problem = validate(obj)
                if problem is not None:
                    print(f"{where}: {problem}", file=sys.stderr)
                    stats["bad_lines"] += 1
                    continue
                if obj["id"] in seen_ids:
                    print(f"{where}: duplicate id {obj['id']!r}", file=sys.stderr)
                    stats["duplicate_ids"] += 1
                    continue
                seen_ids.add(obj["id"])
                pair = (normalise(obj["peer"]), normalise(obj["trainee"]))
                if pair in seen_pairs:
                    stats["duplicate_pairs"] += 1
                    continue
                seen_pairs.add(pair)
                obj["_file"] = path.name
                records.append(obj)
    return records, stats


def scenario_strata(records: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """{scenario: (raw file, main topic)}; the main topic ignores "none" where possible."""
    topics: dict[str, Counter[str]] = defaultdict(Counter)
    first_file: dict[str, str] = {}
    for rec in records:
        topics[rec["scenario"]][rec["topic"]] += 1
        first_file.setdefault(rec["scenario"], rec["_file"])
    strata: dict[str, tuple[str, str]] = {}
    for scen, counts in topics.items():
        real = {t: c for t, c in counts.items() if t != NO_TOPIC} or dict(counts)
        main = sorted(real.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        strata[scen] = (first_file[scen], main)
    return strata


def assign_splits(records: list[dict[str, Any]], seed: int) -> dict[str, str]:
    """{scenario: split}, deterministic given the records and the seed."""
    sizes: Counter[str] = Counter(rec["scenario"] for rec in records)
    strata = scenario_strata(records)
    by_stratum: dict[tuple[str, str], list[str]] = defaultdict(list)
    for scen in sorted(strata):
        by_stratum[strata[scen]].append(scen)
    rng = random.Random(seed)
    assigned: dict[str, str] = {}
    got = dict.fromkeys(SPLITS, 0)
    seen_items = 0
    for stratum in sorted(by_stratum):
        scens = by_stratum[stratum]
        rng.shuffle(scens)
        seen_items += sum(sizes[s] for s in scens)
        rest = scens
        if len(scens) >= 3:
            forced = scens[:2]  # the first two shuffled scenarios cover dev and test
            for scen, split in zip(forced, ("dev", "test"), strict=True):
                assigned[scen] = split
                got[split] += sizes[scen]
            rest = [s for s in scens if s not in forced]
        for scen in rest:
            deficits = {sp: RATIOS[sp] * seen_items - got[sp] for sp in SPLITS}
            split = max(SPLITS, key=lambda sp: (deficits[sp], -SPLITS.index(sp)))
            assigned[scen] = split
            got[split] += sizes[scen]
    return assigned


def coverage_gaps(records: list[dict[str, Any]], assigned: dict[str, str]) -> list[str]:
    """Topics or raw files that some split has no scenario from."""
    strata = scenario_strata(records)
    have: dict[str, set[str]] = defaultdict(set)
    for scen, (fname, topic) in strata.items():
        have[assigned[scen]].update({f"file:{fname}", f"topic:{topic}"})
    wanted = set().union(*have.values()) if have else set()
    return [f"{split} lacks {key}" for split in SPLITS for key in sorted(wanted - have[split])]


def summarise(
    records: list[dict[str, Any]], assigned: dict[str, str], stats: dict[str, int]
) -> dict[str, Any]:
    """Counts per split and per label per split."""
    items: Counter[str] = Counter()
    labels: dict[str, Counter[str]] = {sp: Counter() for sp in SPLITS}
    for rec in records:
        split = assigned[rec["scenario"]]
        items[split] += 1
        labels[split].update(rec["labels"])
    scen_counts = Counter(assigned.values())
    total = sum(items.values())
    return {
        **stats,
        "items": total,
        "scenarios": len(assigned),
        "splits": {
            sp: {
                "items": items[sp],
                "share": round(items[sp] / total, 3) if total else 0.0,
                "scenarios": scen_counts[sp],
                "labels": {lab: labels[sp][lab] for lab in LABELS},
            }
            for sp in SPLITS
        },
    }


def write_outputs(records: list[dict[str, Any]], assigned: dict[str, str], out_dir: Path) -> None:
    """The three split files and splits.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        handles = {
            sp: stack.enter_context(open(out_dir / f"{sp}.jsonl", "w", encoding="utf-8"))
            for sp in SPLITS
        }
        for rec in records:
            clean = {k: v for k, v in rec.items() if k != "_file"}
            clean["split"] = assigned[rec["scenario"]]
            handles[clean["split"]].write(json.dumps(clean, ensure_ascii=False) + "\n")
    ordered = {scen: assigned[scen] for scen in sorted(assigned)}
    (out_dir / "splits.json").write_text(json.dumps(ordered, indent=1) + "\n", encoding="utf-8")


def keep_splits(records: list[dict[str, Any]], frozen: dict[str, str]) -> dict[str, str]:
    """{scenario: split}: the frozen split where it has the scenario, else train."""
    return {rec["scenario"]: frozen.get(rec["scenario"], "train") for rec in records}


def split_corpus(
    raw_dir: Path, out_dir: Path, seed: int, keep: Path | None = None
) -> dict[str, Any]:
    """Load, validate, split and write; returns the summary."""
    records, stats = load_raw(raw_dir)
    if keep is not None:
        # New files only ever reach train, by design: no coverage warnings.
        assigned = keep_splits(records, json.loads(keep.read_text(encoding="utf-8")))
    else:
        assigned = assign_splits(records, seed)
        for gap in coverage_gaps(records, assigned):
            print(f"warning: {gap}", file=sys.stderr)
    write_outputs(records, assigned, out_dir)
    return summarise(records, assigned, stats)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, default=PROJECT_DIR / "assets" / "corpus" / "raw")
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "assets" / "corpus")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="SPLITS_JSON",
        help="keep this {scenario: split} assignment; scenarios not in it go to train",
    )
    args = parser.parse_args(argv)
    try:
        summary = split_corpus(args.raw, args.out, args.seed, args.keep)
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
