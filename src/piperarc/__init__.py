"""piperarc: a mailing-list archiver that keeps every message and never breaks a link."""

__version__ = "0.1.0"
