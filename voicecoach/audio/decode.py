"""Decode any audio file PyAV can read into float32 16 kHz channel blocks.

Files are streamed block by block, so a two-hour recording never sits in memory whole.
Every problem with the input raises :class:`~voicecoach.errors.InputError` with one line
naming the file, what is wrong and what to do.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voicecoach.errors import InputError

#: The sample rate of every array this module returns.
SAMPLE_RATE = 16000

_FLOAT_FORMATS = {"flt", "fltp", "dbl", "dblp"}
_CONVERT_HINT = "check the file or convert it to WAV (e.g. sox in.xyz -r 16000 out.wav)"


@dataclass(frozen=True)
class AudioInfo:
    """What :func:`probe` learned about a file without decoding it."""

    path: Path
    #: Duration from the container (or the stream); 0.0 when the file does not say.
    duration_s: float
    #: The file's own sample rate (the decoder resamples to :data:`SAMPLE_RATE`).
    sample_rate: int
    channels: int
    #: Codec name as FFmpeg calls it, e.g. ``pcm_s16le``, ``mp3``, ``opus``.
    codec: str


@dataclass
class DecodeReport:
    """Things the decoder fixed on the way; pass one in to read them after decoding."""

    #: One human-readable line per problem, each naming the file.
    warnings: list[str] = field(default_factory=list)
    #: How many non-finite input samples (NaN, +-inf) were replaced by 0.
    non_finite_samples: int = 0
    #: Samples per channel produced at :data:`SAMPLE_RATE`.
    samples: int = 0


def _check_path(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file; check the path")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, not an audio file; give the path of a file")
    if not os.access(p, os.R_OK):
        raise InputError(f"{p}: permission denied; make the file readable (chmod u+r) or copy it")
    if p.stat().st_size == 0:
        raise InputError(f"{p}: the file is empty (0 bytes); record or export it again")
    return p


def _open(p: Path) -> Any:
    import av

    try:
        container = av.open(str(p), mode="r", metadata_errors="ignore")
    except PermissionError as err:
        raise InputError(f"{p}: permission denied; make the file readable or copy it") from err
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as err:
        raise InputError(
            f"{p}: not an audio file PyAV can decode ({_reason(err)}); {_CONVERT_HINT}"
        ) from err
    if not container.streams.audio:
        container.close()
        raise InputError(
            f"{p}: has no audio stream; give a recording with sound (wav, flac, mp3, m4a, ogg)"
        )
    return container


def _reason(err: BaseException) -> str:
    text = getattr(err, "strerror", None) or str(err) or type(err).__name__
    return " ".join(str(text).split())


def _header_duration(stream: Any) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return 0.0


def probe(path: str | os.PathLike[str]) -> AudioInfo:
    """Read a file's header: duration, native sample rate, channel count and codec."""
    p = _check_path(path)
    container = _open(p)
    try:
        stream = container.streams.audio[0]
        duration = _header_duration(stream)
        if not duration and container.duration is not None:
            duration = container.duration / 1_000_000
        ctx = stream.codec_context
        return AudioInfo(
            path=p,
            duration_s=duration,
            sample_rate=int(ctx.sample_rate or 0),
            channels=int(ctx.channels or 0),
            codec=str(ctx.name),
        )
    finally:
        container.close()


