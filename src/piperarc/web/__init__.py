"""The live server: an ASGI app serving the static build's pages from the database, plus
search, the JSON API and downloads. It never writes.

    app         the app: the route table, errors, lifespan, `serve`
    pages       HTML pages and feeds: homes, period views, messages, threads, mid/ redirects
    downloads   originals, attachments, mbox downloads of periods and threads
    search      the search page, its mbox download, the query language's help
    api         the JSON API (api/...) and the documents it answers with
    openapi     the OpenAPI document describing it
    http        HTTP plumbing: validators, security headers, download headers
    cache       the per-archive store handle and the rendered-page cache

May import pages, search, feeds, render, store, mail and the base. Never imports ingest.
"""
