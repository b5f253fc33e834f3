"""Ingestion: feeds (one module per format), fetch, guard, store, refresh, run records,
backfill, held review and the bundled snapshot.

What a commit changed is handed to a hook the composition root wires to the change log; this
package never calls the change log itself.
"""
