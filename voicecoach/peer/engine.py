"""The simulated peer: a persona whose trust and distress move with every trainee turn.

The engine's input is the classifier's :class:`~voicecoach.types.TurnJudgement` for each
trainee turn; its output is the peer's next line. What each rubric label does, when layers
open, when the peer goes quiet, ends the conversation or reaches a breakthrough, and which
reaction wins, all live in ``assets/peer_rules.toml`` (see ``docs/peer.md``).

Lines are drawn with a seeded :class:`random.Random`: the same persona, rules, seed and
inputs always give the same session, and no line is said twice in a session.
"""

from __future__ import annotations

import random
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from voicecoach.classify.labels import LABELS, RISKS, STRENGTHS
from voicecoach.errors import InputError
from voicecoach.paths import ASSETS_DIR
from voicecoach.peer.scenario import LAYERS, REACTIONS, Scenario
from voicecoach.types import TurnJudgement

#: The bundled reaction rules.
RULES_PATH = ASSETS_DIR / "peer_rules.toml"

#: The ``[[order]]`` reaction that means "tell the next line from the open layers".
DISCLOSURE = "disclosure"
#: The reaction of a reply given after the conversation already ended (empty text).
ENDED = "ended"
#: Reaction lists the rules may name: every persona reaction list plus the opening.
_RULE_LISTS = ("opening", *REACTIONS)


class RulesError(InputError):
    """The reaction rules file is invalid; the message is one line naming file and field."""


@dataclass(frozen=True)
class Effect:
    """A change to trust and distress."""

    trust: float
    distress: float


@dataclass(frozen=True)
class OrderRule:
    """``reaction`` answers a turn that carries any of ``labels``."""

    labels: tuple[str, ...]
    reaction: str


@dataclass(frozen=True)
class Rules:
    """The reaction rules of ``assets/peer_rules.toml``, checked. Field names follow the file."""

    start: Effect
    effects: dict[str, Effect] = field(hash=False)
    max_trust_gain: float
    limit_labels: frozenset[str]
    limit_effect: Effect
    layer_thresholds: dict[str, float] = field(hash=False)
    lines_before_next: int
    layer_distress: dict[str, float] = field(hash=False)
    guarded_below_trust: float
    quiet_below_trust: float
    quiet_keep: frozenset[str]
    overwhelmed_distress: float
    end_trust_at_most: float
    end_harmful_in_a_row: int
    end_harmful_below_trust: float
    breakthrough_trust: float
    breakthrough_supportive_in_a_row: int
    breakthrough_after_layer: str
    closing_warm_trust: float
    order: tuple[OrderRule, ...]
    warming_before_layer: str
    fallback: dict[str, tuple[str, ...]] = field(hash=False)
    generic: tuple[str, ...]
    path: Path = field(compare=False)


@dataclass(frozen=True)
class PeerState:
    """Where the peer is after a turn.

    ``trust`` and ``distress`` are in 0..1. ``open_layers`` are the layers the peer would
    tell from now (shallowest first) and ``disclosed`` counts the lines told per layer
    (layer1..layer4). ``turn`` counts trainee turns answered; ``pushed_back`` counts the
    "pressured" replies so far (a limit the peer has named out loud).
    """

    trust: float
    distress: float
    open_layers: tuple[str, ...] = ()
    disclosed: tuple[int, ...] = (0, 0, 0, 0)
    turn: int = 0
    supportive_in_a_row: int = 0
    harmful_in_a_row: int = 0
    pushed_back: int = 0
    ended: bool = False
    breakthrough: bool = False

    @property
    def deepest_layer(self) -> str | None:
        """The deepest layer the peer has told a line from, or ``None``."""
        told = [layer for layer, n in zip(LAYERS, self.disclosed, strict=True) if n]
        return told[-1] if told else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "trust": round(self.trust, 4),
            "distress": round(self.distress, 4),
            "open_layers": list(self.open_layers),
            "disclosed": dict(zip(LAYERS, self.disclosed, strict=True)),
            "turn": self.turn,
            "supportive_in_a_row": self.supportive_in_a_row,
            "harmful_in_a_row": self.harmful_in_a_row,
            "pushed_back": self.pushed_back,
            "ended": self.ended,
            "breakthrough": self.breakthrough,
        }


