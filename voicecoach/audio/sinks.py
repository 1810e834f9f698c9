"""Where the peer's voice goes: the speakers (PortAudio) or a WAV file on the session timeline.

Both sinks implement :class:`~voicecoach.audio.io.AudioSink`: :meth:`play` returns a
:class:`~voicecoach.audio.io.Playback` at once, and :meth:`Playback.stop` cuts the sound
(barge-in). One sound plays at a time: playing a new one stops the previous one.

``on_played(samples, start_s)`` receives what was actually played, sample-accurate, in
consecutive pieces shortly after they are played (and the last piece when a sound ends or
is stopped), so a recorder can put the peer's voice as heard next to the microphone.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from voicecoach.audio.io import BLOCK_SAMPLES, SAMPLE_RATE
from voicecoach.audio.sources import (
    DEVICE_LOST,
    DEVICE_STALL_S,
    AudioDeviceError,
    ClockLike,
    SessionClock,
    as_clock,
    forget_portaudio_at_exit,
    import_sounddevice,
    start_stream,
)

__all__ = ["OnPlayed", "SessionClock", "SoundDeviceSink", "WavFileSink", "as_clock"]

#: Called with consecutive pieces of what was played and the session time of their start.
OnPlayed = Callable[[np.ndarray, float], None]
#: How often played audio is handed to ``on_played``.
REPORT_INTERVAL_S = 0.05


def _on_sample_grid(t_s: float) -> float:
    """``t_s`` rounded to a whole sample, so consecutive pieces land without gaps."""
    return round(t_s * SAMPLE_RATE) / SAMPLE_RATE


class _Playback:
    """State shared by both sinks' playbacks: the samples and how far they have played."""

    def __init__(self, samples: np.ndarray, start_s: float) -> None:
        self.samples = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
        self.start_s = start_s
        #: Samples played so far (handed to the device, or due by the clock).
        self.played = 0
        #: Samples already handed to ``on_played``.
        self.reported = 0
        self.stopped = False
        self.finished = threading.Event()

    def done(self) -> bool:
        """True once the sound has played to the end or was stopped."""
        return self.finished.is_set()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until done (or the timeout); returns :meth:`done`."""
        return self.finished.wait(timeout_s)


class _Reporter:
    """A background thread that hands played audio to ``on_played`` in pieces."""

    def __init__(self, poll: Callable[[], None]) -> None:
        self._poll = poll
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="voicecoach-played", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(REPORT_INTERVAL_S):
            self._poll()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)


# -- speakers -------------------------------------------------------------------------------
class DevicePlayback(_Playback):
    """A sound playing on a :class:`SoundDeviceSink`."""

    def __init__(self, sink: SoundDeviceSink, samples: np.ndarray, start_s: float) -> None:
        super().__init__(samples, start_s)
        self._sink = sink
        #: Whether ``start_s`` was measured from the device's output time (else estimated).
        self.started = False

    def stop(self) -> float:
        """Silence the output at once; returns the seconds played (heard)."""
        return self._sink.stop_playback(self)


class SoundDeviceSink:
    """Plays through a PortAudio output stream that runs for the whole session.

    The stream's callback copies the current sound block by block (silence when idle), so
    :meth:`DevicePlayback.stop` takes effect within one block (32 ms) plus the device's
    own output latency.
    """

    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        device: int | str | None = None,
        clock: ClockLike | None = None,
        *,
        on_played: OnPlayed | None = None,
        block: int = BLOCK_SAMPLES,
        stall_s: float = DEVICE_STALL_S,
    ) -> None:
        sd = import_sounddevice()
        self.clock = as_clock(clock)
        #: Seconds without a callback from a running stream that mean the speaker is gone.
        self.stall_s = stall_s
        self._last_callback = time.monotonic()
        self.on_played = on_played
        #: The last device error seen while stopping a sound, if any.
        self.error: str | None = None
        self.lock = threading.Lock()
        self._restarting = False
        self._closing = False
        self._current: DevicePlayback | None = None
        self._unreported: list[DevicePlayback] = []
        try:
            sd.query_devices(device, "output")
        except (ValueError, sd.PortAudioError) as err:
            where = "no default speaker" if device is None else f"speaker {device!r}: {err}"
            raise AudioDeviceError(
                f"{where}: plug in speakers or headphones, pick a device listed by voicecoach "
                "devices, or write the peer's voice to a file with --output-audio"
            ) from None
        self._stream = start_stream(
            sd.OutputStream,
            device=device,
            block=block,
            callback=self._callback,
            finished_callback=self._stream_finished,
            cannot_open="the speaker",
            advice="it may be busy in another program; close it, pick another device "
            "(voicecoach devices), or use --output-audio",
        )
        #: Seconds from handing a block to PortAudio until it is heard (as PortAudio says).
        self.latency_s = float(self._stream.latency)
        self._reporter = _Reporter(self.report)

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        self._last_callback = time.monotonic()
        outdata.fill(0.0)
        with self.lock:
            pb = self._current
            if pb is None or pb.finished.is_set():
                return
            if not pb.started:
                ahead = time_info.outputBufferDacTime - time_info.currentTime
                if not 0.0 <= ahead < 1.0:
                    ahead = self.latency_s
                pb.start_s = _on_sample_grid(self.clock.now_s() + ahead)
                pb.started = True
            n = min(frames, pb.samples.size - pb.played)
            outdata[:n, 0] = pb.samples[pb.played : pb.played + n]
            pb.played += n
            if pb.played >= pb.samples.size:
                pb.finished.set()

    def stop_playback(self, pb: DevicePlayback) -> float:
        """Cut ``pb``: no more blocks are served and the device's queued output is dropped."""
        with self.lock:
            if pb.finished.is_set():
                return pb.played / SAMPLE_RATE
            pb.stopped = True
            pb.finished.set()
            heard = round((self.clock.now_s() - pb.start_s) * SAMPLE_RATE)
            # blocks handed to the device but dropped before they were heard do not count
            pb.played = int(np.clip(heard, pb.reported, pb.played))
        self._drop_queued_output()
        self.report()
        return pb.played / SAMPLE_RATE

    def _drop_queued_output(self) -> None:
        """Abort and restart the stream: PortAudio discards what the device still holds."""
        if DEVICE_LOST.is_set():  # a dead stream can hang or abort in PortAudio
            return
        self._restarting = True
        try:
            self._stream.abort()
            self._stream.start()
        except Exception as err:  # the device went away: nothing more is heard anyway
            self.error = f"the output stream failed ({err})"
            forget_portaudio_at_exit()
        finally:
            self._restarting = False

    def _stream_finished(self) -> None:
        """PortAudio ended the stream: on its own, that means the speaker is gone."""
        if self._restarting or self._closing:
            return
        with self.lock:
            self.error = self.error or "the output stream stopped"
            forget_portaudio_at_exit()
            self._cut_current()

    def _stalled(self) -> bool:
        """True once a running stream has not asked for audio for ``stall_s``.

        A lost server does not always end the stream: it can just stop calling back. The
        sound that was playing is then over (nothing more will be heard).
        """
        silent_s = time.monotonic() - self._last_callback
        if silent_s <= self.stall_s or self._restarting or self._closing:
            return False
        with self.lock:
            self.error = self.error or f"no output for {silent_s:.0f} s"
            self._cut_current()
        return True

    def _cut_current(self) -> None:
        """End the sound being played before its end (call with :attr:`lock` held)."""
        pb = self._current
        if pb is not None and not pb.finished.is_set():
            pb.stopped = True
            pb.finished.set()

    def _check_alive(self) -> None:
        if self._stalled() or (self.error is not None and not self._stream.active):
            forget_portaudio_at_exit()
            raise AudioDeviceError(
                f"speaker disconnected ({self.error}): reconnect it and start a new session, "
                "or write the peer's voice with --output-audio; what was recorded is saved"
            )

    def play(self, samples: np.ndarray, at_s: float | None = None) -> DevicePlayback:
        """Start playing ``samples`` now (``at_s`` is ignored: a device plays immediately).

        Raises :class:`AudioDeviceError` once the speaker has been lost.
        """
        self._check_alive()
        pb = DevicePlayback(self, samples, _on_sample_grid(self.clock.now_s() + self.latency_s))
        with self.lock:
            self._cut_current()
            self._current = pb
            self._unreported.append(pb)
            if pb.samples.size == 0:
                pb.finished.set()
        return pb

    def report(self) -> None:
        """Hand newly played audio to ``on_played`` (called by a background thread)."""
        self._stalled()
        pieces: list[tuple[np.ndarray, float]] = []
        with self.lock:
            now = self.clock.now_s()
            for pb in list(self._unreported):
                # only what has been heard by now, unless it ran to its end (it all will be)
                upto = pb.played
                if not pb.finished.is_set():
                    upto = min(upto, max(0, round((now - pb.start_s) * SAMPLE_RATE)))
                if upto > pb.reported:
                    start_s = pb.start_s + pb.reported / SAMPLE_RATE
                    pieces.append((pb.samples[pb.reported : upto], start_s))
                    pb.reported = upto
                if pb.finished.is_set():
                    self._unreported.remove(pb)
        if self.on_played is not None:
            for samples, start_s in pieces:
                self.on_played(samples, start_s)

    def close(self) -> None:
        """Stop any sound, report what was played and release the device."""
        self._closing = True
        with self.lock:
            self._cut_current()
        self._reporter.close()
        if not DEVICE_LOST.is_set():
            try:
                self._stream.abort()
                self._stream.close()
            except Exception:  # the device may already be gone
                pass
        self.report()


