"""The crash-safe record of one practice session, and reading it back after a crash.

A session directory (default ``user_data_dir()/sessions/<YYYYmmdd-HHMMSS>-<scenario>/``;
directories 0700, files 0600) holds:

``audio.wav``
    Stereo 16 kHz 16-bit PCM: channel 0 the trainee's microphone, channel 1 the peer's
    voice as played, sample-aligned on the session clock. Written as it arrives; the RIFF
    and data sizes in the header are rewritten (and fsync'ed) at least once per second, so
    a crash or SIGKILL leaves a valid, playable file up to the last second.
``events.jsonl``
    One JSON object per line, appended and flushed per event. Every event has ``kind`` and
    ``t_s`` (session seconds when it was written). Kinds the practice loop writes:

    - ``session_start`` {scenario, seed, options, models}
    - ``peer_line`` {text, reaction, start_s, end_s, stopped_at_s?}
    - ``trainee_turn`` {text, start_s, end_s, words, judgement (TurnJudgement.to_dict()),
      timing}
    - ``peer_state`` {trust, distress, layers}
    - ``flag`` {label, turn, evidence, suggestion}
    - ``latency`` {turn, endpoint_ms, asr_ms, classify_ms, peer_ms, tts_ms, total_ms}
    - ``barge_in`` {t_s, stop_ms}
    - ``session_end`` {reason}
``session.json``
    Written at the end: the FILE record of :mod:`voicecoach.record` plus ``scenario``,
    ``seed``, ``peer_state`` {trust, distress}, ``latency_ms`` {p50, p95, turns} and
    ``trust_timeline`` [{t_s, trust, distress}].

After a crash :func:`score_session_dir` rebuilds the record from ``audio.wav`` and
``events.jsonl``.
"""

from __future__ import annotations

import errno
import json
import os
import re
import struct
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voicecoach.errors import InputError, VoicecoachError
from voicecoach.types import AudioChunk

if TYPE_CHECKING:
    from voicecoach.audio.sources import ClockLike
    from voicecoach.record import SessionRecord
    from voicecoach.score import ScoreOptions

SAMPLE_RATE = 16000
AUDIO_NAME = "audio.wav"
EVENTS_NAME = "events.jsonl"
RECORD_NAME = "session.json"
DIR_MODE = 0o700
FILE_MODE = 0o600
#: The header of a growing WAV is brought up to date at least this often.
HEADER_INTERVAL_S = 1.0
_HEADER_BYTES = 44
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")


class RecordingError(VoicecoachError):
    """The session cannot be saved (e.g. the disk is full); what was saved is kept."""


def sessions_root() -> Path:
    """Where practice sessions are saved by default."""
    from voicecoach.paths import user_data_dir

    return user_data_dir() / "sessions"


def new_session_dir(scenario: str, root: str | os.PathLike[str] | None = None) -> Path:
    """Create ``<root>/<YYYYmmdd-HHMMSS>-<scenario>`` (0700), adding -2, -3... if taken."""
    base = Path(root) if root is not None else sessions_root()
    try:
        base.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    except OSError as err:
        raise RecordingError(
            f"{base}: cannot create the sessions folder ({err.strerror}); choose another "
            "with --session-dir"
        ) from None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}-{_SAFE_NAME.sub('_', scenario) or 'session'}"
    for n in range(1, 1000):
        path = base / (name if n == 1 else f"{name}-{n}")
        try:
            path.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        except OSError as err:
            raise RecordingError(
                f"{path}: cannot create the session folder ({err.strerror}); choose another "
                "with --session-dir"
            ) from None
        os.chmod(path, DIR_MODE)
        return path
    raise RecordingError(f"{base}: too many sessions named {name}")


def _open_private(path: Path, flags: int) -> int:
    fd = os.open(path, flags | getattr(os, "O_BINARY", 0), FILE_MODE)
    os.chmod(path, FILE_MODE)
    return fd


