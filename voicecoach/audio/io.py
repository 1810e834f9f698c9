"""The narrow interfaces between voicecoach and sound hardware.

Everything platform-specific (PortAudio devices, the OS's TTS driver) sits behind these.
A file-backed source yields exactly the same :class:`~voicecoach.types.AudioChunk` stream as
the microphone, so the live loop runs from real audio files in tests, and a file-backed
sink records what would have been played.

Conventions: mono float32 in [-1, 1] at 16 kHz (:data:`SAMPLE_RATE`); times are seconds on
the session clock, which starts at 0 when the session starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import numpy as np

from voicecoach.types import AudioChunk

SAMPLE_RATE = 16000
#: One block of the live loop: 512 samples = 32 ms at 16 kHz (one Silero VAD frame).
BLOCK_SAMPLES = 512


@runtime_checkable
class AudioSource(Protocol):
    """Where the trainee's voice comes from: a microphone or audio files."""

    sample_rate: int

    def chunks(self) -> Iterator[AudioChunk]:
        """Consecutive blocks of :data:`BLOCK_SAMPLES` samples until the source ends."""
        ...

    def close(self) -> None:
        """Stop capturing and release the device or file."""
        ...


@runtime_checkable
class Playback(Protocol):
    """One sound being played by a sink; stoppable at once (barge-in)."""

    #: Session time at which the first sample was (or will be) heard.
    start_s: float

    def stop(self) -> float:
        """Stop now; returns the seconds of audio actually played."""
        ...

    def done(self) -> bool:
        """True once the sound has played to the end or was stopped."""
        ...

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until done (or the timeout); returns :meth:`done`."""
        ...


@runtime_checkable
class AudioSink(Protocol):
    """Where the peer's voice goes: speakers, a WAV file, or nowhere."""

    sample_rate: int

    def play(self, samples: np.ndarray, at_s: float | None = None) -> Playback:
        """Start playing mono 16 kHz ``samples`` without blocking.

        ``at_s`` is the session time to place them at (file sinks); a device sink plays
        them now.
        """
        ...

    def close(self) -> None: ...
