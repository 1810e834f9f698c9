"""The peer's voice: text to mono 16 kHz float32 audio through pyttsx3.

pyttsx3 only synthesises here (``save_to_file`` into a temporary WAV); playback goes
through :mod:`voicecoach.audio.sinks` so it can be stopped at once on barge-in. On Linux
pyttsx3 drives eSpeak NG, whose voices are ``<language>+<variant>`` (``en-us+f3``). Other
platforms' drivers (SAPI5 on Windows, NSSpeechSynthesizer on macOS) stay behind
:class:`Voice`: there the eSpeak voice name is not used, a variant starting with ``f`` or
``m`` picks a female or male system voice when one exists, and the rate applies.
"""

from __future__ import annotations

import atexit
import gc
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voicecoach.errors import InputError, ModelMissingError

if TYPE_CHECKING:
    from voicecoach.peer.scenario import Scenario

SAMPLE_RATE = 16000
#: Longest wait for one line to be synthesised.
SYNTH_TIMEOUT_S = 30.0
_ENGINE_LOCK = threading.Lock()
_ENGINE: Any = None
#: Set by the driver's "finished-utterance" notification. pyttsx3 starts eSpeak NG in its
#: asynchronous mode, so ``runAndWait()`` can return before the WAV is written (measured:
#: a missing file, and rates lagging a line or two behind, in most runs of six lines).
_FINISHED = threading.Event()
_INSTALL_HINT = (
    "install eSpeak NG (apt-get install espeak-ng on Linux; Windows and macOS use the "
    "system voices)"
)


def _quiet_print(*args: Any, **kwargs: Any) -> None:
    """Stand-in for ``print`` in pyttsx3's espeak driver: drops its "Audio saved to" line."""
    text = " ".join(str(a) for a in args)
    if not text.startswith("Audio saved to"):
        print(text, file=sys.stderr)


def _engine() -> Any:
    """The one pyttsx3 engine of this process, created on first use."""
    global _ENGINE
    if _ENGINE is not None:
        return _ENGINE
    try:
        import pyttsx3
    except ImportError:
        raise ModelMissingError("pyttsx3 is not installed: pip install pyttsx3") from None
    try:
        engine = pyttsx3.init()
    except Exception as err:  # a missing libespeak-ng surfaces as OSError/RuntimeError
        raise ModelMissingError(
            f"the text-to-speech engine cannot start ({err}): {_INSTALL_HINT}"
        ) from None
    engine.connect("finished-utterance", lambda **_: _FINISHED.set())
    driver = sys.modules.get(f"pyttsx3.drivers.{engine.driver_name}")
    if driver is not None:
        driver.print = _quiet_print  # type: ignore[attr-defined]
    _ENGINE = engine
    atexit.register(_drop_engine)
    return engine


def _drop_engine() -> None:
    """Free the engine before interpreter shutdown (pyttsx3's ``__del__`` fails after it)."""
    global _ENGINE
    _ENGINE = None
    gc.collect()