def stream_channels(
    path: str | os.PathLike[str],
    *,
    block_s: float = 30.0,
    report: DecodeReport | None = None,
) -> Iterator[np.ndarray]:
    """Yield float32 blocks shaped ``[channels, n]`` at 16 kHz, in file order.

    Every block holds ``round(block_s * SAMPLE_RATE)`` samples per channel except the last.
    The channel layout of the file is kept (a 6-channel file gives 6 rows). Non-finite
    samples are replaced by 0 and counted in ``report``. Raises ``InputError`` on an
    unreadable, empty, corrupt or non-audio file, before the first block where possible.
    """
    import av

    if block_s <= 0:
        raise ValueError("block_s must be positive")
    block = max(1, round(block_s * SAMPLE_RATE))
    report = report if report is not None else DecodeReport()
    p = _check_path(path)
    container = _open(p)
    pending: list[np.ndarray] = []
    pending_n = 0
    produced = 0
    stream = container.streams.audio[0]
    bad_packets = 0
    stopped: str | None = None  # why demuxing stopped early, if it did
    try:
        resampler: Any = None
        layout: str | None = None
        source: tuple[Any, ...] | None = None  # input format, layout, rate of the resampler
        for frame in _frames(container, stream):
            if frame is None:
                bad_packets += 1
                continue
            if isinstance(frame, str):
                stopped = frame
                break
            if layout is None:
                layout = frame.layout.name if frame.layout.nb_channels else None
                layout = layout or stream.codec_context.layout.name
            this = (frame.format.name, frame.layout.name, frame.sample_rate)
            if resampler is None or this != source:
                # a stream that changes format mid-way (e.g. mono <-> stereo in some mp3
                # files) gets a fresh resampler to the same output layout
                for out in resampler.resample(None) if resampler is not None else []:
                    arr = _unpack(out)
                    pending.append(arr)
                    pending_n += arr.shape[1]
                # packed "flt", not planar: PyAV mis-counts planes from 8 channels up
                resampler = av.AudioResampler(format="flt", layout=layout, rate=SAMPLE_RATE)
                source = this
            frame = _sanitize(frame, report)
            for out in resampler.resample(frame):
                arr = _unpack(out)
                pending.append(arr)
                pending_n += arr.shape[1]
            while pending_n >= block:
                chunk, pending, pending_n = _take(pending, pending_n, block)
                produced += chunk.shape[1]
                yield _finite(chunk, p, report)
        if resampler is not None:
            for out in resampler.resample(None):
                arr = _unpack(out)
                pending.append(arr)
                pending_n += arr.shape[1]
        if resampler is None or produced + pending_n == 0:
            why = f"{bad_packets} corrupt packets" if bad_packets else "truncated?"
            if stopped:
                why = stopped
            raise InputError(
                f"{p}: the audio stream holds no decodable samples ({why}); {_CONVERT_HINT}"
            )
        while pending_n > 0:
            chunk, pending, pending_n = _take(pending, pending_n, block)
            produced += chunk.shape[1]
            yield _finite(chunk, p, report)
    finally:
        report.samples = produced
        container.close()
    if bad_packets:
        report.warnings.append(
            f"{p}: skipped {bad_packets} corrupt audio packets (short dropouts in the audio)"
        )
    if stopped:
        report.warnings.append(
            f"{p}: the file is damaged after {produced / SAMPLE_RATE:.1f} s ({stopped}); "
            "scored the audio before that"
        )
    if report.non_finite_samples:
        report.warnings.append(
            f"{p}: replaced {report.non_finite_samples} non-finite samples (NaN/inf) with silence"
        )


def read_channels(
    path: str | os.PathLike[str], *, report: DecodeReport | None = None
) -> np.ndarray:
    """Decode a whole (short) file into one float32 ``[channels, n]`` array at 16 kHz."""
    blocks = list(stream_channels(path, block_s=60.0, report=report))
    return np.concatenate(blocks, axis=1) if len(blocks) > 1 else blocks[0]


def _take(
    pending: list[np.ndarray], pending_n: int, n: int
) -> tuple[np.ndarray, list[np.ndarray], int]:
    joined = np.concatenate(pending, axis=1) if len(pending) > 1 else pending[0]
    head, rest = joined[:, :n], joined[:, n:]
    left = [rest] if rest.shape[1] else []
    return np.array(head, dtype=np.float32, order="C"), left, pending_n - head.shape[1]


def _frames(container: Any, stream: Any) -> Iterator[Any]:
    """Decoded frames; ``None`` for a packet the codec rejects, a reason string (then stop)
    when the container itself cannot be read any further."""
    import av

    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.FFmpegError as err:
            yield _reason(err)
            return
        try:
            frames = packet.decode()
        except av.FFmpegError:
            yield None
            continue
        yield from frames


def _unpack(frame: Any) -> np.ndarray:
    """A packed float frame as a ``[channels, n]`` array."""
    channels = frame.layout.nb_channels
    return frame.to_ndarray().reshape(-1, channels).T


def _sanitize(frame: Any, report: DecodeReport) -> Any:
    """Replace NaN/inf in float input frames before the resampler smears them."""
    if frame.format.name not in _FLOAT_FORMATS:
        return frame
    if frame.format.is_planar and frame.layout.nb_channels >= 8:
        return frame  # PyAV cannot read these planes safely; _finite cleans the output
    import av

    data = frame.to_ndarray()
    bad = ~np.isfinite(data)
    count = int(bad.sum())
    if not count:
        return frame
    report.non_finite_samples += count
    data = np.where(bad, 0.0, data).astype(data.dtype)
    clean = av.AudioFrame.from_ndarray(data, format=frame.format.name, layout=frame.layout.name)
    clean.sample_rate = frame.sample_rate
    clean.pts = frame.pts
    clean.time_base = frame.time_base
    return clean


def _finite(chunk: np.ndarray, p: Path, report: DecodeReport) -> np.ndarray:
    bad = ~np.isfinite(chunk)
    if bad.any():  # safety net: a decoder could still emit non-finite output
        report.non_finite_samples += int(bad.sum())
        chunk[bad] = 0.0
    return chunk
