"""The echo gate: keeps the peer's own voice, heard back through the microphone, out of
the trainee's stream when the peer plays through speakers (no headphones).

:class:`PlayedReference` holds what was played, on the session clock; :class:`EchoGate`
compares each microphone block with the echo that reference should cause there.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from voicecoach.audio.io import BLOCK_SAMPLES, SAMPLE_RATE, Playback
from voicecoach.types import AudioChunk


# -- timeline buffers ---------------------------------------------------------------------------
class Timeline:
    """The last ``keep_s`` seconds of a mono stream placed on the session clock."""

    def __init__(self, keep_s: float = 60.0) -> None:
        self._keep = round(keep_s * SAMPLE_RATE)
        self._buf = np.zeros(2 * self._keep, dtype=np.float32)
        self._start: int | None = None  # sample index of _buf[0]
        self._n = 0

    @property
    def end(self) -> int:
        return (self._start or 0) + self._n

    def append_at(self, at: int, samples: np.ndarray) -> None:
        if self._start is None:
            self._start = at
        if at > self.end:
            samples = np.concatenate([np.zeros(at - self.end, dtype=np.float32), samples])
        elif at < self.end:
            samples = samples[self.end - at :]
        samples = samples[-self._keep :]
        if self._n + samples.size > self._buf.size:
            drop = self._n + samples.size - self._keep
            self._buf[: self._n - drop] = self._buf[drop : self._n]
            self._n -= drop
            self._start += drop
        self._buf[self._n : self._n + samples.size] = samples
        self._n += samples.size

    def slice(self, a: int, b: int) -> np.ndarray:
        out = np.zeros(max(0, b - a), dtype=np.float32)
        start = self._start or 0
        lo, hi = max(a, start), min(b, self.end)
        if hi > lo:
            out[lo - a : hi - a] = self._buf[lo - start : hi - start]
        return out


class PlayedReference:
    """What the peer played, on the session clock: the echo gate's reference signal.

    Filled at ``play`` time (the loop knows the samples and when they start), so the gate has
    the reference before the microphone hears it; a stopped sound is cut where it stopped.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sounds: list[tuple[Playback, np.ndarray, int | None]] = []

    def add(self, playback: Playback, samples: np.ndarray) -> None:
        """A sound started playing (its start time is read from ``playback`` when needed)."""
        with self._lock:
            self._sounds.append((playback, samples, None))
            if len(self._sounds) > 8:
                self._sounds = self._sounds[-8:]

    def cut(self, playback: Playback, played_samples: int) -> None:
        """The sound was stopped after ``played_samples``."""
        with self._lock:
            self._sounds = [
                (pb, s, played_samples if pb is playback else n) for pb, s, n in self._sounds
            ]

    def slice(self, a: int, b: int) -> np.ndarray:
        """What was played from session sample ``a`` to ``b`` (silence where nothing was)."""
        out = np.zeros(max(0, b - a), dtype=np.float32)
        with self._lock:
            sounds = list(self._sounds)
        for pb, samples, n in sounds:
            start = round(pb.start_s * SAMPLE_RATE)
            stop = start + (samples.size if n is None else min(n, samples.size))
            lo, hi = max(a, start), min(b, stop)
            if hi > lo:
                out[lo - a : hi - a] += samples[lo - start : hi - start]
        return out


# -- echo gate ---------------------------------------------------------------------------------
@dataclass
class EchoGateStats:
    """What the echo gate did during a session."""

    #: Blocks heard while the peer's audio could be echoing.
    blocks_with_reference: int = 0
    #: Of those, blocks explained by the echo and passed on as silence.
    blocks_gated: int = 0
    #: Estimated delay of the echo behind the played audio, in ms (None: not locked yet).
    lag_ms: float | None = None
    #: Estimated echo gain (linear amplitude) and the correlation it was measured at.
    gain: float | None = None
    correlation: float | None = None


