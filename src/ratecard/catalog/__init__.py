"""The model of prices: the normalized record, exact money, the one codec, model identity.

Plain Python that a library install carries: it imports nothing of Flask, SQLAlchemy, redis,
httpx, nor any part of the service (ingestion, coordination, changes, web).
"""
