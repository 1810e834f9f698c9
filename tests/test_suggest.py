"""Suggestions fit the conversation: the shipped bank, chosen for the peer's words.

The peer turns here were written for these tests (a house-fire survivor, as in the demo
scenario, and others) and are not in the bank's situation texts.
"""

from __future__ import annotations

import json

import pytest

from voicecoach.classify import Classifier
from voicecoach.classify.suggest import choose, same_reply, topic_tags
from voicecoach.paths import ASSETS_DIR
from voicecoach.pipeline import judge
from voicecoach.types import Utterance

BANK = json.loads((ASSETS_DIR / "suggestions.json").read_text(encoding="utf-8"))["labels"]
RISKS = ("dismissive", "missed_validation", "clinical_focus", "self_focus", "pressuring")

SCRUBS = "I had to buy new work scrubs and I nearly cried in the store over it."
INSURANCE = "The claims adjuster wants a receipt for every single thing that burned."
CLOSING_UP = "Right. Never mind, I guess."


def _tags(label: str, context: str, earlier: tuple[str, ...] = ()) -> set[str]:
    best = choose(BANK[label]["alternatives"], context, earlier)
    assert best is not None
    return set(best["tags"])


def test_a_whole_word_stem_does_not_match_a_longer_word() -> None:
    assert "fire" not in topic_tags("I got fired from the warehouse.")
    assert "fire" in topic_tags("The fire took the whole top floor.")


def test_passing_a_test_is_not_a_death() -> None:
    assert "grief" not in topic_tags("I passed my GED today!")
    assert "pride" in topic_tags("I passed my GED today!")
    assert "grief" in topic_tags("My mom passed last spring and I still set out two cups.")


@pytest.mark.parametrize("label", RISKS)
def test_each_risk_has_a_reply_for_a_fire_and_its_paperwork(label: str) -> None:
    assert _tags(label, INSURANCE) & {"fire", "paperwork", "money"}


@pytest.mark.parametrize("label", ("dismissive", "missed_validation", "interruption"))
def test_a_peer_closing_up_gets_a_repair_not_a_limit(label: str) -> None:
    tags = _tags(label, CLOSING_UP, (SCRUBS, INSURANCE))
    assert "pulling back" in tags
    assert "limit" not in tags


def test_a_turn_that_names_no_situation_falls_back_on_the_earlier_ones() -> None:
    alone = _tags("missed_validation", "Mm. Yeah.")
    with_story = _tags("missed_validation", "Mm. Yeah.", (SCRUBS, INSURANCE))
    assert with_story & {"fire", "paperwork"}
    assert not alone & {"fire", "paperwork"}


def test_the_last_turn_outweighs_the_earlier_ones() -> None:
    hospital = (
        "Since they discharged me from the ward I can't face anything at home, it's too much."
    )
    assert "hospital" in _tags("missed_validation", hospital, (INSURANCE,))
    limit = "I'm not ready to talk about what he did to me."
    assert "limit" in _tags("pressuring", limit, (INSURANCE, SCRUBS))


def test_the_pipeline_passes_the_earlier_peer_turns() -> None:
    utterances = [
        Utterance("peer", SCRUBS, 0.0, 4.0),
        Utterance("trainee", "That sounds so hard.", 4.8, 6.0),
        Utterance("peer", INSURANCE, 6.5, 10.0),
        Utterance("trainee", "Okay. Have you filed the claim forms yet?", 10.8, 13.0),
        Utterance("peer", CLOSING_UP, 13.5, 15.0),
        Utterance("trainee", "At least you got out okay. Things could be worse.", 15.8, 18.5),
    ]
    turns = judge(utterances, Classifier.load())
    last = turns[-1].judgement
    assert last is not None and "dismissive" in last.flags
    repairs = {a["text"] for a in BANK["dismissive"]["alternatives"] if "pulling back" in a["tags"]}
    assert last.suggestions["dismissive"] in repairs
    logistics = turns[3].judgement
    assert logistics is not None and "missed_validation" in logistics.flags
    fits = {
        a["text"]
        for a in BANK["missed_validation"]["alternatives"]
        if {"fire", "paperwork"} & set(a["tags"])
    }
    assert logistics.suggestions["missed_validation"] in fits


def test_two_flags_on_one_turn_get_two_different_replies() -> None:
    # Alone, both banks' best fit for a milestone is the same "you sound proud" reply.
    milestone = "I finished the whole training program today. I'm honestly really proud of myself."
    alone = {
        label: choose(BANK[label]["alternatives"], milestone)
        for label in ("missed_validation", "clinical_focus")
    }
    assert all(alone.values())
    assert same_reply(alone["missed_validation"]["text"], alone["clinical_focus"]["text"])  # type: ignore[index]
    clf = Classifier.load()
    judgement = clf.classify(milestone, "Great. How many meetings a week are you doing now?")
    assert {"missed_validation", "clinical_focus"} <= set(judgement.flags)
    replies = list(judgement.suggestions.values())
    assert len(replies) == len(judgement.flags)
    assert not any(same_reply(a, b) for i, a in enumerate(replies) for b in replies[i + 1 :])
    # The first flag keeps its best fit; the second takes its next-best instead of a repeat.
    assert judgement.suggestions["missed_validation"] == alone["missed_validation"]["text"]  # type: ignore[index]
    assert judgement.suggestions["clinical_focus"] != alone["clinical_focus"]["text"]  # type: ignore[index]
