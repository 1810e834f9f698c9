"""The one pipeline: utterances in, judged turns and a session record out.

Audio files, written transcripts, practice sessions and the live loop all end here: a list
of :class:`~voicecoach.types.Utterance` goes to :func:`judge`, which finds the peer turn
each trainee turn answers, measures the timing, and asks the classifier.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from voicecoach.classify.model import Classifier, Exchange
from voicecoach.classify.suggest import EARLIER_PEER_LINES
from voicecoach.turns import earlier_peer_turns, peer_context, timing_for
from voicecoach.types import Timing, Turn, TurnJudgement, Utterance

#: The peer counts as having kept talking when they spoke this long after the trainee stopped.
_KEPT_TALKING_S = 0.3


def judge(
    utterances: Sequence[Utterance], classifier: Classifier, *, explain: bool = True
) -> list[Turn]:
    """Every utterance as a turn; trainee turns carry the classifier's judgement."""
    exchanges: list[Exchange] = []
    context: dict[int, tuple[Utterance | None, Timing | None]] = {}
    for i, u in enumerate(utterances):
        if u.speaker != "trainee" or not u.text.strip():
            continue
        peer = peer_context(utterances, i)
        timing = timing_for(u, peer) if peer is not None else None
        context[i] = (peer, timing)
        earlier = earlier_peer_turns(utterances, i, EARLIER_PEER_LINES) if peer else ()
        exchanges.append(Exchange(u.text, peer.text if peer else None, timing, earlier))
    judgements = iter(classifier.classify_batch(exchanges, explain=explain))
    turns = []
    for i, u in enumerate(utterances):
        if i not in context:
            turns.append(Turn(i, u))
            continue
        peer, timing = context[i]
        judgement = next(judgements)
        if peer is not None and _peer_kept_talking(u, peer):
            judgement = _not_a_reply(judgement)
        turns.append(Turn(i, u, judgement, timing))
    return turns


def _peer_kept_talking(trainee: Utterance, peer: Utterance) -> bool:
    if trainee.end_s is None or peer.end_s is None:
        return False
    return peer.end_s > trainee.end_s + _KEPT_TALKING_S and (
        trainee.start_s is None or peer.start_s is None or peer.start_s < trainee.start_s
    )


def _not_a_reply(j: TurnJudgement) -> TurnJudgement:
    """Speech inside the peer's turn is not a reply, so no validation was owed yet."""
    labels = {**j.labels, "missed_validation": None}
    return dataclasses.replace(
        j,
        labels=labels,
        flags=tuple(f for f in j.flags if f != "missed_validation"),
        evidence={k: v for k, v in j.evidence.items() if k != "missed_validation"},
        suggestions={k: v for k, v in j.suggestions.items() if k != "missed_validation"},
    )
