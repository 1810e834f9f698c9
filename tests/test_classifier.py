"""Behavioural tests of the shipped classifier (real ONNX model), in the style of CheckList.

The exchanges here were written for these tests and are not in the corpus.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from voicecoach.classify import LABELS, Classifier, Exchange
from voicecoach.classify.evaluate import add_fillers, asr_style, load_jsonl
from voicecoach.paths import ASSETS_DIR
from voicecoach.types import Timing

FEAR = "Ever since the break-in I can't sleep. I keep checking the locks, I'm so scared he'll come back."
GRIEF = "It's been a year since my brother died and everyone acts like I should be over it."
PRIDE = "I finally called my mom after two years. I actually did it, I'm kind of proud of myself."
NEUTRAL = "The bus gets me there around ten, so I can make the morning group."
LIMIT = "I don't really want to get into what happened in the car that night."

# Minimum functionality: (peer, trainee, label that must be decided).
MFT = {
    "dismissive": [
        (FEAR, "Come on, locks are locks. You're being a little paranoid."),
        (GRIEF, "Honestly a year is a long time, maybe it is time to move on."),
        (PRIDE, "Calling your mom isn't really a big deal though."),
        (FEAR, "Well, at least nothing was stolen, right?"),
        (GRIEF, "Let's talk about something more cheerful today."),
        (FEAR, "lots of people get broken into you just gotta toughen up"),
    ],
    "missed_validation": [
        (FEAR, "Have you thought about getting a camera doorbell?"),
        (GRIEF, "Anything fun coming up for you on Saturday?"),
        (PRIDE, "Okay. What time is your appointment tomorrow?"),
        (FEAR, "You should talk to your landlord about better locks."),
        (GRIEF, "Mm-hm."),
        (FEAR, "so where are you working these days"),
    ],
    "clinical_focus": [
        (FEAR, "On a scale from one to ten, how would you rate your anxiety right now?"),
        (GRIEF, "That sounds like complicated grief. Have you been assessed for depression?"),
        (FEAR, "Are you taking the sleep medication your doctor prescribed?"),
        (GRIEF, "How many hours of sleep and how many meals a day are you getting?"),
        (FEAR, "I hear you. Any symptoms like flashbacks, hypervigilance, or intrusive thoughts?"),
    ],
    "self_focus": [
        (FEAR, "Ugh, that makes me so nervous, I'm going to be checking my own locks all night."),
        (
            GRIEF,
            "When my grandpa died I was a mess for months, I couldn't even go to work, and my whole family fell apart.",
        ),
        (FEAR, "Honestly hearing this is really hard for me."),
        (
            GRIEF,
            "I know exactly how you feel, I lost my dog last year and I still cry about it every day.",
        ),
    ],
    "pressuring": [
        (LIMIT, "I think it would really help if you just told me what happened in the car."),
        (FEAR, "You need to tell me exactly what he took and what he did."),
        (LIMIT, "Come on, you'll feel better once you get it out. What happened?"),
        (GRIEF, "Walk me through the day he died, step by step."),
    ],
    "validation": [
        (FEAR, "Of course you're scared, anyone would be after someone got into their home."),
        (GRIEF, "It makes total sense that you're still grieving. There's no deadline on that."),
        (PRIDE, "That took real courage, you should be proud."),
        (FEAR, "It's completely understandable that you keep checking the locks."),
        (GRIEF, "your feelings are valid grief doesnt just switch off after a year"),
    ],
    "reflection": [
        (
            FEAR,
            "So since the break-in you haven't been able to sleep, and you're afraid he'll return.",
        ),
        (GRIEF, "It sounds like you feel people expect you to be done grieving your brother."),
        (PRIDE, "So after two years you reached out to your mom, and you're proud of that."),
        (FEAR, "You're checking the locks over and over because you're scared."),
    ],
    "open_question": [
        (FEAR, "What has it been like for you at night since then?"),
        (GRIEF, "How are you holding up with everyone acting that way?"),
        (PRIDE, "What was that call like for you?"),
        (GRIEF, "Tell me about your brother."),
    ],
    "empowerment": [
        (LIMIT, "That's completely your call. We'll only go where you want to go."),
        (FEAR, "You know yourself best. What do you think would help you feel safer?"),
        (GRIEF, "We can go at whatever pace feels right to you."),
    ],
    "trigger_care": [
        (LIMIT, "Thank you for telling me. We don't have to talk about that at all."),
        (FEAR, "Would it be okay if we took a breath for a second before we keep going?"),
        (GRIEF, "Is it alright with you if I ask a little about him?"),
        (
            FEAR,
            "How are you feeling right now, in this moment, talking about it? We can pause anytime.",
        ),
    ],
}

# Things that must NOT be decided.
NOT = {
    "missed_validation": [
        (NEUTRAL, "Great, do you want me to save you a seat?"),
        (NEUTRAL, "Have you thought about taking the earlier bus?"),
        (FEAR, "That sounds terrifying. Have you thought about a camera doorbell?"),
    ],
    "dismissive": [
        (FEAR, "I'm not saying you're overreacting at all, it makes sense to feel this way."),
        (GRIEF, "You're not wrong for still grieving."),
    ],
    "open_question": [
        (FEAR, "Did you end up calling the cops on him?"),
        (GRIEF, "Where did he live?"),
    ],
}


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.load()


def _decided(clf: Classifier, cases: list[tuple[str, str]]) -> list[set[str]]:
    judged = clf.classify_batch([Exchange(t, p) for p, t in cases], explain=False)
    return [set(j.flags) | set(j.strengths) for j in judged]


@pytest.mark.parametrize("label", sorted(MFT))
def test_minimum_functionality(clf: Classifier, label: str) -> None:
    cases = MFT[label]
    decided = _decided(clf, cases)
    misses = [t for (_, t), d in zip(cases, decided, strict=True) if label not in d]
    # CheckList-style failure rate: at most one miss per label.
    assert len(misses) <= 1, f"{label} missed on: {misses}"


@pytest.mark.parametrize("label", sorted(NOT))
def test_no_false_alarm_on_hard_negatives(clf: Classifier, label: str) -> None:
    cases = NOT[label]
    decided = _decided(clf, cases)
    wrong = [t for (_, t), d in zip(cases, decided, strict=True) if label in d]
    assert len(wrong) <= 1, f"{label} wrongly decided on: {wrong}"


def test_every_label_is_reported_and_unjudgeable_ones_are_null(clf: Classifier) -> None:
    j = clf.classify(None, "How are you doing today?")
    assert set(j.labels) == set(LABELS)
    assert j.labels["missed_validation"] is None
    assert j.labels["interruption"] is None
    assert all(0.0 <= v <= 1.0 for k, v in j.labels.items() if v is not None)


def test_directional_adding_overreacting_raises_dismissive(clf: Classifier) -> None:
    validating = [(p, t) for p, t in MFT["validation"] + MFT["reflection"]]
    base = clf.classify_batch([Exchange(t, p) for p, t in validating], explain=False)
    pushed = clf.classify_batch(
        [Exchange(t + " But you're overreacting.", p) for p, t in validating], explain=False
    )
    raised = [
        b.labels["dismissive"] < a.labels["dismissive"] for b, a in zip(base, pushed, strict=True)
    ]
    assert all(raised)


def test_invariance_to_recogniser_text_and_fillers(clf: Classifier) -> None:
    items = load_jsonl(ASSETS_DIR / "corpus" / "test.jsonl")
    rng = random.Random(5)
    items = rng.sample(items, min(300, len(items)))

    def decisions(rows: list[tuple[str | None, str]]) -> list[set[str]]:
        return _decided(clf, [(p, t) for p, t in rows])

    base = decisions([(r.get("peer"), r["trainee"]) for r in items])
    plain = decisions(
        [(asr_style(r["peer"]) if r.get("peer") else None, asr_style(r["trainee"])) for r in items]
    )
    fillers = decisions([(r.get("peer"), add_fillers(r["trainee"], rng)) for r in items])
    same_plain = np.mean([a == b for a, b in zip(base, plain, strict=True)])
    same_fillers = np.mean([a == b for a, b in zip(base, fillers, strict=True)])
    assert same_plain >= 0.95, same_plain
    assert same_fillers >= 0.95, same_fillers  # 0.954 on the whole test split (MODELS.md)


def test_interruption_needs_timing_and_spares_backchannels(clf: Classifier) -> None:
    peer = "So I went back to the apartment and when I opened the door I"
    cut_in = clf.classify(peer, "Wait, why would you go back there?", Timing(-0.4, 0.4, False))
    backchannel = clf.classify(peer, "mm-hm", Timing(-0.4, 0.4, False))
    waited = clf.classify(
        "So I went back to the apartment.", "What was that like?", Timing(0.9, 0.0, True)
    )
    assert "interruption" in cut_in.flags
    assert "interruption" not in backchannel.flags
    assert "interruption" not in waited.flags


def test_flags_carry_evidence_from_the_turn_and_a_bank_suggestion(clf: Classifier) -> None:
    trainee = "I hear you, but honestly you're overreacting about the locks."
    j = clf.classify(FEAR, trainee)
    assert "dismissive" in j.flags
    evidence = j.evidence["dismissive"]
    assert evidence and evidence in trainee
    assert "overreacting" in evidence
    bank = {a["text"] for a in clf._load_bank()["labels"]["dismissive"]["alternatives"]}
    assert j.suggestions["dismissive"] in bank


def test_evidence_reads_as_a_phrase(clf: Classifier) -> None:
    peer = "The landlord wants the deposit forms for the flat that flooded. I can't face it."
    trainee = "Okay. Have you sent the deposit forms back yet? They take a while, so get going."
    j = clf.classify(peer, trainee)
    assert "missed_validation" in j.flags
    # the span starts and ends where the question does, not a few words either side
    assert j.evidence["missed_validation"] == "Have you sent the deposit forms back yet?"


def test_suggestions_fit_the_peer_turn(clf: Classifier) -> None:
    grief = clf.suggest(
        "missed_validation", "My son died last spring and I still set his place at the table."
    )
    limit = clf.suggest("pressuring", "I told you I'm not ready to talk about what he did to me.")
    assert grief != limit
