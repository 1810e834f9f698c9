"""End-to-end tests of `voicecoach practice`: real espeak-ng speech, real Whisper, the real
classifier and peer engine, the real TTS voice; only the microphone and speakers are replaced
by file-backed sources and sinks (and, for the echo test, a simulated room that mixes what
the speakers play back into the microphone).

Every session runs in real time and is kept short (a few trainee turns at most).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from helpers.audio import espeak

from voicecoach.audio.echo import EchoGate, PlayedReference
from voicecoach.audio.io import BLOCK_SAMPLES, SAMPLE_RATE, Playback
from voicecoach.audio.sinks import WavFileSink
from voicecoach.audio.sources import SessionClock, WavFileSource
from voicecoach.live_view import PlainView
from voicecoach.practice import (
    PracticeOptions,
    PracticeResult,
    PracticeSession,
    ScriptedTurnsSource,
)
from voicecoach.record import document, schema
from voicecoach.roleplay import espeak as espeak_samples
from voicecoach.roleplay import write_wav
from voicecoach.types import AudioChunk

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TRAINEE_VOICE = "en-us+m7"

# one trainee turn each keeps every session well under 40 s of real time
VALIDATING = ["That sounds really hard. It makes sense that you would feel that way."]
DISMISSIVE = ["At least you got out okay, right? Things could be worse."]


# -- helpers -----------------------------------------------------------------------------------
def events_of(session_dir: Path) -> list[dict[str, Any]]:
    lines = (session_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def kinds(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["kind"] == kind]


def turn_dir(tmp: Path, name: str, texts: list[str]) -> Path:
    """One espeak-ng WAV per trainee turn, in a voice no persona uses."""
    d = tmp / name
    d.mkdir()
    for i, text in enumerate(texts, start=1):
        espeak(d / f"{i:02d}.wav", text, voice=TRAINEE_VOICE, speed=170)
    return d


def track(path: Path, pieces: list[tuple[float, str]], total_s: float) -> Path:
    """A continuous trainee microphone track: ``(start_s, text)`` pieces over silence."""
    out = np.zeros(round(total_s * SAMPLE_RATE), dtype=np.float32)
    for start, text in pieces:
        clip = espeak_samples(text, TRAINEE_VOICE, 170)
        a = round(start * SAMPLE_RATE)
        out[a : a + clip.size] += clip[: out.size - a]
    write_wav(path, out)
    return path


@pytest.fixture(scope="module")
def models() -> dict[str, Any]:
    from voicecoach.peer import load_scenario
    from voicecoach.practice_command import load_models

    scenario = load_scenario("rosa")
    return {**load_models(scenario), "scenario": scenario}


def run_session(
    models: dict[str, Any],
    session_dir: Path,
    make_source: Any,
    *,
    seed: int = 1,
    options: PracticeOptions | None = None,
    room: SimulatedRoom | None = None,
) -> tuple[PracticeResult, str]:
    """Run one practice session in this process; returns the result and the plain view's text."""
    from voicecoach.peer import Peer
    from voicecoach.sessions import SessionRecorder

    options = options or PracticeOptions(seed=seed)
    clock = SessionClock()
    recorder = SessionRecorder(session_dir, clock)
    sink: Any = WavFileSink(
        session_dir.parent / f"{session_dir.name}-peer.wav", clock, on_played=recorder.add_played
    )
    source = make_source(clock)
    if room is not None:
        sink = room.speakers(sink)
        source = room.microphone(source)
    out = io.StringIO()
    session = PracticeSession(
        source=source,
        sink=sink,
        recorder=recorder,
        clock=clock,
        peer=Peer(models["scenario"], seed=options.seed),
        voice=models["voice"],
        classifier=models["classifier"],
        transcriber=models["transcriber"],
        options=options,
        view=PlainView(out=out),
    )
    return session.run(), out.getvalue()


