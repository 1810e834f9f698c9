"""`voicecoach score` on bad and unusual input: one clear line, the right exit code.

Every case runs the real CLI on a real file made here; a failing file is reported in its
record and on stderr, and the other files are still scored.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from helpers.audio import espeak, silence, sox, white_noise, write_audio
from helpers.text import wer

from voicecoach.cli import main
from voicecoach.roleplay import resample

SENTENCE = "I think it makes sense that you feel tired after all that."


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """A short real utterance at 16 kHz."""
    import wave

    path = espeak(
        tmp_path_factory.mktemp("speech") / "s.wav",
        SENTENCE,
    )
    with wave.open(str(path)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        rate = w.getframerate()
    return resample(pcm.astype(np.float32) / 32768, rate, 16000)


def score(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict | None, str]:
    code = main(["score", "--format", "json", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def one_line_error(err: str, *needles: str) -> None:
    lines = [x for x in err.strip().splitlines() if x.startswith("voicecoach: error")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_nonexistent_path_is_a_usage_error(tmp_path, capsys) -> None:
    code, out, err = score(capsys, str(tmp_path / "nope.wav"))
    assert code == 2 and out is None
    one_line_error(err, "nope.wav", "no such file")


def test_empty_directory_is_a_usage_error(tmp_path, capsys) -> None:
    code, out, err = score(capsys, str(tmp_path))
    assert code == 2
    one_line_error(err, str(tmp_path), "no audio files")


def test_glob_matching_nothing(tmp_path, capsys) -> None:
    code, _, err = score(capsys, str(tmp_path / "*.flac"))
    assert code == 2
    one_line_error(err, "matches no file")


@pytest.mark.parametrize(
    "name, content, needle",
    [
        ("empty.wav", b"", "empty"),
        ("notes.wav", b"these are my session notes, not audio\n" * 20, "not an audio file"),
    ],
)
def test_unusable_files_fail_alone(tmp_path, capsys, speech, name, content, needle) -> None:
    bad = tmp_path / name
    bad.write_bytes(content)
    good = write_audio(tmp_path / "good.wav", speech, 16000)
    code, doc, err = score(capsys, str(bad), str(good))
    assert code == 1
    records = {Path(r["file"]).name: r for r in doc["files"]}
    assert needle in records[name]["error"].lower()
    assert name in records[name]["error"]
    assert records["good.wav"]["error"] is None
    assert records["good.wav"]["turns"]
    assert "Traceback" not in err
    assert "1 of 2 files failed" in err


def test_truncated_file(tmp_path, capsys, speech) -> None:
    full = write_audio(tmp_path / "full.flac", np.tile(speech, 3), 16000, codec="flac")
    cut = tmp_path / "cut.flac"
    cut.write_bytes(full.read_bytes()[:200])
    code, doc, err = score(capsys, str(cut))
    assert code == 1
    record = doc["files"][0]
    assert record["error"] and "cut.flac" in record["error"]


def test_nan_and_inf_samples_are_replaced_with_a_warning(tmp_path, capsys, speech) -> None:
    samples = np.concatenate([speech, silence(0.5)]).copy()
    samples[100:110] = np.nan
    samples[200:205] = np.inf
    path = write_audio(tmp_path / "nan.wav", samples, 16000, codec="pcm_f32le")
    code, doc, err = score(capsys, str(path))
    assert code == 0, err
    record = doc["files"][0]
    assert record["error"] is None
    assert any("non-finite" in w or "NaN" in w for w in record["warnings"]), record["warnings"]
    assert record["turns"]


def test_all_silent_audio_is_a_valid_empty_result_with_a_warning(tmp_path, capsys) -> None:
    path = write_audio(tmp_path / "quiet.wav", np.stack([silence(8), silence(8)]), 16000)
    code, doc, err = score(capsys, str(path))
    assert code == 0
    record = doc["files"][0]
    assert record["turns"] == [] and record["flags"] == []
    assert all(v is None for v in record["scores"].values())
    assert any("no speech" in w for w in record["warnings"])


def test_noise_makes_no_words(tmp_path, capsys) -> None:
    noise = white_noise(10, 0.02)
    path = write_audio(tmp_path / "noise.wav", np.stack([noise, silence(10)]), 16000)
    code, doc, _ = score(capsys, str(path))
    assert code == 0
    assert doc["files"][0]["turns"] == []


@pytest.mark.parametrize("rate", [8000, 48000])
def test_other_sample_rates(tmp_path, capsys, speech, rate) -> None:
    source = write_audio(tmp_path / "source.wav", speech, 16000)
    path = tmp_path / f"r{rate}.wav"
    sox(source, "-r", str(rate), path)  # a proper band-limited resample, as a recorder makes
    code, doc, err = score(capsys, str(path))
    assert code == 0, err
    record = doc["files"][0]
    assert abs(record["duration_s"] - len(speech) / 16000) < 0.05
    heard = " ".join(t["text"] for t in record["turns"])
    assert wer(SENTENCE, heard) <= 0.3, heard


def test_six_channels_name_the_channels_option(tmp_path, capsys, speech) -> None:
    path = write_audio(tmp_path / "surround.wav", np.stack([speech] * 6), 16000)
    code, doc, err = score(capsys, str(path))
    assert code == 1
    assert "--channels" in doc["files"][0]["error"]
    assert "6 channels" in doc["files"][0]["error"]


def test_bad_channels_option(tmp_path, capsys, speech) -> None:
    path = write_audio(tmp_path / "a.wav", speech, 16000)
    code, _, err = score(capsys, str(path), "--channels", "peer,peer")
    assert code == 2
    one_line_error(err, "--channels")


@pytest.mark.skipif(not hasattr(os, "seteuid"), reason="needs POSIX user ids")
def test_unreadable_file(speech) -> None:
    # A folder every user can enter (pytest's own temp root is private to its user).
    folder = Path(tempfile.mkdtemp(prefix="voicecoach-perm-", dir="/tmp"))
    folder.chmod(0o755)
    path = write_audio(folder / "private.wav", speech, 16000)
    path.chmod(0o000 if os.geteuid() != 0 else 0o600)
    # Root reads everything, so as root the CLI drops to "nobody" once its modules are loaded.
    drop = f"os.seteuid({pwd.getpwnam('nobody').pw_uid})" if os.geteuid() == 0 else "pass"
    code = f"""
