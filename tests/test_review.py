"""`voicecoach review` and `voicecoach progress` on real sessions.

Session directories are built the way a practice session leaves them: a stereo espeak-ng
role-play (channel 0 trainee, channel 1 peer) scored by the real pipeline (`voicecoach
score`: Silero VAD, Whisper tiny.en, the ONNX classifier), then ``session.json`` (the FILE
record plus scenario, seed, peer_state, latency_ms, trust_timeline) and ``events.jsonl``
written in the layout of ``voicecoach/sessions.py``.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voicecoach.cli import main
from voicecoach.roleplay import Line, render, write_wav
from voicecoach.scores import PRACTICES

PEER = "en-gb-scotland+m3"
TRAINEE = "en-us+f2"

#: A role-play with a validating open question, an interruption that is also dismissive,
#: and an empowering repair.
MIXED = [
    Line("peer", "I came home from the deployment two years ago. Most days I feel like I "
         "never really left.", 0.0, PEER, 155),
    Line("trainee", "It makes sense that part of you is still over there. What is a normal "
         "day like for you now?", 0.8, TRAINEE, 165, ("validation", "open_question")),
    Line("peer", "Yeah. I lost two friends over there, and I keep thinking it should have "
         "been me, and the thing is I never", 0.9, PEER, 155),
    Line("trainee", "Honestly you should just be grateful you made it home.", -0.5, TRAINEE,
         165, ("interruption", "dismissive")),
    Line("peer", "I was not finished.", 0.5, PEER, 155),
    Line("trainee", "You are right, I am sorry. Please go on, at your own pace.", 0.9,
         TRAINEE, 165, ("empowerment",)),
]  # fmt: skip

#: A role-play full of risks, for progress across sessions.
HARSH = [
    Line("peer", "My brother died last month and I can't stop crying at work.", 0.0, PEER, 155),
    Line("trainee", "You need to pull yourself together, crying at work is not okay.", 0.8,
         TRAINEE, 165, ("dismissive",)),
    Line("peer", "I just miss him so much.", 0.9, PEER, 155),
    Line("trainee", "On a scale of one to ten how depressed are you? Are you on medication?",
         0.8, TRAINEE, 165, ("clinical_focus",)),
]  # fmt: skip


@dataclass(frozen=True)
class ScoredSession:
    """A practice session directory built from a real scored role-play."""

    directory: Path
    wav: Path
    score_json: Path
    record: dict[str, Any]
    timeline: list[dict[str, Any]]


def _trust_after(turn: dict[str, Any], trust: float) -> float:
    return min(1.0, max(0.0, trust + 0.08 * len(turn["strengths"]) - 0.12 * len(turn["flags"])))


def session_events(record: dict[str, Any], scenario: str, seed: int) -> list[dict[str, Any]]:
    """The events a practice session would have logged for ``record``."""
    events: list[dict[str, Any]] = [
        {"kind": "session_start", "t_s": 0.0, "scenario": scenario, "seed": seed,
         "options": {}, "models": record["models"]}
    ]  # fmt: skip
    trust = 0.5
    events.append({"kind": "peer_state", "t_s": 0.0, "trust": trust, "distress": 1 - trust})
    for turn in record["turns"]:
        t_end = turn["end_s"]
        if turn["speaker"] == "peer":
            events.append(
                {"kind": "peer_line", "t_s": turn["start_s"], "text": turn["text"],
                 "reaction": "neutral", "start_s": turn["start_s"], "end_s": t_end}
            )  # fmt: skip
            continue
        judgement = {
            k: turn[k] for k in ("labels", "flags", "strengths", "evidence", "suggestions")
        }
        events.append(
            {"kind": "trainee_turn", "t_s": t_end, "text": turn["text"], "start_s": turn["start_s"],
             "end_s": t_end, "words": turn.get("words", []), "judgement": judgement,
             "timing": turn.get("timing")}
        )  # fmt: skip
        if turn.get("timing") and turn["timing"]["overlap_s"] > 0:
            events.append({"kind": "barge_in", "t_s": turn["start_s"], "stop_ms": 120})
        for label in turn["flags"]:
            events.append(
                {"kind": "flag", "t_s": t_end, "label": label, "turn": turn["index"],
                 "evidence": turn["evidence"].get(label, ""),
                 "suggestion": turn["suggestions"].get(label, "")}
            )  # fmt: skip
        trust = _trust_after(turn, trust)
        events.append({"kind": "peer_state", "t_s": round(t_end + 0.3, 3), "trust": trust,
                       "distress": round(1 - trust, 3), "layers": []})  # fmt: skip
        events.append({"kind": "latency", "t_s": round(t_end + 0.9, 3), "turn": turn["index"],
                       "total_ms": 900.0})  # fmt: skip
    events.append({"kind": "session_end", "t_s": record["duration_s"], "reason": "finished"})
    return events


def write_session_dir(
    directory: Path,
    wav: Path,
    record: dict[str, Any],
    *,
    scenario: str = "marcus",
    seed: int = 7,
    extra: dict[str, Any] | None = None,
) -> Path:
    """``audio.wav``, ``events.jsonl`` and ``session.json`` as a practice session writes them."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(wav, directory / "audio.wav")
    events = session_events(record, scenario, seed)
    with (directory / "events.jsonl").open("w", encoding="utf-8") as f:
        for event in events:
            f.write(json.dumps(event) + "\n")
    states = [e for e in events if e["kind"] == "peer_state"]
    session = {
        **record,
        "file": str(directory),
        "scenario": scenario,
        "seed": seed,
        "peer_state": {"trust": states[-1]["trust"], "distress": states[-1]["distress"]},
        "latency_ms": {"p50": 900.0, "p95": 900.0, "turns": []},
        "trust_timeline": [
            {"t_s": e["t_s"], "trust": e["trust"], "distress": e["distress"]} for e in states
        ],
        **(extra or {}),
    }
    (directory / "session.json").write_text(json.dumps(session, indent=2), encoding="utf-8")
    return directory