@dataclass(frozen=True)
class PeerReply:
    """What the peer says back.

    ``reaction`` is why (a persona list name such as ``"dismissed"``, or ``"disclosure"``
    for a layer line, ``"opening"``, ``"ended"`` after the end); ``layer`` is the layer a
    disclosure came from; ``parts`` names the list each spoken line was drawn from (a
    fallback list when the reaction's own list was used up, ``"generic"`` for the rules'
    last-resort lines) and ``lines`` the spoken lines themselves (``text`` joins them).
    ``ended`` is true once the conversation is over.
    """

    text: str
    reaction: str
    layer: str | None
    state: PeerState
    ended: bool
    parts: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "reaction": self.reaction,
            "layer": self.layer,
            "parts": list(self.parts),
            "lines": list(self.lines),
            "ended": self.ended,
            "state": self.state.to_dict(),
        }


class Peer:
    """A persona in conversation: call :meth:`opening`, then :meth:`respond` per trainee turn,
    and :meth:`closing` when the trainee wraps up. ``seed`` makes the session repeatable."""

    def __init__(self, scenario: Scenario, rules: Rules | None = None, seed: int = 0) -> None:
        self.scenario = scenario
        self.rules = rules if rules is not None else load_rules()
        self.seed = seed
        self._rng = random.Random(seed)
        self._said: dict[str, int] = {}  # line -> when it was last said (count of lines)
        self._spoken = 0
        self._words: dict[str, frozenset[str]] = {}
        self._limit_words = frozenset().union(
            *(content_words(limit) for limit in scenario.triggers + scenario.boundaries)
        )
        start = PeerState(
            trust=_clamp(self.rules.start.trust), distress=_clamp(self.rules.start.distress)
        )
        self._state = replace(start, open_layers=self._open_layers(start))

    @property
    def state(self) -> PeerState:
        """The peer's state after the last reply."""
        return self._state

    def opening(self) -> PeerReply:
        """The peer's first words (state unchanged)."""
        if self._state.ended:
            return self._silent()
        text, part = self._say("opening", "")
        return PeerReply(text, "opening", None, self._state, False, (part,), (text,))

    def respond(
        self, judgement: TurnJudgement | None, trainee_text: str, *, interrupted: bool = False
    ) -> PeerReply:
        """Update the state from one judged trainee turn and say the peer's reply.

        ``judgement`` may be ``None`` (no labels). ``interrupted`` (or ``"interruption"`` in
        ``judgement.flags``) means the trainee cut in. After the conversation ended this
        returns an empty reply with reaction ``"ended"``.
        """
        rules, before = self.rules, self._state
        if before.ended:
            return self._silent()
        flags = set(judgement.flags) if judgement else set()
        if interrupted:
            flags.add("interruption")
        risks = flags & set(RISKS) & rules.effects.keys()
        strengths = (set(judgement.strengths) if judgement else set()) & set(STRENGTHS)
        strengths &= rules.effects.keys()
        labels = risks | strengths

        ordered = sorted(labels)  # a fixed order keeps float sums identical across runs
        gain = sum(rules.effects[label].trust for label in ordered)
        stir = sum(rules.effects[label].distress for label in ordered)
        if labels & rules.limit_labels and (
            before.pushed_back or self._limit_words & content_words(trainee_text)
        ):
            gain += rules.limit_effect.trust
            stir += rules.limit_effect.distress
        supportive, harmful = bool(strengths) and not risks, bool(risks)
        state = replace(
            before,
            trust=_clamp(before.trust + min(gain, rules.max_trust_gain)),
            distress=_clamp(before.distress + stir),
            turn=before.turn + 1,
            supportive_in_a_row=before.supportive_in_a_row + 1 if supportive else 0,
            harmful_in_a_row=before.harmful_in_a_row + 1 if harmful else 0,
        )
        state = replace(state, open_layers=self._open_layers(state))
        reaction = self._reaction(state, labels, supportive)
        if reaction == DISCLOSURE:
            return self._disclose(state, trainee_text)
        text, part = self._say(reaction, trainee_text)
        state = replace(
            state,
            ended=state.ended or reaction == "ending",
            breakthrough=state.breakthrough or reaction == "breakthrough",
            pushed_back=state.pushed_back + (reaction == "pressured"),
        )
        self._state = state
        return PeerReply(text, reaction, None, state, state.ended, (part,), (text,))

    def closing(self) -> PeerReply:
        """The peer's goodbye when the trainee wraps up: warm ("closing") if trust allows,
        else cool ("ending"). The conversation is over afterwards."""
        if self._state.ended:
            return self._silent()
        warm = self._state.trust >= self.rules.closing_warm_trust
        reaction = "closing" if warm else "ending"
        text, part = self._say(reaction, "")
        self._state = replace(self._state, ended=True)
        return PeerReply(text, reaction, None, self._state, True, (part,), (text,))

    # -- choosing --------------------------------------------------------------------------

    def _reaction(self, state: PeerState, labels: set[str], supportive: bool) -> str:
        rules = self.rules
        if state.trust <= rules.end_trust_at_most or (
            state.harmful_in_a_row >= rules.end_harmful_in_a_row
            and state.trust < rules.end_harmful_below_trust
        ):
            return "ending"
        after = LAYERS.index(rules.breakthrough_after_layer)
        if (
            supportive
            and not state.breakthrough
            and state.trust >= rules.breakthrough_trust
            and state.supportive_in_a_row >= rules.breakthrough_supportive_in_a_row
            and state.disclosed[after] > 0
        ):
            return "breakthrough"
        reaction = next(
            (rule.reaction for rule in rules.order if labels & set(rule.labels)),
            "guarded" if state.trust < rules.guarded_below_trust else "neutral",
        )
        if state.trust < rules.quiet_below_trust and reaction not in rules.quiet_keep:
            return "quiet"
        if reaction == DISCLOSURE and state.distress >= rules.overwhelmed_distress:
            return "guarded"
        return reaction

    def _open_layers(self, state: PeerState) -> tuple[str, ...]:
        rules, lines = self.rules, self.scenario.lines
        opened: list[str] = []
        for i, layer in enumerate(LAYERS):
            if state.trust < rules.layer_thresholds[layer]:
                break
            if i:
                above = LAYERS[i - 1]
                done = state.disclosed[i - 1] >= min(rules.lines_before_next, len(lines[above]))
                if above not in opened or not done:
                    break
            opened.append(layer)
        return tuple(opened)

    def _disclose(self, state: PeerState, trainee_text: str) -> PeerReply:
        rules, lines = self.rules, self.scenario.lines
        for layer in reversed(state.open_layers):
            fresh = [line for line in lines[layer] if line not in self._said]
            if not fresh:
                continue
            i = LAYERS.index(layer)
            texts, parts = [], []
            if state.disclosed[i] == 0 and i >= LAYERS.index(rules.warming_before_layer):
                lead = [line for line in lines["warming"] if line not in self._said]
                if lead:
                    texts.append(self._remember(self._choose(lead, trainee_text)))
                    parts.append("warming")
            texts.append(self._remember(self._choose(fresh, trainee_text)))
            parts.append(layer)
            disclosed = list(state.disclosed)
            disclosed[i] += 1
            state = replace(
                state,
                disclosed=tuple(disclosed),
                distress=_clamp(state.distress + rules.layer_distress[layer]),
            )
            self._state = state = replace(state, open_layers=self._open_layers(state))
            text = " ".join(texts)
            return PeerReply(text, DISCLOSURE, layer, state, False, tuple(parts), tuple(texts))
        text, part = self._say(DISCLOSURE, trainee_text)  # every open layer is used up
        self._state = state
        return PeerReply(text, "warming", None, state, False, (part,), (text,))

    def _say(self, reaction: str, trainee_text: str) -> tuple[str, str]:
        """A line for ``reaction`` (its own list, then its fallback chain, then generic)."""
        own = () if reaction == DISCLOSURE else (reaction,)
        chain = (*own, *self.rules.fallback.get(reaction, ()), "generic")
        for name in chain:
            pool = self.rules.generic if name == "generic" else self.scenario.lines[name]
            fresh = [line for line in pool if line not in self._said]
            if fresh:
                return self._remember(self._choose(fresh, trainee_text)), name
        # Everything is used up: reuse the line of the first list that was said longest ago.
        name = chain[0]
        pool = self.rules.generic if name == "generic" else self.scenario.lines[name]
        return self._remember(min(pool, key=lambda line: self._said[line])), name

    def _choose(self, candidates: list[str], trainee_text: str) -> str:
        """A random candidate, preferring those sharing the most content words with the
        trainee's words (so "call your daughter" draws "Don't call my daughter")."""
        heard = content_words(trainee_text)
        if heard:
            scores = [len(heard & self._content(line)) for line in candidates]
            best = max(scores)
            if best:
                candidates = [c for c, s in zip(candidates, scores, strict=True) if s == best]
        return self._rng.choice(candidates)

    def _content(self, line: str) -> frozenset[str]:
        if line not in self._words:
            self._words[line] = content_words(line)
        return self._words[line]

    def _remember(self, line: str) -> str:
        self._spoken += 1
        self._said[line] = self._spoken
        return line

    def _silent(self) -> PeerReply:
        return PeerReply("", ENDED, None, self._state, True, ())


