"""The baseline for bench/startup.py: a bare Flask app answering the same probe paths and the
first request (a model's document, from a dict)."""

from flask import Flask, Response, jsonify

app = Flask(__name__)
MODEL = {"id": "gpt-4o", "source": "litellm", "prices": {"input": {"per_token": "0.0000025"}}}


@app.get("/health/ready")
def ready() -> str:
    return "ok"


@app.get("/health/startup")
def startup() -> str:
    return "ok"


@app.get("/api/models/<path:model_id>")
def model(model_id: str) -> Response:
    return jsonify(MODEL)
