"""Make real test audio at test time: espeak-ng speech, PyAV-encoded files, noise."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}


def espeak(path: Path, text: str, *, voice: str = "en-us", speed: int = 160) -> Path:
    """Synthesise ``text`` to a 22.05 kHz 16-bit mono WAV at ``path`` with espeak-ng."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed")
    subprocess.run([exe, "-v", voice, "-s", str(speed), "-w", str(path), text], check=True)
    return path


def sox(*args: str | Path) -> None:
    """Run sox with ``args`` (raises if it fails)."""
    subprocess.run(["sox", *map(str, args)], check=True, capture_output=True)


def write_audio(
    path: Path,
    samples: np.ndarray,
    rate: int,
    *,
    codec: str = "pcm_s16le",
    container: str | None = None,
) -> Path:
    """Encode float32 ``samples`` (``[n]`` or ``[channels, n]``) with PyAV."""
    import av

    data = np.atleast_2d(np.asarray(samples, dtype=np.float32))
    layout = LAYOUTS[data.shape[0]]
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        step = 4096
        for a in range(0, data.shape[1], step):
            packed = np.ascontiguousarray(data[:, a : a + step].T).reshape(1, -1)
            # packed "flt": PyAV mis-handles planar frames from 8 channels up
            frame = av.AudioFrame.from_ndarray(packed, format="flt", layout=layout)
            frame.sample_rate = rate
            frame.pts = a
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def write_video_only(path: Path) -> Path:
    """A tiny MPEG-4 video file with no audio stream."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(5):
            img = np.full((32, 32, 3), i * 40, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def silence(seconds: float, rate: int = 16000) -> np.ndarray:
    return np.zeros(round(seconds * rate), dtype=np.float32)


def white_noise(seconds: float, level: float, rate: int = 16000, seed: int = 0) -> np.ndarray:
    """Gaussian white noise with standard deviation ``level``."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(round(seconds * rate)) * level).astype(np.float32)


def active_span(samples: np.ndarray, rate: int = 16000, level: float = 0.01) -> tuple[float, float]:
    """First and last time where ``|samples| > level`` (the true speech boundaries)."""
    idx = np.flatnonzero(np.abs(samples) > level)
    return idx[0] / rate, (idx[-1] + 1) / rate


def read_native(path: Path) -> tuple[np.ndarray, int]:
    """Decode a file with PyAV at its own rate: float32 ``[channels, n]`` and the rate."""
    import av

    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        rate = stream.codec_context.sample_rate
        frames = [f.to_ndarray() for f in c.decode(stream)]
    x = np.concatenate(frames, axis=1)
    if x.dtype == np.int16:
        x = x / 32768.0
    return x.astype(np.float32), rate