# -- words -----------------------------------------------------------------------------------

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_STOP_WORDS = """
    about above after again against also always another anyone anything around asked away back
    because been before being better called cannot come could describe detail details didn't
    discuss does doesn't doing done don't down each enough even ever every everyone everything
    feel feeling feels from getting give going gonna good have having here hers herself him
    himself into it's just know like little look made make many maybe more most much must
    myself need never nothing okay only other over people person really right said same should
    some someone something sometimes sound sounds specific still such sure take talk talked
    talking tell telling than that that's their them then there these they thing things think
    this those though through time told very want wanted wants well went were what what's
    when where which while will with won't would yeah your you're you've yourself i'm i've
    i'd i'll he's she's let's can't
"""
_STOP = frozenset(_STOP_WORDS.split())


def content_words(text: str) -> frozenset[str]:
    """The meaningful words of ``text``, lowercased and crudely stemmed ("parks" -> "park")."""
    words = set()
    for word in _WORD.findall(text.lower().replace("\u2019", "'")):
        if len(word) < 4 or word in _STOP:
            continue
        for suffix in ("ing", "ed", "es", "s"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 4:
                word = word[: -len(suffix)]
                break
        words.add(word)
    return frozenset(words)


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, round(value, 6)))


# -- rules -----------------------------------------------------------------------------------