def _to_pcm(samples: np.ndarray) -> np.ndarray:
    if samples.dtype == np.int16:
        return samples
    return (np.clip(np.nan_to_num(samples), -1.0, 1.0) * 32767.0).astype(np.int16)


# -- audio -------------------------------------------------------------------------------------
class IncrementalWav:
    """A 16-bit PCM WAV written as audio arrives, valid on disk at (almost) every moment.

    Frames go straight to the file; the header's RIFF and data sizes are rewritten and the
    file fsync'ed at least every ``header_interval_s`` (and on :meth:`sync` and
    :meth:`close`). Data is always written before the header that counts it, so after a
    crash the header never claims more than the file holds.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        channels: int,
        sample_rate: int = SAMPLE_RATE,
        *,
        header_interval_s: float = HEADER_INTERVAL_S,
    ) -> None:
        self.path = Path(path)
        self.channels = channels
        self.sample_rate = sample_rate
        self.header_interval_s = header_interval_s
        fd = _open_private(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
        self._file = os.fdopen(fd, "r+b", buffering=0)
        self._frames = 0
        self._header_frames = -1
        self._last_header = 0.0
        self._write_header()

    @property
    def frames(self) -> int:
        """Frames written so far."""
        return self._frames

    @property
    def frame_bytes(self) -> int:
        return 2 * self.channels

    def _write_header(self) -> None:
        data = self._frames * self.frame_bytes
        header = b"RIFF" + struct.pack("<I", 36 + data) + b"WAVE"
        header += b"fmt " + struct.pack(
            "<IHHIIHH",
            16,
            1,
            self.channels,
            self.sample_rate,
            self.sample_rate * self.frame_bytes,
            self.frame_bytes,
            16,
        )
        header += b"data" + struct.pack("<I", data)
        self._file.seek(0)
        self._file.write(header)
        self._header_frames = self._frames
        self._last_header = time.monotonic()

    def _shape(self, samples: np.ndarray) -> np.ndarray:
        pcm = _to_pcm(np.asarray(samples))
        if pcm.ndim == 1:
            pcm = pcm[:, None]
        if pcm.shape[1] != self.channels:
            raise ValueError(f"expected {self.channels} channels, got {pcm.shape[1]}")
        return np.ascontiguousarray(pcm, dtype="<i2")

    def append(self, samples: np.ndarray) -> None:
        """Add frames (float32 in [-1, 1] or int16, shaped ``[n, channels]``) at the end."""
        self.write_at(self._frames, samples)

    def write_at(self, frame: int, samples: np.ndarray) -> None:
        """Overwrite frames from ``frame`` on; a gap after the current end becomes silence."""
        pcm = self._shape(samples)
        if frame > self._frames:
            gap = np.zeros((frame - self._frames, self.channels), dtype="<i2")
            pcm = np.concatenate([gap, pcm])
            frame = self._frames
        self._file.seek(_HEADER_BYTES + frame * self.frame_bytes)
        self._file.write(pcm.tobytes())
        self._frames = max(self._frames, frame + len(pcm))
        if time.monotonic() - self._last_header >= self.header_interval_s:
            self.sync()

    def read_at(self, frame: int, count: int) -> np.ndarray:
        """Frames already written, as int16 ``[n, channels]`` (fewer at the end)."""
        count = max(0, min(count, self._frames - frame))
        self._file.seek(_HEADER_BYTES + frame * self.frame_bytes)
        raw = self._file.read(count * self.frame_bytes)
        return np.frombuffer(raw, dtype="<i2").reshape(-1, self.channels).copy()

    def sync(self) -> None:
        """Bring the header up to date and force data and header to disk."""
        os.fsync(self._file.fileno())
        self._write_header()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file.closed:
            return
        try:
            self.sync()
        finally:
            self._file.close()


def _disk_error(path: Path, err: OSError) -> RecordingError:
    if err.errno == errno.ENOSPC:
        return RecordingError(
            f"{path}: the disk is full; free some space (everything recorded until now is "
            "saved in this folder)"
        )
    return RecordingError(
        f"{path}: cannot save the session ({err.strerror or err}); what was recorded until "
        "now is kept"
    )


class SessionRecorder:
    """Writes one session directory as the session runs (see the module docstring).

    Thread-safe: the microphone, the sink's ``on_played`` and the loop may call it from
    different threads.
    """

    def __init__(self, directory: str | os.PathLike[str], clock: ClockLike | None = None) -> None:
        from voicecoach.audio.sources import as_clock

        self.directory = Path(directory)
        self.clock = as_clock(clock)
        self._lock = threading.RLock()
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
            os.chmod(self.directory, DIR_MODE)
            self._wav = IncrementalWav(self.directory / AUDIO_NAME, channels=2)
            fd = _open_private(self.directory / EVENTS_NAME, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        except OSError as err:
            raise _disk_error(self.directory, err) from None
        self._events = os.fdopen(fd, "a", encoding="utf-8")
        #: Channel 1 (peer) audio from the write position on, waiting for the microphone.
        self._peer_ahead = np.zeros(0, dtype=np.float32)
        self._closed = False

    @property
    def audio_path(self) -> Path:
        return self.directory / AUDIO_NAME

    @property
    def recorded_s(self) -> float:
        """Seconds of audio written to ``audio.wav``."""
        return self._wav.frames / SAMPLE_RATE

    def add_mic(self, chunk: AudioChunk) -> None:
        """Write a microphone block to channel 0 at ``chunk.start_s``, with the peer beside it."""
        samples = np.asarray(chunk.samples, dtype=np.float32).reshape(-1)
        with self._lock:
            if self._closed:
                return
            at = round(chunk.start_s * SAMPLE_RATE)
            written = self._wav.frames
            if at < written:  # overlaps what is written: keep only the new part
                samples = samples[written - at :]
                at = written
            if at > written:  # a gap in the microphone stream: silence on channel 0
                samples = np.concatenate([np.zeros(at - written, dtype=np.float32), samples])
            self._write_frames(samples)

    def _write_frames(self, mic: np.ndarray) -> None:
        n = mic.size
        if n == 0:
            return
        peer = self._peer_ahead[:n]
        if peer.size < n:
            peer = np.concatenate([peer, np.zeros(n - peer.size, dtype=np.float32)])
        self._peer_ahead = self._peer_ahead[n:]
        try:
            self._wav.append(np.stack([mic, peer], axis=1))
        except OSError as err:
            raise _disk_error(self._wav.path, err) from None

    def add_played(self, samples: np.ndarray, start_s: float) -> None:
        """Mix the peer's voice as played into channel 1 at session time ``start_s``.

        Audio ahead of the microphone waits for it; audio behind it is mixed into what is
        already on disk, so both channels stay sample-aligned either way.
        """
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        with self._lock:
            if self._closed or samples.size == 0:
                return
            at = round(start_s * SAMPLE_RATE)
            if at < 0:
                samples, at = samples[-at:], 0
            written = self._wav.frames
            if at < written:
                late = samples[: written - at]
                try:
                    frames = self._wav.read_at(at, late.size).astype(np.float32) / 32767.0
                    frames[:, 1] += late[: len(frames)]
                    self._wav.write_at(at, frames)
                except OSError as err:
                    raise _disk_error(self._wav.path, err) from None
                samples, at = samples[late.size :], written
            offset = at - written
            end = offset + samples.size
            if end > self._peer_ahead.size:
                grown = np.zeros(end, dtype=np.float32)
                grown[: self._peer_ahead.size] = self._peer_ahead
                self._peer_ahead = grown
            self._peer_ahead[offset:end] += samples

    def event(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Append one event line (``kind``, ``t_s`` and ``fields``), flushed at once."""
        entry = {"kind": kind, "t_s": round(self.clock.now_s(), 3), **fields}
        line = json.dumps(entry, ensure_ascii=False, default=_json_default)
        with self._lock:
            if self._closed:
                raise RecordingError(f"{self.directory}: the session record is closed")
            try:
                self._events.write(line + "\n")
                self._events.flush()
            except OSError as err:
                raise _disk_error(self.directory / EVENTS_NAME, err) from None
        return entry

    def flush(self) -> None:
        """Bring ``audio.wav``'s header up to date and force everything to disk."""
        with self._lock:
            if self._closed:
                return
            try:
                self._wav.sync()
                os.fsync(self._events.fileno())
            except OSError as err:
                raise _disk_error(self.directory, err) from None

    def close(self) -> None:
        """Write out the peer audio still waiting for the microphone and close the files."""
        with self._lock:
            if self._closed:
                return
            try:
                if self._peer_ahead.size:
                    self._write_frames(np.zeros(self._peer_ahead.size, dtype=np.float32))
            finally:
                self._closed = True
                try:
                    self._wav.close()
                finally:
                    self._events.close()

    def finish(self, record: SessionRecord, *, extra: dict[str, Any] | None = None) -> Path:
        """Close the audio and events and write ``session.json`` (record + ``extra``)."""
        self.close()
        data = record.to_dict() | dict(extra or {})
        path = self.directory / RECORD_NAME
        tmp = path.with_suffix(".json.tmp")
        try:
            fd = _open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, ensure_ascii=False, indent=2, default=_json_default)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as err:
            raise _disk_error(path, err) from None
        return path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# -- reading back ------------------------------------------------------------------------------
