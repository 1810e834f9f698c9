"""`voicecoach devices` lists sound devices; `voicecoach doctor` checks everything practice needs.

``doctor`` prints one line per check (OK, WARN or FAIL, what was found or how to fix it)
and exits 0 when every essential check passes, 1 otherwise. With ``--input-audio`` the
microphone and speaker are not essential (practice then runs from files).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicecoach.errors import VoicecoachError


# -- devices -----------------------------------------------------------------------------------
def list_devices() -> list[dict[str, Any]]:
    """PortAudio's devices: index, name, host API, channels and default marks."""
    from voicecoach.audio.sources import import_sounddevice

    sd = import_sounddevice()
    try:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
        default_in, default_out = sd.default.device
    except sd.PortAudioError as err:
        raise VoicecoachError(f"PortAudio cannot list devices ({err})") from None
    out = []
    for d in devices:
        out.append(
            {
                "index": int(d["index"]),
                "name": str(d["name"]),
                "host_api": str(apis[d["hostapi"]]["name"]),
                "input_channels": int(d["max_input_channels"]),
                "output_channels": int(d["max_output_channels"]),
                "default_sample_rate": float(d["default_samplerate"]),
                "default_input": int(d["index"]) == default_in,
                "default_output": int(d["index"]) == default_out,
            }
        )
    return out


def format_devices(devices: list[dict[str, Any]]) -> str:
    """A table of devices; ``>`` marks the default input, ``<`` the default output."""
    if not devices:
        return (
            "no sound devices found: plug in a microphone and speakers, or practise from "
            "files with --input-audio and --output-audio"
        )
    lines = ["  #  in out  name (host API)          > default input, < default output"]
    for d in devices:
        mark = (">" if d["default_input"] else " ") + ("<" if d["default_output"] else " ")
        lines.append(
            f"{mark}{d['index']:>2} {d['input_channels']:>3} {d['output_channels']:>3}  "
            f"{d['name']} ({d['host_api']})"
        )
    return "\n".join(lines)


def run_devices(args: argparse.Namespace) -> int:
    devices = list_devices()
    if args.format == "json":
        print(json.dumps(devices, indent=2))
    else:
        print(format_devices(devices))
    return 0


# -- doctor ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckResult:
    """The outcome of one doctor check."""

    name: str
    #: "ok", "warn" or "fail".
    status: str
    #: What was found (ok) or what is wrong and how to fix it.
    detail: str
    #: Whether a failure stops practice.
    essential: bool


def _espeak() -> str:
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if exe is None:
        raise VoicecoachError(
            "espeak-ng is not installed: apt-get install espeak-ng (Linux), brew install "
            "espeak-ng (macOS)"
        )
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
    version = out.stdout.split(" Data")[0].split(":")[-1].strip()
    return f"{exe} (eSpeak NG {version})"


def _tts() -> str:
    from voicecoach.tts import tts_check

    return tts_check()


def _portaudio() -> str:
    from voicecoach.audio.sources import import_sounddevice

    sd = import_sounddevice()
    portaudio = str(sd.get_portaudio_version()[1]).split(",")[0]
    return f"sounddevice {sd.__version__}, {portaudio}"


def _device(kind: str) -> Callable[[], str]:
    def check() -> str:
        from voicecoach.audio.sources import import_sounddevice

        sd = import_sounddevice()
        try:
            d = sd.query_devices(None, kind)
        except (ValueError, sd.PortAudioError):
            what = "microphone" if kind == "input" else "speaker"
            raise VoicecoachError(
                f"no default {what}: plug one in or choose one from voicecoach devices"
                + (
                    "; or practise from files with --input-audio"
                    if kind == "input"
                    else "; or write the peer's voice with --output-audio"
                )
            ) from None
        return f"{d['name']} (#{d['index']})"

    return check


def _whisper() -> str:
    from voicecoach.asr import resolve_model

    model = resolve_model("tiny.en")
    return f"whisper {model.id} {model.version} at {model.path}"


def _classifier() -> str:
    from voicecoach.classify.model import Classifier

    model = Classifier.load()
    judgement = model.classify("I don't want to talk about it.", "I hear you.", None)
    if not judgement.labels:
        raise VoicecoachError("the classifier returned no labels: reinstall voicecoach")
    mid = model.model_id
    return f"{mid['name']} {mid['version']} ({mid['sha256']})"


def _vad() -> str:
    from voicecoach.vad import SileroVad, silero_model_path

    SileroVad()
    return str(silero_model_path())


def _sessions_dir(root: Path | None) -> Callable[[], str]:
    def check() -> str:
        from voicecoach.sessions import sessions_root

        base = root or sessions_root()
        try:
            base.mkdir(parents=True, exist_ok=True, mode=0o700)
            with tempfile.NamedTemporaryFile(dir=base, prefix=".doctor-") as f:
                f.write(b"ok")
                f.flush()
                os.fsync(f.fileno())
        except OSError as err:
            raise VoicecoachError(
                f"{base}: not writable ({err.strerror or err}); fix its permissions or use "
                "--session-dir"
            ) from None
        free = shutil.disk_usage(base).free / 1e9
        return f"{base} ({free:.1f} GB free)"

    return check


def run_checks(*, files_only: bool, session_root: Path | None = None) -> list[CheckResult]:
    """Every doctor check in order; device checks are non-essential when ``files_only``."""
    checks: list[tuple[str, Callable[[], str], bool]] = [
        ("espeak-ng", _espeak, True),
        ("text to speech", _tts, True),
        ("PortAudio", _portaudio, not files_only),
        ("microphone", _device("input"), not files_only),
        ("speaker", _device("output"), not files_only),
        ("speech recognition", _whisper, True),
        ("classifier", _classifier, True),
        ("voice activity", _vad, True),
        ("sessions folder", _sessions_dir(session_root), True),
    ]
    results = []
    for name, check, essential in checks:
        try:
            results.append(CheckResult(name, "ok", check(), essential))
        except VoicecoachError as err:
            results.append(CheckResult(name, "fail" if essential else "warn", str(err), essential))
        except Exception as err:  # any other failure is still one line
            detail = f"{type(err).__name__}: {err}"
            results.append(CheckResult(name, "fail" if essential else "warn", detail, essential))
    return results


def run_doctor(args: argparse.Namespace) -> int:
    results = run_checks(files_only=args.input_audio is not None, session_root=args.session_dir)
    if args.format == "json":
        print(json.dumps([r.__dict__ for r in results], indent=2))
    else:
        for r in results:
            print(f"{r.status.upper():<4}  {r.name:<18}  {r.detail}")
    failed = [r for r in results if r.status == "fail"]
    if failed and args.format != "json":
        print(f"{len(failed)} essential check(s) failed: fix them and run voicecoach doctor again")
    sys.stdout.flush()
    return 1 if failed else 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser(
        "devices",
        help="list microphones and speakers",
        description="List sound devices (index, name, channels); > and < mark the defaults.",
    )
    d.add_argument("--format", choices=("text", "json"), default="text")
    d.set_defaults(func=run_devices)
    p = sub.add_parser(
        "doctor",
        help="check that everything practice needs is installed",
        description=(
            "Check espeak-ng, text to speech, PortAudio and devices, the models and the "
            "sessions folder; print one line per check with the fix. Exit 0 when all "
            "essential checks pass, 1 otherwise."
        ),
    )
    p.add_argument(
        "--input-audio",
        nargs="?",
        const="",
        metavar="FILE|DIR",
        help="you will practise from audio files: devices are then not essential",
    )
    p.add_argument("--session-dir", type=Path, help="check this sessions folder instead")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=run_doctor)


run = run_doctor
