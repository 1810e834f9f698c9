"""Audio input: decoding files into 16 kHz float32 channel blocks."""

from voicecoach.audio.decode import (
    SAMPLE_RATE,
    AudioInfo,
    DecodeReport,
    probe,
    read_channels,
    stream_channels,
)

__all__ = [
    "SAMPLE_RATE",
    "AudioInfo",
    "DecodeReport",
    "probe",
    "read_channels",
    "stream_channels",
]
