"""The real sounddevice path: a private PulseAudio null sink as speaker and microphone.

Real espeak speech is played with :class:`SoundDeviceSink` to the device ``pulse`` while
:class:`MicSource` records the sink's monitor from ``pulse``.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from helpers.pulse import PulseDaemon, pulse_daemon, pulseaudio_binary, reinitialise_portaudio

from voicecoach.audio.sinks import SessionClock, SoundDeviceSink
from voicecoach.audio.sources import AudioDeviceError, MicSource
from voicecoach.tts import Voice
from voicecoach.types import AudioChunk

RATE = 16000
LINE = "It has been a hard few weeks since the fire, and I still can't sleep in the new place."

pytestmark = pytest.mark.skipif(
    pulseaudio_binary() is None,
    reason="pulseaudio is not installed (apt-get install pulseaudio pulseaudio-utils "
    "libasound2-plugins) - it provides the virtual speaker and microphone",
)


@pytest.fixture(scope="module")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulseDaemon]:
    with pulse_daemon(tmp_path_factory.mktemp("pulse")) as daemon:
        reinitialise_portaudio()
        yield daemon
    reinitialise_portaudio()


class Recorder:
    """Collects microphone chunks on a thread, as the live loop does."""

    def __init__(self, mic: MicSource) -> None:
        self.mic = mic
        self.chunks: list[AudioChunk] = []
        self.thread = threading.Thread(target=lambda: self.chunks.extend(mic.chunks()))
        self.thread.start()

    def stop(self) -> np.ndarray:
        self.mic.close()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive()
        return np.concatenate([c.samples for c in self.chunks])


def align(recorded: np.ndarray, reference: np.ndarray) -> int:
    """Offset of ``reference`` in ``recorded`` (cross-correlation of its first second)."""
    probe = reference[:RATE]
    scores = np.correlate(recorded, probe, mode="valid")
    return int(np.argmax(scores))


def test_an_input_device_error_names_the_fix_without_pulse(tmp_path: Path) -> None:
    """Before the daemon starts there is no microphone at all on this VM (runs first)."""
    pytest.importorskip("sounddevice")
    import sounddevice as sd

    if any(d["max_input_channels"] > 0 for d in sd.query_devices()):
        pytest.skip("this machine has a real microphone")
    with pytest.raises(AudioDeviceError, match="no microphone found: plug one in"):
        MicSource()


def test_doctor_without_devices_fails_unless_practising_from_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Runs before the daemon starts: this VM has no sound device at all."""
    import sounddevice as sd

    from voicecoach.cli import main

    if sd.query_devices():
        pytest.skip("this machine has sound devices")
    sessions = str(tmp_path / "sessions")
    assert main(["doctor", "--session-dir", sessions]) == 1
    out = capsys.readouterr().out
    assert "FAIL  microphone" in out and "--input-audio" in out
    assert main(["doctor", "--input-audio", "--session-dir", sessions]) == 0
    out = capsys.readouterr().out
    assert "WARN  microphone" in out and "FAIL" not in out
    assert "OK    text to speech" in out and "OK    classifier" in out


