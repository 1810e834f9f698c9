"""The simulated peer: personas (scenarios) and the engine that reacts like a person."""

from voicecoach.peer.engine import (
    Peer,
    PeerReply,
    PeerState,
    Rules,
    RulesError,
    load_rules,
)
from voicecoach.peer.scenario import (
    Scenario,
    ScenarioError,
    VoiceSpec,
    list_scenarios,
    load_scenario,
    peer_lines,
)

__all__ = [
    "Peer",
    "PeerReply",
    "PeerState",
    "Rules",
    "RulesError",
    "Scenario",
    "ScenarioError",
    "VoiceSpec",
    "list_scenarios",
    "load_rules",
    "load_scenario",
    "peer_lines",
]