def load_rules(path: str | Path | None = None) -> Rules:
    """Read and check the reaction rules (default: the bundled ``assets/peer_rules.toml``).

    Raises :class:`RulesError` (one line: file, field, problem) for an invalid file.
    """
    path = Path(path) if path is not None else RULES_PATH
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RulesError(f"{path}: no such file") from None
    except OSError as err:
        raise RulesError(f"{path}: cannot read ({err.strerror})") from None
    except UnicodeDecodeError as err:
        raise RulesError(f"{path}: not UTF-8 text (byte {err.start})") from None
    except tomllib.TOMLDecodeError as err:
        raise RulesError(f"{path}: not valid TOML: {' '.join(str(err).split())}") from None
    return parse_rules(data, path)


def parse_rules(data: dict[str, Any], path: Path) -> Rules:
    """Check parsed rules field by field and build :class:`Rules`."""
    c = _RulesChecker(path, data)
    effects = {label: c.effect(f"effects.{label}") for label in LABELS}
    c.known("effects", LABELS)
    limit_labels = c.labels("limits.labels")
    thresholds = {layer: c.number(f"layers.{layer}", 0.0, 1.0) for layer in LAYERS}
    for shallow, deep in zip(LAYERS, LAYERS[1:], strict=False):
        if thresholds[deep] < thresholds[shallow]:
            c.fail(
                f"layers.{deep}", f"{thresholds[deep]} is below {shallow} ({thresholds[shallow]})"
            )
    order = []
    rows = c.get("order")
    if not isinstance(rows, list) or not rows:
        c.fail("order", "expected one or more [[order]] rules")
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            c.fail(f"order[{i}]", "expected a table with labels and reaction")
        order.append(
            OrderRule(
                c.labels(f"order[{i}].labels", row.get("labels")),
                c.choice(f"order[{i}].reaction", (*REACTIONS, DISCLOSURE), row.get("reaction")),
            )
        )
    fallback_table = c.get("fallback")
    if not isinstance(fallback_table, dict):
        c.fail("fallback", "expected a [fallback] table")
    c.known("fallback", (*_RULE_LISTS, DISCLOSURE))
    fallback = {
        key: tuple(
            c.choice(f"fallback.{key}[{j}]", REACTIONS, name)
            for j, name in enumerate(c.names(f"fallback.{key}"))
        )
        for key in fallback_table
    }
    generic = c.texts("generic.lines")
    return Rules(
        start=Effect(c.number("start.trust", 0.0, 1.0), c.number("start.distress", 0.0, 1.0)),
        effects=effects,
        max_trust_gain=c.number("turn.max_trust_gain", 0.0, 1.0),
        limit_labels=frozenset(limit_labels),
        limit_effect=c.effect("limits"),
        layer_thresholds=thresholds,
        lines_before_next=c.count("layers.lines_before_next"),
        layer_distress={layer: c.number(f"layers.distress.{layer}", -1.0, 1.0) for layer in LAYERS},
        guarded_below_trust=c.number("guarded.below_trust", 0.0, 1.0),
        quiet_below_trust=c.number("quiet.below_trust", 0.0, 1.0),
        quiet_keep=frozenset(
            c.choice(f"quiet.keep[{j}]", (*REACTIONS, DISCLOSURE), name)
            for j, name in enumerate(c.names("quiet.keep"))
        ),
        overwhelmed_distress=c.number("overwhelmed.distress_at_least", 0.0, 1.0),
        end_trust_at_most=c.number("ending.trust_at_most", 0.0, 1.0),
        end_harmful_in_a_row=c.count("ending.harmful_in_a_row"),
        end_harmful_below_trust=c.number("ending.harmful_below_trust", 0.0, 1.0),
        breakthrough_trust=c.number("breakthrough.trust_at_least", 0.0, 1.0),
        breakthrough_supportive_in_a_row=c.count("breakthrough.supportive_in_a_row"),
        breakthrough_after_layer=c.choice("breakthrough.after_layer", LAYERS),
        closing_warm_trust=c.number("closing.warm_trust_at_least", 0.0, 1.0),
        order=tuple(order),
        warming_before_layer=c.choice("continue.warming_before_layer", LAYERS),
        fallback=fallback,
        generic=generic,
        path=path,
    )


