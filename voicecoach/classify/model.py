"""The coaching classifier: a fine-tuned MiniLM sentence encoder in onnxruntime.

One ONNX graph reads "peer [SEP] trainee" and gives a probability for each text label (all
rubric labels but ``interruption``) plus ``backchannel`` (is the trainee turn only a
listening noise such as "mm-hm"). ``interruption`` comes from a small timing head over the
gap, the overlap, whether the peer had finished, and that backchannel probability.

Evidence for a flag is found by occlusion: the words whose removal lowers the flag's
probability most. Suggestions come from the curated bank in ``assets/suggestions.json``,
the alternative whose situation tags fit the peer's turn best (``classify/suggest.py``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voicecoach.classify.labels import LABELS, NEEDS_PEER, RISKS, STRENGTHS, TEXT_LABELS
from voicecoach.classify.suggest import choose
from voicecoach.classify.text import normalize
from voicecoach.errors import ModelMissingError
from voicecoach.paths import ASSETS_DIR, MODELS_DIR
from voicecoach.types import Timing, TurnJudgement

MODEL_FILE = "coach-minilm-int8.onnx"
CONFIG_FILE = "coach.json"
TOKENIZER_FILE = "tokenizer.json"
SUGGESTIONS_FILE = "suggestions.json"

_WORD = re.compile(r"\S+")
#: Words per window when looking for the evidence of a flag.
EVIDENCE_WIDTH = 4
#: A sentence up to this long can be the evidence as a whole.
MAX_SENTENCE_WORDS = 12
#: Evidence grows by up to this many words to start and end where a clause does.
SNAP_WORDS = 4
_CLAUSE_END = frozenset(".,;:?!")
_SENTENCE_END = frozenset(".?!")
_LEADING_WORDS_TEXT = (
    "a an the to of in on at for with from about and or but so if that your my his her their "
    "our this these those some any"
)
_LEADING_WORDS = frozenset(_LEADING_WORDS_TEXT.split())


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass(frozen=True)
class Exchange:
    """One item to judge: the trainee's words, the peer turn before them, and the timing.

    ``earlier`` holds the peer's turns before ``peer`` (most recent last); they only help
    choose suggestions that fit the conversation, never the labels.
    """

    trainee: str
    peer: str | None = None
    timing: Timing | None = None
    earlier: tuple[str, ...] = ()


class TimingHead:
    """A two-layer perceptron over timing features; weights come from ``coach.json``."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.w1 = np.asarray(spec["w1"], dtype=np.float32)
        self.b1 = np.asarray(spec["b1"], dtype=np.float32)
        self.w2 = np.asarray(spec["w2"], dtype=np.float32)
        self.b2 = float(spec["b2"])

    @staticmethod
    def features(timing: Timing, backchannel: float, n_words: int) -> np.ndarray:
        gap = float(np.clip(timing.gap_s, -3.0, 3.0))
        return np.array(
            [
                gap,
                float(np.clip(timing.overlap_s, 0.0, 3.0)),
                1.0 if timing.peer_complete else 0.0,
                backchannel,
                float(np.log1p(n_words)),
            ],
            dtype=np.float32,
        )

    def __call__(self, x: np.ndarray) -> float:
        h = np.maximum(x @ self.w1 + self.b1, 0.0)
        return float(_sigmoid(h @ self.w2 + self.b2))


