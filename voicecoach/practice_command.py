"""`voicecoach practice`: talk with a simulated peer who answers out loud and reacts.

With a microphone and speakers by default; ``--input-audio FILE|DIR`` and ``--output-audio
FILE`` run the same loop from audio files (no hardware, no key presses). Every session is
saved as it runs (see :mod:`voicecoach.sessions`); ``q`` or Ctrl-C ends and saves it.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import numpy as np

from voicecoach.errors import InputError

if TYPE_CHECKING:
    from voicecoach.asr import AsrOptions
    from voicecoach.peer import Scenario


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "practice",
        help="practise a conversation with a simulated peer, by voice",
        description=(
            "Talk with a simulated peer (a persona, see voicecoach scenarios) who answers out "
            "loud and reacts to how you listen; flags appear as they happen. q or Ctrl-C ends "
            "and saves the session. Without a microphone, --input-audio plays the trainee's "
            "side from audio files and --output-audio writes the peer's voice to a WAV."
        ),
    )
    p.add_argument("--scenario", default="rosa", help="persona name or file (default: rosa)")
    p.add_argument("--seed", type=int, default=0, help="seed of the peer's choices (default 0)")
    p.add_argument(
        "--input-audio",
        type=Path,
        metavar="FILE|DIR",
        help="the trainee from audio: a FILE in real time as the microphone, or a DIR with "
        "one audio file per trainee turn (sorted by name), each after the peer has finished",
    )
    p.add_argument(
        "--output-audio",
        type=Path,
        metavar="FILE",
        help="write the peer's voice to this WAV instead of playing it",
    )
    p.add_argument(
        "--session-dir",
        type=Path,
        metavar="DIR",
        help="save the session here (default: a new folder under the user data directory)",
    )
    p.add_argument(
        "--turn-gap",
        type=float,
        default=0.8,
        metavar="S",
        help="with --input-audio DIR: seconds between the peer finishing and the next turn",
    )
    p.add_argument(
        "--headphones",
        action="store_true",
        help="the microphone cannot hear the peer: skip the echo gate",
    )
    p.add_argument("--no-hints", action="store_true", help="start with better replies hidden")
    p.add_argument(
        "--model",
        default="tiny.en",
        help="whisper model: tiny.en (default), base, or a local model directory",
    )
    p.add_argument(
        "--input-device", metavar="DEVICE", help="microphone (index or name; voicecoach devices)"
    )
    p.add_argument(
        "--output-device", metavar="DEVICE", help="speaker (index or name; voicecoach devices)"
    )
    p.set_defaults(func=run)


def _device(value: str | None) -> int | str | None:
    if value is None:
        return None
    return int(value) if value.strip().isdigit() else value


def run(args: argparse.Namespace) -> int:
    from voicecoach.cli import ExitCode

    options, scenario = _options(args)
    input_audio: Path | None = args.input_audio
    turn_paths: list[Path] | None = None
    if input_audio is not None:
        from voicecoach.practice import turn_files

        if not input_audio.exists():
            raise InputError(f"{input_audio}: no such file or directory (--input-audio)")
        if input_audio.is_dir():
            turn_paths = turn_files(input_audio)
    if args.turn_gap < 0:
        raise InputError("--turn-gap must be 0 or more seconds")
    if args.output_audio is not None:
        out_dir = args.output_audio.parent
        if str(out_dir) and not out_dir.exists():
            out_dir.mkdir(parents=True, exist_ok=True)

    _check_inputs(input_audio, turn_paths, args)  # before the models load: fail fast
    parts = _load_models(options, scenario)
    session_dir = _session_dir(args.session_dir, scenario.name)

    from voicecoach.audio.sinks import SoundDeviceSink, WavFileSink
    from voicecoach.audio.sources import MicSource, SessionClock, WavFileSource
    from voicecoach.live_view import make_view
    from voicecoach.practice import PracticeSession, ScriptedTurnsSource
    from voicecoach.sessions import SessionRecorder

    clock = SessionClock()
    recorder = SessionRecorder(session_dir, clock)
    source: Any = None
    sink: Any = None
    try:
        if args.output_audio is not None:
            sink = WavFileSink(args.output_audio, clock, on_played=recorder.add_played)
        else:
            sink = SoundDeviceSink(
                _device(args.output_device), clock, on_played=recorder.add_played
            )
        if turn_paths is not None:
            source = ScriptedTurnsSource(turn_paths, clock, gap_s=args.turn_gap)
        elif input_audio is not None:
            source = WavFileSource(input_audio, clock=clock)
        else:
            source = MicSource(_device(args.input_device), start_s=clock.now_s())
    except BaseException:
        if sink is not None:
            sink.close()
        recorder.close()
        _remove_if_empty(session_dir)
        raise

    view = make_view(title=scenario.title, hints=options.hints)
    session = PracticeSession(
        source=source,
        sink=sink,
        recorder=recorder,
        clock=clock,
        peer=parts["peer"],
        voice=parts["voice"],
        classifier=parts["classifier"],
        transcriber=parts["transcriber"],
        options=options,
        view=view,
        endpointer=parts["endpointer"],
    )
    interrupted = {"count": 0}

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        interrupted["count"] += 1
        if interrupted["count"] > 1:
            raise KeyboardInterrupt
        session.request_stop("interrupted")

    previous = signal.signal(signal.SIGINT, on_sigint)
    view.start()
    try:
        result = session.run()
    except KeyboardInterrupt:
        view.stop()
        print(f"voicecoach: interrupted; session saved in {session_dir}", file=sys.stderr)
        return ExitCode.INTERRUPTED
    finally:
        view.stop()
        signal.signal(signal.SIGINT, previous)
    scores = result.record.to_dict()["scores"]
    overall = scores.get("overall")
    print(
        f"session saved in {session_dir} ({result.reason}; overall score "
        f"{'-' if overall is None else overall}); review it with: voicecoach review "
        f"{session_dir}",
        file=sys.stderr,
    )
    if interrupted["count"]:
        return ExitCode.INTERRUPTED
    return ExitCode.OK


def _check_inputs(
    input_audio: Path | None, turn_paths: list[Path] | None, args: argparse.Namespace
) -> None:
    """Unreadable audio files and missing devices fail here, in one line, at once."""
    from voicecoach.audio.decode import probe

    for path in turn_paths or ([input_audio] if input_audio is not None else []):
        probe(path)
    if input_audio is None or args.output_audio is None:
        from voicecoach.audio.sources import (
            AudioDeviceError,
            check_input_device,
            import_sounddevice,
        )

        sd = import_sounddevice()
        if input_audio is None:
            check_input_device(sd, _device(args.input_device))
        if args.output_audio is None:
            try:
                sd.query_devices(_device(args.output_device), "output")
            except (ValueError, sd.PortAudioError):
                where = (
                    "no default speaker"
                    if args.output_device is None
                    else f"speaker {args.output_device!r} is not an output device"
                )
                raise AudioDeviceError(
                    f"{where}: plug in speakers or headphones, pick a device listed by "
                    "voicecoach devices, or write the peer's voice to a file with --output-audio"
                ) from None


def _options(args: argparse.Namespace) -> tuple[Any, Any]:
    from voicecoach.peer.scenario import load_scenario
    from voicecoach.practice import PracticeOptions

    scenario = load_scenario(args.scenario)
    options = PracticeOptions(
        scenario=scenario.name,
        seed=args.seed,
        # The echo gate is for a microphone that hears the speakers: with either side in
        # a file there is no acoustic path, so there is nothing to gate.
        headphones=args.headphones or args.input_audio is not None or args.output_audio is not None,
        hints=not args.no_hints,
        model=args.model,
    )
    return options, scenario


def _load_models(options: Any, scenario: Any) -> dict[str, Any]:
    """Load and warm up every model before the session clock starts."""
    from voicecoach.asr import AsrOptions
    from voicecoach.peer import Peer
    from voicecoach.vad import Endpointer

    return {
        **load_models(scenario, AsrOptions(model=options.model)),
        "endpointer": Endpointer(options.vad),
        "peer": Peer(scenario, seed=options.seed),
    }


def load_models(
    scenario: Scenario, asr: AsrOptions | None = None, classifier_dir: str | Path | None = None
) -> dict[str, Any]:
    """The classifier, the recogniser (``asr``: AsrOptions, default tiny.en) and the
    scenario's voice, loaded and warmed up: {"classifier", "transcriber", "voice"}."""
    from voicecoach.asr import AsrOptions, Transcriber
    from voicecoach.classify.model import Classifier
    from voicecoach.tts import Voice

    classifier = Classifier.load(classifier_dir)
    transcriber = Transcriber.load(asr or AsrOptions())
    voice = Voice.for_scenario(scenario)
    warm_up(transcriber, classifier, voice)
    return {"classifier": classifier, "transcriber": transcriber, "voice": voice}