class SimulatedRoom:
    """Loudspeakers and a microphone in one room: the microphone hears the trainee plus what
    the speakers play, ``gain`` times as loud and ``lag_s`` later (hardware, simulated)."""

    def __init__(self, gain: float = 0.5, lag_s: float = 0.04) -> None:
        self.gain = gain
        self.lag = round(lag_s * SAMPLE_RATE)
        self.played: list[tuple[Playback, np.ndarray]] = []

    def speakers(self, sink: Any) -> Any:
        room = self

        class Speakers:
            sample_rate = SAMPLE_RATE

            def play(self, samples: np.ndarray, at_s: float | None = None) -> Playback:
                pb = sink.play(samples, at_s)
                room.played.append((pb, np.asarray(samples, np.float32)))
                return pb

            def close(self) -> None:
                sink.close()

        return Speakers()

    def heard(self, a: int, b: int) -> np.ndarray:
        out = np.zeros(b - a, dtype=np.float32)
        for pb, samples in self.played:
            start = round(pb.start_s * SAMPLE_RATE) + self.lag
            n = pb.played if pb.done() else samples.size  # type: ignore[attr-defined]
            lo, hi = max(a, start), min(b, start + n)
            if hi > lo:
                out[lo - a : hi - a] += self.gain * samples[lo - start : hi - start]
        return out

    def microphone(self, source: Any) -> Any:
        room = self

        class Microphone:
            sample_rate = SAMPLE_RATE

            def chunks(self) -> Iterator[AudioChunk]:
                for chunk in source.chunks():
                    a = round(chunk.start_s * SAMPLE_RATE)
                    mixed = chunk.samples + room.heard(a, a + chunk.samples.size)
                    yield AudioChunk(mixed.astype(np.float32), SAMPLE_RATE, chunk.start_s)

            def close(self) -> None:
                source.close()

        return Microphone()


def read_stereo(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert w.getnchannels() == 2
        assert w.getframerate() == SAMPLE_RATE
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return pcm.reshape(-1, 2).T.astype(np.float32) / 32768.0


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2))) if x.size else 0.0


def span(audio: np.ndarray, start_s: float, end_s: float) -> np.ndarray:
    return audio[round(start_s * SAMPLE_RATE) : round(end_s * SAMPLE_RATE)]


