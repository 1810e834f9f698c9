"""The crash-safe session record: killed sessions keep playable audio and parseable events."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from voicecoach.audio.decode import read_channels
from voicecoach.errors import InputError
from voicecoach.record import SessionRecord
from voicecoach.roleplay import Line, render, write_wav
from voicecoach.score import ScoreOptions
from voicecoach.sessions import (
    IncrementalWav,
    SessionRecorder,
    load_session_dir,
    new_session_dir,
    score_session_dir,
)
from voicecoach.types import AudioChunk

RATE = 16000
PROJECT = Path(__file__).resolve().parents[1]

#: A session writer like the practice loop: microphone from a file at real time, the peer's
#: voice through a file sink into channel 1, events as they happen.
WRITER = """
import signal, sys
from voicecoach.audio.sinks import SessionClock, WavFileSink
from voicecoach.audio.sources import WavFileSource
from voicecoach.roleplay import espeak
from voicecoach.sessions import SessionRecorder

directory, mic_path = sys.argv[1], sys.argv[2]
clock = SessionClock()
recorder = SessionRecorder(directory, clock)
sink = WavFileSink(None, clock, on_played=recorder.add_played)
recorder.event("session_start", scenario="dee", seed=7, options={}, models={})
peer = espeak("I was not sure I would come today.", "en-us+f4")
try:
    for i, chunk in enumerate(WavFileSource(mic_path, clock=clock).chunks()):
        recorder.add_mic(chunk)
        if i % 16 == 0:
            recorder.event("peer_state", trust=0.4 + i / 10000, distress=0.5, layers=[])
        if i == 8:
            sink.play(peer)
            print("recording", flush=True)
finally:
    sink.close()
    recorder.close()
"""


@pytest.fixture(scope="module")
def mic_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 10 s of real speech as the trainee's microphone."""
    from voicecoach.roleplay import espeak

    text = (
        "That sounds really hard. I am here with you, and there is no rush at all. "
        "What has helped you get through the last few weeks?"
    )
    speech = espeak(text, "en-us+m3", 150)
    track = np.concatenate([speech, np.zeros(RATE, np.float32), speech])[: 10 * RATE]
    path = tmp_path_factory.mktemp("mic") / "mic.wav"
    write_wav(path, track)
    return path


def run_writer(directory: Path, mic: Path, sig: int, after_s: float) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(directory), str(mic)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "recording", proc.stderr.read()  # type: ignore[union-attr]
    time.sleep(after_s)
    proc.send_signal(sig)
    proc.wait(timeout=10)
    return proc