def score_roleplay(root: Path, name: str, script: list[Line]) -> ScoredSession:
    """Render ``script`` with espeak-ng, score it with `voicecoach score` and save a session."""
    root.mkdir(parents=True, exist_ok=True)
    audio, timeline = render(script)
    wav = root / f"{name}.wav"
    write_wav(wav, audio)
    score_json = root / f"{name}.json"
    assert main(["score", str(wav), "--format", "json", "--output", str(score_json)]) == 0
    record = json.loads(score_json.read_text())["files"][0]
    assert record["error"] is None, record["error"]
    directory = write_session_dir(root / f"20261120-101500-{name}", wav, record)
    return ScoredSession(directory, wav, score_json, record, timeline)


_CACHE: dict[str, ScoredSession] = {}


def shared_session(tmp_path_factory: pytest.TempPathFactory, name: str = "mixed") -> ScoredSession:
    """One scored session per test run (shared with the browser tests; do not modify it)."""
    if name not in _CACHE:
        script = {"mixed": MIXED, "harsh": HARSH}[name]
        _CACHE[name] = score_roleplay(tmp_path_factory.mktemp(f"review-{name}"), name, script)
    return _CACHE[name]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> ScoredSession:
    return shared_session(tmp_path_factory, "mixed")


def _copy_session(session: ScoredSession, target: Path) -> Path:
    shutil.copytree(session.directory, target)
    return target


