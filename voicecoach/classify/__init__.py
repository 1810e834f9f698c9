"""The coaching classifier: rubric labels for each trainee turn."""

from voicecoach.classify.labels import LABELS, RISKS, STRENGTHS, TEXT_LABELS
from voicecoach.classify.model import Classifier, Exchange
from voicecoach.classify.timing import utterance_complete

__all__ = [
    "LABELS",
    "RISKS",
    "STRENGTHS",
    "TEXT_LABELS",
    "Classifier",
    "Exchange",
    "utterance_complete",
]
