"""Score one recording: decode -> VAD -> Whisper per channel -> turns -> classifier.

Stereo files carry one speaker per channel, so overlaps are exact. In a mono file the whole
recording is the trainee, unless a scenario is given: then stretches of speech that match
the scenario's peer lines are the peer's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from voicecoach.asr import AsrOptions, Transcriber
from voicecoach.audio.decode import SAMPLE_RATE, DecodeReport, probe, stream_channels
from voicecoach.classify.model import Classifier
from voicecoach.errors import InputError
from voicecoach.pipeline import judge
from voicecoach.record import SessionRecord
from voicecoach.score import ScoreOptions
from voicecoach.turns import build_utterances
from voicecoach.types import Speaker, Word
from voicecoach.vad import VadOptions

#: How similar a stretch of mono speech must be to a scenario line to count as the peer's.
PEER_MATCH = 0.6
#: A pause this long separates stretches of mono speech when telling speakers apart.
MONO_PAUSE_S = 0.6
#: Sentences shorter than this ("Hi.", "On her couch.") follow their neighbours.
MIN_VOTING_WORDS = 4


def score_audio(path: Path, options: ScoreOptions, classifier: Classifier) -> SessionRecord:
    """The session record of one audio file (raises InputError for unusable files)."""
    info = probe(path)
    if info.channels > 2:
        raise InputError(
            f"{path}: has {info.channels} channels; voicecoach reads mono (the trainee) or "
            "stereo (channel 0 trainee, channel 1 peer; --channels peer,trainee swaps). "
            "Mix it down first, e.g. sox in.wav out.wav remix 1 2"
        )
    report = DecodeReport()
    vad_options = VadOptions()
    transcriber = Transcriber.load(AsrOptions(model=options.model))
    transcripts = transcriber.transcribe_channels(stream_channels(path, report=report), vad_options)
    duration = report.samples / SAMPLE_RATE
    warnings = list(report.warnings)
    for transcript in transcripts:
        warnings.extend(f"{path}: {line}" for line in transcript.dropped[:5])

    words_by_speaker: dict[Speaker, Sequence[Word]]
    if len(transcripts) == 2:
        first, second = options.channels
        words_by_speaker = {
            first: transcripts[0].words,  # type: ignore[dict-item]  # checked by parse_channels
            second: transcripts[1].words,  # type: ignore[dict-item]
        }
    elif options.scenario:
        from voicecoach.peer.scenario import load_scenario, peer_lines

        lines = peer_lines(load_scenario(options.scenario))
        words_by_speaker = split_mono(transcripts[0].words if transcripts else [], lines)
    else:
        words_by_speaker = {"trainee": transcripts[0].words if transcripts else []}
        warnings.append(
            f"{path}: mono recording without --scenario: the peer side is unknown, so "
            "missed_validation and interruption are not judged"
        )
    if not any(words_by_speaker.values()):
        warnings.append(f"{path}: no speech found (silent or too quiet); nothing to score")

    utterances = build_utterances(words_by_speaker)
    return SessionRecord(
        file=str(path),
        duration_s=duration,
        models={
            "asr": transcriber.model_id.to_dict(),
            "vad": "silero_vad_v6 (faster-whisper asset)",
            "classifier": classifier.model_id,
        },
        options={
            "input": "audio",
            "channels": list(options.channels) if len(transcripts) == 2 else ["mono"],
            "scenario": options.scenario,
            "asr": {k: v for k, v in asdict(transcriber.options).items() if k != "model"}
            | {"model": options.model},
            "vad": asdict(vad_options),
            "explain": options.explain,
            "source": {
                "sample_rate": info.sample_rate,
                "channels": info.channels,
                "codec": info.codec,
            },
        },
        turns=judge(utterances, classifier, explain=options.explain),
        warnings=warnings,
    )


_NON_WORD = re.compile(r"[^a-z0-9' ]+")


def _norm(text: str) -> str:
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


def split_mono(words: Sequence[Word], peer_lines: Sequence[str]) -> dict[Speaker, Sequence[Word]]:
    """Tell the peer's words from the trainee's in one channel by the scenario's lines.

    Speech is cut into stretches at pauses and stretches into sentences; a sentence that
    matches (a part of) one of the scenario's peer lines is the peer's, else the trainee's.
    Sentences too short to tell ("Hi.", "Okay.") go with their neighbour in the stretch.
    """
    stretches: list[list[list[Word]]] = []
    for word in words:
        if stretches and word.start_s - stretches[-1][-1][-1].end_s <= MONO_PAUSE_S:
            sentence = stretches[-1][-1]
            if sentence[-1].text.rstrip().endswith((".", "?", "!")):
                stretches[-1].append([word])
            else:
                sentence.append(word)
        else:
            stretches.append([[word]])
    lines = [_norm(line) for line in peer_lines]
    out: dict[Speaker, list[Word]] = {"trainee": [], "peer": []}
    for stretch in stretches:
        whole = _norm(" ".join(w.text for sentence in stretch for w in sentence))
        if _best_match(whole, lines) >= PEER_MATCH:
            out["peer"].extend(w for sentence in stretch for w in sentence)
            continue
        texts = [_norm(" ".join(w.text for w in sentence)) for sentence in stretch]
        votes = [_vote(text, lines) for text in texts]
        for i, (sentence, text) in enumerate(zip(stretch, texts, strict=True)):
            nearest = [v for v in votes[:i] if v][-1:] or [v for v in votes[i:] if v][:1]
            speaker: Speaker = nearest[0] if nearest else "peer" if text in lines else "trainee"
            out[speaker].extend(sentence)
    return {speaker: spoken for speaker, spoken in out.items()}


def _vote(text: str, lines: Sequence[str]) -> Speaker | None:
    """Whose sentence this is, or None when it is too short to tell."""
    if len(text.split()) < MIN_VOTING_WORDS:
        return None
    return "peer" if _best_match(text, lines) >= PEER_MATCH else "trainee"


def _bigrams(text: str) -> set[tuple[str, ...]]:
    words = text.split()
    return {tuple(words[i : i + 2]) for i in range(len(words) - 1)} or {tuple(words)}


def _best_match(text: str, lines: Sequence[str]) -> float:
    """The largest share of ``text``'s word pairs found in one line (a part of it counts)."""
    pairs = _bigrams(text)
    return max((len(pairs & _bigrams(line)) / len(pairs) for line in lines), default=0.0)
