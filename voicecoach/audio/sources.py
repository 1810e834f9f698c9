"""Where the trainee's voice comes from: the microphone (PortAudio) or audio files.

Both sources yield the same stream of :class:`~voicecoach.types.AudioChunk` blocks of
:data:`~voicecoach.audio.io.BLOCK_SAMPLES` mono float32 samples at 16 kHz, with ``start_s``
on the session clock, so the live loop cannot tell a real microphone from a file.

Device problems raise :class:`AudioDeviceError` with one line naming the fix.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from voicecoach.audio.io import BLOCK_SAMPLES, SAMPLE_RATE
from voicecoach.errors import VoicecoachError
from voicecoach.types import AudioChunk

#: How long a running device stream may be silent (no callbacks) before it counts as lost.
DEVICE_STALL_S = 2.0

_PORTAUDIO_FIX = (
    "PortAudio is not installed: apt-get install libportaudio2 (Linux), brew install "
    "portaudio (macOS), or reinstall the sounddevice package (Windows)"
)


class AudioDeviceError(VoicecoachError):
    """A microphone or speaker problem; the message names the fix."""


class SessionClock:
    """The monotonic session clock: seconds since the session started.

    Microphone chunks, played audio and events are all placed on this clock.
    """

    def __init__(self, origin: float | None = None) -> None:
        #: ``time.monotonic()`` at session time 0.
        self.origin = time.monotonic() if origin is None else origin

    def now_s(self) -> float:
        """Seconds since the session started."""
        return time.monotonic() - self.origin

    def monotonic_at(self, session_s: float) -> float:
        """The ``time.monotonic()`` value of session time ``session_s``."""
        return self.origin + session_s

    def sleep_until(self, session_s: float) -> None:
        """Sleep until session time ``session_s`` (returns at once if it has passed)."""
        delay = self.monotonic_at(session_s) - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def __call__(self) -> float:
        """Same as :meth:`now_s`, so a clock can be passed where a function is expected."""
        return self.now_s()


ClockLike = SessionClock | Callable[[], float]


def as_clock(clock: ClockLike | None) -> SessionClock:
    """A :class:`SessionClock` from a clock, a function returning session seconds, or None.

    A function ``f`` is taken to count session seconds in real time (like
    ``time.monotonic() - t0``); None starts a new clock at 0 now.
    """
    if clock is None:
        return SessionClock()
    if isinstance(clock, SessionClock):
        return clock
    return SessionClock(time.monotonic() - float(clock()))


def import_sounddevice() -> ModuleType:
    """Import ``sounddevice``, turning a missing PortAudio into a one-line fix."""
    try:
        import sounddevice
    except OSError:
        raise AudioDeviceError(_PORTAUDIO_FIX) from None
    except ImportError:
        raise AudioDeviceError(
            "the sounddevice package is not installed: pip install sounddevice"
        ) from None
    return sounddevice


#: Set once a device died under an open stream; PortAudio is then left alone.
DEVICE_LOST = threading.Event()


def forget_portaudio_at_exit() -> None:
    """After a device was lost, never close its streams or shut PortAudio down.

    Once the sound server or device has died under an open stream, PortAudio's ALSA layer
    can abort the whole process when a stream is closed or PortAudio is terminated (seen:
    ``PaUnixMutex_Terminate`` assertion, SIGABRT), after the session was saved, turning a
    clean one-line error into a crash. The process is about to end, so the dead streams
    are simply left for the OS to reclaim.
    """
    import atexit
    import sys

    DEVICE_LOST.set()
    module = sys.modules.get("sounddevice")
    handler = getattr(module, "_exit_handler", None)
    if handler is not None:
        atexit.unregister(handler)


def _describe(device: int | str | None) -> str:
    return "the default microphone" if device is None else f"microphone {device!r}"


def check_input_device(sd: ModuleType, device: int | str | None) -> dict[str, Any]:
    """The PortAudio description of an input device, or an :class:`AudioDeviceError`."""
    try:
        return dict(sd.query_devices(device, "input"))
    except (ValueError, sd.PortAudioError) as err:
        try:
            inputs = [d for d in sd.query_devices() if d["max_input_channels"] > 0]
        except sd.PortAudioError:
            inputs = []
        if not inputs:
            raise AudioDeviceError(
                "no microphone found: plug one in, or list devices with voicecoach devices, "
                "or practise from files with --input-audio"
            ) from None
        raise AudioDeviceError(
            f"{_describe(device)} is not an input device ({err}): pick one listed by "
            "voicecoach devices"
        ) from None


def start_stream(
    stream_type: Callable[..., Any],
    *,
    device: int | str | None,
    block: int,
    callback: Callable[..., None],
    finished_callback: Callable[[], None],
    cannot_open: str,
    advice: str,
) -> Any:
    """A started 16 kHz mono float32 PortAudio stream, or an :class:`AudioDeviceError`
    reading "<cannot_open> cannot be opened (<PortAudio's reason>): <advice>"."""
    sd = import_sounddevice()
    try:
        stream = stream_type(
            device=device,
            samplerate=SAMPLE_RATE,
            channels=1,
            dtype="float32",
            blocksize=block,
            latency="low",
            callback=callback,
            finished_callback=finished_callback,
        )
        stream.start()
    except sd.PortAudioError as err:
        raise AudioDeviceError(f"{cannot_open} cannot be opened ({err}): {advice}") from None
    return stream


class MicSource:
    """The microphone through a PortAudio input stream: 16 kHz mono float32 blocks.

    Capture starts in the constructor; ``start_s`` of the first chunk is ``start_s`` and
    every next chunk follows on by the frames delivered (the session clock). If the device
    is lost mid-session, :meth:`chunks` first yields everything captured, then raises
    :class:`AudioDeviceError`; the caller keeps what it has.
    """

    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        device: int | str | None = None,
        block: int = BLOCK_SAMPLES,
        *,
        start_s: float = 0.0,
        stall_s: float = DEVICE_STALL_S,
    ) -> None:
        sd = import_sounddevice()
        self.device = device
        self.block = block
        self.start_s = start_s
        self.stall_s = stall_s
        #: PortAudio status problems seen (e.g. "input overflow"), counted by kind.
        self.status_counts: dict[str, int] = {}
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue()
        self._closed = False
        self._lost: str | None = None
        self._lock = threading.Lock()
        check_input_device(sd, device)
        self._stream = start_stream(
            sd.InputStream,
            device=device,
            block=block,
            callback=self._callback,
            finished_callback=self._finished,
            cannot_open=_describe(device),
            advice="it may be busy in another program or unplugged; close that program or "
            "pick another device (voicecoach devices lists them)",
        )

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        if status:
            key = str(status).strip() or "status"
            self.status_counts[key] = self.status_counts.get(key, 0) + 1
        self._queue.put(indata[:, 0].copy())

    def _finished(self) -> None:
        with self._lock:
            if not self._closed:
                self._lost = "the input stream stopped"
                forget_portaudio_at_exit()
        self._queue.put(None)

    def chunks(self) -> Iterator[AudioChunk]:
        """Blocks of exactly ``block`` samples until :meth:`close` (or the device is lost)."""
        delivered = 0
        pending = np.zeros(0, dtype=np.float32)
        last_data = time.monotonic()
        while True:
            try:
                data = self._queue.get(timeout=0.25)
            except queue.Empty:
                if self._closed:
                    break
                if time.monotonic() - last_data > self.stall_s:
                    with self._lock:
                        self._lost = f"no audio for {self.stall_s:.0f} s"
                    break
                continue
            if data is None:
                break
            last_data = time.monotonic()
            pending = np.concatenate([pending, data]) if pending.size else data
            while pending.size >= self.block:
                out, pending = pending[: self.block], pending[self.block :]
                yield AudioChunk(out, SAMPLE_RATE, start_s=self.start_s + delivered / SAMPLE_RATE)
                delivered += self.block
        while True:  # whatever is still queued was captured: deliver it
            try:
                data = self._queue.get_nowait()
            except queue.Empty:
                break
            if data is not None:
                pending = np.concatenate([pending, data])
        for a in range(0, pending.size, self.block):
            out = np.zeros(self.block, dtype=np.float32)
            piece = pending[a : a + self.block]
            out[: piece.size] = piece
            yield AudioChunk(out, SAMPLE_RATE, start_s=self.start_s + delivered / SAMPLE_RATE)
            delivered += self.block
        if self._lost and not self._closed:
            forget_portaudio_at_exit()
            raise AudioDeviceError(
                f"microphone disconnected ({self._lost}) after {delivered / SAMPLE_RATE:.1f} s: "
                "reconnect it and start a new session; what was recorded is saved"
            )

    def close(self) -> None:
        """Stop capturing and release the device; :meth:`chunks` ends after the backlog."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if not DEVICE_LOST.is_set():
            try:
                self._stream.abort()
                self._stream.close()
            except Exception:  # the device may already be gone
                pass
        self._queue.put(None)