# -- (a) a directory-driven session through the command ------------------------------------------
@pytest.fixture(scope="module")
def validating_turns(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return turn_dir(tmp_path_factory.mktemp("turns"), "validating", VALIDATING)


@pytest.fixture(scope="module")
def command_session(tmp_path_factory: pytest.TempPathFactory, validating_turns: Path) -> Path:
    from voicecoach.cli import main

    tmp = tmp_path_factory.mktemp("cmd")
    session_dir = tmp / "session"
    code = main(
        [
            "practice",
            "--scenario",
            "rosa",
            "--seed",
            "1",
            "--input-audio",
            str(validating_turns),
            "--output-audio",
            str(tmp / "peer.wav"),
            "--session-dir",
            str(session_dir),
        ]
    )
    assert code == 0
    return session_dir


def test_directory_session_writes_audio_events_and_a_valid_record(command_session: Path) -> None:
    session_dir = command_session
    events = events_of(session_dir)
    for kind in ("session_start", "peer_line", "trainee_turn", "latency", "session_end"):
        assert kinds(events, kind), f"no {kind} event"
    assert kinds(events, "session_start")[0]["scenario"] == "rosa"

    audio = read_stereo(session_dir / "audio.wav")
    opening = kinds(events, "peer_line")[0]
    turn = kinds(events, "trainee_turn")[0]
    # the opening is on the peer channel only; the trainee's turn on the trainee channel
    assert rms(span(audio[1], opening["start_s"], opening["end_s"])) > 0.02
    assert rms(span(audio[0], opening["start_s"], opening["end_s"])) < 0.002
    assert rms(span(audio[0], turn["start_s"], turn["end_s"])) > 0.02
    assert turn["words"] and turn["text"]

    record = json.loads((session_dir / "session.json").read_text())
    jsonschema.validate(document([record]), schema())
    assert record["scenario"] == "rosa" and record["seed"] == 1
    assert set(record["peer_state"]) >= {"trust", "distress"}
    latency = record["latency_ms"]
    assert latency["p50"] > 0 and latency["p95"] >= latency["p50"]
    assert len(latency["turns"]) == len(kinds(events, "latency"))
    for entry in latency["turns"]:
        for key in ("endpoint_ms", "asr_ms", "classify_ms", "peer_ms", "tts_ms", "total_ms"):
            assert entry[key] >= 0
    assert record["trust_timeline"] and {"t_s", "trust", "distress"} <= set(
        record["trust_timeline"][0]
    )
    speakers = [t["speaker"] for t in record["turns"]]
    assert speakers[0] == "peer" and "trainee" in speakers
    assert all(t["text"] for t in record["turns"])


# -- (b) the peer reacts; (f) the same seed and input give the same session ---------------------
def test_validating_turns_build_more_trust_than_dismissive_ones(
    models: dict[str, Any],
    tmp_path: Path,
    validating_turns: Path,
    command_session: Path,
) -> None:
    dismissive = turn_dir(tmp_path, "dismissive", DISMISSIVE)

    def source_of(directory: Path) -> Any:
        return lambda clock: ScriptedTurnsSource(sorted(directory.glob("*.wav")), clock)

    options = PracticeOptions(seed=1, closing=False)
    good, _ = run_session(models, tmp_path / "good", source_of(validating_turns), options=options)
    bad, view = run_session(models, tmp_path / "bad", source_of(dismissive), options=options)

    assert good.extra["peer_state"]["trust"] > bad.extra["peer_state"]["trust"]
    reactions = [e["reaction"] for e in kinds(events_of(tmp_path / "bad"), "peer_state")]
    assert {"dismissed", "quiet", "ending"} & set(reactions), reactions
    assert "flag: dismissive" in view

    # (f) same seed, same trainee audio: the same peer lines as the command's session
    lines_cmd = [e["full_text"] for e in kinds(events_of(command_session), "peer_line")]
    lines_api = [e["full_text"] for e in kinds(events_of(tmp_path / "good"), "peer_line")]
    n = len(lines_api)  # the command also said goodbye (closing) at the end
    assert n >= 2 and lines_cmd[:n] == lines_api


# -- (c) barge-in ---------------------------------------------------------------------------------
def test_talking_over_the_peer_stops_it_and_is_an_interruption(
    models: dict[str, Any], tmp_path: Path
) -> None:
    mic = track(
        tmp_path / "interrupt.wav",
        [(2.0, "Sorry, can I ask you where you are staying right now?")],
        total_s=8.0,
    )
    room = SimulatedRoom(gain=0.5, lag_s=0.04)  # (d) with loudspeaker echo in the microphone
    result, _ = run_session(
        models,
        tmp_path / "s",
        lambda clock: WavFileSource(mic, clock=clock),
        options=PracticeOptions(seed=1, closing=False),
        room=room,
    )
    events = events_of(tmp_path / "s")
    barge = kinds(events, "barge_in")
    assert len(barge) == 1, barge
    assert 1.8 <= barge[0]["speech_s"] <= 2.6
    assert barge[0]["stop_ms"] <= 250
    opening = kinds(events, "peer_line")[0]
    assert opening["stopped_at_s"] is not None and opening["stopped_at_s"] < 2.6
    turns = kinds(events, "trainee_turn")
    assert len(turns) == 1  # the echo of the peer made no turn of its own
    assert "staying" in turns[0]["text"].lower()
    assert "interruption" in turns[0]["judgement"]["flags"]
    states = kinds(events, "peer_state")
    assert states and states[0]["reaction"] == "interrupted"
    assert result.echo is not None and result.echo.blocks_gated > 0


def test_a_backchannel_over_the_peer_lets_it_go_on(models: dict[str, Any], tmp_path: Path) -> None:
    # espeak-ng reads "Mm-hm" out letter by letter; "Mm, yeah." is a backchannel it says well
    mic = track(tmp_path / "mmhm.wav", [(2.5, "Mm, yeah.")], total_s=9.0)
    run_session(
        models,
        tmp_path / "s",
        lambda clock: WavFileSource(mic, clock=clock),
        options=PracticeOptions(seed=1, closing=False, headphones=True),
    )
    events = events_of(tmp_path / "s")
    lines = kinds(events, "peer_line")
    assert kinds(events, "barge_in"), "the mm-hm should pause the peer at once"
    assert lines[0]["stopped_at_s"] is not None
    # the peer went on with the rest of the opening, and did not react to being cut off
    assert len(lines) >= 2 and lines[1]["reaction"] == "opening"
    assert lines[1]["start_s"] >= lines[0]["stopped_at_s"]
    assert lines[1]["stopped_at_s"] is None
    rest = lines[1]["text"].lower()
    assert rest and rest.split()[-1] in lines[0]["full_text"].lower()
    assert not [e for e in kinds(events, "peer_state") if e["reaction"] == "interrupted"]


# -- (d) the echo gate ----------------------------------------------------------------------------
def test_the_peers_own_echo_is_not_trainee_speech(models: dict[str, Any], tmp_path: Path) -> None:
    mic = track(tmp_path / "quiet.wav", [], total_s=8.0)
    room = SimulatedRoom(gain=0.5, lag_s=0.04)  # the peer at -6 dB, 40 ms late
    result, _ = run_session(
        models,
        tmp_path / "s",
        lambda clock: WavFileSource(mic, clock=clock),
        options=PracticeOptions(seed=2, closing=False),
        room=room,
    )
    events = events_of(tmp_path / "s")
    assert not kinds(events, "barge_in")
    assert not kinds(events, "trainee_turn")
    assert kinds(events, "peer_line")[0]["stopped_at_s"] is None
    audio = read_stereo(tmp_path / "s" / "audio.wav")
    assert rms(audio[0]) > 0.005  # the microphone really heard the peer
    assert result.echo is not None and result.echo.lag_ms == pytest.approx(40, abs=2)


def test_echo_gate_blocks_echo_and_passes_speech_over_it() -> None:
    peer = espeak_samples("I keep reaching for things that are not there anymore.", "en-us+f3")
    trainee = espeak_samples("Can I ask you something?", TRAINEE_VOICE, 170)

    class Shown:
        def __init__(self, start_s: float) -> None:
            self.start_s = start_s

        def stop(self) -> float:
            return 0.0

        def done(self) -> bool:
            return False

        def wait(self, timeout_s: float | None = None) -> bool:
            return False

    reference = PlayedReference()
    reference.add(Shown(0.0), peer)  # type: ignore[arg-type]
    lag = round(0.04 * SAMPLE_RATE)
    n = (peer.size + lag) // BLOCK_SAMPLES * BLOCK_SAMPLES
    echo = np.zeros(n, np.float32)
    echo[lag:] = 0.5 * peer[: n - lag]
    mic = echo.copy()
    t0 = round(1.5 * SAMPLE_RATE)
    mic[t0 : t0 + trainee.size] += trainee[: n - t0]

    def gate_blocks(signal_: np.ndarray) -> tuple[np.ndarray, list[bool]]:
        gate = EchoGate(reference)
        out, excess = [], []
        for a in range(0, n, BLOCK_SAMPLES):
            out.append(
                gate.process(
                    AudioChunk(signal_[a : a + BLOCK_SAMPLES], SAMPLE_RATE, a / SAMPLE_RATE)
                )
            )
            excess.append(gate.excess)
        return np.concatenate(out), excess

    cleaned, excess = gate_blocks(echo)
    assert rms(cleaned) < 0.05 * rms(echo)
    assert sum(excess) <= 2
    cleaned, excess = gate_blocks(mic)
    inside = slice(t0 // BLOCK_SAMPLES + 2, (t0 + trainee.size) // BLOCK_SAMPLES - 2)
    assert np.mean(np.array(excess[inside])) > 0.6
    # what passes is the trainee's voice, not the peer's
    kept = span(cleaned, 1.5, 1.5 + trainee.size / SAMPLE_RATE)
    assert np.corrcoef(kept[: trainee.size], trainee[: kept.size])[0, 1] > 0.8


# -- (e) killing a running session --------------------------------------------------------------
def _practice(session_dir: Path, *args: str) -> subprocess.Popen[bytes]:
    """``voicecoach practice --session-dir SESSION_DIR ARGS...`` as a child process."""
    return subprocess.Popen(
        [sys.executable, "-m", "voicecoach", "practice", "--session-dir", str(session_dir), *args],
        cwd=ROOT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _start(tmp: Path, name: str, turns: Path) -> tuple[subprocess.Popen[bytes], Path]:
    session_dir = tmp / name
    peer_wav = str(tmp / f"{name}-peer.wav")
    proc = _practice(
        session_dir, "--input-audio", str(turns), "--output-audio", peer_wav, "--seed", "3"
    )
    return proc, session_dir


def _wait_started(session_dir: Path, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = session_dir / "events.jsonl"
        if events.is_file() and "session_start" in events.read_text():
            return
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        time.sleep(0.1)
    raise AssertionError("the session did not start")


def test_sigint_and_sigkill_leave_a_session_that_scores(
    tmp_path: Path, validating_turns: Path
) -> None:
    calm, calm_dir = _start(tmp_path, "sigint", validating_turns)
    killed, killed_dir = _start(tmp_path, "sigkill", validating_turns)
    try:
        _wait_started(calm_dir, calm)
        _wait_started(killed_dir, killed)
        time.sleep(8.0)
        calm.send_signal(signal.SIGINT)
        killed.send_signal(signal.SIGKILL)
        assert calm.wait(timeout=60) in (0, 130)
        killed.wait(timeout=10)
    finally:
        for p in (calm, killed):
            if p.poll() is None:
                p.kill()
    record = json.loads((calm_dir / "session.json").read_text())
    jsonschema.validate(document([record]), schema())
    assert record["end_reason"] == "interrupted"
    assert record["duration_s"] >= 8.0 and record["turns"]

    assert not (killed_dir / "session.json").exists()
    audio = read_stereo(killed_dir / "audio.wav")
    assert audio.shape[1] / SAMPLE_RATE >= 6.0  # up to the last second or so before the kill
    assert rms(audio[1]) > 0.01  # the peer's opening was recorded
    assert kinds(events_of(killed_dir), "session_start")
    scored = subprocess.run(
        [sys.executable, "-m", "voicecoach", "score", "--format", "json", str(killed_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert scored.returncode == 0, scored.stderr
    doc = json.loads(scored.stdout)
    jsonschema.validate(doc, schema())
    rebuilt = doc["files"][0]
    assert rebuilt["error"] is None
    assert rebuilt["scenario"] == "rosa" and rebuilt["seed"] == 3
    assert any(t["speaker"] == "peer" for t in rebuilt["turns"])


# -- the real sounddevice path ---------------------------------------------------------------------
#: PortAudio's ALSA "pulse" device for both sides: the private server of pulse_daemon.
PULSE_DEVICES = ("--input-device", "pulse", "--output-device", "pulse")


def test_practice_through_real_devices_with_the_speaker_heard_by_the_microphone(
    tmp_path: Path,
) -> None:
    """A private PulseAudio null sink is speaker and microphone at once: the microphone hears
    the peer's voice at full level (loudspeakers, no headphones) and, played into the same
    sink, the trainee talking over the peer."""
    from helpers.pulse import pulse_daemon, pulseaudio_binary

    if pulseaudio_binary() is None or shutil.which("paplay") is None:
        pytest.skip(
            "pulseaudio and paplay are not installed (apt-get install pulseaudio "
            "pulseaudio-utils libasound2-plugins): they provide the virtual devices"
        )
    question = espeak(
        tmp_path / "q.wav",
        "Sorry, can I ask you where you are staying right now?",
        voice=TRAINEE_VOICE,
        speed=170,
    )
    session_dir = tmp_path / "s"
    with pulse_daemon(tmp_path / "pulse"):
        proc = _practice(session_dir, *PULSE_DEVICES, "--seed", "1")
        try:
            _wait_started(session_dir, proc)
            time.sleep(2.0)  # the peer is speaking its opening; the microphone hears it
            subprocess.run(["paplay", "-d", "vspk", str(question)], check=True, timeout=30)
            time.sleep(6.0)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=60) in (0, 130), (
                proc.stderr.read().decode() if proc.stderr else ""
            )
        finally:
            if proc.poll() is None:
                proc.kill()
    events = events_of(session_dir)
    barge = kinds(events, "barge_in")
    turns = kinds(events, "trainee_turn")
    assert len(barge) == 1, barge  # the peer's own voice never stopped it
    assert barge[0]["stop_ms"] <= 250
    assert turns and "staying" in turns[0]["text"].lower()
    assert turns[0]["start_s"] >= barge[0]["speech_s"] - 0.5  # no phantom turn before it
    record = json.loads((session_dir / "session.json").read_text())
    jsonschema.validate(document([record]), schema())
    audio = read_stereo(session_dir / "audio.wav")
    assert rms(audio[1]) > 0.01 and rms(audio[0]) > 0.01


def test_losing_the_devices_mid_session_is_one_line_and_keeps_the_session(
    tmp_path: Path,
) -> None:
    from helpers.pulse import pulse_daemon, pulseaudio_binary

    if pulseaudio_binary() is None:
        pytest.skip("pulseaudio is not installed: it provides the virtual devices")
    session_dir = tmp_path / "s"
    with pulse_daemon(tmp_path / "pulse") as daemon:
        proc = _practice(session_dir, *PULSE_DEVICES)
        try:
            _wait_started(session_dir, proc)
            time.sleep(3.0)
            os.kill(daemon.pid, signal.SIGKILL)  # the sound server (and every device) is gone
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert code == 2, stderr
    # PortAudio's ALSA layer prints its own C diagnostics ("Expression '...' failed in
    # 'src/hostapi/alsa/pa_linux_alsa.c'", "ALSA lib ...") when the server dies, and which
    # ones varies from run to run; ours is the one line starting "voicecoach:", and nothing
    # from Python (a traceback or a warning) gets through.
    lines = [line for line in stderr.splitlines() if line.startswith("voicecoach")]
    assert len(lines) == 1, stderr
    assert not any(s in stderr for s in ("Traceback", "Warning", 'File "')), stderr
    assert "devices" in lines[0] or "reconnect" in lines[0]
    record = json.loads((session_dir / "session.json").read_text())
    assert record["end_reason"] == "error" and record["turns"]
    assert read_stereo(session_dir / "audio.wav").shape[1] / SAMPLE_RATE >= 2.5
