"""File-backed audio sources and sinks, and the peer's TTS voice, with real speech."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np
import pytest
from helpers.audio import espeak, write_audio
from helpers.text import wer

from voicecoach.audio.decode import read_channels
from voicecoach.audio.io import BLOCK_SAMPLES, AudioSink, AudioSource, Playback
from voicecoach.audio.sinks import SessionClock, WavFileSink
from voicecoach.audio.sources import WavFileSource
from voicecoach.errors import InputError
from voicecoach.peer.scenario import load_scenario
from voicecoach.tts import Voice

RATE = 16000
LINE = "It has been a hard few weeks since the fire. I still can't sleep in the new place."


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    return espeak(path, "Thank you for telling me that. I can hear how hard it has been.")


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert w.getframerate() == RATE
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return pcm.reshape(-1, w.getnchannels()).T.astype(np.float32) / 32767.0


def test_file_source_yields_mic_sized_blocks_of_channel_zero(speech: Path, tmp_path: Path) -> None:
    mono = read_channels(speech)[0]
    noise = np.random.default_rng(1).standard_normal(mono.size).astype(np.float32) * 0.3
    stereo = write_audio(tmp_path / "stereo.flac", np.stack([mono, noise]), RATE, codec="flac")
    source = WavFileSource(stereo, realtime=False, start_s=2.0)
    assert isinstance(source, AudioSource)
    chunks = list(source.chunks())
    assert all(c.samples.shape == (BLOCK_SAMPLES,) and c.sample_rate == RATE for c in chunks)
    assert [c.start_s for c in chunks] == pytest.approx(
        [2.0 + i * BLOCK_SAMPLES / RATE for i in range(len(chunks))]
    )
    joined = np.concatenate([c.samples for c in chunks])
    assert len(chunks) == -(-mono.size // BLOCK_SAMPLES)
    np.testing.assert_allclose(joined[: mono.size], mono, atol=2e-4)  # channel 0, not 1
    assert not joined[mono.size :].any()  # the last block is padded with silence


def test_file_source_paces_like_a_microphone(tmp_path: Path) -> None:
    two_s = espeak(tmp_path / "two.wav", "one two three four five six", speed=175)
    samples = read_channels(two_s)[0][: 2 * RATE]
    path = write_audio(tmp_path / "exact.wav", samples, RATE)
    clock = SessionClock()
    source = WavFileSource(path, clock=clock, start_s=0.0)
    late = []
    for chunk in source.chunks():
        arrived = clock.now_s()
        assert arrived >= chunk.end_s - 0.002  # never before it would have been captured
        late.append(arrived - chunk.end_s)
    elapsed = clock.now_s()
    assert 1.95 <= elapsed <= 2.3
    assert float(np.median(late)) < 0.02


def test_file_sink_places_peer_audio_on_the_session_timeline(tmp_path: Path) -> None:
    a = Voice("en-us", "f3").synthesize("Hello there.")
    b = Voice("en-us", "f3").synthesize("I was still talking.")
    played: list[tuple[float, int]] = []
    out = tmp_path / "peer.wav"
    sink = WavFileSink(out, realtime=False, on_played=lambda s, t: played.append((t, s.size)))
    assert isinstance(sink, AudioSink)
    pa = sink.play(a, at_s=0.5)
    pb = sink.play(b, at_s=3.0)
    assert isinstance(pa, Playback) and pa.done() and pb.wait(0)
    sink.close()
    track = read_wav(out)[0]
    assert track.size == 3 * RATE + b.size
    np.testing.assert_allclose(track[RATE // 2 : RATE // 2 + a.size], a, atol=1e-4)
    np.testing.assert_allclose(track[3 * RATE :], b, atol=1e-4)
    assert not track[: RATE // 2].any() and not track[RATE // 2 + a.size : 3 * RATE].any()
    assert played == [(0.5, a.size), (3.0, b.size)]


def test_file_sink_plays_in_real_time_and_stop_truncates(tmp_path: Path) -> None:
    line = Voice("en-us", "m3").synthesize(LINE)
    clock = SessionClock()
    pieces: list[tuple[np.ndarray, float]] = []
    out = tmp_path / "peer.wav"
    sink = WavFileSink(out, clock, on_played=lambda s, t: pieces.append((s.copy(), t)))
    pb = sink.play(line, at_s=0.2)
    assert not pb.done()
    assert not pb.wait(0.4)  # it takes the time it would take on speakers
    clock.sleep_until(1.2)
    played_s = pb.stop()
    assert pb.done()
    assert played_s == pytest.approx(1.0, abs=0.03)
    sink.close()
    track = read_wav(out)[0]
    end = round((0.2 + played_s) * RATE)
    assert track.size == end  # nothing after the stop is written
    np.testing.assert_allclose(
        track[round(0.2 * RATE) :], line[: end - round(0.2 * RATE)], atol=1e-4
    )
    # on_played got the same audio, in consecutive pieces
    assert pieces[0][1] == pytest.approx(0.2)
    joined = np.concatenate([p for p, _ in pieces])
    assert joined.size == round(played_s * RATE)
    for (p, t), (_, t_next) in zip(pieces, pieces[1:], strict=False):
        assert t + p.size / RATE == pytest.approx(t_next)


def test_file_sink_without_path_keeps_the_timing(tmp_path: Path) -> None:
    clock = SessionClock()
    sink = WavFileSink(None, clock)
    pb = sink.play(np.zeros(RATE // 2, dtype=np.float32))
    started = time.monotonic()
    assert pb.wait(2.0)
    assert 0.45 <= time.monotonic() - started <= 0.7
    sink.close()
    assert list(tmp_path.iterdir()) == []


# -- the peer's voice ---------------------------------------------------------------------------
def pitch_hz(samples: np.ndarray) -> float:
    """Median fundamental frequency of voiced 40 ms frames (autocorrelation, 70-400 Hz)."""
    frame, hop = 640, 320
    f0 = []
    for a in range(0, samples.size - frame, hop):
        x = samples[a : a + frame] - samples[a : a + frame].mean()
        if np.sqrt(np.mean(x**2)) < 0.02:
            continue
        ac = np.correlate(x, x, mode="full")[frame - 1 :]
        lo, hi = RATE // 400, RATE // 70
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.3 * ac[0]:
            f0.append(RATE / lag)
    return float(np.median(f0))


@pytest.fixture(scope="module")
def transcriber():  # type: ignore[no-untyped-def]
    from voicecoach.asr import Transcriber

    return Transcriber.load()


@pytest.mark.parametrize("persona", ["dee", "graham"])
def test_persona_voice_speaks_the_line(persona: str, transcriber) -> None:  # type: ignore[no-untyped-def]
    voice = Voice.for_scenario(load_scenario(persona))
    samples = voice.synthesize(LINE)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert 3.0 < samples.size / RATE < 9.0
    heard = " ".join(w.text for w in transcriber.transcribe(samples))
    assert wer(LINE, heard) <= 0.25, heard


def test_personas_sound_different() -> None:
    dee = Voice.for_scenario(load_scenario("dee"))  # en-us+f4
    marcus = Voice.for_scenario(load_scenario("marcus"))  # en-us+m3
    assert (dee.espeak_voice, marcus.espeak_voice) == ("en-us", "en-us")
    f_dee, f_marcus = pitch_hz(dee.synthesize(LINE)), pitch_hz(marcus.synthesize(LINE))
    assert f_dee > 1.3 * f_marcus, (f_dee, f_marcus)
    # the variant really changes the audio, not only the name
    plain = Voice("en-us", None, 160).synthesize(LINE)
    varied = Voice("en-us", "f2", 160).synthesize(LINE)
    assert pitch_hz(varied) > 1.3 * pitch_hz(plain)
    # and the rate is applied
    slow = Voice("en-us", "m3", 120).synthesize(LINE)
    fast = Voice("en-us", "m3", 220).synthesize(LINE)
    assert slow.size > 1.4 * fast.size


@pytest.mark.parametrize(
    ("voice", "message"),
    [
        (Voice("en-klingon"), "unknown eSpeak voice 'en-klingon'"),
        (Voice("en-us", "f9"), "unknown eSpeak variant 'f9'"),
    ],
)
def test_unknown_voice_is_a_clear_error(voice: Voice, message: str) -> None:
    with pytest.raises(InputError, match=message):
        voice.synthesize("Hello.")
    assert Voice("en-us", "f3").synthesize("Hello.").size > 0  # the engine still works after


def test_every_bundled_persona_has_a_working_distinct_voice(
    capfd: pytest.CaptureFixture[str],
) -> None:
    from voicecoach.peer.scenario import bundled_names

    voices = {name: Voice.for_scenario(load_scenario(name)) for name in bundled_names()}
    assert len({v.name for v in voices.values()}) == len(voices)
    for name, voice in voices.items():
        samples = voice.synthesize("I'm not ready to talk about that night.")
        assert np.abs(samples).max() > 0.1, name
    assert capfd.readouterr().out == ""  # pyttsx3's "Audio saved to" line is silenced
