"""Reviewing recorded sessions: the HTML report (``voicecoach review``) and progress over time.

:mod:`voicecoach.review.report` reads a session and builds the report's view model,
:mod:`voicecoach.review.audio` prepares the waveform and the embedded audio,
:mod:`voicecoach.review.progress` summarises many sessions and
:mod:`voicecoach.review.command` holds the two sub-commands.
"""
