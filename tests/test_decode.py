"""voicecoach.audio.decode on real espeak-ng speech encoded to many formats."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np
import pytest
from helpers.audio import espeak, read_native, sox, write_audio, write_video_only

from voicecoach.audio import SAMPLE_RATE, DecodeReport, probe, read_channels, stream_channels
from voicecoach.errors import InputError

TEXT = "I hear you saying that the last few days have been hard."


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, float]:
    """An espeak WAV, its 22.05 kHz float samples and its duration."""
    path = espeak(tmp_path_factory.mktemp("speech") / "speech.wav", TEXT)
    x, rate = read_native(path)
    assert rate == 22050
    return path, x[0], x.shape[1] / rate


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


@pytest.mark.parametrize(
    ("suffix", "codec", "container", "rate", "min_corr"),
    [
        ("wav", "pcm_s16le", None, 22050, 0.999),
        ("flac", "flac", None, 22050, 0.999),
        ("mp3", "libmp3lame", None, 22050, 0.9),
        ("ogg", "libopus", "ogg", 48000, 0.8),
        ("m4a", "aac", "ipod", 22050, 0.8),
        ("webm", "libopus", "webm", 48000, 0.8),
    ],
)
def test_round_trip(
    speech: tuple[Path, np.ndarray, float],
    tmp_path: Path,
    suffix: str,
    codec: str,
    container: str | None,
    rate: int,
    min_corr: float,
) -> None:
    wav, _, duration = speech
    reference = read_channels(wav)[0]
    src = tmp_path / "src.wav"
    sox(wav, "-r", rate, src)
    x, _ = read_native(src)
    path = write_audio(tmp_path / f"speech.{suffix}", x, rate, codec=codec, container=container)
    info = probe(path)
    assert info.channels == 1 and info.sample_rate == rate
    y = read_channels(path)
    assert y.dtype == np.float32 and y.shape[0] == 1
    assert abs(y.shape[1] / SAMPLE_RATE - duration) < 0.12  # codec priming/padding
    # lossy codecs may delay the signal by their priming samples: align before comparing
    best = max(_corr(reference[: len(reference) - d], y[0, d:]) for d in range(0, 1200, 16))
    assert best >= min_corr


@pytest.mark.parametrize("rate", [8000, 44100, 48000])
def test_resampled_to_16k_with_the_right_duration(
    speech: tuple[Path, np.ndarray, float], tmp_path: Path, rate: int
) -> None:
    wav, _, duration = speech
    path = tmp_path / f"speech_{rate}.wav"
    sox(wav, "-r", rate, path)
    assert probe(path).sample_rate == rate
    y = read_channels(path)
    assert abs(y.shape[1] / SAMPLE_RATE - duration) < 0.005
    assert 0.05 < np.abs(y).max() <= 1.0


def test_stereo_keeps_channels_in_order(
    speech: tuple[Path, np.ndarray, float], tmp_path: Path
) -> None:
    _, x, _ = speech
    stereo = np.stack([x, np.zeros_like(x)])
    path = write_audio(tmp_path / "stereo.wav", stereo, 22050)
    y = read_channels(path)
    assert y.shape[0] == 2
    assert np.abs(y[0]).max() > 0.1 and np.abs(y[1]).max() < 1e-4


@pytest.mark.parametrize("channels", [6, 8])
def test_many_channels_are_decoded(
    speech: tuple[Path, np.ndarray, float], tmp_path: Path, channels: int
) -> None:
    """6 (5.1) and 8 (7.1, where PyAV's planar frames crash) channels come through."""
    _, x, _ = speech
    six = np.stack([x * (i + 1) / 10 for i in range(channels)])
    path = write_audio(tmp_path / "surround.wav", six, 22050)
    assert probe(path).channels == channels
    y = read_channels(path)
    assert y.shape[0] == channels
    peaks = np.abs(y).max(axis=1)
    assert np.all(np.diff(peaks) > 0)  # channel order kept


def test_streams_in_fixed_blocks(speech: tuple[Path, np.ndarray, float]) -> None:
    wav, _, _ = speech
    whole = read_channels(wav)
    blocks = list(stream_channels(wav, block_s=0.5))
    assert all(b.shape == (1, 8000) for b in blocks[:-1])
    assert 0 < blocks[-1].shape[1] <= 8000
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1), whole)


