"""Old archives brought over: the mail another archiver kept, and every URL it served.

    importing   `piperarc import --from KIND DIR`: the mail (raw, or the old archive's own
                copies, noted as such), then every old page matched and its URL recorded
    matching    which stored message each old page shows (Message-ID, else what it shows:
                date, author, subject; never a guess between two)
    pipermail   a Pipermail (Mailman 2) folder: article pages, the database's Message-IDs,
                the reply links, period views, the .txt/.txt.gz text archives
    mhonarc     MHonArc's output: msgNNNNN.html and its X-Message-Id comments
    hypermail   Hypermail's output: NNNN.html and its id comments
    found       the plain values the readers fill in

The readers only read the old folder; importing writes through deliver, the one write path.
"""