class Classifier:
    """Judges trainee turns against the rubric. Build it with :meth:`load`."""

    def __init__(self, model_dir: Path, *, threads: int = 2) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as err:  # pragma: no cover - depends on the install
            raise ModelMissingError(
                f"the classifier needs onnxruntime and tokenizers ({err.name} is missing): "
                "run pip install onnxruntime tokenizers"
            ) from err
        model_path = model_dir / MODEL_FILE
        for path in (model_path, model_dir / CONFIG_FILE, model_dir / TOKENIZER_FILE):
            if not path.is_file():
                raise ModelMissingError(
                    f"classifier model file missing: {path} "
                    "(rebuild it with python scripts/train_classifier.py, see models/MODELS.md)"
                )
        self.model_dir = model_dir
        self.config: dict[str, Any] = json.loads((model_dir / CONFIG_FILE).read_text())
        self.heads: list[str] = list(self.config["heads"])
        self.thresholds: dict[str, float] = dict(self.config["thresholds"])
        self.max_tokens = int(self.config.get("max_tokens", 128))
        self.timing_head = TimingHead(self.config["timing_head"])
        #: Models trained on normalised words (see classify/text.py) read them at run time too.
        self.normalize = self.config.get("normalize") == "words"

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._tokenizer = Tokenizer.from_file(str(model_dir / TOKENIZER_FILE))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=self.max_tokens, strategy="longest_first")
        self._bank: dict[str, Any] | None = None

    # -- construction ------------------------------------------------------------------
    @classmethod
    def load(cls, model_dir: str | Path | None = None, *, threads: int = 2) -> Classifier:
        """Load the bundled model (or the one in ``model_dir``), once per process."""
        return _load_cached(str(Path(model_dir) if model_dir else MODELS_DIR), threads)

    @property
    def model_id(self) -> dict[str, str]:
        """Names and a content hash of the model actually loaded, for session records."""
        return {
            "name": str(self.config.get("name", "coach-minilm")),
            "version": str(self.config.get("version", "unknown")),
            "sha256": _file_sha256(self.model_dir / MODEL_FILE)[:16],
        }

    # -- inference ---------------------------------------------------------------------
    def _run(self, pairs: Sequence[tuple[str | None, str]]) -> np.ndarray:
        """Head probabilities [N, heads] for pairs."""
        if self.normalize:
            pairs = [(normalize(peer) or None, normalize(trainee)) for peer, trainee in pairs]
        encodings = [
            self._tokenizer.encode(peer, trainee) if peer else self._tokenizer.encode(trainee)
            for peer, trainee in pairs
        ]
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            mask[row, :n] = 1
            types[row, :n] = enc.type_ids
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        feed = {k: v for k, v in feed.items() if k in self._input_names}
        (logits,) = self._session.run(["logits"], feed)
        return _sigmoid(logits)

    def _probabilities(self, pairs: Sequence[tuple[str | None, str]]) -> np.ndarray:
        """Head probabilities [N, heads], one exchange per run.

        The int8 model quantises activations with one scale per input tensor, so batching
        exchanges (and padding them) would make each result depend on its batch-mates.
        """
        result = np.zeros((len(pairs), len(self.heads)), dtype=np.float32)
        for i, pair in enumerate(pairs):
            result[i] = self._run([pair])[0]
        return result

    def classify(
        self,
        peer: str | None,
        trainee: str,
        timing: Timing | None = None,
        *,
        explain: bool = True,
    ) -> TurnJudgement:
        """Judge one trainee turn given the peer turn before it and, if known, the timing."""
        return self.classify_batch([Exchange(trainee, peer, timing)], explain=explain)[0]

    def classify_batch(
        self, exchanges: Iterable[Exchange], *, explain: bool = True
    ) -> list[TurnJudgement]:
        """Judge many exchanges at once; ``explain`` adds evidence and suggestions to flags."""
        items = list(exchanges)
        if not items:
            return []
        pairs = [(_clean(x.peer) or None, _clean(x.trainee)) for x in items]
        probs = self._probabilities(pairs)
        judgements = []
        for item, pair, row in zip(items, pairs, probs, strict=True):
            judgements.append(self._judge(item, pair, row, explain))
        return judgements

    def _judge(
        self, item: Exchange, pair: tuple[str | None, str], row: np.ndarray, explain: bool
    ) -> TurnJudgement:
        peer, trainee = pair
        head = dict(zip(self.heads, row.tolist(), strict=True))
        labels: dict[str, float | None] = {}
        for label in LABELS:
            if label == "interruption":
                if item.timing is None or peer is None:
                    labels[label] = None
                else:
                    x = TimingHead.features(
                        item.timing, head["backchannel"], len(_WORD.findall(trainee))
                    )
                    labels[label] = self.timing_head(x)
            elif label in NEEDS_PEER and peer is None:
                labels[label] = None
            elif not trainee:
                labels[label] = 0.0
            else:
                labels[label] = head[label]
        over = {k for k, v in labels.items() if v is not None and v >= self.thresholds[k]}
        flags = tuple(k for k in RISKS if k in over)
        strengths = tuple(k for k in STRENGTHS if k in over)
        evidence: dict[str, str] = {}
        suggestions: dict[str, str] = {}
        if explain and flags:
            evidence = self.evidence(peer, trainee, flags)
            suggestions = self.suggestions(flags, peer or trainee, item.earlier)
        return TurnJudgement(labels, flags, strengths, evidence, suggestions)

    # -- feedback ----------------------------------------------------------------------
    def evidence(self, peer: str | None, trainee: str, flags: Sequence[str]) -> dict[str, str]:
        """For each flag, the span of the trainee's words that drives it.

        Each window of up to :data:`EVIDENCE_WIDTH` words, and each short sentence of a
        turn of several, is scored by how strongly it carries the flag on its own
        (sufficiency) plus how much removing it lowers the flag (necessity). Both halves
        are needed: a fine-tuned model is often sure of a label from several redundant
        words, so removal alone changes nothing. A sentence scoring nearly as well as the
        best window is the evidence; otherwise the best window grows over overlapping
        windows that score nearly as well and snaps to the edges of its clause.
        """
        words = _WORD.findall(trainee)
        out: dict[str, str] = {}
        text_flags = [f for f in flags if f in self.heads]
        if "interruption" in flags:
            # Timing drove it; the words the trainee cut in with are the evidence.
            out["interruption"] = " ".join(words[:8])
        if not text_flags:
            return out
        width = min(EVIDENCE_WIDTH, len(words))
        if width == len(words):
            return {**out, **{f: trainee for f in text_flags}}
        # Long turns step windows by two words (overlapping by half), halving the runs.
        step = 1 if len(words) <= 12 else 2
        starts = sorted({*range(0, len(words) - width + 1, step), len(words) - width})
        spans = [(s, s + width) for s in starts]
        sentences = [
            (lo, hi) for lo, hi in _sentences(words) if width < hi - lo <= MAX_SENTENCE_WORDS
        ]
        candidates = spans + sentences
        kept = self._probabilities([(peer, " ".join(words[lo:hi])) for lo, hi in candidates])
        removed = self._probabilities(
            [(peer, trainee)] + [(peer, " ".join(words[:lo] + words[hi:])) for lo, hi in candidates]
        )
        for flag in text_flags:
            col = self.heads.index(flag)
            score = kept[:, col] + (removed[0, col] - removed[1:, col])
            best = int(np.argmax(score[: len(spans)]))
            near = 0.9 * score[best]
            if sentences:
                top = len(spans) + int(np.argmax(score[len(spans) :]))
                if score[top] >= near:
                    out[flag] = " ".join(words[slice(*sentences[top - len(spans)])])
                    continue
            # Grow over the neighbouring windows that score nearly as well (at most 2x wide).
            chosen = [best]
            for i in (best - 1, best + 1):
                if 0 <= i < len(starts) and score[i] >= near:
                    chosen.append(i)
            lo = min(starts[i] for i in chosen)
            hi = min(max(starts[i] for i in chosen) + width, lo + 2 * width)
            out[flag] = " ".join(words[slice(*_phrase(words, lo, hi))]).rstrip(",;:")
        return out

    def _load_bank(self) -> dict[str, Any]:
        if self._bank is None:
            path = Path(self.config.get("suggestions_path") or ASSETS_DIR / SUGGESTIONS_FILE)
            if not path.is_absolute():
                path = MODELS_DIR.parent / path
            self._bank = json.loads(path.read_text())
        return self._bank

    def explanation(self, label: str) -> str:
        """The bank's plain-language explanation of a label, for reports."""
        bank = self._load_bank()
        entry = bank["labels"].get(label) or bank.get("strengths", {}).get(label) or {}
        return str(entry.get("explanation", ""))

    def suggestions(
        self, flags: Sequence[str], context: str, earlier: Sequence[str] = ()
    ) -> dict[str, str]:
        """A better reply for each flag on one turn, no two of them the same advice."""
        out: dict[str, str] = {}
        for flag in flags:
            out[flag] = self.suggest(flag, context, earlier, avoid=tuple(out.values()))
        return out

    def suggest(
        self, label: str, context: str, earlier: Sequence[str] = (), avoid: Sequence[str] = ()
    ) -> str:
        """The bank's better reply for ``label`` that best fits ``context`` (the peer's turn).

        ``earlier`` (the peer's turns before it, most recent last) also counts, for less.
        A reply that repeats one in ``avoid`` (suggested for another flag) loses to any other
        that fits the peer's turn as well.
        """
        alternatives = self._load_bank()["labels"].get(label, {}).get("alternatives", [])
        best = choose(alternatives, context, earlier, avoid)
        return "" if best is None else str(best["text"])