def test_nan_and_inf_are_replaced_with_a_warning(
    speech: tuple[Path, np.ndarray, float], tmp_path: Path
) -> None:
    _, x, _ = speech
    bad = x.copy()
    bad[1000:1100] = np.nan
    bad[5000] = np.inf
    bad[6000] = -np.inf
    path = write_audio(tmp_path / "float.wav", bad, 22050, codec="pcm_f32le")
    report = DecodeReport()
    y = read_channels(path, report=report)
    assert np.isfinite(y).all()
    assert report.non_finite_samples == 102
    assert len(report.warnings) == 1 and "float.wav" in report.warnings[0]
    assert "NaN" in report.warnings[0]
    a, b = 1000 * 16000 // 22050, 1100 * 16000 // 22050
    assert abs(y[0, a + 8 : b - 8]).max() < 0.01  # zeros, apart from resampler ringing


@pytest.mark.parametrize("name", ["séance café.wav", "録音 テスト.flac", "with space/a b.wav"])
def test_unicode_and_space_paths(
    speech: tuple[Path, np.ndarray, float], tmp_path: Path, name: str
) -> None:
    wav, x, _ = speech
    path = tmp_path / name
    path.parent.mkdir(exist_ok=True)
    write_audio(path, x, 22050, codec="flac" if name.endswith(".flac") else "pcm_s16le")
    assert probe(path).path == path
    assert read_channels(path).shape[0] == 1


def _assert_one_line(err: pytest.ExceptionInfo[InputError], path: Path, *words: str) -> None:
    msg = str(err.value)
    assert "\n" not in msg
    assert str(path) in msg
    for w in words:
        assert w in msg


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.wav"
    with pytest.raises(InputError) as err:
        read_channels(path)
    _assert_one_line(err, path, "no such file")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        probe(tmp_path)
    _assert_one_line(err, tmp_path, "directory")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.touch()
    with pytest.raises(InputError) as err:
        read_channels(path)
    _assert_one_line(err, path, "empty")


def test_text_file_named_wav(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio, just some text\n" * 20)
    with pytest.raises(InputError) as err:
        probe(path)
    _assert_one_line(err, path, "not an audio file PyAV can decode")
    with pytest.raises(InputError):
        list(stream_channels(path))


def test_truncated_header(speech: tuple[Path, np.ndarray, float], tmp_path: Path) -> None:
    wav, _, _ = speech
    path = tmp_path / "cut.wav"
    path.write_bytes(wav.read_bytes()[:30])
    with pytest.raises(InputError) as err:
        read_channels(path)
    _assert_one_line(err, path, "decode")


def test_header_without_samples(tmp_path: Path) -> None:
    path = tmp_path / "no samples.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
    with pytest.raises(InputError) as err:
        read_channels(path)
    _assert_one_line(err, path, "no decodable samples")


def test_truncated_data_decodes_what_is_there(
    speech: tuple[Path, np.ndarray, float], tmp_path: Path
) -> None:
    wav, _, duration = speech
    data = wav.read_bytes()
    path = tmp_path / "half.wav"
    path.write_bytes(data[: len(data) // 2])
    y = read_channels(path)
    assert abs(y.shape[1] / SAMPLE_RATE - duration / 2) < 0.05


def test_garbage_after_a_valid_header(tmp_path: Path) -> None:
    """A FLAC header followed by random bytes: corrupt, not silently empty."""
    path = tmp_path / "garbage.flac"
    rng = np.random.default_rng(1)
    path.write_bytes(b"fLaC" + rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(InputError) as err:
        read_channels(path)
    _assert_one_line(err, path)


def test_corrupt_packets_are_skipped_with_a_warning(
    speech: tuple[Path, np.ndarray, float], tmp_path: Path
) -> None:
    _, x, duration = speech
    path = write_audio(tmp_path / "damaged.m4a", x, 22050, codec="aac")
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 2000] = np.random.default_rng(0).integers(0, 256, 2000, np.uint8).tobytes()
    path.write_bytes(bytes(data))
    report = DecodeReport()
    y = read_channels(path, report=report)
    assert 0.5 * duration < y.shape[1] / SAMPLE_RATE <= duration + 0.1
    assert any("corrupt" in w and "damaged.m4a" in w for w in report.warnings)


def test_no_audio_stream(tmp_path: Path) -> None:
    path = write_video_only(tmp_path / "video.mp4")
    with pytest.raises(InputError) as err:
        probe(path)
    _assert_one_line(err, path, "no audio stream")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_permission_denied(speech: tuple[Path, np.ndarray, float], tmp_path: Path) -> None:
    path = tmp_path / "locked.wav"
    path.write_bytes(speech[0].read_bytes())
    path.chmod(0)
    try:
        with pytest.raises(InputError) as err:
            read_channels(path)
        _assert_one_line(err, path, "permission denied")
    finally:
        path.chmod(0o600)
