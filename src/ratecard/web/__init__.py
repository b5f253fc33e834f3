"""The web edge: app state, blueprints, request parsing, errors, security, the OpenAPI document.

The only package that imports Flask. Everything below it (catalog, costing, ingest, serving,
changes, coordination, health) is plain Python, handed its parts by the composition root
(`ratecard.app`, `ratecard.background`).
"""