class WavFileSource:
    """An audio file as if spoken into the microphone: blocks of mono 16 kHz audio.

    Any format :mod:`voicecoach.audio.decode` reads; a stereo file gives its channel 0.
    With ``realtime`` each block is released when it would have been captured (its end
    time), measured from the first block or, given a ``clock``, on the session clock. The
    last block is padded with zeros.
    """

    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        realtime: bool = True,
        block: int = BLOCK_SAMPLES,
        start_s: float = 0.0,
        clock: ClockLike | None = None,
    ) -> None:
        from voicecoach.audio.decode import probe

        self.path = Path(path)
        self.realtime = realtime
        self.block = block
        self.start_s = start_s
        self.clock = None if clock is None else as_clock(clock)
        self.info = probe(self.path)  # a bad file fails here, before the session starts
        self._closed = False

    def chunks(self) -> Iterator[AudioChunk]:
        """The file's blocks, paced at real time when ``realtime``; then the source ends."""
        from voicecoach.audio.decode import stream_channels

        clock = self.clock or SessionClock(time.monotonic() - self.start_s)
        pending = np.zeros(0, dtype=np.float32)
        delivered = 0

        def emit(samples: np.ndarray) -> AudioChunk:
            nonlocal delivered
            chunk = AudioChunk(samples, SAMPLE_RATE, self.start_s + delivered / SAMPLE_RATE)
            delivered += samples.size
            if self.realtime:
                clock.sleep_until(chunk.end_s)
            return chunk

        for channels in stream_channels(self.path, block_s=1.0):
            if self._closed:
                return
            row = np.ascontiguousarray(channels[0], dtype=np.float32)
            pending = np.concatenate([pending, row]) if pending.size else row
            while pending.size >= self.block:
                out, pending = pending[: self.block], pending[self.block :]
                yield emit(out)
                if self._closed:
                    return
        if pending.size:
            out = np.zeros(self.block, dtype=np.float32)
            out[: pending.size] = pending
            yield emit(out)

    def close(self) -> None:
        """Stop after the block being delivered."""
        self._closed = True
