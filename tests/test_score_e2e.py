"""`voicecoach score` end to end: espeak-ng speech, real Whisper, real classifier.

A stereo role-play is synthesised at test time with a different voice per speaker, with a
planted interruption, a backchannel over the peer and a dismissive reply.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from helpers.text import wer

from voicecoach.cli import main
from voicecoach.record import schema
from voicecoach.roleplay import Line, render, write_wav

PEER = "en-gb-scotland+m3"
TRAINEE = "en-us+f2"

GOOD = [
    Line(
        "peer",
        "I came home from the deployment two years ago. Most days I feel like I never really left.",
        0.0,
        PEER,
        155,
    ),
    Line(
        "trainee",
        "It makes sense that part of you is still over there. What is a normal "
        "day like for you now?",
        0.8,
        TRAINEE,
        165,
        ("validation", "open_question"),
    ),
    Line(
        "peer",
        "I sleep maybe three hours. I keep my boots by the door, and my wife says I "
        "am not the same man she married.",
        0.9,
        PEER,
        155,
    ),
    Line("trainee", "Mm-hm.", -3.0, TRAINEE, 165, ("backchannel",)),
    Line(
        "trainee",
        "So you are exhausted, and it hurts to hear her say that. Anyone would feel that way.",
        0.9,
        TRAINEE,
        165,
        ("reflection", "validation"),
    ),
    Line(
        "peer",
        "Yeah. I lost two friends over there, and I keep thinking it should have "
        "been me, and the thing is I never",
        0.9,
        PEER,
        155,
    ),
    Line(
        "trainee",
        "Honestly you should just be grateful you made it home.",
        -0.5,
        TRAINEE,
        165,
        ("interruption", "dismissive"),
    ),
    Line("peer", "I was not finished.", 0.5, PEER, 155),
    Line(
        "trainee",
        "You are right, I am sorry. Please go on, at your own pace.",
        0.9,
        TRAINEE,
        165,
        ("empowerment",),
    ),
]

BAD = [
    Line("peer", "My brother died last month and I can't stop crying at work.", 0.0, PEER, 155),
    Line(
        "trainee",
        "You need to pull yourself together, crying at work is not okay.",
        0.8,
        TRAINEE,
        165,
        ("dismissive",),
    ),
    Line("peer", "I just miss him so much.", 0.9, PEER, 155),
    Line(
        "trainee",
        "On a scale of one to ten how depressed are you? Are you on medication?",
        0.8,
        TRAINEE,
        165,
        ("clinical_focus",),
    ),
    Line("peer", "I don't want to talk about how he died.", 0.9, PEER, 155),
    Line("trainee", "You need to tell me exactly how he died.", 0.8, TRAINEE, 165, ("pressuring",)),
]


def _score(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    code = main(["score", str(path), "--format", "json", *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out: dict[str, Any] = {}
    root = tmp_path_factory.mktemp("sessions")
    for name, script in (("good", GOOD), ("bad", BAD)):
        audio, timeline = render(script)
        path = root / f"{name}.wav"
        write_wav(path, audio)
        out[name] = (path, timeline)
    return out


@pytest.fixture(scope="module")
def scored(sessions: dict[str, Any]) -> dict[str, Any]:
    results = {}
    for name, (path, _) in sessions.items():
        code = main(["score", str(path), "--format", "json", "--output", str(path) + ".json"])
        assert code == 0
        results[name] = json.loads(Path(str(path) + ".json").read_text())
    return results


def _match(turns: list[dict[str, Any]], line: dict[str, Any]) -> dict[str, Any]:
    same = [t for t in turns if t["speaker"] == line["speaker"]]
    return min(same, key=lambda t: abs(t["start_s"] - line["start_s"]))


def test_output_is_valid_against_the_schema(scored: dict[str, Any]) -> None:
    for doc in scored.values():
        jsonschema.validate(doc, schema())
        record = doc["files"][0]
        assert record["error"] is None
        assert record["models"]["asr"]["name"]
        assert record["models"]["classifier"]["sha256"]


def test_transcripts_and_turn_times_match_the_script(scored, sessions) -> None:
    for name in ("good", "bad"):
        turns = scored[name]["files"][0]["turns"]
        _, timeline = sessions[name]
        for speaker in ("trainee", "peer"):
            script = " ".join(x["text"] for x in timeline if x["speaker"] == speaker)
            heard = " ".join(t["text"] for t in turns if t["speaker"] == speaker)
            assert wer(script, heard) <= 0.2, (speaker, script, heard)
        for line in timeline:
            if "backchannel" in line["expect"]:
                continue
            turn = _match(turns, line)
            assert abs(turn["start_s"] - line["start_s"]) <= 0.3, (line, turn)
            assert abs(turn["end_s"] - line["end_s"]) <= 0.3, (line, turn)


def test_interruption_found_on_the_planted_turn_only(scored, sessions) -> None:
    turns = scored["good"]["files"][0]["turns"]
    _, timeline = sessions["good"]
    for line in timeline:
        if line["speaker"] != "trainee":
            continue
        turn = _match(turns, line)
        if "interruption" in line["expect"]:
            assert "interruption" in turn["flags"], turn
            assert turn["timing"]["gap_s"] < 0
        else:
            assert "interruption" not in turn["flags"], turn
    backchannel = next(x for x in timeline if "backchannel" in x["expect"])
    assert "interruption" not in _match(turns, backchannel)["flags"]


def test_dismissals_are_flagged_with_evidence_and_suggestion(scored) -> None:
    for name in ("good", "bad"):
        flags = [f for f in scored[name]["files"][0]["flags"] if f["label"] == "dismissive"]
        assert flags, name
        for flag in flags:
            assert flag["evidence"] and flag["suggestion"]
            assert flag["start_s"] is not None


def test_good_session_scores_clearly_above_bad(scored) -> None:
    good = scored["good"]["files"][0]["scores"]
    bad = scored["bad"]["files"][0]["scores"]
    assert good["overall"] >= bad["overall"] + 25, (good, bad)
    assert good["validation"] > bad["validation"]
    assert good["empowerment"] >= bad["empowerment"]


def test_swapped_channels_swap_the_speakers(sessions, scored, capsys) -> None:
    path, _ = sessions["bad"]
    swapped = _score(path, capsys, "--channels", "peer,trainee")["files"][0]
    original = scored["bad"]["files"][0]
    assert [t["speaker"] for t in swapped["turns"]] != [t["speaker"] for t in original["turns"]]
    assert {t["text"] for t in swapped["turns"] if t["speaker"] == "peer"} == {
        t["text"] for t in original["turns"] if t["speaker"] == "trainee"
    }


def test_mono_recording_is_the_trainee_and_peer_labels_are_not_judged(sessions, tmp_path, capsys):
    import numpy as np

    from voicecoach.audio.decode import read_channels

    path, _ = sessions["bad"]
    mono = tmp_path / "mono.wav"
    write_wav(mono, read_channels(path)[0][None, :].astype(np.float32))
    record = _score(mono, capsys)["files"][0]
    assert {t["speaker"] for t in record["turns"]} == {"trainee"}
    for turn in record["turns"]:
        assert turn["labels"]["missed_validation"] is None
        assert turn["labels"]["interruption"] is None
    assert any("mono" in w for w in record["warnings"])


def test_network_blocked_gives_the_same_result(sessions, scored, tmp_path) -> None:
    path, _ = sessions["good"]
    out = tmp_path / "offline.json"
    code = f"""
