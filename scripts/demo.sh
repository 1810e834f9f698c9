#!/usr/bin/env bash
# Set up voicecoach, then run the main job on bundled demo audio, with no microphone or
# speakers needed: a practice session with the simulated peer Rosa (a house-fire survivor)
# in which the trainee's side comes from assets/demo/trainee/ and the peer's voice is
# written to out/peer.wav; then the review of that session (terminal summary + HTML report).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
rm -rf out/demo-session
mkdir -p out
.venv/bin/voicecoach practice --scenario rosa --input-audio assets/demo/trainee \
  --output-audio out/peer.wav --session-dir out/demo-session --seed 1
.venv/bin/voicecoach review out/demo-session --html out/demo-report.html
echo "Peer voice: out/peer.wav   Session: out/demo-session/   Report: out/demo-report.html" >&2