def _sentences(words: Sequence[str]) -> list[tuple[int, int]]:
    """The [start, end) word spans of the sentences of a turn with more than one."""
    ends = [i + 1 for i, w in enumerate(words[:-1]) if w[-1] in _SENTENCE_END]
    if not ends:
        return []
    edges = [0, *ends, len(words)]
    return list(zip(edges, edges[1:], strict=False))


def _phrase(words: Sequence[str], lo: int, hi: int) -> tuple[int, int]:
    """Widen ``words[lo:hi]`` to its clause's edges when they are near, so evidence reads as
    a phrase ("have you filled out the form yet?", not "out the form yet?")."""
    for start in range(lo, max(lo - SNAP_WORDS, 0) - 1, -1):
        if start == 0 or words[start - 1][-1] in _CLAUSE_END:
            lo = start
            break
    for end in range(hi, min(hi + SNAP_WORDS, len(words)) + 1):
        if end == len(words) or words[end - 1][-1] in _CLAUSE_END:
            return lo, end
    # no clause ends soon after: drop a few words that spill into the next sentence
    for end in range(hi - 1, max(hi - SNAP_WORDS, lo + 2) - 1, -1):
        if words[end - 1][-1] in _SENTENCE_END:
            return lo, end
    # or at least do not stop on a word that leads into the next ("at least you have a")
    for _ in range(2):
        if hi < len(words) and words[hi - 1].lower() in _LEADING_WORDS:
            hi += 1
    return lo, hi


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.lru_cache(maxsize=4)
def _load_cached(model_dir: str, threads: int) -> Classifier:
    return Classifier(Path(model_dir), threads=threads)


__all__ = ["Classifier", "Exchange", "TEXT_LABELS"]