@dataclass
class LoadedSession:
    """What could be read from a session directory."""

    #: ``session.json`` when it exists and is valid.
    record: SessionRecord | None
    #: ``audio.wav`` when it exists and holds audio.
    audio_path: Path | None
    events: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Names of the expected files that are missing.
    missing: list[str] = field(default_factory=list)
    directory: Path = Path()
    #: Seconds of audio actually present in ``audio.wav``.
    audio_s: float = 0.0


def wav_extent(path: Path) -> tuple[int, int, int, int]:
    """(channels, bytes per frame, frames the header claims, frames present) of a PCM WAV.

    Raises ``InputError`` when the file is not a RIFF/WAVE file.
    """
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise InputError(f"{path}: not a WAV file")
        channels = block = 0
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                raise InputError(f"{path}: the WAV file has no data chunk (truncated)")
            cid, csize = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"fmt ":
                fmt = f.read(csize + (csize & 1))
                channels = struct.unpack("<H", fmt[2:4])[0]
                block = struct.unpack("<H", fmt[12:14])[0]
            elif cid == b"data":
                if not block:
                    raise InputError(f"{path}: the WAV file has no format chunk")
                present = max(0, size - f.tell())
                return channels, block, csize // block, present // block
            else:
                f.seek(csize + (csize & 1), os.SEEK_CUR)


