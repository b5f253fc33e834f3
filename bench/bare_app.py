"""The baseline for bench/startup.py: a bare Flask hello-world answering the same probe path."""

from flask import Flask

app = Flask(__name__)


@app.get("/health/ready")
def ready() -> str:
    return "ok"
