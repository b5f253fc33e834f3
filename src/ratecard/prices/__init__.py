"""The price catalog domain: feeds, fetch, guard, store, cache, refresh, cost (no Flask).

The HTTP API over it is the web adapter `ratecard.api`.
"""
