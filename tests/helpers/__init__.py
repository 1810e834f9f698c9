"""Generic test helpers: real speech from espeak-ng, audio file writers, word error rate."""
