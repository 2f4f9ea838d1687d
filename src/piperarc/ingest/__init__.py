"""Ingest: the one write path, and every way mail arrives.

    deliver     parse once, dedupe, store in batches, rethread: the path every message takes
    placing     threading one new message live, reading only the threads it touches
    live        one message at a time (LMTP, watch, Mailman, `piperarc deliver`): store it,
                place it, then update the built site
    lmtp        the LMTP server (RFC 2033) a mail server hands list mail to
    watch       drains a Maildir (Mailman's spool, a procmail folder) as mail lands
    mailman     Mailman 3's archiver hook (public as piperarc.mailman.Archiver)
    sources/    readers of mbox files, Maildirs, single messages and stdin; the demo list
    oldarchive/ an old archive brought over (Pipermail, MHonArc, Hypermail): its mail, and
                every URL it served mapped to the message it showed

May import store, mail, the base, and site (to update the built site after storing).
Nothing that reads the archive (site, web, pages, render) imports ingest.
"""
