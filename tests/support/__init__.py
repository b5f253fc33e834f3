"""Test support: real services (PostgreSQL databases, redis-server processes, HTTP servers)."""
