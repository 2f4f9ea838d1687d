"""Mail, pure: a message's raw bytes to values, and messages to threads. No I/O, no store.

    parse       raw bytes -> ParsedMessage: the fields every layer shows and indexes
    structure   raw bytes -> MailView: a message's parts, nested messages and files, for its page
    subjects    a subject's base ("Re: [list] x" -> "x"), for threading and sorting
    threads     JWZ threading of summaries (iterative: no recursion on user data)

May import only the base (errors, model, mid, ...); everything above reads mail through here.
"""