import os, sys
import glob, json, concurrent.futures, multiprocessing, traceback, fractions, av, numpy
import voicecoach.cli, voicecoach.score, voicecoach.audio_scoring, voicecoach.record
voicecoach.cli.build_parser()
{drop}
sys.exit(voicecoach.cli.main(["score", "--format", "json", {str(path)!r}]))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    shutil.rmtree(folder)
    assert proc.returncode == 1, proc.stderr
    assert "permission denied" in proc.stderr
    assert "private.wav" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unicode_and_spaces_in_paths_and_directory_walk(tmp_path, capsys, speech) -> None:
    folder = tmp_path / "cohort ü 2026"
    (folder / "week 1").mkdir(parents=True)
    write_audio(folder / "week 1" / "séance un.wav", speech, 16000)
    write_audio(folder / "María's take.flac", speech, 16000, codec="flac")
    (folder / "readme.txt").write_text("not scored")
    code, doc, err = score(capsys, str(folder))
    assert code == 0, err
    names = sorted(Path(r["file"]).name for r in doc["files"])
    assert names == ["María's take.flac", "séance un.wav"]


@pytest.mark.parametrize(
    "content, needle",
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"turns": [{"speaker": "coach", "text": "hi"}]}), "speaker"),
        (json.dumps({"turns": [{"speaker": "peer"}]}), "text"),
        (json.dumps({"talk": []}), "turns"),
        (json.dumps({"turns": [{"speaker": "peer", "text": "x", "start_s": "soon"}]}), "start_s"),
    ],
)
def test_malformed_transcripts(tmp_path, capsys, content, needle) -> None:
    path = tmp_path / "transcript.json"
    path.write_text(content)
    code, doc, err = score(capsys, str(path))
    assert code == 1
    error = doc["files"][0]["error"]
    assert needle in error and "transcript.json" in error
    assert "Traceback" not in err


