"""WSGI entry point for gunicorn: `ratecard.wsgi:app` (loaded in each worker, after fork)."""

from ratecard.app import create_app

app = create_app()
