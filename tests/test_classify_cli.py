"""`voicecoach classify`: every input case, through the real CLI and the real model."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from voicecoach.classify.labels import LABELS
from voicecoach.cli import main


def run_cli(args: list[str], stdin: str, monkeypatch, capsys) -> tuple[int, list[dict], str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(["classify", *args])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_judges_each_line_and_keeps_every_field(monkeypatch, capsys) -> None:
    lines = [
        {
            "id": "a",
            "cohort": 3,
            "peer": "I lost my job and my apartment in the same week.",
            "trainee": "At least you have your health.",
        },
        {"id": "b", "trainee": "How are you feeling today?"},
        {
            "id": "c",
            "peer": "So I was standing in the kitchen and then I",
            "trainee": "Did you call someone?",
            "gap_s": -0.5,
        },
    ]
    code, out, err = run_cli(
        [], "\n".join(json.dumps(x) for x in lines) + "\n", monkeypatch, capsys
    )
    assert code == 0, err
    assert [o["id"] for o in out] == ["a", "b", "c"]
    assert out[0]["cohort"] == 3
    for o in out:
        assert set(o["labels"]) == set(LABELS)
        for key in ("flags", "strengths", "evidence", "suggestions"):
            assert key in o
    assert "dismissive" in out[0]["flags"]
    assert out[0]["evidence"]["dismissive"]
    assert out[0]["suggestions"]["dismissive"]
    assert out[1]["labels"]["missed_validation"] is None  # no peer turn
    assert out[1]["labels"]["interruption"] is None  # no timing
    assert out[2]["labels"]["interruption"] is not None
    assert "interruption" in out[2]["flags"]


def test_empty_input_gives_no_output(monkeypatch, capsys) -> None:
    code, out, err = run_cli([], "", monkeypatch, capsys)
    assert (code, out) == (0, [])


def test_bad_lines_get_error_objects_and_processing_continues(monkeypatch, capsys) -> None:
    text = "\n".join(
        [
            "this is not json",
            json.dumps({"peer": "hello"}),
            json.dumps({"trainee": 5}),
            json.dumps([1, 2]),
            json.dumps({"trainee": "ok", "peer": 7}),
            json.dumps({"trainee": "ok", "gap_s": "soon"}),
            json.dumps({"trainee": "ok", "gap_s": 0.2, "peer_complete": "yes"}),
            json.dumps({"trainee": "ok", "peer": "Mm.", "earlier": "The fire took it all."}),
            "",
            json.dumps({"trainee": "What was that like for you?", "peer": "It was a lot."}),
        ]
    )
    code, out, err = run_cli([], text, monkeypatch, capsys)
    assert code == 1
    assert len(out) == 9  # the blank line is skipped, every other line answered in order
    errors = out[:8]
    assert [e["line"] for e in errors] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert all(e["error"].startswith(f"line {e['line']}: ") for e in errors)
    assert "not valid JSON" in errors[0]["error"]
    assert "trainee" in errors[1]["error"]
    assert "peer" in errors[4]["error"]
    assert "gap_s" in errors[5]["error"]
    assert "peer_complete" in errors[6]["error"]
    assert "earlier" in errors[7]["error"]
    assert "labels" in out[8]
    assert "8 of 9 lines failed" in err


def test_earlier_peer_turns_shape_the_suggestion_not_the_labels(monkeypatch, capsys) -> None:
    base = {"peer": "I just feel so awful about all of it.", "trainee": "Anyway, any plans?"}
    fire = ["The fire took the house. The adjuster wants a receipt for everything that burned."]
    lines = [base, {**base, "earlier": fire}]
    code, out, err = run_cli([], "\n".join(json.dumps(x) for x in lines), monkeypatch, capsys)
    assert code == 0, err
    assert out[0]["labels"] == out[1]["labels"]
    assert out[1]["earlier"] == fire  # kept like every input field
    flag = out[1]["flags"][0]
    assert out[0]["suggestions"][flag] != out[1]["suggestions"][flag]


def test_reads_a_file_argument(tmp_path: Path, capsys) -> None:
    path = tmp_path / "in put ü.jsonl"
    path.write_text(
        json.dumps({"trainee": "That sounds so hard.", "peer": "I'm exhausted."}) + "\n"
    )
    assert main(["classify", str(path)]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["trainee"] == "That sounds so hard."
    assert set(row["labels"]) == set(LABELS)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing.jsonl", "no such file"),
        (lambda p: p, "is a directory"),
    ],
)
def test_unusable_file_is_one_line_and_exit_2(tmp_path: Path, capsys, make, message) -> None:
    assert main(["classify", str(make(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_console_script_runs_end_to_end(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "voicecoach", "classify", "-"],
        input=json.dumps(
            {
                "trainee": "you need to tell me exactly what he did",
                "peer": "I can't talk about him yet.",
            }
        )
        + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "pressuring" in json.loads(proc.stdout)["flags"]
