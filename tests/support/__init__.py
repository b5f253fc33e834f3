"""Test support: real services (PostgreSQL databases from a migrated template, redis-server
processes), a programmable feed server, and one harness for `ratecard` processes."""