_MISSING = object()


class _RulesChecker:
    """Field checks that raise one-line :class:`RulesError` messages for one rules file."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path, self.data = path, data

    def fail(self, where: str, problem: str) -> None:
        raise RulesError(f"{self.path}: {where}: {problem}")

    def get(self, where: str) -> Any:
        node: Any = self.data
        for key in where.split("."):
            if not isinstance(node, dict) or key not in node:
                self.fail(where, "missing")
            node = node[key]
        return node

    def known(self, where: str, allowed: tuple[str, ...]) -> None:
        for key in self.get(where):
            if key not in allowed:
                self.fail(f"{where}.{key}", f"unknown (expected one of: {', '.join(allowed)})")

    def number(self, where: str, lo: float, hi: float) -> float:
        value = self.get(where)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(where, f"expected a number, got {value!r}")
        if not lo <= value <= hi:
            self.fail(where, f"{value} is outside {lo}..{hi}")
        return float(value)

    def count(self, where: str) -> int:
        value = self.get(where)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.fail(where, f"expected a whole number of 1 or more, got {value!r}")
        return value

    def effect(self, where: str) -> Effect:
        return Effect(
            self.number(f"{where}.trust", -1.0, 1.0), self.number(f"{where}.distress", -1.0, 1.0)
        )

    def names(self, where: str, value: Any = _MISSING) -> list[str]:
        value = self.get(where) if value is _MISSING else value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(where, f"expected a list of names, got {value!r}")
        return value

    def labels(self, where: str, value: Any = _MISSING) -> tuple[str, ...]:
        names = self.names(where, value)
        if not names:
            self.fail(where, "is empty (name at least one rubric label)")
        for j, name in enumerate(names):
            self.choice(f"{where}[{j}]", LABELS, name)
        return tuple(names)

    def choice(self, where: str, allowed: tuple[str, ...], value: Any = _MISSING) -> str:
        value = self.get(where) if value is _MISSING else value
        if value not in allowed:
            self.fail(where, f"{value!r} is not one of: {', '.join(allowed)}")
        return value

    def texts(self, where: str) -> tuple[str, ...]:
        value = self.get(where)
        if not isinstance(value, list) or not value:
            self.fail(where, "expected a non-empty list of lines")
        seen: set[str] = set()
        for j, line in enumerate(value):
            if not isinstance(line, str) or not line.strip():
                self.fail(f"{where}[{j}]", f"expected a line of text, got {line!r}")
            if line.strip().lower() in seen:
                self.fail(f"{where}[{j}]", f"repeats {line!r}; every line must differ")
            seen.add(line.strip().lower())
        return tuple(line.strip() for line in value)