def warm_up(transcriber: Any, classifier: Any, voice: Any) -> None:
    """One small call through each model so the first turn does not pay start-up costs."""
    tone = 0.1 * np.sin(np.arange(8000) * 2 * np.pi * 220 / 16000).astype(np.float32)
    transcriber.transcribe(tone, 0.0)
    classifier.classify("I lost my home.", "That sounds really hard.", None)
    from voicecoach.classify.labels import RISKS

    for label in RISKS:  # reads the bank of better replies and explanations once
        classifier.suggest(label, "I lost my home.")
        classifier.explanation(label)
    voice.synthesize("Okay.")


def _session_dir(requested: Path | None, scenario: str) -> Path:
    from voicecoach.sessions import AUDIO_NAME, EVENTS_NAME, RECORD_NAME, new_session_dir

    if requested is None:
        return new_session_dir(scenario)
    if requested.exists() and not requested.is_dir():
        raise InputError(f"{requested}: exists and is not a directory (--session-dir)")
    try:
        requested.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as err:
        raise InputError(
            f"{requested}: cannot create the session folder ({err.strerror}); choose another "
            "with --session-dir"
        ) from None
    old = [requested / n for n in (AUDIO_NAME, EVENTS_NAME, RECORD_NAME)]
    if any(p.exists() for p in old):
        print(f"voicecoach: replacing the previous session in {requested}", file=sys.stderr)
        for p in old:
            p.unlink(missing_ok=True)
    return requested


def _remove_if_empty(directory: Path) -> None:
    """Remove a session folder that holds nothing but the empty files of a failed start."""
    from voicecoach.sessions import AUDIO_NAME, EVENTS_NAME

    audio, events = directory / AUDIO_NAME, directory / EVENTS_NAME
    try:
        if audio.exists() and audio.stat().st_size <= 44:
            audio.unlink()
        if events.exists() and events.stat().st_size == 0:
            events.unlink()
        directory.rmdir()
    except OSError:
        pass
