"""Errors that the CLI turns into one clear line (what, where, how to fix) and an exit code."""

from __future__ import annotations


class VoicecoachError(Exception):
    """A problem the user can fix. ``str(err)`` is the one line shown to them."""


class ModelMissingError(VoicecoachError):
    """A model file or a library that loads it is not installed."""


class InputError(VoicecoachError):
    """An input file or value cannot be used."""
