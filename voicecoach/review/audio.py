"""Session audio for the review report: waveform envelopes and a small embeddable Opus file.

The report is one self-contained HTML file, so the audio travels inside it as a
``data:audio/ogg`` URI: both speakers mixed to mono Opus at a speech bitrate (24 kb/s:
about 3 kB per second, so a 30-minute session adds about 7 MB of base64). Decoding,
the waveform envelope and encoding run in one streaming pass.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicecoach.audio.decode import SAMPLE_RATE, DecodeReport, read_channels

#: Opus accepts 8, 12, 16, 24 and 48 kHz input; speech is decoded at 16 kHz.
OPUS_RATE = SAMPLE_RATE


@dataclass(frozen=True)
class EncodeOptions:
    """How the session audio is compressed for the report."""

    #: Opus bitrate in bits per second; 24 kb/s keeps speech clear.
    bitrate: int = 24000
    #: libopus effort, 0 (fastest) to 10; 5 is about 1.4x faster than 10 for speech at the
    #: same size when tuned for voice.
    complexity: int = 5
    #: Samples per encoded frame handed to the encoder (any size; PyAV re-blocks).
    block: int = 4096


@dataclass(frozen=True)
class SessionAudio:
    """Decoded session audio: float32 ``[channels, n]`` at :data:`SAMPLE_RATE`."""

    samples: np.ndarray
    sample_rate: int
    #: What the decoder had to fix or noticed (e.g. a truncated file), one line each.
    warnings: tuple[str, ...] = ()

    @property
    def duration_s(self) -> float:
        return self.samples.shape[1] / self.sample_rate


@dataclass(frozen=True)
class Envelope:
    """Per-channel min/max of the audio over ``points`` equal slices of the session."""

    #: float32 ``[channels, points]``, each in [-1, 1].
    mins: np.ndarray
    maxs: np.ndarray
    duration_s: float

    @property
    def points(self) -> int:
        return int(self.mins.shape[1])

    @property
    def channels(self) -> int:
        return int(self.mins.shape[0])


def read_session_audio(path: Path) -> SessionAudio:
    """Decode all of ``path`` (any format PyAV reads); raises InputError when it is unusable."""
    report = DecodeReport()
    samples = read_channels(path, report=report)
    return SessionAudio(samples, SAMPLE_RATE, tuple(report.warnings))


def envelope(samples: np.ndarray, sample_rate: int, points: int = 1200) -> Envelope:
    """Min/max pairs of each channel over ``points`` slices (fewer for very short audio)."""
    data = np.atleast_2d(np.asarray(samples, dtype=np.float32))
    return _reduce(data, data, data.shape[1] / sample_rate, points)


def _reduce(mins: np.ndarray, maxs: np.ndarray, duration_s: float, points: int) -> Envelope:
    """Fold per-sample (or per-hop) minima and maxima into ``points`` slices."""
    n = mins.shape[1]
    if n == 0:
        zeros = np.zeros((mins.shape[0], 1), dtype=np.float32)
        return Envelope(zeros, zeros, 0.0)
    points = max(1, min(points, n))
    starts = np.linspace(0, n, points + 1).astype(np.int64)[:-1]
    return Envelope(
        np.clip(np.minimum.reduceat(mins, starts, axis=1), -1, 1).astype(np.float32),
        np.clip(np.maximum.reduceat(maxs, starts, axis=1), -1, 1).astype(np.float32),
        duration_s,
    )


@dataclass(frozen=True)
class PreparedAudio:
    """What the report needs from the session audio."""

    envelope: Envelope
    #: The session mixed to mono, Opus in OGG.
    ogg_opus: bytes
    duration_s: float
    warnings: tuple[str, ...] = ()


#: Samples per min/max pair while streaming (10 ms); folded to the envelope's points at the end.
HOP = SAMPLE_RATE // 100


def prepare_audio(
    path: Path, options: EncodeOptions | None = None, points: int = 1200
) -> PreparedAudio:
    """Envelope and Opus encoding in one streaming pass (memory stays flat for long sessions).

    Raises InputError when the file cannot be decoded at all.
    """
    from voicecoach.audio.decode import stream_channels

    options = options or EncodeOptions()
    report = DecodeReport()
    encoder = _OpusWriter(options)
    mins: list[np.ndarray] = []
    maxs: list[np.ndarray] = []
    carry: np.ndarray | None = None
    total = 0
    for block in stream_channels(path, block_s=10.0, report=report):
        total += block.shape[1]
        encoder.write(block)
        data = block if carry is None else np.concatenate([carry, block], axis=1)
        whole = data.shape[1] // HOP * HOP
        if whole:
            hops = data[:, :whole].reshape(data.shape[0], -1, HOP)
            mins.append(hops.min(axis=2))
            maxs.append(hops.max(axis=2))
        carry = data[:, whole:] if whole < data.shape[1] else None
    if carry is not None and carry.shape[1]:
        mins.append(carry.min(axis=1, keepdims=True))
        maxs.append(carry.max(axis=1, keepdims=True))
    duration = total / SAMPLE_RATE
    env = _reduce(np.concatenate(mins, axis=1), np.concatenate(maxs, axis=1), duration, points)
    return PreparedAudio(env, encoder.close(), duration, tuple(report.warnings))


class _OpusWriter:
    """Mixes blocks of ``[channels, n]`` audio to mono and encodes them to Opus in OGG."""

    def __init__(self, options: EncodeOptions) -> None:
        import av

        self._av = av
        self.options = options
        self.buffer = io.BytesIO()
        self.container = av.open(self.buffer, "w", format="ogg")
        self.stream = self.container.add_stream(
            "libopus",
            rate=OPUS_RATE,
            layout="mono",
            options={"application": "voip", "compression_level": str(options.complexity)},
        )
        self.stream.bit_rate = options.bitrate
        self.pts = 0

    def write(self, block: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
        mono = np.clip(np.atleast_2d(block).sum(axis=0), -1.0, 1.0).astype(np.float32)
        if sample_rate != OPUS_RATE:
            from voicecoach.roleplay import resample

            mono = resample(mono, sample_rate, OPUS_RATE)
        for at in range(0, len(mono), self.options.block):
            frame = self._av.AudioFrame.from_ndarray(
                np.ascontiguousarray(mono[None, at : at + self.options.block]),
                format="flt",
                layout="mono",
            )
            frame.sample_rate = OPUS_RATE
            frame.pts = self.pts
            self.pts += frame.samples
            for packet in self.stream.encode(frame):
                self.container.mux(packet)

    def close(self) -> bytes:
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        self.container.close()
        return self.buffer.getvalue()


def encode_opus(samples: np.ndarray, sample_rate: int, options: EncodeOptions) -> bytes:
    """Both channels mixed to mono and encoded as Opus in an OGG container."""
    writer = _OpusWriter(options)
    writer.write(samples, sample_rate)
    return writer.close()


def data_uri(ogg_opus: bytes) -> str:
    """A ``data:`` URI an ``<audio>`` element plays without any network access."""
    return "data:audio/ogg;codecs=opus;base64," + base64.b64encode(ogg_opus).decode("ascii")