def test_jsonl_and_text_formats(tmp_path, capsys, speech) -> None:
    path = write_audio(tmp_path / "a.wav", speech, 16000)
    assert main(["score", "--format", "jsonl", str(path), str(path.with_name("b.json"))]) == 2
    capsys.readouterr()
    transcript = tmp_path / "b.json"
    transcript.write_text(json.dumps({"turns": [{"speaker": "trainee", "text": "Hello."}]}))
    assert main(["score", "--format", "jsonl", str(path), str(transcript)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(json.loads(x)["file"] for x in lines)
    assert main(["score", "--format", "text", str(transcript)]) == 0
    assert "b.json" in capsys.readouterr().out


def test_debug_shows_the_traceback(tmp_path, capsys) -> None:
    code = main(["--debug", "score", str(tmp_path / "missing.wav")])
    assert code == 2
    assert "Traceback" in capsys.readouterr().err


def test_jobs_give_the_same_records_in_input_order(tmp_path, capsys, speech) -> None:
    paths = []
    for i in range(3):
        paths.append(str(write_audio(tmp_path / f"f{i}.wav", speech * (0.5 + i / 4), 16000)))
    code, doc, err = score(capsys, "--jobs", "2", *paths)
    assert code == 0, err
    assert [r["file"] for r in doc["files"]] == paths
    code, single, _ = score(capsys, *paths)
    assert [r["turns"] for r in doc["files"]] == [r["turns"] for r in single["files"]]


def test_two_hour_recording_is_streamed(tmp_path, speech) -> None:
    """Two hours of mono audio (speech at the start and the end) in bounded memory."""
    import resource
    import wave

    rate = 16000
    total = 2 * 3600 * rate
    path = tmp_path / "long.wav"
    pcm = (np.clip(speech, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
        quiet = np.zeros(rate * 60, dtype="<i2").tobytes()
        written = len(pcm)
        while written < total - len(pcm) - rate * 60:
            w.writeframes(quiet)
            written += rate * 60
        w.writeframes(np.zeros(total - len(pcm) - written, dtype="<i2").tobytes())
        w.writeframes(pcm.tobytes())
    out = tmp_path / "long.json"
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "voicecoach",
            "score",
            str(path),
            "--format",
            "json",
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    peak_mb = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    assert peak_mb <= 1024, peak_mb
    record = json.loads(out.read_text())["files"][0]
    assert abs(record["duration_s"] - 7200) < 1
    # Mono without a scenario is one speaker, so all speech is one trainee turn; its words
    # carry the times of both utterances, two hours apart.
    words = [w["start_s"] for t in record["turns"] for w in t.get("words", [])]
    assert words and words[0] < 5 and words[-1] > 7200 - 10, words[:3] + words[-3:]


def test_progress_bar_only_on_a_terminal(tmp_path, speech) -> None:
    import pty

    paths = [str(write_audio(tmp_path / f"p{i}.wav", speech, 16000)) for i in range(2)]
    args = [
        sys.executable,
        "-m",
        "voicecoach",
        "score",
        "--format",
        "json",
        "-o",
        str(tmp_path / "out.json"),
        *paths,
    ]
    piped = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == ""
    leader, follower = pty.openpty()
    with_tty = subprocess.run(args, stderr=follower, stdout=subprocess.DEVNULL, timeout=300)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert with_tty.returncode == 0
    text = shown.decode(errors="replace")
    assert "2/2 files" in text and "audio min" in text and "ETA" in text


def test_walking_a_folder_scores_each_session_whole(tmp_path, capsys) -> None:
    transcript = {
        "turns": [
            {"speaker": "peer", "text": "I lost my job today."},
            {"speaker": "trainee", "text": "That sounds really hard."},
        ]
    }
    root = tmp_path / "sessions"
    session = root / "20261127-101500-rosa"
    session.mkdir(parents=True)
    (root / "loose.json").write_text(json.dumps(transcript))
    (tmp_path / "t.json").write_text(json.dumps(transcript))
    assert main(["score", "--format", "json", str(tmp_path / "t.json")]) == 0
    record = json.loads(capsys.readouterr().out)["files"][0]
    (session / "session.json").write_text(json.dumps({**record, "scenario": "rosa"}))
    code, doc, err = score(capsys, str(root))
    assert code == 0, err
    assert len(doc["files"]) == 2  # session.json was not scored again as a transcript
    assert Path(doc["files"][1]["file"]).name == "loose.json"
    assert any(r.get("scenario") == "rosa" for r in doc["files"])
