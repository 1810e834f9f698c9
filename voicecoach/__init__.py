"""voicecoach: an offline voice role-play trainer for Certified Peer Specialists."""

__version__ = "0.1.0"
