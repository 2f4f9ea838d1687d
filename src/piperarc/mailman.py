"""The name Mailman 3's configuration gives the archiver (`class: piperarc.mailman.Archiver`);
the archiver itself lives with the other ways mail arrives, in ingest/mailman.py."""

from piperarc.ingest.mailman import Archiver

__all__ = ["Archiver"]