# -- a file on the session timeline ----------------------------------------------------------
class FilePlayback(_Playback):
    """A sound "playing" into a :class:`WavFileSink`: it takes as long as it would on speakers."""

    def __init__(self, sink: WavFileSink, samples: np.ndarray, start_s: float) -> None:
        super().__init__(samples, start_s)
        self._sink = sink

    def stop(self) -> float:
        """End the sound at the current clock time; nothing after it is written."""
        return self._sink.stop_playback(self)

    def done(self) -> bool:
        if not self.finished.is_set():
            self._sink.report()
        return self.finished.is_set()

    def wait(self, timeout_s: float | None = None) -> bool:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not self.done():
            left = REPORT_INTERVAL_S if deadline is None else deadline - time.monotonic()
            if left <= 0:
                return False
            self.finished.wait(min(REPORT_INTERVAL_S, left))
        return True


class WavFileSink:
    """Writes the peer's voice into a mono 16 kHz WAV at its session time instead of playing.

    With ``realtime`` a sound takes its own duration on ``clock`` to finish and is written
    as its time passes, so turn-taking and barge-in behave as with speakers; a stopped sound
    leaves nothing after the stop time in the file. Without ``realtime`` a sound is written
    and done at once. ``path=None`` writes nothing (a null sink) but keeps the timing.
    """

    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        clock: ClockLike | None = None,
        *,
        realtime: bool = True,
        on_played: OnPlayed | None = None,
    ) -> None:
        from voicecoach.sessions import IncrementalWav

        self.path = None if path is None else Path(path)
        self.clock = as_clock(clock)
        self.realtime = realtime
        self.on_played = on_played
        self._lock = threading.RLock()
        self._current: FilePlayback | None = None
        self._wav = None if self.path is None else IncrementalWav(self.path, channels=1)
        self._reporter = _Reporter(self.report) if realtime else None

    def play(self, samples: np.ndarray, at_s: float | None = None) -> FilePlayback:
        """Place ``samples`` at session time ``at_s`` (default: now)."""
        start = _on_sample_grid(self.clock.now_s() if at_s is None else at_s)
        with self._lock:
            if self._current is not None and not self._current.finished.is_set():
                self._end(self._current, start)
            pb = FilePlayback(self, samples, start)
            self._current = pb
            if not self.realtime:
                pb.played = pb.samples.size
                pb.finished.set()
            self._emit(pb)
        return pb

    def stop_playback(self, pb: FilePlayback) -> float:
        with self._lock:
            if not pb.finished.is_set():
                self._end(pb, self.clock.now_s())
            return pb.played / SAMPLE_RATE

    def _end(self, pb: FilePlayback, at_s: float) -> None:
        """Cut ``pb`` at session time ``at_s`` (emitting what was due before it)."""
        pb.played = int(np.clip(round((at_s - pb.start_s) * SAMPLE_RATE), 0, pb.samples.size))
        pb.played = max(pb.played, pb.reported)
        pb.stopped = pb.played < pb.samples.size
        pb.finished.set()
        self._emit(pb)

    def report(self) -> None:
        """Write (and report) the part of the current sound whose time has come."""
        with self._lock:
            pb = self._current
            if pb is None or pb.finished.is_set():
                return
            due = round((self.clock.now_s() - pb.start_s) * SAMPLE_RATE)
            pb.played = int(np.clip(due, pb.played, pb.samples.size))
            if pb.played >= pb.samples.size:
                pb.finished.set()
            self._emit(pb)

    def _emit(self, pb: FilePlayback) -> None:
        if pb.played <= pb.reported:
            return
        piece = pb.samples[pb.reported : pb.played]
        start_s = pb.start_s + pb.reported / SAMPLE_RATE
        pb.reported = pb.played
        if self._wav is not None:
            self._wav.write_at(max(0, round(start_s * SAMPLE_RATE)), piece[:, None])
        if self.on_played is not None:
            self.on_played(piece, start_s)

    def close(self) -> None:
        """Finish the current sound at the current time and close the file."""
        if self._reporter is not None:
            self._reporter.close()
        with self._lock:
            if self._current is not None and not self._current.finished.is_set():
                self._end(self._current, self.clock.now_s())
            if self._wav is not None:
                self._wav.close()
                self._wav = None