import socket, sys
def refuse(*args, **kwargs):
    raise OSError("network access attempted")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
from voicecoach.cli import main
sys.exit(main(["score", {str(path)!r}, "--format", "json", "--output", {str(out)!r}]))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    offline = json.loads(out.read_text())["files"][0]
    online = scored["good"]["files"][0]
    assert [t["text"] for t in offline["turns"]] == [t["text"] for t in online["turns"]]
    assert offline["flags"] == online["flags"]
    assert offline["scores"] == online["scores"]


def test_written_transcript_keeps_turns_one_to_one(tmp_path, capsys) -> None:
    turns = [
        {
            "speaker": "peer",
            "text": "I got my chip for six months sober today.",
            "start_s": 0.0,
            "end_s": 3.0,
        },
        {
            "speaker": "trainee",
            "text": "Six months! That's huge, you should be proud.",
            "start_s": 3.8,
            "end_s": 6.0,
        },
        {"speaker": "trainee", "text": "What got you through the hardest days?"},
        {"speaker": "peer", "text": "My sponsor, mostly."},
    ]
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"turns": turns}))
    record = _score(path, capsys)["files"][0]
    assert [t["text"] for t in record["turns"]] == [t["text"] for t in turns]
    assert [t["speaker"] for t in record["turns"]] == [t["speaker"] for t in turns]
    assert "validation" in record["turns"][1]["strengths"]
    assert record["turns"][0]["labels"] == {}


def test_mono_with_scenario_tells_the_peer_by_its_lines(tmp_path, capsys) -> None:
    import numpy as np

    from voicecoach.peer.scenario import load_scenario

    rosa = load_scenario("rosa")
    voice = f"{rosa.voice.espeak}+{rosa.voice.variant}"
    script = [
        Line("peer", rosa.lines["opening"][0], 0.0, voice, rosa.voice.rate),
        Line(
            "trainee",
            "Thank you for telling me. What has this week been like for you?",
            0.9,
            TRAINEE,
            165,
        ),
        Line("peer", rosa.lines["layer1"][0], 0.9, voice, rosa.voice.rate),
        Line("trainee", "That sounds like so much to carry at once.", 0.9, TRAINEE, 165),
    ]
    audio, timeline = render(script)
    path = tmp_path / "mono.wav"
    write_wav(path, audio.sum(axis=0, keepdims=True).astype(np.float32))
    record = _score(path, capsys, "--scenario", "rosa")["files"][0]
    speakers = [t["speaker"] for t in record["turns"]]
    assert speakers == ["peer", "trainee", "peer", "trainee"], record["turns"]
    assert record["turns"][1]["labels"]["missed_validation"] is not None