def load_session_dir(path: str | os.PathLike[str]) -> LoadedSession:
    """Read whatever a (possibly crashed) session directory holds, never failing on it."""
    from voicecoach.record import SessionRecord

    directory = Path(path)
    loaded = LoadedSession(record=None, audio_path=None, directory=directory)
    record_path = directory / RECORD_NAME
    if not record_path.is_file():
        loaded.missing.append(RECORD_NAME)
    else:
        try:
            data = json.loads(record_path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("turns"), list):
                raise ValueError("not a session record")
            loaded.record = SessionRecord.from_dict(data)
        except (ValueError, KeyError, TypeError) as err:
            loaded.warnings.append(f"{record_path}: unreadable ({err}); ignoring it")
    events_path = directory / EVENTS_NAME
    if not events_path.is_file():
        loaded.missing.append(EVENTS_NAME)
    else:
        with events_path.open(encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    event = json.loads(line)
                    if not isinstance(event, dict):
                        raise ValueError("not an object")
                except ValueError:
                    loaded.warnings.append(
                        f"{events_path}: line {number} is not a valid event (skipped)"
                    )
                    continue
                loaded.events.append(event)
    audio_path = directory / AUDIO_NAME
    if not audio_path.is_file():
        loaded.missing.append(AUDIO_NAME)
    else:
        try:
            _, _, claimed, present = wav_extent(audio_path)
        except (InputError, OSError, struct.error) as err:
            loaded.warnings.append(f"{audio_path}: unreadable ({err}); ignoring it")
        else:
            if present < claimed:
                loaded.warnings.append(
                    f"{audio_path}: the header says {claimed / SAMPLE_RATE:.1f} s but only "
                    f"{present / SAMPLE_RATE:.1f} s are there (truncated; reading what exists)"
                )
            frames = min(claimed, present)
            loaded.audio_s = frames / SAMPLE_RATE
            if frames > 0:
                loaded.audio_path = audio_path
            else:
                loaded.warnings.append(f"{audio_path}: holds no audio")
    return loaded


def _percentile(values: list[float], q: float) -> float | None:
    return None if not values else round(float(np.percentile(values, q)), 1)


def extra_from_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The practice fields of a session record, rebuilt from its events."""
    extra: dict[str, Any] = {}
    start = next((e for e in events if e.get("kind") == "session_start"), None)
    if start is not None:
        extra["scenario"] = start.get("scenario")
        extra["seed"] = start.get("seed")
    states = [e for e in events if e.get("kind") == "peer_state"]
    if states:
        extra["peer_state"] = {
            "trust": states[-1].get("trust"),
            "distress": states[-1].get("distress"),
        }
        extra["trust_timeline"] = [
            {"t_s": e.get("t_s"), "trust": e.get("trust"), "distress": e.get("distress")}
            for e in states
        ]
    latencies = [e for e in events if e.get("kind") == "latency"]
    if latencies:
        totals = [float(e["total_ms"]) for e in latencies if e.get("total_ms") is not None]
        extra["latency_ms"] = {
            "p50": _percentile(totals, 50),
            "p95": _percentile(totals, 95),
            "turns": [{k: v for k, v in e.items() if k not in ("kind", "t_s")} for e in latencies],
        }
    return extra


def score_session_dir(path: str | os.PathLike[str], options: ScoreOptions) -> SessionRecord:
    """The session record of a practice session directory.

    A valid ``session.json`` is returned as it is (plus any warnings about the other
    files). Otherwise the record is rebuilt by scoring ``audio.wav`` (channel 0 trainee,
    channel 1 peer) and taking the practice fields from ``events.jsonl``. Raises
    ``InputError`` when neither is usable.
    """
    directory = Path(path)
    loaded = load_session_dir(directory)
    if loaded.record is not None:
        loaded.record.warnings.extend(loaded.warnings)
        return loaded.record
    if loaded.audio_path is None:
        gone = ", ".join(loaded.missing) or "nothing usable"
        raise InputError(
            f"{directory}: not a usable practice session (missing: {gone}; "
            f"{'; '.join(loaded.warnings) or 'no audio to score'})"
        )
    from voicecoach.audio_scoring import score_audio
    from voicecoach.classify.model import Classifier

    classifier = Classifier.load(options.classifier_dir)
    scored = score_audio(
        loaded.audio_path, replace(options, channels=("trainee", "peer")), classifier
    )
    scored.file = str(directory)
    extra = extra_from_events(loaded.events)
    if not loaded.events:
        extra_note = "events.jsonl missing or empty: scenario, peer state and latency unknown"
        loaded.warnings.append(f"{directory}: {extra_note}")
    scored.extra.update(extra)
    what = "session.json missing" if RECORD_NAME in loaded.missing else "session.json unusable"
    scored.warnings = [
        f"{directory}: {what}: rebuilt from audio.wav and events.jsonl",
        *loaded.warnings,
        *scored.warnings,
    ]
    return scored