def check_survivor(directory: Path, at_least_s: float) -> float:
    audio = directory / "audio.wav"
    with wave.open(str(audio), "rb") as w:  # the stdlib reads it as a valid WAV
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, RATE)
        frames = w.getnframes()
        pcm = np.frombuffer(w.readframes(frames), dtype="<i2").reshape(-1, 2)
    assert pcm.shape[0] == frames >= at_least_s * RATE
    decoded = read_channels(audio)  # and so does FFmpeg (PyAV)
    assert decoded.shape == (2, frames)
    assert np.abs(decoded[0]).max() > 0.1  # the trainee's speech
    assert np.abs(decoded[1]).max() > 0.1  # the peer's voice as played
    lines = (directory / "events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]  # every line up to the kill parses
    assert events[0]["kind"] == "session_start" and len(events) >= 2
    assert all("t_s" in e for e in events)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for name in ("audio.wav", "events.jsonl"):
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600
    return frames / RATE


def test_sigkill_leaves_playable_audio_and_events(tmp_path: Path, mic_file: Path) -> None:
    directory = tmp_path / "killed"
    proc = run_writer(directory, mic_file, signal.SIGKILL, 3.0)
    assert proc.returncode == -signal.SIGKILL
    seconds = check_survivor(directory, 2.0)
    assert seconds <= 3.0 + 0.6 + 0.1  # the peer started 8 blocks in; at most 1 s behind
    loaded = load_session_dir(directory)
    assert loaded.missing == ["session.json"] and loaded.audio_path is not None
    assert loaded.warnings == []
    record = score_session_dir(directory, ScoreOptions())  # and it scores
    assert "rebuilt from audio.wav and events.jsonl" in record.warnings[0]
    said = " ".join(t.utterance.text.lower() for t in record.turns if t.speaker == "trainee")
    assert "hard" in said, said
    assert record.extra["seed"] == 7 and record.extra["peer_state"]["distress"] == 0.5


def test_sigint_closes_the_record_cleanly(tmp_path: Path, mic_file: Path) -> None:
    directory = tmp_path / "interrupted"
    proc = run_writer(directory, mic_file, signal.SIGINT, 3.0)
    assert proc.returncode != 0
    seconds = check_survivor(directory, 3.0)  # nothing captured is lost
    assert seconds < 6.0


def test_incremental_wav_header_keeps_up_while_writing(tmp_path: Path) -> None:
    path = tmp_path / "grow.wav"
    wav = IncrementalWav(path, channels=1, header_interval_s=0.0)
    tone = np.sin(np.arange(RATE) * 2 * np.pi * 440 / RATE).astype(np.float32) * 0.5
    wav.append(tone[:, None])
    with wave.open(str(path), "rb") as w:  # readable while still open
        assert w.getnframes() == RATE
    wav.write_at(2 * RATE, tone[:100, None])  # past the end: a gap of silence
    assert wav.frames == 2 * RATE + 100
    np.testing.assert_array_equal(wav.read_at(RATE, 10), np.zeros((10, 1), np.int16))
    wav.close()
    with wave.open(str(path), "rb") as w:
        assert w.getnframes() == 2 * RATE + 100


def test_recorder_keeps_channels_sample_aligned(tmp_path: Path) -> None:
    lines = [
        Line("peer", "I don't know why I came.", gap_s=0.2),
        Line("trainee", "I'm glad you did.", gap_s=0.5),
        Line("peer", "It was the fire.", gap_s=0.6),
    ]
    stereo, timeline = render(lines, lead_s=0.3)
    recorder = SessionRecorder(tmp_path / "s")
    mic = stereo[0]
    peer = stereo[1]
    # the peer's audio arrives in pieces, some before and some after the mic reaches them
    half = peer.size // 2
    recorder.add_played(peer[half:], half / RATE)  # far ahead of the microphone
    for a in range(0, mic.size, 512):
        recorder.add_mic(AudioChunk(mic[a : a + 512], RATE, a / RATE))
        if a == 40 * 512:
            recorder.add_played(peer[:half], 0.0)  # behind: mixed into what is written
    recorder.close()
    written = read_channels(tmp_path / "s" / "audio.wav")
    assert written.shape == stereo.shape
    np.testing.assert_allclose(written, stereo, atol=2 / 32767)


def test_event_lines_are_flushed_and_finish_writes_the_record(tmp_path: Path) -> None:
    recorder = SessionRecorder(tmp_path / "s")
    recorder.add_mic(AudioChunk(np.full(512, 0.1, np.float32), RATE, 0.0))
    recorder.event("session_start", scenario="dee", seed=3, options={}, models={})
    recorder.event("latency", turn=1, total_ms=np.float32(640.0))
    events = (tmp_path / "s" / "events.jsonl").read_text().splitlines()
    assert [json.loads(e)["kind"] for e in events] == ["session_start", "latency"]
    record = SessionRecord(file=str(tmp_path / "s"), duration_s=1.0)
    path = recorder.finish(record, extra={"scenario": "dee", "seed": 3})
    data = json.loads(path.read_text())
    assert data["scenario"] == "dee" and data["turns"] == [] and "scores" in data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = score_session_dir(tmp_path / "s", ScoreOptions())
    assert loaded.extra["seed"] == 3 and loaded.warnings == []


def test_new_session_dirs_are_private_and_unique(tmp_path: Path) -> None:
    first = new_session_dir("dee", tmp_path / "sessions")
    second = new_session_dir("dee", tmp_path / "sessions")
    assert first != second and first.name.endswith("-dee")
    assert stat.S_IMODE(first.stat().st_mode) == 0o700


# -- reading damaged sessions -------------------------------------------------------------------
def make_session(directory: Path) -> None:
    recorder = SessionRecorder(directory)
    tone = np.sin(np.arange(2 * RATE) * 0.1).astype(np.float32) * 0.3
    for a in range(0, tone.size, 512):
        recorder.add_mic(AudioChunk(tone[a : a + 512], RATE, a / RATE))
    recorder.event("session_start", scenario="dee", seed=1, options={}, models={})
    recorder.event("peer_state", trust=0.5, distress=0.4, layers=[])
    recorder.close()


def test_load_skips_a_corrupt_event_line(tmp_path: Path) -> None:
    make_session(tmp_path)
    with (tmp_path / "events.jsonl").open("a") as f:
        f.write('{"kind": "latency", "total_ms": 5\n{"kind": "session_end", "reason": "q"}\n')
    loaded = load_session_dir(tmp_path)
    assert [e["kind"] for e in loaded.events] == ["session_start", "peer_state", "session_end"]
    assert len(loaded.warnings) == 1 and "line 3" in loaded.warnings[0]
    assert loaded.missing == ["session.json"]
    assert loaded.audio_s == pytest.approx(2.0, abs=0.04)


def test_load_reads_a_truncated_wav_up_to_what_exists(tmp_path: Path) -> None:
    make_session(tmp_path)
    audio = tmp_path / "audio.wav"
    os.truncate(audio, 44 + 4 * RATE)  # 1 s of the 2 s the header announces
    loaded = load_session_dir(tmp_path)
    assert loaded.audio_path == audio
    assert loaded.audio_s == pytest.approx(1.0)
    assert any("truncated" in w and "2.0 s" in w for w in loaded.warnings)


def test_load_and_score_without_audio(tmp_path: Path) -> None:
    make_session(tmp_path)
    (tmp_path / "audio.wav").unlink()
    loaded = load_session_dir(tmp_path)
    assert loaded.audio_path is None
    assert sorted(loaded.missing) == ["audio.wav", "session.json"]
    with pytest.raises(InputError, match="missing: session.json, audio.wav"):
        score_session_dir(tmp_path, ScoreOptions())


def test_score_rebuilds_a_crashed_session_from_audio_and_events(tmp_path: Path) -> None:
    lines = [
        Line("peer", "I lost everything in the fire. I still can't sleep.", gap_s=0.2),
        Line("trainee", "That sounds so frightening. Thank you for telling me.", gap_s=0.6),
        Line("peer", "My sister keeps saying I should be over it by now.", gap_s=0.6),
        Line("trainee", "Just stay positive, everything happens for a reason.", gap_s=0.6),
    ]
    stereo, timeline = render(lines)
    recorder = SessionRecorder(tmp_path)
    recorder.add_played(stereo[1], 0.0)
    for a in range(0, stereo.shape[1], 512):
        recorder.add_mic(AudioChunk(stereo[0, a : a + 512], RATE, a / RATE))
    recorder.event("session_start", scenario="dee", seed=11, options={}, models={})
    for trust in (0.5, 0.6, 0.35):
        recorder.event("peer_state", trust=trust, distress=0.4, layers=[])
    for turn, total in enumerate((700.0, 900.0, 650.0)):
        recorder.event("latency", turn=turn, endpoint_ms=300, total_ms=total)
    recorder.flush()
    # no close(): as if the process died here
    record = score_session_dir(tmp_path, ScoreOptions())
    assert record.warnings[0].endswith(
        "session.json missing: rebuilt from audio.wav and events.jsonl"
    )
    assert record.file == str(tmp_path)
    speakers = [t.speaker for t in record.turns]
    assert speakers == ["peer", "trainee", "peer", "trainee"]
    assert "frightening" in record.turns[1].utterance.text.lower()
    assert "positive" in record.turns[3].utterance.text.lower()
    assert all(t.judgement is not None for t in record.turns if t.speaker == "trainee")
    extra = record.extra
    assert (extra["scenario"], extra["seed"]) == ("dee", 11)
    assert extra["peer_state"] == {"trust": 0.35, "distress": 0.4}
    assert [p["trust"] for p in extra["trust_timeline"]] == [0.5, 0.6, 0.35]
    assert extra["latency_ms"]["p50"] == 700.0 and len(extra["latency_ms"]["turns"]) == 3
    data = record.to_dict()
    assert data["scenario"] == "dee" and data["latency_ms"]["p95"] == pytest.approx(880.0)


FULL_DISK_WRITER = """
import resource, signal, sys
import numpy as np
from voicecoach.errors import VoicecoachError
from voicecoach.sessions import SessionRecorder
from voicecoach.types import AudioChunk

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, resource.RLIM_INFINITY))
recorder = SessionRecorder(sys.argv[1])
tone = (np.sin(np.arange(512) * 0.2) * 0.3).astype(np.float32)
try:
    for i in range(1000):
        recorder.add_mic(AudioChunk(tone, 16000, i * 0.032))
except VoicecoachError as err:
    print(err)
finally:
    try:
        recorder.close()
    except VoicecoachError:
        pass
"""


def test_a_full_disk_is_one_line_and_keeps_what_was_recorded(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    out = subprocess.run(
        [sys.executable, "-c", FULL_DISK_WRITER, str(tmp_path / "s")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0 and out.stderr == "", out.stderr
    message = out.stdout.strip()
    assert "\n" not in message and "cannot save the session" in message
    assert "what was recorded until now is kept" in message
    with wave.open(str(tmp_path / "s" / "audio.wav"), "rb") as w:
        frames = w.getnframes()
    assert frames * 4 + 44 == pytest.approx(200_000, abs=4 * 512)


def test_recorded_peer_channel_is_what_the_sink_played(tmp_path: Path, mic_file: Path) -> None:
    from voicecoach.audio.sinks import SessionClock, WavFileSink
    from voicecoach.audio.sources import WavFileSource
    from voicecoach.tts import Voice

    peer = Voice("en-us", "f4").synthesize("I was still talking. Forget it.")
    clock = SessionClock()
    recorder = SessionRecorder(tmp_path / "s", clock)
    sink = WavFileSink(tmp_path / "peer.wav", clock, on_played=recorder.add_played)
    playback = None
    mic_frames = 0
    for chunk in WavFileSource(mic_file, clock=clock).chunks():
        recorder.add_mic(chunk)
        mic_frames += chunk.samples.size
        if playback is None and chunk.end_s >= 0.3:
            playback = sink.play(peer, at_s=0.3)
        if chunk.end_s >= 1.5:
            break
    assert playback is not None
    played_s = playback.stop()
    sink.close()
    recorder.close()
    assert 1.1 <= played_s <= 1.3
    audio = read_channels(tmp_path / "s" / "audio.wav")
    n = round(played_s * RATE)
    at = round(0.3 * RATE)
    np.testing.assert_allclose(audio[1, at : at + n], peer[:n], atol=2 / 32767)
    assert not audio[1, :at].any() and not audio[1, at + n :].any()
    mic = read_channels(mic_file)[0]
    np.testing.assert_allclose(audio[0, :mic_frames], mic[:mic_frames], atol=2 / 32767)
    assert not audio[0, mic_frames:].any()  # peer audio after the last mic block: mic silent
    np.testing.assert_allclose(read_channels(tmp_path / "peer.wav")[0, at:], peer[:n], atol=1e-4)