class EchoGate:
    """Removes the peer's own voice, as the microphone hears it, from the trainee's stream.

    Per 32 ms block the microphone's energy is compared with the energy the echo of the
    played audio should have there: the reference at the estimated lag, times the estimated
    echo gain. The lag is tracked by cross-correlating the microphone with the reference
    while the peer plays; the gain is a high percentile of the microphone-to-reference energy
    ratio (so a microphone that does not hear the speakers at all needs no gating). When the
    echo path is near-linear (correlation >= ``subtract_at``) the scaled reference is also
    subtracted. Blocks explained by the echo are replaced by silence; the rest pass on, and
    :attr:`excess` says whether this block had clear excess energy (barge-in needs that).
    """

    def __init__(
        self,
        reference: PlayedReference,
        *,
        margin_db: float = 6.0,
        max_lag_s: float = 0.3,
        min_lag_s: float = -0.1,
        subtract_at: float = 0.9,
    ) -> None:
        self.reference = reference
        self.margin = 10 ** (margin_db / 10)
        self.max_lag = round(max_lag_s * SAMPLE_RATE)
        #: How far the echo may seem to lead the reference (device clocks are estimates).
        self.lead = round(max(0.0, -min_lag_s) * SAMPLE_RATE)
        self.subtract_at = subtract_at
        self.stats = EchoGateStats()
        self.excess = True
        self._mic = Timeline(keep_s=4.0)
        self._lag: int | None = None
        self._corr = 0.0
        self._gain = 0.0  # least-squares echo gain at the lag (when correlated)
        self._gain_sign = 1.0
        self._accept = 0.0  # correlation a new lag estimate must come near to be accepted
        self._ratios: list[float] = []
        self._blocks = 0

    @property
    def gain2(self) -> float:
        """Estimated echo power gain (1.0 until there is evidence)."""
        if len(self._ratios) < 8:
            return 1.0
        return float(np.percentile(self._ratios, 80))

    def process(self, chunk: AudioChunk) -> np.ndarray:
        """The block with the echo removed (or silence when it is only echo)."""
        mic = np.asarray(chunk.samples, dtype=np.float32)
        a = round(chunk.start_s * SAMPLE_RATE)
        b = a + mic.size
        self._mic.append_at(a, mic)
        window = self.reference.slice(a - self.max_lag - BLOCK_SAMPLES, b + self.lead)
        if not np.any(window):
            self.excess = True
            return mic
        self.stats.blocks_with_reference += 1
        self._blocks += 1
        if self._blocks % 8 == 0:
            self._track_lag(b)
        e_mic = float(np.mean(mic**2)) + 1e-10
        if self._lag is not None:
            ref = self.reference.slice(a - self._lag, b - self._lag)
            around = [
                self.reference.slice(a - self._lag + d, b - self._lag + d)
                for d in (-BLOCK_SAMPLES, -BLOCK_SAMPLES // 2, BLOCK_SAMPLES // 2, BLOCK_SAMPLES)
            ]
            e_ref = max(float(np.mean(r**2)) for r in (ref, *around))
        else:
            ref = None
            # not locked: the loudest the echo could be at any lag in range
            frames = window[: (window.size // BLOCK_SAMPLES) * BLOCK_SAMPLES]
            energies = np.mean(frames.reshape(-1, BLOCK_SAMPLES) ** 2, axis=1)
            e_ref = float(np.max(energies))
            # the echo's level can only be learnt where it is present whatever the lag is
            learn = float(np.min(energies)) > 1e-5
        g2 = self.gain2
        test, out = e_mic, mic
        expected = g2 * e_ref
        if ref is not None:
            learn = True
        if ref is not None and self._corr >= self.subtract_at:
            out = (mic - np.float32(self._gain * self._gain_sign) * ref).astype(np.float32)
            test = float(np.mean(out**2)) + 1e-10
            expected = max(1.0 - self._corr**2, 0.01) * g2 * e_ref
        self.excess = test > self.margin * expected + 1e-7
        if e_ref > 1e-7 and learn:
            # the echo's level is learnt from blocks it explains; double talk (the trainee
            # over the peer) may raise it only a little, so a louder echo path still shows
            ratio = e_mic / e_ref
            self._ratios.append(min(ratio, 2 * g2) if self.excess else ratio)
            self._ratios = self._ratios[-200:]
        if self.excess:
            return out.astype(np.float32)
        self.stats.blocks_gated += 1
        return np.zeros_like(mic)

    def _track_lag(self, end: int) -> None:
        """Cross-correlate the last second of microphone with the reference."""
        n = SAMPLE_RATE
        mic = self._mic.slice(end - n, end)
        ref = self.reference.slice(end - n - self.max_lag, end + self.lead)
        span = self.max_lag + self.lead
        voiced = np.mean(np.abs(ref[-n:].reshape(-1, 160)) > 0.01, axis=1) if ref.size else ()
        if float(np.mean(ref**2)) < 1e-6 or float(np.mean(mic**2)) < 1e-7:
            return
        if self._lag is None and float(np.mean(voiced)) < 0.25:
            return  # under a quarter second of played speech: too little to lock on
        size = 1 << int(np.ceil(np.log2(mic.size + ref.size)))
        spec = np.fft.rfft(ref, size) * np.conj(np.fft.rfft(mic, size))
        xc = np.fft.irfft(spec, size)[: span + 1]  # xc[k] = sum ref[k+i] * mic[i]
        # lag L means mic[i] ~ ref[max_lag - L + i]
        lags = self.max_lag - np.arange(span + 1)
        c = np.concatenate([[0.0], np.cumsum(ref.astype(np.float64) ** 2)])
        ref_energy = c[n : n + span + 1] - c[: span + 1]
        energy = np.sqrt(ref_energy * float(np.sum(mic.astype(np.float64) ** 2)))
        norm = xc / np.maximum(energy, 1e-9)
        norm[ref_energy < 0.25 * float(ref_energy.max())] = 0.0  # too little reference to tell
        best = int(np.argmax(np.abs(norm)))
        corr = float(abs(norm[best]))
        # the first lock needs clear evidence: a wrong lag is worse than none
        if corr < (0.5 if self._lag is None else max(0.3, 0.7 * self._accept)):
            # most likely double talk: keep the estimate, but let a changed path re-lock
            self._accept *= 0.95
            return
        self._accept = corr
        if corr >= 0.3:
            if self._lag is None:
                self._ratios.clear()  # ratios measured before the lag was known are too low
            self._lag = int(lags[best])
            self._corr = corr
            self._gain = float(abs(xc[best]) / max(float(ref_energy[best]), 1e-9))
            self._gain_sign = 1.0 if xc[best] >= 0 else -1.0
            self.stats.lag_ms = round(self._lag / SAMPLE_RATE * 1000, 1)
            self.stats.correlation = round(corr, 3)
            self.stats.gain = round(float(np.sqrt(self.gain2)), 3)
