"""The cost of a request: usage, the provider formats, the cost engine, single and batch requests.

Plain Python over `ratecard.catalog`, like it installable without the service: nothing of Flask,
SQLAlchemy, redis or httpx, nor of ingestion, coordination, changes or web.
"""
