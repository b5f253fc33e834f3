"""The catalog as the fleet serves it: database reads, the version published in Redis, and the
in-process cache keyed by that version."""
