"""The turn builder: words of each speaker in, conversation turns with timing out.

Each channel's words become the speaker's stretches of speech. Stretches are ordered by
start time and consecutive stretches of one speaker merge into one utterance, so a turn
ends only when the other speaker takes the floor. A trainee backchannel ("mm-hm") said
inside a peer stretch is its own short turn and does not split the peer's utterance.

For every trainee turn the builder measures the timing against the peer's speech: the gap
from the peer's last word before the trainee started to the trainee's first word (negative
when the peer was still talking), the overlap, and whether the words the peer had said by
then reached a completion point.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from voicecoach.classify.timing import utterance_complete
from voicecoach.types import Speaker, Timing, Utterance, Word


@dataclass(frozen=True)
class TurnOptions:
    """How words are grouped into turns."""

    #: A pause longer than this inside one speaker's words starts a new stretch; stretches
    #: of one speaker still merge unless the other speaker spoke in between.
    stretch_gap_s: float = 1.0


def _stretches(words: Sequence[Word], gap_s: float) -> list[list[Word]]:
    out: list[list[Word]] = []
    for word in sorted(words, key=lambda w: w.start_s):
        if out and word.start_s - out[-1][-1].end_s <= gap_s:
            out[-1].append(word)
        else:
            out.append([word])
    return out


def _join(words: Iterable[Word]) -> str:
    return " ".join(w.text.strip() for w in words if w.text.strip())


def build_utterances(
    words_by_speaker: dict[Speaker, Sequence[Word]], options: TurnOptions | None = None
) -> list[Utterance]:
    """Utterances of both speakers in order of start time."""
    options = options or TurnOptions()
    starts = {
        speaker: sorted(w.start_s for w in words) for speaker, words in words_by_speaker.items()
    }
    stretches = sorted(
        (
            (stretch[0].start_s, speaker, stretch)
            for speaker, words in words_by_speaker.items()
            for stretch in _stretches(words, options.stretch_gap_s)
        ),
        key=lambda s: s[0],
    )
    merged: list[tuple[Speaker, list[Word]]] = []
    last_of: dict[Speaker, int] = {}
    for start, speaker, stretch in stretches:
        previous = last_of.get(speaker)
        if previous is not None:
            ours = merged[previous][1]
            ours_end = max(w.end_s for w in ours)
            # Same turn when nobody else started speaking since our last word.
            if not any(
                _started_between(times, ours_end, start)
                for other, times in starts.items()
                if other != speaker
            ):
                ours.extend(stretch)
                continue
        last_of[speaker] = len(merged)
        merged.append((speaker, list(stretch)))
    merged.sort(key=lambda m: m[1][0].start_s)
    return [
        Utterance(speaker, _join(ws), ws[0].start_s, max(w.end_s for w in ws), tuple(ws))
        for speaker, ws in merged
    ]


def _started_between(sorted_starts: list[float], lo: float, hi: float) -> bool:
    i = bisect.bisect_right(sorted_starts, lo)
    return i < len(sorted_starts) and sorted_starts[i] < hi


def timing_for(trainee: Utterance, peer: Utterance | None) -> Timing | None:
    """How ``trainee`` started relative to ``peer`` (None when times are unknown)."""
    if peer is None or trainee.start_s is None or peer.end_s is None or peer.start_s is None:
        return None
    if peer.words:
        heard = [w for w in peer.words if w.start_s < trainee.start_s]
        last_end = max((w.end_s for w in heard), default=peer.start_s)
        still_talking = any(w.start_s >= trainee.start_s for w in peer.words)
        complete = utterance_complete(_join(heard)) and not (
            still_talking and trainee.start_s - last_end < 0.5
        )
    else:
        last_end = peer.end_s
        complete = utterance_complete(peer.text) or trainee.start_s >= peer.end_s
    trainee_end = trainee.end_s if trainee.end_s is not None else trainee.start_s
    overlap = max(0.0, min(peer.end_s, trainee_end) - max(peer.start_s, trainee.start_s))
    gap = trainee.start_s - (peer.end_s if trainee.start_s < peer.end_s else last_end)
    return Timing(gap_s=gap, overlap_s=overlap, peer_complete=complete)


def _answered(utterances: Sequence[Utterance], index: int) -> list[int]:
    """Indices of the utterances the trainee turn at ``index`` answers, in order: all since
    the trainee's previous turn, or else the last peer utterance."""
    since: list[int] = []
    for j in range(index - 1, -1, -1):
        if utterances[j].speaker == "trainee":
            break
        since.append(j)
    if since:
        return since[::-1]
    # Overlapping speech can order a backchannel right after the peer's start.
    earlier = [j for j in range(index) if utterances[j].speaker == "peer"]
    return earlier[-1:]


def earlier_peer_turns(utterances: Sequence[Utterance], index: int, n: int) -> tuple[str, ...]:
    """The texts of up to ``n`` peer utterances before those the trainee turn at ``index``
    answers (see :func:`peer_context`), most recent last."""
    answered = _answered(utterances, index)
    first = answered[0] if answered else index
    before = [u.text for u in utterances[:first] if u.speaker == "peer" and u.text]
    return tuple(before[-n:]) if n else ()


def peer_context(utterances: Sequence[Utterance], index: int) -> Utterance | None:
    """The peer speech the trainee turn at ``index`` answers, as one utterance.

    That is every peer utterance since the trainee's previous turn that started before this
    one, with only the words said before the trainee began.
    """
    trainee = utterances[index]
    peers = [utterances[j] for j in _answered(utterances, index)]
    if not peers:
        return None
    words = tuple(
        w for u in peers for w in u.words if trainee.start_s is None or w.start_s < trainee.start_s
    )
    text = _join(words) if words else " ".join(u.text for u in peers)
    return Utterance(
        "peer",
        text,
        peers[0].start_s,
        max((u.end_s for u in peers if u.end_s is not None), default=None),
        tuple(w for u in peers for w in u.words),
    )
