"""Leases, slot arithmetic, the coordinator loop and the instance registry.

Takes job callables; knows nothing of prices. Reusable by any Flask app.
"""