@dataclass(frozen=True)
class Voice:
    """One peer's text-to-speech voice: eSpeak NG language, variant and words per minute."""

    #: eSpeak NG voice (language) name, e.g. "en-us", "en", "en-gb-scotland".
    espeak_voice: str = "en-us"
    #: eSpeak NG variant, e.g. "f3", "m2", "croak"; None for the plain voice.
    variant: str | None = None
    #: Speaking rate in words per minute.
    rate: int = 160

    @classmethod
    def for_scenario(cls, scenario: Scenario) -> Voice:
        """The voice of a persona, from its ``[voice]`` table."""
        spec = scenario.voice
        return cls(spec.espeak, spec.variant or None, spec.rate)

    @property
    def name(self) -> str:
        """The eSpeak voice string, e.g. "en-us+f3"."""
        return self.espeak_voice + (f"+{self.variant}" if self.variant else "")

    def synthesize(self, text: str) -> np.ndarray:
        """``text`` spoken in this voice as mono float32 at 16 kHz.

        Raises ``ModelMissingError`` when no TTS engine is available and ``InputError``
        for a voice the engine does not have.
        """
        if not text.strip():
            return np.zeros(0, dtype=np.float32)
        from voicecoach.audio.decode import read_channels

        with _ENGINE_LOCK:
            engine = _engine()
            self._configure(engine)
            with tempfile.TemporaryDirectory(prefix="voicecoach-tts-") as tmp:
                path = Path(tmp) / "line.wav"
                _FINISHED.clear()
                engine.save_to_file(text, str(path))
                engine.runAndWait()  # pyttsx3 applies queued properties here
                if not _FINISHED.wait(SYNTH_TIMEOUT_S):
                    raise ModelMissingError(
                        f"the text-to-speech engine did not finish within {SYNTH_TIMEOUT_S:.0f} "
                        f"s: {_INSTALL_HINT}"
                    )
                self._check_applied(engine)
                if not path.is_file() or path.stat().st_size <= 44:
                    raise ModelMissingError(
                        f"the text-to-speech engine produced no audio for voice {self.name}: "
                        f"{_INSTALL_HINT}"
                    )
                samples = read_channels(path)[0]
        return np.ascontiguousarray(samples, dtype=np.float32)

    def _configure(self, engine: Any) -> None:
        if engine.driver_name == "espeak":
            self._configure_espeak(engine)
        else:
            self._configure_system(engine)
        engine.setProperty("rate", int(self.rate))
        if engine.driver_name == "espeak":
            # asynchronous eSpeak queues the rate change; without this wait the next line
            # was sometimes spoken at the previous line's rate (measured)
            from pyttsx3.drivers import _espeak

            _espeak.Synchronize()

    def _configure_espeak(self, engine: Any) -> None:
        voices = engine.getProperty("voices")
        wanted = self.espeak_voice.lower()
        match = next(
            (v.id for v in voices if v.id.lower().split("/")[-1] == wanted or v.id == wanted),
            None,
        )
        if match is None:
            english = sorted(
                v.id.split("/")[-1] for v in voices if v.id.split("/")[-1].startswith("en")
            )
            raise InputError(
                f"unknown eSpeak voice {self.espeak_voice!r}: use one of "
                f"{', '.join(english)} (espeak-ng --voices lists all)"
            )
        try:
            engine.setProperty("voice", match + (f"+{self.variant}" if self.variant else ""))
        except ValueError as err:
            raise InputError(f"eSpeak voice {self.name!r} cannot be set: {err}") from None

    def _check_applied(self, engine: Any) -> None:
        """eSpeak ignores an unknown variant silently: check that the voice took effect."""
        if engine.driver_name != "espeak":
            return
        current = str(engine.getProperty("voice") or "").lower().split("/")[-1]
        if current != self.name.lower():
            raise InputError(
                f"unknown eSpeak variant {self.variant!r} for voice {self.espeak_voice!r}: use "
                "one of m1..m7, f1..f5, klatt..klatt6, whisper, croak (espeak-ng "
                "--voices=variant lists all)"
            )

    def _configure_system(self, engine: Any) -> None:
        gender = {"f": "female", "m": "male"}.get((self.variant or " ")[0].lower())
        if gender is None:
            return
        for v in engine.getProperty("voices"):
            if str(getattr(v, "gender", "") or "").lower() == gender:
                engine.setProperty("voice", v.id)
                return


def tts_check() -> str:
    """Synthesise one word; returns a description of the engine (for ``voicecoach doctor``)."""
    samples = Voice().synthesize("Hello.")
    if samples.size == 0 or float(np.abs(samples).max()) < 0.01:
        raise ModelMissingError(f"the text-to-speech engine produced silence: {_INSTALL_HINT}")
    return f"pyttsx3 {_engine().driver_name} driver ({samples.size / SAMPLE_RATE:.2f} s of audio)"


__all__ = ["Voice", "tts_check"]