def test_played_speech_is_recorded_and_stop_cuts_it(pulse: PulseDaemon) -> None:
    speech = Voice("en-us", "f3", 160).synthesize(LINE)
    assert speech.size > 4 * RATE
    clock = SessionClock()
    mic = MicSource("pulse")
    chunks_ok = Recorder(mic)
    played: list[tuple[np.ndarray, float]] = []
    sink = SoundDeviceSink("pulse", clock, on_played=lambda s, t: played.append((s.copy(), t)))
    try:
        time.sleep(0.4)
        playback = sink.play(speech)
        clock.sleep_until(playback.start_s + 2.5)
        t_stop = clock.now_s()
        played_s = playback.stop()
        assert playback.done() and playback.wait(0)
        time.sleep(0.8)
    finally:
        sink.close()
    recorded = chunks_ok.stop()
    # block sizes and the session clock of the microphone
    assert all(c.samples.shape == (512,) for c in chunks_ok.chunks)
    assert [c.start_s for c in chunks_ok.chunks[:3]] == pytest.approx([0.0, 0.032, 0.064])

    # what was recorded is what was played
    lag = align(recorded, speech)
    heard = recorded[lag : lag + round(played_s * RATE)]
    correlation = float(np.corrcoef(heard, speech[: heard.size])[0, 1])
    assert correlation >= 0.9, correlation

    # stop() cut it: the recording holds no more of the line than was due at stop()
    due_s = t_stop - playback.start_s
    assert played_s == pytest.approx(due_s, abs=0.035)
    level = np.sqrt(np.convolve(recorded**2, np.ones(80) / 80, mode="same"))
    last_sound = int(np.flatnonzero(level > 0.005)[-1])
    cut_ms = ((last_sound - lag) / RATE - due_s) * 1000
    assert cut_ms <= 50, f"the peer was still heard {cut_ms:.0f} ms after stop()"
    assert np.abs(recorded[last_sound + RATE // 10 :]).max() < 0.005  # silence after

    # on_played reported exactly the samples that were heard, in order
    joined = np.concatenate([p for p, _ in played])
    np.testing.assert_array_equal(joined, speech[: joined.size])
    assert joined.size == round(played_s * RATE)
    assert played[0][1] == pytest.approx(playback.start_s)


def test_a_missing_microphone_is_one_clear_line(pulse: PulseDaemon) -> None:
    with pytest.raises(AudioDeviceError, match="voicecoach devices") as err:
        MicSource("no-such-microphone")
    assert "\n" not in str(err.value)


def test_doctor_and_devices_see_the_virtual_devices(
    pulse: PulseDaemon, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from voicecoach.cli import main

    assert main(["devices"]) == 0
    listing = capsys.readouterr().out
    assert " pulse (ALSA)" in listing and ">" in listing and "<" in listing
    assert main(["doctor", "--session-dir", str(tmp_path / "sessions")]) == 0
    report = capsys.readouterr().out.splitlines()
    assert len(report) == 9 and all(line.startswith("OK") for line in report), report


def test_devices_lost_mid_session_keep_what_was_captured(tmp_path: Path) -> None:
    """Killing the sound server is the closest thing to pulling out a USB headset."""
    speech = Voice("en-us", "m3").synthesize(LINE)
    with pulse_daemon(tmp_path) as daemon:
        reinitialise_portaudio()
        played: list[np.ndarray] = []
        sink = SoundDeviceSink("pulse", on_played=lambda s, t: played.append(s))
        playback = sink.play(speech)
        mic = MicSource("pulse")
        delivered: list[AudioChunk] = []
        errors: list[AudioDeviceError] = []

        def consume() -> None:
            try:
                delivered.extend(mic.chunks())
            except AudioDeviceError as err:
                errors.append(err)

        thread = threading.Thread(target=consume)
        thread.start()
        time.sleep(1.5)
        os.kill(daemon.pid, signal.SIGKILL)
        thread.join(timeout=5)
        assert not thread.is_alive()
        mic.close()
        assert playback.wait(1.0)  # the loop is not left waiting for a dead speaker
        # the loss shows when the stream ends or, at the latest, after stall_s without callbacks
        with pytest.raises(AudioDeviceError, match="speaker disconnected .* --output-audio"):
            deadline = time.monotonic() + sink.stall_s + 1.0
            while time.monotonic() < deadline:
                sink.play(np.zeros(0, dtype=np.float32))
                time.sleep(0.05)
            sink.play(speech)
        sink.close()
    reinitialise_portaudio()
    assert 1.2 <= sum(p.size for p in played) / RATE <= 1.8  # what was heard is reported
    assert len(errors) == 1 and str(errors[0]).startswith("microphone disconnected")
    assert "what was recorded is saved" in str(errors[0])
    assert len(delivered) * 512 / RATE >= 1.3  # everything captured before was delivered
    starts = [c.start_s for c in delivered]
    assert starts == pytest.approx([i * 0.032 for i in range(len(delivered))])


def test_a_frozen_sound_server_counts_as_a_lost_speaker(tmp_path: Path) -> None:
    """A hung server ends no stream; it just stops asking for audio, and that is noticed."""
    speech = Voice("en-us", "m3").synthesize(LINE)
    with pulse_daemon(tmp_path) as daemon:
        reinitialise_portaudio()
        sink = SoundDeviceSink("pulse", stall_s=1.0)
        playback = sink.play(speech)
        time.sleep(0.5)
        os.kill(daemon.pid, signal.SIGSTOP)
        try:
            assert playback.wait(sink.stall_s + 1.0)  # the loop is not left waiting for it
            with pytest.raises(AudioDeviceError, match=r"speaker disconnected \(no output for"):
                sink.play(speech)
            assert playback.stopped  # it never reached its end: nothing claims it did
            sink.close()
        finally:
            os.kill(daemon.pid, signal.SIGKILL)
    reinitialise_portaudio()
