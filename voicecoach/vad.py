"""Voice activity detection with Silero VAD v6 (the ONNX asset shipped in faster-whisper).

:class:`SileroVad` scores 32 ms frames (512 samples at 16 kHz) carrying the model state, so
streaming frame by frame equals scoring a whole array. :class:`Endpointer` turns the scores
into speech start / end events for the live loop, and :func:`speech_regions` into padded
``(start_s, end_s)`` regions for files.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from voicecoach.errors import ModelMissingError

SAMPLE_RATE = 16000
FRAME = 512  #: new samples per VAD frame (32 ms at 16 kHz)
CONTEXT = 64  #: samples of the previous frame the model sees in front of each frame
FRAME_S = FRAME / SAMPLE_RATE


@dataclass(frozen=True)
class VadOptions:
    """How speech probabilities become speech regions (times in ms unless named ``_s``)."""

    #: A frame with probability at or above this is speech.
    threshold: float = 0.5
    #: Once speaking, only a frame below this starts a silence (hysteresis); frames between
    #: the two thresholds continue whatever state is current.
    neg_threshold: float = 0.35
    #: Speech shorter than this (clicks, coughs) is ignored; ``SpeechStarted`` is emitted
    #: once the speech has lasted this long, stamped with its onset time.
    min_speech_ms: int = 250
    #: Silence this long ends the speech (``SpeechEnded``). Shorter pauses stay inside it.
    min_silence_ms: int = 400
    #: Silence this long emits ``SilenceStarted`` so the live loop can start transcribing
    #: speculatively; keep it below ``min_silence_ms``.
    speculative_silence_ms: int = 160
    #: Regions from :func:`speech_regions` are widened by this much on each side (never
    #: overlapping a neighbour, never past the stream ends).
    speech_pad_ms: int = 120
    #: Speech longer than this is split, at the last pause of >= 100 ms if there was one.
    max_speech_s: float = 25.0


def silero_model_path() -> Path:
    """Path of ``silero_vad_v6.onnx`` inside the installed faster_whisper package."""
    try:
        import faster_whisper
    except ImportError as err:
        raise ModelMissingError(
            "faster-whisper is not installed (it ships the Silero VAD model): "
            "run pip install faster-whisper"
        ) from err
    path = Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"
    if not path.is_file():
        raise ModelMissingError(
            f"{path}: Silero VAD v6 model missing from faster-whisper "
            f"{getattr(faster_whisper, '__version__', '?')}; reinstall faster-whisper>=1.1"
        )
    return path


class SileroVad:
    """Streaming Silero VAD v6 scorer: 512-sample frames in, speech probabilities out."""

    def __init__(self, model_path: str | os.PathLike[str] | None = None) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.enable_cpu_mem_arena = False
        opts.log_severity_level = 4
        path = Path(model_path) if model_path is not None else silero_model_path()
        self._session: Any = ort.InferenceSession(
            str(path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        names = [i.name for i in self._session.get_inputs()]
        if names != ["input", "h", "c"]:
            raise ModelMissingError(
                f"{path}: unexpected Silero VAD inputs {names} (want input, h, c); "
                "reinstall faster-whisper>=1.1"
            )
        self.reset()

    def reset(self) -> None:
        """Forget the state: the next frame is scored as the start of a stream."""
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)

    def frame_probability(self, frame: np.ndarray) -> float:
        """Speech probability of the next 512-sample frame, carrying state."""
        frame = np.asarray(frame, dtype=np.float32).reshape(-1)
        if frame.shape[0] != FRAME:
            raise ValueError(f"a VAD frame is {FRAME} samples, got {frame.shape[0]}")
        return float(self._run(frame.reshape(1, FRAME))[0])

    def probabilities(self, samples: np.ndarray, *, batch: int = 4096) -> np.ndarray:
        """Probabilities of consecutive frames of ``samples``, carrying state.

        ``len(samples)`` must be a multiple of 512 (pad the end of a stream with zeros);
        the result equals calling :meth:`frame_probability` frame by frame.
        """
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        if samples.shape[0] % FRAME:
            raise ValueError(f"length {samples.shape[0]} is not a multiple of {FRAME}")
        frames = samples.reshape(-1, FRAME)
        out = [self._run(frames[i : i + batch]) for i in range(0, frames.shape[0], batch)]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

    def _run(self, frames: np.ndarray) -> np.ndarray:
        n = frames.shape[0]
        inp = np.empty((n, CONTEXT + FRAME), dtype=np.float32)
        inp[:, CONTEXT:] = frames
        inp[0, :CONTEXT] = self._context
        if n > 1:
            inp[1:, :CONTEXT] = frames[:-1, -CONTEXT:]
        prob, self._h, self._c = self._session.run(None, {"input": inp, "h": self._h, "c": self._c})
        self._context = frames[-1, -CONTEXT:].copy()
        return np.asarray(prob, dtype=np.float32).reshape(n)


@dataclass(frozen=True)
class SpeechStarted:
    """Speech has lasted ``min_speech_ms``; it began at ``t_s``."""

    t_s: float


@dataclass(frozen=True)
class SilenceStarted:
    """A pause began at ``t_s`` and has lasted ``speculative_silence_ms``: speech may be ending."""

    t_s: float


@dataclass(frozen=True)
class SpeechResumed:
    """Speech came back at ``t_s`` after a :class:`SilenceStarted`, before it ended."""

    t_s: float


@dataclass(frozen=True)
class SpeechEnded:
    """Speech from ``start_s`` to ``end_s`` (unpadded) is over.

    ``next_start_s`` is set when the speech was split at ``max_speech_s`` and continues at
    that time (a ``SpeechStarted`` for it follows immediately).
    """

    start_s: float
    end_s: float
    next_start_s: float | None = None


VadEvent = SpeechStarted | SilenceStarted | SpeechResumed | SpeechEnded


class Endpointer:
    """Streaming speech endpointing: feed 16 kHz float32 blocks of any size, get events.

    States: quiet -> candidate -> speaking -> (pause) -> speaking | quiet. A candidate whose
    speech (up to its pause) reaches ``min_speech_ms`` becomes speaking; one that falls
    silent for ``min_silence_ms`` first is dropped. Events come in
    the order ``SpeechStarted``, then any number of ``SilenceStarted`` / ``SpeechResumed``
    pairs, then ``SpeechEnded``.
    """

    def __init__(self, options: VadOptions | None = None, vad: SileroVad | None = None) -> None:
        self.options = options or VadOptions()
        self.vad = vad or SileroVad()
        o = self.options
        self._min_speech = o.min_speech_ms / 1000
        self._min_silence = o.min_silence_ms / 1000
        self._spec_silence = min(o.speculative_silence_ms, o.min_silence_ms) / 1000
        self._max_speech = o.max_speech_s
        self.reset()

    def reset(self, start_s: float = 0.0) -> None:
        """Start a new stream at ``start_s`` (also resets the VAD model state)."""
        self.vad.reset()
        self._origin = start_s
        self._frames = 0  # frames scored since origin
        self._leftover = np.zeros(0, dtype=np.float32)
        self._speaking = False
        self._onset: float | None = None  # candidate or confirmed speech start
        self._pause: float | None = None  # silence onset while speaking
        self._pause_announced = False
        self._last_pause: tuple[float, float] | None = None  # (pause start, resume) >= 98 ms
        #: Speech probabilities of the frames the last :meth:`feed` scored (for meters).
        self.last_probabilities = np.zeros(0, dtype=np.float32)

    @property
    def now_s(self) -> float:
        """Stream time up to which audio has been scored."""
        return self._origin + self._frames * FRAME_S

    @property
    def fed_s(self) -> float:
        """Stream time up to which audio has been fed (scored or waiting for a full frame)."""
        return self.now_s + len(self._leftover) / SAMPLE_RATE

    @property
    def speaking(self) -> bool:
        """Whether confirmed speech is in progress (including a pause inside it)."""
        return self._speaking

    @property
    def retain_from_s(self) -> float:
        """Earliest stream time a region that is not yet ended can start at."""
        return self._onset if self._onset is not None else self.now_s

    def feed(self, samples: np.ndarray, start_s: float | None = None) -> list[VadEvent]:
        """Score a block and return the events it completed.

        ``start_s`` is the block's stream time. Blocks are expected to be contiguous; a block
        that starts elsewhere ends the current speech (:meth:`flush`) and re-anchors.
        """
        events: list[VadEvent] = []
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        if start_s is not None:
            if self._frames == 0 and len(self._leftover) == 0:
                self._origin = start_s
            elif abs(start_s - self.fed_s) > 2 / SAMPLE_RATE:
                events += self.flush()
                self.reset(start_s)
        buf = np.concatenate([self._leftover, samples]) if len(self._leftover) else samples
        n = len(buf) // FRAME * FRAME
        self._leftover = buf[n:].copy()
        if n:
            probs = self.vad.probabilities(buf[:n])
            self.last_probabilities = probs
            for p in probs:
                events += self._step(float(p))
        return events

    def flush(self) -> list[VadEvent]:
        """End of stream: score the last partial frame and close any open speech."""
        events: list[VadEvent] = []
        end = self.fed_s
        if len(self._leftover):
            frame = np.zeros(FRAME, dtype=np.float32)
            frame[: len(self._leftover)] = self._leftover
            self._leftover = np.zeros(0, dtype=np.float32)
            events += self._step(self.vad.frame_probability(frame))
            self._frames -= 1  # the padded frame is not stream time
            self._origin = end - self._frames * FRAME_S
        if self._onset is not None:
            stop = min(self._pause if self._pause is not None else end, end)
            if not self._speaking and stop - self._onset >= self._min_speech:
                self._speaking = True
                events.append(SpeechStarted(self._onset))
            if self._speaking:
                events.append(SpeechEnded(self._onset, stop))
        self._close()
        return events

    def _step(self, p: float) -> list[VadEvent]:
        o = self.options
        t = self.now_s  # start time of this frame
        self._frames += 1
        t_end = self.now_s
        events: list[VadEvent] = []
        if self._onset is None:
            if p >= o.threshold:
                self._onset = t
                self._pause = None
                self._last_pause = None
            else:
                return events
        elif self._pause is None:
            if p < o.neg_threshold:
                self._pause = t
                self._pause_announced = False
        elif p >= o.threshold:
            if t - self._pause >= 0.098:
                self._last_pause = (self._pause, t)
            if self._pause_announced:
                events.append(SpeechResumed(t))
            self._pause = None
            self._pause_announced = False

        voiced_until = self._pause if self._pause is not None else t_end
        if not self._speaking and voiced_until - self._onset >= self._min_speech:
            self._speaking = True
            events.append(SpeechStarted(self._onset))
        if self._pause is not None:
            silent = t_end - self._pause
            if self._speaking and not self._pause_announced and silent >= self._spec_silence:
                self._pause_announced = True
                events.append(SilenceStarted(self._pause))
            if silent >= self._min_silence:
                if self._speaking:  # else: shorter than min_speech, a click: dropped
                    events.append(SpeechEnded(self._onset, self._pause))
                self._close()
                return events
        if self._speaking and t_end - self._onset > self._max_speech:
            events += self._split(t_end)
        return events

    def _close(self) -> None:
        self._speaking = False
        self._onset = self._pause = None
        self._pause_announced = False
        self._last_pause = None

    def _split(self, t_end: float) -> list[VadEvent]:
        assert self._onset is not None
        if self._pause is not None and t_end - self._pause >= 0.098:
            # in a pause right now: end here, the rest is silence until speech resumes
            events: list[VadEvent] = [SpeechEnded(self._onset, self._pause)]
            self._close()
            return events
        if self._last_pause is not None:
            end, resume = self._last_pause
        else:
            end = resume = t_end
        events = [SpeechEnded(self._onset, end, next_start_s=resume), SpeechStarted(resume)]
        self._onset = resume
        self._last_pause = None
        return events


class Region(NamedTuple):
    """A padded speech region and the unpadded speech inside it (seconds)."""

    start_s: float
    end_s: float
    speech_start_s: float
    speech_end_s: float


class RegionFinder:
    """Endpointer plus padding: feed contiguous blocks, get :class:`Region` s in order."""

    def __init__(self, options: VadOptions | None = None, vad: SileroVad | None = None) -> None:
        self.endpointer = Endpointer(options, vad)
        o = self.endpointer.options
        self._pad = o.speech_pad_ms / 1000
        self._end_pad = min(self._pad, o.min_silence_ms / 2000)
        self._origin: float | None = None
        self._prev_end = -np.inf  # padded end of the previous region

    @property
    def retain_from_s(self) -> float:
        """Audio before this time is not part of any region still to come."""
        start = self.endpointer.retain_from_s - self._pad
        return max(start, self._prev_end, self._origin or 0.0)

    def feed(self, samples: np.ndarray, start_s: float | None = None) -> list[Region]:
        """Score a block; return the regions that ended in it."""
        if self._origin is None:
            self._origin = start_s or 0.0
        return self._regions(self.endpointer.feed(samples, start_s), final=False)

    def flush(self) -> list[Region]:
        """End of stream: return the last region, if speech was still open."""
        return self._regions(self.endpointer.flush(), final=True)

    def _regions(self, events: list[VadEvent], *, final: bool) -> list[Region]:
        out = []
        stream_end = self.endpointer.fed_s
        for ev in events:
            if not isinstance(ev, SpeechEnded):
                continue
            start = max(ev.start_s - self._pad, self._prev_end, self._origin or 0.0)
            if ev.next_start_s is not None:
                end = ev.end_s + min(self._pad, (ev.next_start_s - ev.end_s) / 2)
            else:
                end = ev.end_s + (self._pad if final else self._end_pad)
            end = min(end, stream_end)
            if end > start:
                speech = (min(max(ev.start_s, start), end), min(max(ev.end_s, start), end))
                out.append(Region(start, end, *speech))
                self._prev_end = end
        return out


def speech_regions(
    blocks: Iterable[np.ndarray],
    options: VadOptions | None = None,
    *,
    start_s: float = 0.0,
    vad: SileroVad | None = None,
) -> Iterator[tuple[float, float]]:
    """Padded speech regions ``(start_s, end_s)`` of a stream of mono 16 kHz blocks.

    Blocks are consecutive, the first starting at ``start_s``. Regions come out in order as
    soon as each one ends, so a long file is processed block by block.
    """
    finder = RegionFinder(options, vad)
    t = start_s
    for block in blocks:
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        for r in finder.feed(block, t):
            yield r.start_s, r.end_s
        t += len(block) / SAMPLE_RATE
    for r in finder.flush():
        yield r.start_s, r.end_s
