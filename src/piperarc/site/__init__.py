"""The static site: every page written once to a folder any web server, CDN or file:// shows.

    build       the full build: every list's pages, downloads, feeds, then the search index
    update      the incremental update after new mail: only the pages the new messages touch

May import pages, feeds, render, store, mail and the base. Never imports ingest: readers
never write to the archive.
"""
