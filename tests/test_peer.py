"""Tests of the simulated peer: persona files, the validator, the reaction engine, the CLI.

The engine's input is the classifier's TurnJudgement, so the tests build judgements directly.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from voicecoach.classify.labels import RISKS
from voicecoach.cli import main
from voicecoach.errors import InputError
from voicecoach.peer import (
    Peer,
    PeerReply,
    RulesError,
    ScenarioError,
    list_scenarios,
    load_rules,
    load_scenario,
    peer_lines,
)
from voicecoach.peer.engine import RULES_PATH
from voicecoach.peer.scenario import SCENARIOS_DIR, bundled_names
from voicecoach.types import TurnJudgement

NAMES = bundled_names()
SUPPORT = ("validation", "reflection", "open_question")


def judge(*labels: str) -> TurnJudgement:
    """A judgement whose flags/strengths are ``labels`` (probabilities 0.9)."""
    return TurnJudgement(
        labels={label: 0.9 for label in labels},
        flags=tuple(label for label in labels if label in RISKS),
        strengths=tuple(label for label in labels if label not in RISKS),
    )


def warm_up(peer: Peer, until_trust: float) -> None:
    """Sustained validation/reflection/open questions until trust reaches ``until_trust``."""
    i = 0
    while peer.state.trust < until_trust:
        peer.respond(judge(SUPPORT[i % 3]), "That makes sense.")
        i += 1
        assert i < 40


def session(name: str, seed: int, turns: int = 60) -> list[PeerReply]:
    """A varied session: mostly supportive turns with some risks, fixed by ``seed``."""
    peer = Peer(load_scenario(name), seed=seed)
    replies = [peer.opening()]
    plan = random.Random(1234)
    kinds = [
        ("validation",), ("reflection",), ("open_question",), ("empowerment",),
        ("trigger_care",), ("validation", "reflection"), (), ("missed_validation",),
        ("clinical_focus",), ("self_focus",), ("dismissive",), ("interruption",),
    ]  # fmt: skip
    weights = [6, 5, 5, 2, 2, 2, 3, 1, 1, 1, 1, 1]
    for _ in range(turns):
        labels = plan.choices(kinds, weights)[0]
        if peer.state.trust < 0.35:  # keep the session going: repair after harm
            labels = ("validation", "trigger_care")
        replies.append(peer.respond(judge(*labels), "How are you holding up with all that?"))
        assert not replies[-1].ended, f"{name}: ended at turn {len(replies) - 1}"
    return replies


# -- personas ---------------------------------------------------------------------------------


def test_every_bundled_scenario_loads_with_150_distinct_lines() -> None:
    scenarios = list_scenarios()
    assert len(scenarios) >= 6
    assert [s.name for s in scenarios] == NAMES
    for scenario in scenarios:
        lines = peer_lines(scenario)
        assert len(set(lines)) >= 150, scenario.name
        assert len(set(lines)) == len(lines)
        assert scenario.triggers and scenario.boundaries
        assert 80 <= scenario.voice.rate <= 300
        assert load_scenario(scenario.path) == scenario  # by path as well as by name


def test_unknown_name_lists_available_names() -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario("nobody")
    message = str(err.value)
    assert "nobody" in message and "dee" in message and "\n" not in message
    assert isinstance(err.value, InputError)


def _copy(tmp_path: Path, edit: Callable[[str], str]) -> Path:
    """Write dee.toml, changed by ``edit``, to ``tmp_path``."""
    path = tmp_path / "dee.toml"
    path.write_text(edit((SCENARIOS_DIR / "dee.toml").read_text(encoding="utf-8")))
    return path


def _drop_lines(text: str, key: str, keep: int) -> str:
    """Keep only the first ``keep`` lines of list ``key``."""
    start = text.index(f"\n{key} = [\n") + len(f"\n{key} = [\n")
    end = text.index("\n]", start)
    items = text[start:end].split("\n")
    return text[:start] + "\n".join(items[:keep]) + text[end:]


BROKEN = [
    ("toml syntax", lambda t: t.replace('name = "dee"', 'name = "dee'), r"line 1"),
    ("missing field", lambda t: t.replace('title = "Dee, 61', 'xtitle = "Dee, 61'), r"xtitle"),
    ("missing title", lambda t: re.sub(r"(?m)^title = .*$", "", t), r": title: missing"),
    ("wrong type", lambda t: t.replace("rate = 138", 'rate = "fast"'), r"voice\.rate: expected"),
    ("rate range", lambda t: t.replace("rate = 138", "rate = 400"), r"voice\.rate: 400 .*80-300"),
    ("variant", lambda t: t.replace('variant = "f4"', 'variant = "f9"'), r"voice\.variant: 'f9'"),
    ("empty list", lambda t: re.sub(r"(?m)^boundaries = .*$", "boundaries = []", t),
     r"limits\.boundaries: is empty"),
    ("few layer lines", lambda t: _drop_lines(t, "layer2", 4), r"lines\.layer2: 4 lines.*5"),
    ("few reactions", lambda t: _drop_lines(t, "quiet", 3), r"lines\.quiet: 3 lines.*4"),
    ("few openings", lambda t: _drop_lines(t, "opening", 1), r"lines\.opening: 1 lines.*2"),
    ("duplicate", lambda t: t.replace('"Huh.",', '"Uh-huh, sure.",'),
     r"lines\.quiet\[\d\]: repeats lines\.quiet\[0\]"),
    ("unknown list", lambda t: t.replace("\nquiet = [", "\nquite = ["), r"lines\.quite: unknown"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "edit", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_validator_gives_one_line_naming_file_and_field(
    tmp_path: Path, case: str, edit: Callable[[str], str], expected: str
) -> None:
    path = _copy(tmp_path, edit)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    message = str(err.value)
    assert "\n" not in message, case
    assert message.startswith(f"{path}: "), message
    assert re.search(expected, message), message


def test_toml_error_gives_line_and_column(tmp_path: Path) -> None:
    path = _copy(tmp_path, lambda t: t.replace("[voice]\n", "[voice]\nespeak =\n"))
    with pytest.raises(ScenarioError, match=r"not valid TOML: .*line \d+, column \d+"):
        load_scenario(path)


def test_name_must_match_file_name(tmp_path: Path) -> None:
    path = tmp_path / "deeish.toml"
    path.write_text((SCENARIOS_DIR / "dee.toml").read_text(encoding="utf-8"))
    with pytest.raises(ScenarioError, match=r"deeish\.toml: name: 'dee' does not match"):
        load_scenario(path)


def test_broken_rules_give_one_line(tmp_path: Path) -> None:
    text = RULES_PATH.read_text(encoding="utf-8")
    path = tmp_path / "rules.toml"
    path.write_text(text.replace("layer3 = 0.65", "layer3 = 0.3"))
    with pytest.raises(RulesError, match=r"rules\.toml: layers\.layer3: 0\.3 is below layer2"):
        load_rules(path)
    path.write_text(text.replace('reaction = "clinical"', 'reaction = "clinicall"'))
    with pytest.raises(RulesError, match=r"order\[3\]\.reaction: 'clinicall' is not one of"):
        load_rules(path)
    path.write_text(text.replace("[effects.self_focus]", "[effects.self_focused]"))
    with pytest.raises(RulesError, match=r"effects\.self_focus\.trust: missing"):
        load_rules(path)


# -- the engine -------------------------------------------------------------------------------


def test_same_judgement_in_a_different_state_gives_a_different_reply() -> None:
    scenario = load_scenario("dee")
    fresh, warm = Peer(scenario, seed=3), Peer(scenario, seed=3)
    warm_up(warm, 0.7)
    a = fresh.respond(judge("validation"), "Anyone would feel that way.")
    b = warm.respond(judge("validation"), "Anyone would feel that way.")
    assert a.layer in ("layer1", "layer2") and b.layer == "layer3"
    assert a.text != b.text
    # A turn with no labels: guarded while trust is low, neutral once it is high.
    assert Peer(scenario).respond(None, "Okay.").reaction == "guarded"
    assert warm.respond(None, "Okay.").reaction == "neutral"


def test_dismissive_run_lowers_trust_goes_quiet_and_ends() -> None:
    for warmth in (0.0, 0.6):
        peer = Peer(load_scenario("marcus"), seed=1)
        warm_up(peer, warmth)
        trusts, reactions = [peer.state.trust], []
        for _ in range(10):
            reply = peer.respond(judge("dismissive"), "You're overreacting.")
            reactions.append(reply.reaction)
            trusts.append(reply.state.trust)
            if reply.ended:
                break
        assert reactions[-1] == "ending" and peer.state.ended
        assert set(reactions[:-1]) <= {"dismissed", "quiet"} and reactions[:-1]
        assert trusts == sorted(trusts, reverse=True) and trusts[-1] < trusts[0]
        after = peer.respond(judge("validation"), "Sorry.")
        assert after.ended and after.text == "" and after.reaction == "ended"
        if warmth:
            assert "dismissed" in reactions
        else:
            assert reactions[0] == "quiet"  # trust fell below 0.2 at once


def test_sustained_support_opens_layers_in_order_and_breaks_through() -> None:
    for name in NAMES:
        peer = Peer(load_scenario(name), seed=5)
        peer.opening()
        layers: list[str] = []  # in the order each first appears
        reactions: list[str] = []
        for i in range(20):
            reply = peer.respond(judge(SUPPORT[i % 3]), "That sounds so hard.")
            reactions.append(reply.reaction)
            if reply.layer and reply.layer not in layers:
                layers.append(reply.layer)
                assert reply.state.open_layers[-1] == reply.layer
            if reply.reaction == "breakthrough":
                assert reply.state.trust >= 0.85 and "layer3" in layers
        assert layers == ["layer1", "layer2", "layer3", "layer4"], (name, layers)
        assert reactions.count("breakthrough") == 1 and peer.state.breakthrough, name
        assert set(reactions) <= {"disclosure", "breakthrough", "warming"}
        assert peer.closing().reaction == "closing"


def test_interruption_gives_pushback() -> None:
    peer = Peer(load_scenario("rosa"))
    by_flag = peer.respond(judge("interruption", "validation"), "Oh that's awful")
    by_kwarg = peer.respond(None, "wait", interrupted=True)
    assert by_flag.reaction == by_kwarg.reaction == "interrupted"
    assert {by_flag.text, by_kwarg.text} <= set(load_scenario("rosa").lines["interrupted"])
    assert by_kwarg.state.trust < by_flag.state.trust


def test_pressuring_after_a_boundary_gives_pressured_and_costs_more() -> None:
    scenario = load_scenario("dee")
    peer = Peer(scenario, seed=2)
    warm_up(peer, 0.6)
    before = peer.state.trust
    reply = peer.respond(judge("pressuring"), "You really should call your daughter.")
    assert reply.reaction == "pressured"
    assert "daughter" in reply.text  # the reply answers the boundary that was pushed
    assert before - reply.state.trust == pytest.approx(0.20)  # -0.15 plus -0.05 on a limit
    plain = Peer(scenario, seed=2)
    warm_up(plain, 0.6)
    other = plain.respond(judge("pressuring"), "Come on, tell me more, quickly.")
    assert other.reaction == "pressured"
    assert plain.state.trust > peer.state.trust
    again = peer.respond(judge("pressuring"), "Come on, tell me more, quickly.")
    assert again.reaction in ("pressured", "ending")
    assert peer.state.pushed_back >= 1


def test_other_risks_and_strengths_get_their_reactions() -> None:
    peer = Peer(load_scenario("andre"), seed=4)
    warm_up(peer, 0.5)
    expected = {
        "clinical_focus": "clinical",
        "self_focus": "self_focus",
        "missed_validation": "missed",
        "trigger_care": "checked_in",
        "empowerment": "empowered",
    }
    for label, reaction in expected.items():
        assert peer.respond(judge(label), "...").reaction == reaction


def test_high_distress_stops_disclosure_until_check_in() -> None:
    peer = Peer(load_scenario("kirsty"), seed=0)
    warm_up(peer, 0.6)
    while peer.state.distress < 0.85:
        peer.respond(judge("pressuring", "validation"), "come on, you need to tell me")
    assert peer.state.distress >= 0.85 and not peer.state.ended
    assert peer.respond(judge("validation"), "That makes sense").reaction == "guarded"
    assert peer.respond(judge("trigger_care"), "Shall we pause?").reaction == "checked_in"


@pytest.mark.parametrize("name", NAMES)
def test_no_line_repeats_in_a_60_turn_session(name: str) -> None:
    replies = session(name, seed=7)
    assert len(replies) == 61
    said = [line for reply in replies for line in reply.lines]
    assert len(said) == len(set(said))
    assert all(reply.text == " ".join(reply.lines) for reply in replies)
    every = set(peer_lines(load_scenario(name)))
    for reply in replies:
        for part, line in zip(reply.parts, reply.lines, strict=True):
            assert part == "generic" or line in every


def test_same_seed_same_session_different_seed_differs() -> None:
    a = [r.to_dict() for r in session("graham", seed=11, turns=30)]
    b = [r.to_dict() for r in session("graham", seed=11, turns=30)]
    c = [r.to_dict() for r in session("graham", seed=12, turns=30)]
    assert a == b
    assert [r["text"] for r in a] != [r["text"] for r in c]


def test_closing_is_cool_at_low_trust_and_ends() -> None:
    scenario = load_scenario("frank")
    peer = Peer(scenario)
    reply = peer.closing()
    assert reply.reaction == "ending" and reply.ended and reply.text in scenario.lines["ending"]
    assert peer.closing().text == ""


# -- the command ------------------------------------------------------------------------------


def test_scenarios_command_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenarios", "--format", "json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert len(items) >= 6
    for item in items:
        assert item["name"] and item["title"] and item["summary"]
        assert set(item["voice"]) == {"espeak", "variant", "rate"}
        assert item["triggers"] and item["boundaries"]


def test_scenarios_command_text_and_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in NAMES)
    bad = _copy(tmp_path, lambda t: t.replace("rate = 138", "rate = 20"))
    assert main(["scenarios", "--check", str(SCENARIOS_DIR / "dee.toml")]) == 0
    assert "ok (dee, 151 lines)" in capsys.readouterr().out
    assert main(["scenarios", "--check", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "voice.rate: 20 is outside" in err
