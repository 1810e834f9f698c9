"""``python -m voicecoach`` runs the CLI."""

from voicecoach.cli import run

run()
