"""Role-play audio from a written script, spoken by espeak-ng: demo sessions and test audio.

A script is a list of :class:`Line`; each starts ``gap_s`` after the latest end so far
(negative: before it ends, i.e. overlapping). :func:`render` returns a stereo track with
the trainee on channel 0 and the peer on channel 1, and the exact time of every line.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voicecoach.errors import ModelMissingError
from voicecoach.types import Speaker

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Line:
    """One line of a role-play script."""

    speaker: Speaker
    text: str
    #: Seconds after the latest end so far; negative starts while someone is still talking.
    gap_s: float = 0.7
    #: espeak-ng voice, e.g. "en-us+f3".
    voice: str | None = None
    rate: int = 165
    #: What the line is meant to show (ground truth for tests and the demo).
    expect: tuple[str, ...] = field(default_factory=tuple)


def espeak(text: str, voice: str = "en-us", rate: int = 165) -> np.ndarray:
    """``text`` spoken by espeak-ng as 16 kHz mono float32."""
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if exe is None:
        raise ModelMissingError("espeak-ng is not installed: run apt-get install espeak-ng")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "line.wav"
        subprocess.run(
            [exe, "-v", voice, "-s", str(rate), "-w", str(path), text],
            check=True,
            capture_output=True,
        )
        with wave.open(str(path), "rb") as w:
            rate_in = w.getframerate()
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    samples = pcm.astype(np.float32) / 32768.0
    return resample(samples, rate_in, SAMPLE_RATE)


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Linear-interpolation resampling (good enough for speech synthesis output)."""
    if rate_in == rate_out or len(samples) == 0:
        return samples.astype(np.float32)
    n_out = int(round(len(samples) * rate_out / rate_in))
    x_out = np.arange(n_out) * (rate_in / rate_out)
    return np.interp(x_out, np.arange(len(samples)), samples).astype(np.float32)


DEFAULT_VOICES: dict[Speaker, str] = {"trainee": "en-us+m3", "peer": "en+f4"}


def render(
    lines: Sequence[Line], *, lead_s: float = 0.5, tail_s: float = 0.8
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Stereo float32 [2, n] (trainee, peer) and each line's start/end in seconds."""
    clips = [
        espeak(line.text, line.voice or DEFAULT_VOICES[line.speaker], line.rate) for line in lines
    ]
    timeline: list[dict[str, Any]] = []
    latest_end = lead_s
    for line, clip in zip(lines, clips, strict=True):
        speech = np.flatnonzero(np.abs(clip) > 0.01)
        lead, trail = (speech[0], speech[-1]) if speech.size else (0, len(clip))
        start = max(0.0, latest_end + line.gap_s - lead / SAMPLE_RATE)
        timeline.append(
            {
                "speaker": line.speaker,
                "text": line.text,
                "start_s": round(start + lead / SAMPLE_RATE, 3),
                "end_s": round(start + trail / SAMPLE_RATE, 3),
                "clip_start_s": start,
                "expect": list(line.expect),
            }
        )
        latest_end = max(latest_end, start + trail / SAMPLE_RATE)
    total = int((latest_end + tail_s) * SAMPLE_RATE) + 1
    stereo = np.zeros((2, total), dtype=np.float32)
    for entry, clip in zip(timeline, clips, strict=True):
        channel = 0 if entry["speaker"] == "trainee" else 1
        at = int(entry.pop("clip_start_s") * SAMPLE_RATE)
        stereo[channel, at : at + len(clip)] += clip[: total - at]
    return np.clip(stereo, -1.0, 1.0), timeline


def write_wav(path: Path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write float32 audio shaped [channels, n] (or [n]) as 16-bit PCM WAV."""
    frames = audio if audio.ndim == 2 else audio[None, :]
    pcm = (np.clip(frames.T, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(frames.shape[0])
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
