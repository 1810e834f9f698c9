"""The live practice loop: the trainee talks, the simulated peer answers out loud.

One pipeline, fed block by block from an :class:`~voicecoach.audio.io.AudioSource`::

    mic blocks -> echo gate (unless headphones) -> Endpointer (Silero VAD)
      SilenceStarted: transcribe the utterance speculatively, judge it and prepare the peer's
                      reply and its audio on a worker thread (on a copy of the peer)
      SpeechResumed:  discard that speculation
      SpeechEnded:    use it (or prepare now) -> play the reply through the sink

Barge-in: trainee speech while the peer is playing stops the peer's audio at once; the turn
is then judged by the interruption head. A backchannel ("mm-hm") lets the peer go on with
the rest of the line; a real interruption makes the peer react to being cut off.

Everything is recorded through :class:`~voicecoach.sessions.SessionRecorder` as it happens;
at the end the session's utterances go through :func:`voicecoach.pipeline.judge`, so
``session.json`` is the same FILE record ``voicecoach score`` writes, plus the practice
extras (scenario, seed, peer_state, latency_ms, trust_timeline).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from voicecoach.audio.echo import EchoGate, EchoGateStats, PlayedReference, Timeline
from voicecoach.audio.io import BLOCK_SAMPLES, SAMPLE_RATE, AudioSink, AudioSource, Playback
from voicecoach.classify.suggest import EARLIER_PEER_LINES
from voicecoach.errors import InputError
from voicecoach.pipeline import judge
from voicecoach.turns import timing_for
from voicecoach.types import AudioChunk, Timing, TurnJudgement, Utterance, Word
from voicecoach.vad import (
    Endpointer,
    SilenceStarted,
    SpeechEnded,
    SpeechResumed,
    SpeechStarted,
    VadEvent,
    VadOptions,
)

if TYPE_CHECKING:
    from voicecoach.asr import Transcriber
    from voicecoach.audio.sources import SessionClock
    from voicecoach.classify.model import Classifier
    from voicecoach.peer import Peer, PeerReply
    from voicecoach.record import SessionRecord
    from voicecoach.sessions import SessionRecorder
    from voicecoach.tts import Voice

BLOCK_S = BLOCK_SAMPLES / SAMPLE_RATE
#: Speech over the peer that the interruption head does not flag and is this short ("mm-hm",
#: "yeah, right") is a backchannel: the peer goes on with the rest of the line.
BACKCHANNEL_MAX_WORDS = 3
#: Longest wait for a device to stop or close at the end of a session.
STOP_TIMEOUT_S = 2.0

#: Endpointing for the live loop: the default turn end (400 ms of silence), with the
#: speculative transcription starting after 96 ms of it.
LIVE_VAD = VadOptions(speculative_silence_ms=96)


@dataclass(frozen=True)
class PracticeOptions:
    """How a practice session runs."""

    #: Persona name (a bundled scenario) or path of a scenario file.
    scenario: str = "rosa"
    #: Seed of the peer's line choices: the same seed and input give the same session.
    seed: int = 0
    #: The trainee wears headphones: the microphone cannot hear the peer, skip the echo gate.
    headphones: bool = False
    #: Show a better reply next to each flag.
    hints: bool = True
    #: Whisper model for the trainee's speech ("tiny.en", "base" or a directory).
    model: str = "tiny.en"
    #: Speech endpointing (turn end after ``min_silence_ms`` of silence).
    vad: VadOptions = LIVE_VAD
    #: Start transcribing, judging and synthesising when silence begins (before the turn end).
    speculative: bool = True
    #: Trainee speech this long (gated, voiced) while the peer plays stops the peer.
    barge_in_ms: int = 96
    #: Echo gate: trainee speech must exceed the echo expected from the played audio by this.
    echo_margin_db: float = 6.0
    #: When the input ends, the peer says goodbye if the last trainee turn was answered.
    closing: bool = True
    #: After the input ends, wait at most this long for the peer's last reply to finish.
    drain_timeout_s: float = 30.0


# -- the scripted trainee (a directory of turns) -------------------------------------------------
_AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".m4a", ".ogg", ".opus", ".webm", ".aac", ".mp4"}


def turn_files(directory: Path) -> list[Path]:
    """The audio files of a trainee-turns directory, sorted by name."""
    files = sorted(
        p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in _AUDIO_SUFFIXES
    )
    if not files:
        raise InputError(
            f"{directory}: no audio files in this directory; --input-audio DIR plays one "
            "audio file per trainee turn (01.wav, 02.wav, ...)"
        )
    return files


class ScriptedTurnsSource:
    """A trainee who speaks one audio file per turn, each after the peer has finished.

    Implements :class:`~voicecoach.audio.io.AudioSource`: blocks of 512 samples paced in
    real time on the session clock, silence (zeros) in between. The loop calls
    :meth:`peer_finished` when the peer has finished speaking; the next file starts
    ``gap_s`` later. If the peer stays silent for ``wait_s`` the next file starts anyway.
    After the last file the source waits for the peer's answer, then ``tail_s``, and ends.
    """

    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        paths: Sequence[str | os.PathLike[str]],
        clock: SessionClock,
        *,
        gap_s: float = 0.8,
        wait_s: float = 20.0,
        tail_s: float = 0.5,
        realtime: bool = True,
    ) -> None:
        from voicecoach.audio.decode import read_channels

        self.paths = [Path(p) for p in paths]
        self.clock = clock
        self.gap_s = gap_s
        self.wait_s = wait_s
        self.tail_s = tail_s
        self.realtime = realtime
        self.clips = [np.ascontiguousarray(read_channels(p)[0], np.float32) for p in self.paths]
        #: Session time at which each file started (filled as the session runs).
        self.started_at: list[float] = []
        self._lock = threading.Lock()
        self._peer_done: float | None = None
        self._closed = False

    def peer_finished(self, t_s: float) -> None:
        """The peer finished speaking at session time ``t_s``: the trainee may answer."""
        with self._lock:
            self._peer_done = t_s

    def _take_done(self) -> float | None:
        with self._lock:
            return self._peer_done

    def _clear_done(self) -> None:
        with self._lock:
            self._peer_done = None

    def chunks(self) -> Iterator[AudioChunk]:
        """Silence until the peer has finished, then the next file; see the class doc."""
        delivered = 0
        zeros = np.zeros(BLOCK_SAMPLES, dtype=np.float32)

        def emit(samples: np.ndarray) -> AudioChunk:
            nonlocal delivered
            chunk = AudioChunk(samples, SAMPLE_RATE, delivered / SAMPLE_RATE)
            delivered += samples.size
            if self.realtime:
                self.clock.sleep_until(chunk.end_s)
            return chunk

        def wait_for_peer() -> Iterator[AudioChunk]:
            since = delivered / SAMPLE_RATE
            while not self._closed:
                now = delivered / SAMPLE_RATE
                done = self._take_done()
                if done is not None and now >= done + self.gap_s:
                    return
                if now - since >= self.wait_s:
                    return
                yield emit(zeros)

        for clip in self.clips:
            yield from wait_for_peer()
            if self._closed:
                return
            self._clear_done()
            self.started_at.append(delivered / SAMPLE_RATE)
            padded = np.zeros(-(-clip.size // BLOCK_SAMPLES) * BLOCK_SAMPLES, np.float32)
            padded[: clip.size] = clip
            for a in range(0, padded.size, BLOCK_SAMPLES):
                if self._closed:
                    return
                yield emit(padded[a : a + BLOCK_SAMPLES])
            self._clear_done()
        yield from wait_for_peer()
        for _ in range(round(self.tail_s / BLOCK_S)):
            if self._closed:
                return
            yield emit(zeros)

    def close(self) -> None:
        """End the stream after the block being delivered."""
        self._closed = True


# -- the loop ------------------------------------------------------------------------------------
class View(Protocol):
    """What the loop tells the trainee (see :mod:`voicecoach.live_view`)."""

    def show(self, kind: str, fields: dict[str, Any]) -> None: ...

    def quit_requested(self) -> bool: ...


@dataclass
class _PeerLine:
    """One line the peer is saying (or said), with its estimated word times."""

    index: int
    text: str
    reaction: str
    samples: np.ndarray
    playback: Playback
    stopped_at_s: float | None = None
    end_s: float | None = None
    logged: bool = False
    answers_turn: int | None = None
    ended: bool = False

    @property
    def start_s(self) -> float:
        return self.playback.start_s

    @property
    def duration_s(self) -> float:
        return self.samples.size / SAMPLE_RATE

    def words(self) -> tuple[Word, ...]:
        return _spread_words(self.text, self.samples, self.start_s)

    def utterance(self) -> Utterance:
        """The line as heard: words placed proportionally over its voiced audio, cut where
        the line was stopped."""
        words = self.words()
        end = self.end_s if self.end_s is not None else self.start_s + self.duration_s
        text = self.text
        if self.stopped_at_s is not None:
            cut = self.stopped_at_s
            words = tuple(w for w in words if w.start_s < cut)
            end = min(end, cut)
            text = " ".join(w.text for w in words)
        return Utterance("peer", text, self.start_s, end, words)


_WORD_RE = re.compile(r"\S+")


def _spread_words(text: str, samples: np.ndarray, start_s: float) -> tuple[Word, ...]:
    """Approximate word times: the voiced span shared out by word length."""
    words = _WORD_RE.findall(text)
    if not words or samples.size == 0:
        return ()
    voiced = np.flatnonzero(np.abs(samples) > 0.01)
    a, b = (voiced[0], voiced[-1]) if voiced.size else (0, samples.size)
    span = (b - a) / SAMPLE_RATE
    weights = np.array([len(w) + 1 for w in words], dtype=np.float64)
    edges = np.concatenate([[0.0], np.cumsum(weights) / weights.sum()]) * span
    base = start_s + a / SAMPLE_RATE
    return tuple(Word(w, base + edges[i], base + edges[i + 1] - 0.02) for i, w in enumerate(words))


@dataclass
class _Speech:
    """A stretch of trainee speech to turn into a turn."""

    start_s: float
    end_s: float
    samples: np.ndarray
    #: The peer line it was said over or after, as heard up to then.
    peer: Utterance | None
    #: The peer line was playing when this speech began and was stopped for it.
    cut_line: _PeerLine | None
    #: The peer's lines before ``peer``, most recent last (for choosing suggestions).
    earlier: tuple[str, ...] = ()


@dataclass
class _Prepared:
    """A trainee turn judged and, if the peer answers, the answer synthesised."""

    speech: _Speech
    words: list[Word]
    text: str
    timing: Timing | None
    judgement: TurnJudgement | None
    #: The peer after answering (a copy: committed only when the answer is played).
    peer: Peer | None
    reply: PeerReply | None
    audio: np.ndarray | None
    #: The trainee only backchannelled over the peer: the peer goes on with the rest.
    resume: bool
    peer_version: int
    times_ms: dict[str, float] = field(default_factory=dict)


@dataclass
class PracticeResult:
    """What a session produced."""

    record: SessionRecord
    extra: dict[str, Any]
    session_dir: Path
    reason: str
    #: Voice-to-voice gaps and their breakdown, one per answered turn.
    latencies: list[dict[str, Any]]
    barge_ins: list[dict[str, Any]]
    echo: EchoGateStats | None


class PracticeSession:
    """One practice conversation. Build the parts, then call :meth:`run` once."""

    def __init__(
        self,
        *,
        source: AudioSource,
        sink: AudioSink,
        recorder: SessionRecorder,
        clock: SessionClock,
        peer: Peer,
        voice: Voice,
        classifier: Classifier,
        transcriber: Transcriber,
        options: PracticeOptions,
        view: View | None = None,
        endpointer: Endpointer | None = None,
    ) -> None:
        self.source = source
        self.sink = sink
        self.recorder = recorder
        self.clock = clock
        self.peer = peer
        self.voice = voice
        self.classifier = classifier
        self.transcriber = transcriber
        self.options = options
        self.view = view
        self.endpointer = endpointer or Endpointer(options.vad)
        self.reference = PlayedReference()
        self.gate = (
            None
            if options.headphones
            else EchoGate(self.reference, margin_db=options.echo_margin_db)
        )
        self._audio = Timeline(keep_s=60.0)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voicecoach-turn")
        self._lines: list[_PeerLine] = []
        self._current: _PeerLine | None = None
        self._trainee: list[Utterance] = []
        self._onset: float | None = None
        #: Start of the trainee speech the peer has not answered yet.
        self._turn_start: float | None = None
        self._cut_line: _PeerLine | None = None
        self._spec: tuple[float, float, Future[_Prepared]] | None = None
        self._pending: tuple[Future[_Prepared], float, bool] | None = None
        self._peer_version = 0
        self._voiced_run_start: float | None = None
        self._voiced_run = 0
        self._latencies: list[dict[str, Any]] = []
        self._pending_latency: tuple[dict[str, Any], _PeerLine] | None = None
        self._barge_ins: list[dict[str, Any]] = []
        self._timeline: list[dict[str, Any]] = []
        self._last_turn_answered = False
        self._turns = 0
        self._ended = False
        self._stop_reason: str | None = None
        #: Speculative preparations started at a pause, and those the turn end could use.
        self.speculation = {"started": 0, "used": 0}
        self._stale: dict[int, threading.Event] = {}
        self._explaining: list[tuple[int, float, Future[TurnJudgement]]] = []

    # -- public ------------------------------------------------------------------------------
    def request_stop(self, reason: str = "interrupted") -> None:
        """End the session at the next block and save it (safe from a signal handler)."""
        self._stop_reason = reason

    def run(self) -> PracticeResult:
        """Run the conversation until the peer ends it, the trainee quits or input ends.

        ``KeyboardInterrupt`` (Ctrl-C) ends the session like ``q``: the record is written
        from what exists and the interrupt is re-raised after it.
        """
        reason = "input ended"
        interrupted: BaseException | None = None
        self._event(
            "session_start",
            scenario=self.peer.scenario.name,
            seed=self.peer.seed,
            title=self.peer.scenario.title,
            options=_options_dict(self.options),
            models=self._models(),
        )
        try:
            self._say(self.peer.opening(), answers=None)
            reason = self._loop()
            if reason == "input ended":
                self._drain()
        except KeyboardInterrupt as err:
            reason, interrupted = "interrupted", err
        except BaseException:
            try:
                self._stop_all()
                self._finish("error")
            except Exception:  # the first error is the one to report
                pass
            raise
        self._stop_all()
        result = self._finish(reason)
        if interrupted is not None:
            raise interrupted
        return result

    # -- the loop ----------------------------------------------------------------------------
    def _loop(self) -> str:
        for chunk in self.source.chunks():
            self.recorder.add_mic(chunk)
            clean = self.gate.process(chunk) if self.gate is not None else chunk.samples
            excess = self.gate.excess if self.gate is not None else True
            a = round(chunk.start_s * SAMPLE_RATE)
            self._audio.append_at(a, clean)
            events = self.endpointer.feed(clean, chunk.start_s)
            self._watch_barge_in(chunk, excess)
            for event in events:
                self._on_vad(event)
            self._poll()
            if self._ended and (self._current is None or self._current.playback.done()):
                self._poll()
                return "peer ended the conversation"
            if self._stop_reason is not None:
                return self._stop_reason
            if self.view is not None and self.view.quit_requested():
                return "trainee quit"
        for event in self.endpointer.flush():
            self._on_vad(event)
        return "input ended"

    def _drain(self) -> None:
        """After the input: finish the pending turn, let the peer finish, maybe say goodbye."""
        deadline = time.monotonic() + self.options.drain_timeout_s
        while time.monotonic() < deadline:
            self._poll()
            busy = self._pending is not None or (
                self._current is not None and not self._current.playback.done()
            )
            if not busy:
                break
            if self._stop_reason is not None or (
                self.view is not None and self.view.quit_requested()
            ):
                return
            time.sleep(0.02)
        self._poll()
        if (
            self.options.closing
            and self._stop_reason is None
            and not self._ended
            and self._turns > 0
            and self._last_turn_answered
        ):
            line = self._say(self.peer.closing(), answers=None)
            if line is not None:
                line.playback.wait(self.options.drain_timeout_s)
                self._poll()

    def _watch_barge_in(self, chunk: AudioChunk, excess: bool) -> None:
        """Stop the peer as soon as gated speech has lasted ``barge_in_ms``."""
        probs = self.endpointer.last_probabilities
        voiced = bool(probs.size) and float(probs[-1]) >= self.endpointer.options.threshold
        if voiced and excess:
            if self._voiced_run == 0:
                self._voiced_run_start = chunk.start_s
            self._voiced_run += 1
        else:
            self._voiced_run = 0
            self._voiced_run_start = None
        line = self._current
        if (
            line is None
            or line.playback.done()
            or self._voiced_run * BLOCK_S * 1000 < self.options.barge_in_ms - 1
        ):
            return
        assert self._voiced_run_start is not None
        self._barge_in(line, self._voiced_run_start)

    def _barge_in(self, line: _PeerLine, speech_s: float) -> None:
        played_s = line.playback.stop()
        stopped = self.clock.now_s()
        stop_ms = (stopped - speech_s) * 1000
        played = round(played_s * SAMPLE_RATE)
        self.reference.cut(line.playback, played)
        line.stopped_at_s = line.start_s + played_s
        line.end_s = line.stopped_at_s
        self._cut_line = line
        self._log_line(line)
        self._current = None
        entry = {
            "line": line.index,
            "speech_s": round(speech_s, 3),
            "stopped_at_s": round(line.stopped_at_s, 3),
            "stop_ms": round(stop_ms, 1),
        }
        self._barge_ins.append(entry)
        self._event("barge_in", **entry)

    def _on_vad(self, event: VadEvent) -> None:
        if isinstance(event, SpeechStarted):
            self._onset = event.t_s
            line = self._current
            if line is not None and not line.playback.done():
                self._barge_in(line, event.t_s)
            self._show("trainee_speaking", {"t_s": event.t_s})
        elif isinstance(event, SilenceStarted):
            if self.options.speculative and self._onset is not None:
                self.speculation["started"] += 1
                speech = self._speech(self._turn_start_or(self._onset), event.t_s)
                self._spec = (speech.start_s, speech.end_s, self._submit(speech))
        elif isinstance(event, SpeechResumed):
            if self._spec is not None:
                self._discard(self._spec[2])
            self._spec = None
        elif isinstance(event, SpeechEnded):
            ended_at = self.clock.now_s()
            # speech that went on before the peer answered joins the unanswered turn
            start = self._turn_start_or(event.start_s)
            self._turn_start = start
            spec, self._spec = self._spec, None
            same = spec is not None and (
                abs(spec[0] - start) < 1e-6 and abs(spec[1] - event.end_s) < 1e-6
            )
            if spec is not None and same:
                future, speculative = spec[2], True
                self.speculation["used"] += 1
            else:
                if spec is not None:
                    self._discard(spec[2])
                future, speculative = self._submit(self._speech(start, event.end_s)), False
            if self._pending is not None:
                self._discard(self._pending[0])
            self._pending = (future, ended_at, speculative)
            self._onset = event.next_start_s

    def _turn_start_or(self, start_s: float) -> float:
        return self._turn_start if self._turn_start is not None else start_s

    def _speech(self, start_s: float, end_s: float) -> _Speech:
        a = round((start_s - 0.1) * SAMPLE_RATE)
        b = round((end_s + 0.15) * SAMPLE_RATE)
        samples = self._audio.slice(max(a, 0), b)
        cut = self._cut_line if self._cut_line is not None else None
        if cut is not None and (cut.stopped_at_s is None or cut.stopped_at_s < start_s - 1.0):
            cut = None
        peer_line = self._peer_before(start_s)
        peer = peer_line.utterance() if peer_line is not None else None
        earlier = self._lines[: peer_line.index] if peer_line is not None else []
        recent = tuple(line.text for line in earlier[-EARLIER_PEER_LINES:])
        return _Speech(start_s, end_s, samples, peer, cut, recent)

    def _peer_before(self, start_s: float) -> _PeerLine | None:
        before = [line for line in self._lines if line.start_s < start_s]
        return before[-1] if before else None

    def _submit(self, speech: _Speech) -> Future[_Prepared]:
        peer, version = self.peer, self._peer_version
        stale = threading.Event()
        future = self._worker.submit(self._prepare, speech, peer, version, stale)
        self._stale[id(future)] = stale
        return future

    def _discard(self, future: Future[_Prepared]) -> None:
        """A speculation the trainee talked past: cancel it, or stop it after its ASR."""
        future.cancel()
        stale = self._stale.pop(id(future), None)
        if stale is not None:
            stale.set()

    # -- the worker: ASR -> classifier -> peer -> TTS -----------------------------------------
    def _prepare(
        self, speech: _Speech, peer: Peer, version: int, stale: threading.Event
    ) -> _Prepared:
        times: dict[str, float] = {}
        t0 = time.perf_counter()
        offset = max(speech.start_s - 0.1, 0.0)
        words = self.transcriber.transcribe(speech.samples, offset_s=offset)
        text = " ".join(w.text.strip() for w in words).strip()
        t1 = time.perf_counter()
        times["asr_ms"] = (t1 - t0) * 1000
        utterance = Utterance("trainee", text, speech.start_s, speech.end_s, tuple(words))
        timing = timing_for(utterance, speech.peer) if speech.peer is not None else None
        judgement = None
        if stale.is_set():
            return _Prepared(speech, words, text, timing, None, None, None, None, False, -1)
        if text:
            # evidence and suggestions are worked out after the reply starts playing
            judgement = self.classifier.classify(
                speech.peer.text if speech.peer is not None else None,
                text,
                timing,
                explain=False,
            )
        t2 = time.perf_counter()
        times["classify_ms"] = (t2 - t1) * 1000
        cut = speech.cut_line
        interruption = judgement is not None and "interruption" in judgement.flags
        # over the peer: a backchannel lets the peer go on; anything more is a turn the peer
        # answers (reacting to being cut off when the interruption head says so)
        resume = cut is not None and not interruption and len(words) <= BACKCHANNEL_MAX_WORDS
        fork = reply = audio = None
        if text and not resume:
            fork = _fork_peer(peer)
            reply = fork.respond(judgement, text, interrupted=cut is not None and interruption)
        t3 = time.perf_counter()
        times["peer_ms"] = (t3 - t2) * 1000
        if reply is not None and reply.text and not stale.is_set():
            audio = self.voice.synthesize(reply.text)
        times["tts_ms"] = (time.perf_counter() - t3) * 1000
        return _Prepared(
            speech, words, text, timing, judgement, fork, reply, audio, resume, version, times
        )

    def _explain(
        self, peer: str | None, earlier: tuple[str, ...], text: str, judgement: TurnJudgement
    ) -> TurnJudgement:
        """The judgement with evidence and a better reply for each flag (on the worker)."""
        if not judgement.flags:
            return judgement
        evidence = self.classifier.evidence(peer, text, judgement.flags)
        suggestions = self.classifier.suggestions(judgement.flags, peer or text, earlier)
        return dataclasses.replace(judgement, evidence=evidence, suggestions=suggestions)

    # -- main-thread bookkeeping -------------------------------------------------------------
    def _poll(self) -> None:
        self._poll_playback()
        self._poll_latency()
        self._poll_explaining()
        self._poll_cut_line()
        pending = self._pending
        if pending is None or not pending[0].done():
            return
        if self._onset is not None:
            return  # the trainee is talking again: answer when they have finished
        self._pending = None
        future, ended_at, speculative = pending
        prepared = future.result()
        if prepared.peer_version != self._peer_version and prepared.peer is not None:
            # the peer changed while this was prepared: prepare it again on the current peer
            self._pending = (self._submit(prepared.speech), ended_at, False)
            return
        self._commit(prepared, ended_at, speculative)

    def _poll_cut_line(self) -> None:
        """A barge-in that never became speech (a click, a cough): the peer goes on."""
        line = self._cut_line
        if line is None or self._pending is not None or self._spec is not None:
            return
        if self._onset is not None or self.endpointer.speaking:
            return
        ep = self.endpointer
        if ep.retain_from_s < ep.now_s - 1e-6:  # a speech candidate is still open
            return
        stopped = line.stopped_at_s if line.stopped_at_s is not None else line.start_s
        if ep.now_s - stopped >= 0.3:
            self._resume(line)

    def _commit(self, prepared: _Prepared, ended_at: float, speculative: bool) -> None:
        """Act on a prepared turn: play the reply first, then record what happened."""
        self._stale.clear()
        self._turn_start = None
        speech = prepared.speech
        if not prepared.text:
            # noise or an unintelligible sound: the peer goes on if it was cut off
            if speech.cut_line is not None and speech.cut_line is self._cut_line:
                self._resume(speech.cut_line)
            else:
                self._peer_idle()
            return
        index = self._turns
        self._turns += 1
        reply, line = prepared.reply, None
        resumed = prepared.resume and speech.cut_line is self._cut_line
        self._trainee.append(
            Utterance("trainee", prepared.text, speech.start_s, speech.end_s, tuple(prepared.words))
        )
        j = prepared.judgement
        # one short line written before the reply starts, so the transcript reads in order
        self._event(
            "trainee_turn",
            turn=index,
            text=prepared.text,
            start_s=round(speech.start_s, 3),
            end_s=round(speech.end_s, 3),
            words=[w.to_dict() for w in prepared.words],
            judgement=j.to_dict() if j is not None else None,
            timing=prepared.timing.to_dict() if prepared.timing is not None else None,
            over_peer=speech.cut_line is not None,
            backchannel=resumed,
        )
        if resumed:
            assert speech.cut_line is not None
            self._resume(speech.cut_line)
        elif reply is not None and prepared.peer is not None:
            self._cut_line = None
            self.peer = prepared.peer
            self._peer_version += 1
            line = self._say(reply, answers=index, audio=prepared.audio)
        else:
            self._cut_line = None
        self._last_turn_answered = line is not None or resumed
        if j is not None and j.flags:
            peer_text = speech.peer.text if speech.peer is not None else None
            future = self._worker.submit(self._explain, peer_text, speech.earlier, prepared.text, j)
            self._explaining.append((index, speech.start_s, future))
        if reply is not None and not resumed and prepared.peer is not None:
            state = reply.state
            self._timeline.append(
                {
                    "t_s": round(self.clock.now_s(), 3),
                    "trust": state.trust,
                    "distress": state.distress,
                }
            )
            self._event(
                "peer_state",
                turn=index,
                trust=state.trust,
                distress=state.distress,
                layers=list(state.open_layers),
                reaction=reply.reaction,
                ended=reply.ended,
                breakthrough=state.breakthrough,
            )
        if line is None:
            if not resumed:
                self._peer_idle()
            return
        latency = {
            "turn": index,
            "endpoint_ms": round((ended_at - speech.end_s) * 1000, 1),
            **{k: round(v, 1) for k, v in prepared.times_ms.items()},
            "speculative": speculative,
        }
        self._pending_latency = (latency, line)
        self._poll_latency()

    def _poll_explaining(self, wait: bool = False) -> None:
        """Log each flag once its evidence and better reply are worked out."""
        keep = []
        for index, start_s, future in self._explaining:
            if not wait and not future.done():
                keep.append((index, start_s, future))
                continue
            try:
                j = future.result()
            except Exception:  # cancelled at shutdown
                continue
            for label in j.flags:
                self._event(
                    "flag",
                    label=label,
                    turn=index,
                    start_s=round(start_s, 3),
                    evidence=j.evidence.get(label, ""),
                    suggestion=j.suggestions.get(label, ""),
                    why=self.classifier.explanation(label),
                )
        self._explaining = keep

    def _poll_latency(self) -> None:
        if self._pending_latency is None:
            return
        latency, line = self._pending_latency
        started = getattr(line.playback, "started", True)
        if not started and not line.playback.done():
            return
        self._pending_latency = None
        speech_end = next((u.end_s for u in reversed(self._trainee) if u.end_s is not None), None)
        if speech_end is None:
            return
        latency["total_ms"] = round((line.start_s - speech_end) * 1000, 1)
        self._latencies.append(latency)
        self._event("latency", **latency)

    def _say(
        self, reply: PeerReply, *, answers: int | None, audio: np.ndarray | None = None
    ) -> _PeerLine | None:
        if not reply.text:
            if reply.ended:
                self._ended = True
            return None
        samples = audio if audio is not None else self.voice.synthesize(reply.text)
        return self._play(reply.text, reply.reaction, samples, answers=answers, ended=reply.ended)

    def _play(
        self,
        text: str,
        reaction: str,
        samples: np.ndarray,
        *,
        answers: int | None,
        ended: bool,
    ) -> _PeerLine:
        self._finish_current()
        playback = self.sink.play(samples)
        self.reference.add(playback, samples)
        line = _PeerLine(
            index=len(self._lines),
            text=text,
            reaction=reaction,
            samples=samples,
            playback=playback,
            answers_turn=answers,
            ended=ended,
        )
        self._lines.append(line)
        self._current = line
        if ended:
            self._ended = True
        self._show(
            "peer_speaking",
            {
                "line": line.index,
                "text": text,
                "reaction": reaction,
                "start_s": round(line.start_s, 3),
            },
        )
        return line

    def _resume(self, line: _PeerLine) -> None:
        """Play the rest of a line the trainee only backchannelled over (or coughed over)."""
        self._cut_line = None
        stopped = line.stopped_at_s if line.stopped_at_s is not None else line.start_s
        played = round((stopped - line.start_s) * SAMPLE_RATE)
        if played >= line.samples.size - BLOCK_SAMPLES:
            self._peer_idle()
            return
        unsaid = [w.text for w in line.words() if w.start_s >= stopped]
        text = " ".join(unsaid) or line.text
        self._play(
            text,
            line.reaction,
            line.samples[played:],
            answers=line.answers_turn,
            ended=line.ended,
        )

    def _poll_playback(self) -> None:
        line = self._current
        if line is None or not line.playback.done():
            return
        if line.end_s is None:
            line.end_s = line.start_s + line.duration_s
        self._finish_current()
        if self._pending is None and self._onset is None:
            self._peer_idle(line.end_s)

    def _finish_current(self) -> None:
        line = self._current
        if line is None:
            return
        if not line.playback.done():
            played_s = line.playback.stop()
            self.reference.cut(line.playback, round(played_s * SAMPLE_RATE))
            line.stopped_at_s = line.start_s + played_s
            line.end_s = line.stopped_at_s
        if line.end_s is None:
            line.end_s = line.start_s + line.duration_s
        self._log_line(line)
        self._current = None

    def _log_line(self, line: _PeerLine) -> None:
        if line.logged:
            return
        line.logged = True
        heard = line.utterance()
        self._event(
            "peer_line",
            line=line.index,
            text=heard.text,
            full_text=line.text,
            reaction=line.reaction,
            start_s=round(line.start_s, 3),
            end_s=round(line.end_s if line.end_s is not None else line.start_s, 3),
            stopped_at_s=None if line.stopped_at_s is None else round(line.stopped_at_s, 3),
            answers_turn=line.answers_turn,
        )

    def _peer_idle(self, t_s: float | None = None) -> None:
        tell = getattr(self.source, "peer_finished", None)
        if tell is not None:
            tell(self.clock.now_s() if t_s is None else t_s)

    def _stop_all(self) -> None:
        """Stop the sound and the input, let the last played audio reach the recorder.

        A device that has gone away can block PortAudio calls for good, so each of these
        steps gets a bounded time; the record is written either way.
        """
        try:
            line = self._current
            if line is not None and not line.playback.done():
                heard_s = min(max(self.clock.now_s() - line.start_s, 0.0), line.duration_s)
                played_s = _bounded(line.playback.stop, STOP_TIMEOUT_S)
                played_s = heard_s if played_s is None else played_s
                self.reference.cut(line.playback, round(played_s * SAMPLE_RATE))
                line.stopped_at_s = line.end_s = line.start_s + played_s
            self._finish_current()
        finally:
            for close in (self.source.close, self.sink.close):
                _bounded(close, STOP_TIMEOUT_S)
            if self._spec is not None:
                self._discard(self._spec[2])
            if self._pending is not None:
                self._discard(self._pending[0])
            self._worker.shutdown(wait=True)
            self._poll_explaining(wait=True)

    # -- the record -------------------------------------------------------------------------
    def _finish(self, reason: str) -> PracticeResult:
        from voicecoach.record import SessionRecord

        duration = self.clock.now_s()
        self._event("session_end", reason=reason, duration_s=round(duration, 3))
        utterances = [line.utterance() for line in self._lines if line.end_s is not None]
        utterances = [u for u in utterances if u.text.strip()] + list(self._trainee)
        utterances.sort(key=lambda u: u.start_s or 0.0)
        turns = judge(utterances, self.classifier)
        warnings = []
        if self.gate is not None and self.gate.stats.blocks_gated:
            s = self.gate.stats
            warnings.append(
                f"echo gate: {s.blocks_gated} of {s.blocks_with_reference} blocks heard while "
                "the peer played were the peer's own voice (use --headphones to skip the gate)"
            )
        record = SessionRecord(
            file=str(self.recorder.directory),
            duration_s=duration,
            models=self._models(),
            options=_options_dict(self.options),
            turns=turns,
            warnings=warnings,
        )
        totals = [float(x["total_ms"]) for x in self._latencies]
        state = self.peer.state
        extra = {
            "scenario": self.peer.scenario.name,
            "seed": self.peer.seed,
            "peer_state": {"trust": state.trust, "distress": state.distress},
            "latency_ms": {
                "p50": None if not totals else round(float(np.percentile(totals, 50)), 1),
                "p95": None if not totals else round(float(np.percentile(totals, 95)), 1),
                "turns": list(self._latencies),
            },
            "trust_timeline": list(self._timeline),
            "end_reason": reason,
        }
        self.recorder.finish(record, extra=extra)
        return PracticeResult(
            record=record,
            extra=extra,
            session_dir=Path(self.recorder.directory),
            reason=reason,
            latencies=list(self._latencies),
            barge_ins=list(self._barge_ins),
            echo=self.gate.stats if self.gate is not None else None,
        )

    def _models(self) -> dict[str, Any]:
        return {
            "asr": self.transcriber.model_id.to_dict(),
            "vad": "silero_vad_v6 (faster-whisper asset)",
            "classifier": self.classifier.model_id,
            "tts": {"engine": "pyttsx3", "voice": self.voice.name, "rate": self.voice.rate},
        }

    def _event(self, kind: str, **fields: Any) -> None:
        entry = self.recorder.event(kind, **fields)
        self._show(kind, entry)

    def _show(self, kind: str, fields: dict[str, Any]) -> None:
        if self.view is not None:
            self.view.show(kind, fields)


def _bounded(fn: Any, timeout_s: float) -> Any:
    """``fn()`` on a helper thread; its result, or None if it failed or took too long."""
    result: list[Any] = []

    def call() -> None:
        with contextlib.suppress(Exception):
            result.append(fn())

    thread = threading.Thread(target=call, name="voicecoach-stop", daemon=True)
    thread.start()
    thread.join(timeout_s)
    return result[0] if result else None


def _fork_peer(peer: Peer) -> Peer:
    """A copy of the peer to answer with; the persona and rules are shared, not copied."""
    memo = {id(peer.scenario): peer.scenario, id(peer.rules): peer.rules}
    return copy.deepcopy(peer, memo)


def _options_dict(options: PracticeOptions) -> dict[str, Any]:
    d = asdict(options)
    d["input"] = "practice"
    return d


# -- hardware-free helpers ---------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile of ``values`` (None when empty)."""
    return None if not values else round(float(np.percentile(list(values), q)), 1)


__all__ = [
    "PracticeOptions",
    "PracticeResult",
    "PracticeSession",
    "ScriptedTurnsSource",
    "View",
    "percentile",
    "turn_files",
]
