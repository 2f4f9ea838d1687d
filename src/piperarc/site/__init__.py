"""The static site: every page written once to a folder any web server, CDN or file:// shows.

    build       the full build: every list's pages, downloads, feeds, then the search index
    update      the incremental update after new mail: only the pages the new messages touch
    redirects   an old archive's URLs and HyperKitty's, as nginx, Apache and static-host maps
                and as pages at the old paths

May import pages, feeds, render, store, mail and the base. Never imports ingest: readers
never write to the archive.
"""