def _review(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["review", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# -- view model -------------------------------------------------------------------------------
def test_evidence_span_matches_words_ignoring_case_spacing_and_punctuation() -> None:
    from voicecoach.review.report import evidence_span

    text = "Honestly, you should just be grateful you made it home."
    assert evidence_span(text, "should just") == (14, 25)
    assert text[slice(*evidence_span(text, "it home."))] == "it home."
    span = evidence_span(text, "honestly you  should")
    assert span is not None and text[span[0] : span[1]] == "Honestly, you should"
    assert evidence_span(text, "never said this") is None
    assert evidence_span(text, "") is None


def test_segments_split_the_text_at_every_evidence_boundary() -> None:
    from voicecoach.review.report import segments

    text = "You are right, I am sorry."
    pieces = segments(text, [((0, 14), "flag-1", "self_focus"), ((4, 19), "flag-2", "dismissive")])
    assert "".join(p.text for p in pieces) == text
    assert [p.flags for p in pieces] == [
        ("flag-1",),
        ("flag-1", "flag-2"),
        ("flag-2",),
        (),
    ]
    assert [p.ends for p in pieces] == [(), (1,), (2,), ()]


def test_view_of_a_real_session_highlights_evidence_inside_each_turn(mixed: ScoredSession) -> None:
    from voicecoach.review.report import build_view, load_source

    view = build_view(load_source(mixed.directory))
    record = mixed.record
    assert [t.text for t in view.turns] == [t["text"] for t in record["turns"]]
    assert [(f.label, f.turn_index) for f in view.flags] == [
        (f["label"], f["turn"]) for f in record["flags"]
    ]
    assert record["flags"], "the classifier flagged nothing in a role-play with a dismissal"
    for turn in view.turns:
        assert "".join(s.text for s in turn.segments) == turn.text
        for flag in turn.flags:
            assert flag.explanation, flag.label
            assert flag.suggestion == record["turns"][turn.index]["suggestions"][flag.label]
            if flag.evidence:
                assert flag.span is not None, (flag.evidence, turn.text)
                start, end = flag.span
                assert 0 <= start < end <= len(turn.text)
                said = re.sub(r"[^\w' ]", "", turn.text[start:end].lower()).split()
                assert said == re.sub(r"[^\w' ]", "", flag.evidence.lower()).split()
                covered = "".join(s.text for s in turn.segments if flag.id in s.flags)
                assert covered == turn.text[start:end]
    strengths = sum(len(t["strengths"]) for t in record["turns"])
    assert view.strengths_total == strengths
    for turn in view.turns:
        for strength in turn.strengths:
            assert strength.explanation, strength.label


def test_score_cards_carry_the_scores_and_how_each_is_computed(mixed: ScoredSession) -> None:
    from voicecoach.review.report import build_view, load_source

    view = build_view(load_source(mixed.directory))
    cards = {c.name: c for c in view.score_cards}
    assert list(cards) == [*(p.name for p in PRACTICES), "overall"]
    for practice in PRACTICES:
        assert cards[practice.name].value == mixed.record["scores"][practice.name]
        assert cards[practice.name].summary == practice.summary
    assert cards["overall"].value == mixed.record["scores"]["overall"]
    assert "mean" in cards["overall"].summary


def test_waveform_envelopes_follow_each_speaker(mixed: ScoredSession) -> None:
    from voicecoach.review.audio import envelope, prepare_audio, read_session_audio
    from voicecoach.review.report import waveform_view

    audio = read_session_audio(mixed.wav)
    whole = envelope(audio.samples, audio.sample_rate)
    env = prepare_audio(mixed.wav).envelope  # the streaming pass the report uses
    for e in (whole, env):
        assert e.channels == 2 and e.points == 1200
        assert e.mins.shape == e.maxs.shape == (2, 1200)
        assert np.all(e.mins <= e.maxs)
        assert e.duration_s == pytest.approx(audio.duration_s)
    # streaming in 10 ms hops draws (nearly) the same picture as the whole array
    for channel in range(2):
        a = whole.maxs[channel] - whole.mins[channel]
        b = env.maxs[channel] - env.mins[channel]
        assert np.corrcoef(a, b)[0, 1] > 0.95

    def loudest(channel: int, start_s: float, end_s: float) -> float:
        a, b = (int(t / env.duration_s * env.points) for t in (start_s, end_s))
        return float(np.max(env.maxs[channel, a:b] - env.mins[channel, a:b]))

    for line in mixed.timeline:
        channel = 0 if line["speaker"] == "trainee" else 1
        assert loudest(channel, line["start_s"], line["end_s"]) > 0.1, line
    first_peer = mixed.timeline[0]
    assert loudest(0, first_peer["start_s"] + 0.1, first_peer["end_s"] - 0.1) < 0.01

    view = waveform_view(env, env.duration_s)
    for speaker in ("trainee", "peer"):
        points = view.polygons[speaker].split()
        assert len(points) == 2 * env.points
        xs = [float(p.split(",")[0]) for p in points]
        ys = [float(p.split(",")[1]) for p in points]
        assert min(xs) >= 0 and max(xs) <= view.width
        assert min(ys) >= 0 and max(ys) <= view.height


def test_embedded_audio_is_small_opus_of_the_whole_session(mixed: ScoredSession) -> None:
    import av

    from voicecoach.review.audio import data_uri, prepare_audio

    prepared = prepare_audio(mixed.wav)
    uri = data_uri(prepared.ogg_opus)
    head, payload = uri.split(",", 1)
    assert head == "data:audio/ogg;codecs=opus;base64"
    blob = base64.b64decode(payload)
    assert len(blob) < 0.1 * mixed.wav.stat().st_size
    with av.open(io.BytesIO(blob)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "opus"
        rate = stream.codec_context.sample_rate
        decoded = sum(f.samples for f in container.decode(stream)) / rate
    assert decoded == pytest.approx(prepared.duration_s, abs=0.1)


def test_trust_series_from_the_timeline_or_else_the_peer_state_events(
    mixed: ScoredSession,
) -> None:
    from voicecoach.review.report import trust_series

    session = json.loads((mixed.directory / "session.json").read_text())
    events = [json.loads(x) for x in (mixed.directory / "events.jsonl").read_text().splitlines()]
    from_timeline = trust_series(session, events)
    assert [p.trust for p in from_timeline] == [p["trust"] for p in session["trust_timeline"]]
    without = {k: v for k, v in session.items() if k != "trust_timeline"}
    assert trust_series(without, events) == from_timeline
    assert trust_series(without, []) == ()


# -- the command on each kind of input --------------------------------------------------------
def _assert_self_contained(html: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)
    assert "@import" not in html and "url(" not in html
    assert not re.search(r"<link\b", html, re.I)


def test_review_session_dir_writes_report_and_prints_summary(
    mixed: ScoredSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = _copy_session(mixed, tmp_path / "session")
    code, out, err = _review(str(session), capsys=capsys)
    assert code == 0, err
    assert err == ""
    report = session / "report.html"
    html = report.read_text()
    _assert_self_contained(html)
    assert 'src="data:audio/ogg;codecs=opus;base64,' in html
    assert report.stat().st_size < 400_000
    assert "The peer's trust over the session" in html
    data = json.loads(re.search(r'id="report-data">(.*?)</script>', html, re.S).group(1))
    assert len(data["turns"]) == len(mixed.record["turns"])
    assert [f["label"] for f in data["flags"]] == [f["label"] for f in mixed.record["flags"]]
    for practice in PRACTICES:
        title = practice.name.replace("_", " ").capitalize()
        line = next(x for x in out.splitlines() if x.startswith(title))
        assert "█" in line or "░" in line
        assert line.rstrip().endswith(str(mixed.record["scores"][practice.name]))
    flat = " ".join(out.split())
    for flag in mixed.record["flags"]:
        assert " ".join(flag["evidence"].split()) in flat
        assert " ".join(flag["suggestion"].split()) in flat
    assert str(report) in out


def test_review_audio_file_scores_it_first(
    mixed: ScoredSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wav = tmp_path / "call.wav"
    shutil.copyfile(mixed.wav, wav)
    code, out, err = _review(str(wav), capsys=capsys)
    assert code == 0, err
    html = (tmp_path / "call.report.html").read_text()
    data = json.loads(re.search(r'id="report-data">(.*?)</script>', html, re.S).group(1))
    assert [t["text"] for t in data["turns"]] == [t["text"] for t in mixed.record["turns"]]
    assert [f["label"] for f in data["flags"]] == [f["label"] for f in mixed.record["flags"]]
    assert "data:audio/ogg" in html
    assert "The peer's trust" not in html  # a plain recording has no peer state


def test_review_score_json_finds_its_audio_and_honours_html_out(
    mixed: ScoredSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_path = tmp_path / "out" / "mine.html"
    code, out, err = _review(str(mixed.score_json), "--html", str(out_path), capsys=capsys)
    assert code == 0, err
    html = out_path.read_text()
    assert "data:audio/ogg" in html
    assert html.count('class="flag"') == len(mixed.record["flags"])
    assert not mixed.score_json.with_name(f"{mixed.score_json.stem}.report.html").exists()


def test_review_score_json_of_several_files_writes_a_report_each_and_an_index(
    mixed: ScoredSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    second = tmp_path / "second take.wav"
    shutil.copyfile(mixed.wav, second)
    doc = json.loads(mixed.score_json.read_text())
    doc["files"].append({**doc["files"][0], "file": str(second)})
    cohort = tmp_path / "cohort.json"
    cohort.write_text(json.dumps(doc))

    code, out, err = _review(str(cohort), capsys=capsys)
    assert code == 0, err
    assert err == ""
    folder = tmp_path / "cohort.reports"
    names = sorted(p.name for p in folder.glob("*.html"))
    assert names == ["01-" + mixed.wav.stem + ".html", "02-second_take.html", "index.html"]
    index = (folder / "index.html").read_text()
    assert index.count('class="entry"') == 2
    assert 'href="02-second_take.html"' in index and "second take.wav" in index
    assert "default-src 'none'" in index
    for name in names[:2]:
        report = (folder / name).read_text()
        assert "data:audio/ogg" in report
        assert report.count('class="flag"') == len(mixed.record["flags"])
    assert "second take.wav" in out and f"Reports: {folder / 'index.html'}" in out
    overall = str(mixed.record["scores"]["overall"])
    assert out.count(f" {overall}\n") == 2  # each file's row ends with its overall score

    # a failed file is listed as failed and makes the exit code 1; --html picks the folder
    doc["files"][1] = {**doc["files"][1], "turns": [], "error": "cannot decode audio"}
    cohort.write_text(json.dumps(doc))
    code, out, _ = _review(str(cohort), "--html", str(tmp_path / "mine"), capsys=capsys)
    assert code == 1
    assert "Scoring failed: cannot decode audio" in (tmp_path / "mine" / "index.html").read_text()
    assert "failed" in out


def test_review_bare_record_json_next_to_its_default_report(
    mixed: ScoredSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = tmp_path / "session.json"
    shutil.copyfile(mixed.directory / "session.json", record)
    code, _, err = _review(str(record), capsys=capsys)
    assert code == 0, err
    html = (tmp_path / "session.report.html").read_text()
    assert "The peer's trust over the session" in html
    assert "data:audio/ogg" in html  # found through the record's "file" (the session dir)


# -- bad input --------------------------------------------------------------------------------
def test_nonexistent_path_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _review(str(tmp_path / "nope"), capsys=capsys)
    assert code == 2
    assert err.count("\n") == 1 and "no such file or directory" in err and "Traceback" not in err


def test_other_schema_version_is_a_clear_error(
    mixed: ScoredSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(mixed.score_json.read_text())
    doc["schema_version"] = 2
    path = tmp_path / "future.json"
    path.write_text(json.dumps(doc))
    code, _, err = _review(str(path), capsys=capsys)
    assert code == 2
    assert err.count("\n") == 1 and "schema version 2" in err
    assert not (tmp_path / "future.report.html").exists()


def test_not_json_and_not_a_session_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema_version": 1, "files": [')
    code, _, err = _review(str(broken), capsys=capsys)
    assert code == 2 and err.count("\n") == 1 and "not a valid JSON" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = _review(str(empty), capsys=capsys)
    assert code == 2 and err.count("\n") == 1 and "not a practice session directory" in err
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    code, _, err = _review(str(text), capsys=capsys)
    assert code == 2 and err.count("\n") == 1


def test_corrupt_event_line_is_skipped_with_a_warning(
    mixed: ScoredSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = _copy_session(mixed, tmp_path / "session")
    events = session / "events.jsonl"
    lines = events.read_text().splitlines()
    lines.insert(3, '{"kind": "peer_state", "t_s": 4.0, "tru')
    events.write_text("\n".join(lines) + "\n")
    code, _, err = _review(str(session), capsys=capsys)
    assert code == 0, err
    warnings = [x for x in err.splitlines() if x.startswith("voicecoach: warning:")]
    assert len(warnings) == 1 and "line 4" in warnings[0]
    html = (session / "report.html").read_text()
    assert "line 4" in html and 'role="alert"' in html
    assert html.count('class="flag"') == len(mixed.record["flags"])


def test_missing_audio_still_writes_the_report_and_says_so(
    mixed: ScoredSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = _copy_session(mixed, tmp_path / "session")
    (session / "audio.wav").unlink()
    code, _, err = _review(str(session), capsys=capsys)
    assert code == 1
    assert any("audio.wav" in x and "missing" in x for x in err.splitlines())
    assert all(x.startswith("voicecoach: ") for x in err.splitlines())
    html = (session / "report.html").read_text()
    assert "Missing or unreadable: <b>audio.wav</b>" in html
    assert "data:audio" not in html and 'id="no-audio"' in html
    assert html.count('class="flag"') == len(mixed.record["flags"])
    for turn in mixed.record["turns"]:
        assert turn["text"].replace("'", "&#39;") in html


def test_truncated_audio_and_missing_record_rescore_what_exists(
    mixed: ScoredSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = _copy_session(mixed, tmp_path / "session")
    (session / "session.json").unlink()
    wav = session / "audio.wav"
    size = wav.stat().st_size
    with wav.open("r+b") as f:  # a crash mid-session: the header claims more than is there
        f.truncate(44 + (size - 44) * 3 // 4 // 4 * 4)
    code, _, err = _review(str(session), capsys=capsys)
    assert code == 1
    assert "session.json" in err and "truncated" in err
    html = (session / "report.html").read_text()
    assert "Missing or unreadable: <b>session.json</b>" in html
    data = json.loads(re.search(r'id="report-data">(.*?)</script>', html, re.S).group(1))
    kept = [t for t in mixed.record["turns"] if t["end_s"] < data["duration_s"] - 0.5]
    assert len(data["turns"]) >= len(kept) >= 2
    assert "The peer's trust over the session" in html  # rebuilt from the peer_state events


def test_only_events_left_still_show_the_judged_turns(
    mixed: ScoredSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = _copy_session(mixed, tmp_path / "session")
    (session / "session.json").unlink()
    (session / "audio.wav").unlink()
    code, _, err = _review(str(session), capsys=capsys)
    assert code == 1
    html = (session / "report.html").read_text()
    data = json.loads(re.search(r'id="report-data">(.*?)</script>', html, re.S).group(1))
    assert [t["text"] for t in data["turns"]] == [t["text"] for t in mixed.record["turns"]]
    assert [f["label"] for f in data["flags"]] == [f["label"] for f in mixed.record["flags"]]
    assert "rebuilt from events.jsonl" in err


# -- progress ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sessions_root(mixed: ScoredSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three sessions on three dates, each dated a different way."""
    harsh = shared_session(tmp_path_factory, "harsh")
    root = tmp_path_factory.mktemp("sessions")
    # 1st (Nov 1): the date is in the directory name, as practice names it
    shutil.copytree(harsh.directory, root / "20261101-093000-rosa")
    # 2nd (Nov 10): an ISO time in session.json wins over the name
    second = shutil.copytree(mixed.directory, root / "20261201-090000-marcus")
    record = json.loads((second / "session.json").read_text())
    record["started_at"] = "2026-11-10T15:00:00Z"
    (second / "session.json").write_text(json.dumps(record))
    # 3rd (Nov 20): no date but the file's time
    third = shutil.copytree(mixed.directory, root / "nested" / "latest")
    stamp = 1795176000  # 2026-11-20 (UTC)
    os.utime(third / "session.json", (stamp, stamp))
    # and one unreadable session, skipped with a warning
    broken = root / "20261105-120000-broken"
    broken.mkdir()
    (broken / "session.json").write_text('{"turns": [')
    # and a session that never finished (no session.json), left out with a warning
    unfinished = root / "20261106-120000-unfinished"
    unfinished.mkdir()
    shutil.copyfile(mixed.directory / "events.jsonl", unfinished / "events.jsonl")
    return root


def test_progress_over_three_sessions(
    sessions_root: Path, mixed: ScoredSession, tmp_path_factory, capsys
) -> None:
    from voicecoach.review.progress import find_sessions

    harsh = shared_session(tmp_path_factory, "harsh")
    sessions, warnings = find_sessions(sessions_root)
    assert [s.path.name for s in sessions] == ["20261101-093000-rosa", "20261201-090000-marcus",
                                               "latest"]  # fmt: skip
    assert [s.when.strftime("%Y-%m-%d") for s in sessions] == [
        "2026-11-01",
        "2026-11-10",
        "2026-11-20",
    ]
    assert len(warnings) == 2
    assert "20261105-120000-broken" in warnings[0] and "unreadable" in warnings[0]
    assert "20261106-120000-unfinished" in warnings[1] and "no session.json" in warnings[1]

    code = main(["progress", str(sessions_root)])
    out, err = capsys.readouterr()
    assert code == 0
    assert "20261105-120000-broken" in err
    scores = [harsh.record["scores"], mixed.record["scores"], mixed.record["scores"]]
    for practice in PRACTICES:
        title = practice.name.replace("_", " ").capitalize()
        row = next(x for x in out.splitlines() if x.startswith(title)).split()
        spark = row[len(title.split())]
        assert len(spark) == 3 and set(spark) <= set("▁▂▃▄▅▆▇█")
        values = [s[practice.name] for s in scores]
        assert [int(x) for x in row[-3:]] == [values[0], values[-1], max(values)]
    html = (sessions_root / "progress.html").read_text()
    _assert_self_contained(html)
    assert html.count("<tr data-session=") == 3
    assert html.count("<g data-series=") == 5
    counts: dict[str, int] = {}
    for record in (harsh.record, mixed.record, mixed.record):
        for flag in record["flags"]:
            counts[flag["label"]] = counts.get(flag["label"], 0) + 1
    top = max(counts.values())
    leader = sorted(k for k, v in counts.items() if v == top)[0]
    first_item = re.search(r'<li data-label="(\w+)">.*?<span class="count">(\d+)×', html, re.S)
    assert first_item and first_item.groups() == (leader, str(top))
    assert "Work on next" in html and "Work on next" in out


def test_sparkline_scales_scores_to_blocks() -> None:
    from voicecoach.review.progress import sparkline

    assert sparkline([0, 50, 100, None]) == "▁▄█ "


def test_progress_bad_dirs_are_clear_errors(tmp_path: Path, capsys) -> None:
    assert main(["progress", str(tmp_path / "missing")]) == 2
    assert "no such directory" in capsys.readouterr().err
    assert main(["progress", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no scored sessions" in err


def test_open_hands_the_report_to_the_web_browser(mixed: ScoredSession, tmp_path: Path) -> None:
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    browser.chmod(0o755)
    out_path = tmp_path / "r.html"
    result = subprocess.run(
        [sys.executable, "-m", "voicecoach", "review", str(mixed.score_json), "--html",
         str(out_path), "--open"],
        capture_output=True, text=True, env={**os.environ, "BROWSER": str(browser)}, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Overall" in result.stdout and out_path.is_file()
    assert opened.read_text().strip() == out_path.resolve().as_uri()


def test_failed_score_record_and_corrupt_audio(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 40)
    code, _, err = _review(str(broken), capsys=capsys)
    assert code == 2 and err.count("\n") == 1 and str(broken) in err
    assert not (tmp_path / "broken.report.html").exists()
    # the same file scored by `voicecoach score`: its record carries the error
    doc = tmp_path / "broken.json"
    assert main(["score", str(broken), "--format", "json", "--output", str(doc)]) == 1
    capsys.readouterr()
    code, _, err = _review(str(doc), capsys=capsys)
    assert code == 1
    html = (tmp_path / "broken.report.html").read_text()
    assert "Scoring failed:" in html and "No turns were recognised" in html


def test_score_json_whose_audio_is_gone_still_reports_the_turns(
    mixed: ScoredSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(mixed.score_json.read_text())
    doc["files"][0]["file"] = str(tmp_path / "moved-away.wav")
    path = tmp_path / "scores.json"
    path.write_text(json.dumps(doc))
    code, _, err = _review(str(path), capsys=capsys)
    assert code == 0
    assert err.count("\n") == 1 and "moved-away.wav" in err and "was not found" in err
    html = (tmp_path / "scores.report.html").read_text()
    assert "data:audio" not in html and 'id="no-audio"' in html
    assert html.count('class="turn ') == len(mixed.record["turns"])
