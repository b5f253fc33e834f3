"""POST /api/cost: the exact cost of one request, in any of its three forms.

The cost engine and the request parser load on the first such request, not at start-up.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Response, jsonify

from ratecard.catalog.snapshot import CatalogSnapshot
from ratecard.costing.cost_requests import BookAnswer, answer_cost, parse_cost_request
from ratecard.web.api.blueprint import (
    EXAMPLE_MODEL,
    MODEL_ERRORS,
    cost_route,
    current_catalog,
    preferred_sources,
)
from ratecard.web.auth import book_access
from ratecard.web.request_parsing import read_json_body
from ratecard.web.routes import RouteSpec
from ratecard.web.state import database_call, get_state

if TYPE_CHECKING:
    from ratecard.costing.cost_requests import Resolver

# Deferred: the history reader and the book store (SQLAlchemy) load with the first request
# that needs them.


# One example per form: flat counts, an Anthropic usage block, a real OpenAI chat response.
COST_EXAMPLES: dict[str, dict[str, Any]] = {
    "flat counts": {
        "model": EXAMPLE_MODEL,
        "input_tokens": 1000,
        "cache_read_tokens": 200,
        "output_tokens": 500,
    },
    "usage block (Anthropic)": {
        "model": "claude-sonnet-4-5",
        "format": "anthropic",
        "usage": {
            "input_tokens": 2095,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 1800,
            "output_tokens": 503,
            "service_tier": "standard",
        },
    },
    "whole response (OpenAI chat)": {
        "response": {
            "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
            "object": "chat.completion",
            "created": 1741570283,
            "model": "gpt-4o-2024-08-06",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hello!", "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": 1117,
                "completion_tokens": 46,
                "total_tokens": 1163,
                "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": "fp_fc9f1d7035",
        }
    },
}


@cost_route(
    RouteSpec(
        "POST",
        "/api/cost",
        "price_request",
        "The exact cost of one request, from counts, a usage block or a whole response.",
        description="From flat counts, a provider's usage block or its whole response, now or "
        "with the prices in force at `at`: every component's quantity, unit, price and cost. "
        "`model` is resolved as GET /api/models/{model_id} resolves it; a price the request "
        "needs and the model lacks is a 422 naming it (`field`, `price`).",
        body="CostRequest",
        responses={
            200: "CostOut",
            400: "ErrorOut",
            413: "ErrorOut",
            415: "ErrorOut",
            **MODEL_ERRORS,
        },
        body_examples=COST_EXAMPLES,
    )
)
def cost() -> Response:
    # The request is read (unknown keys named in the words a batch line and the in-process
    # client use) before the body's second parse, which looks for a key given twice.
    request_ = read_json_body(None, parse_cost_request)[1]
    model = model_resolver(current_catalog())(request_.model, request_.source, request_.at)
    if request_.price_book is not None:
        return jsonify(book_answer()(request_, model, datetime.now(UTC)))
    return jsonify(answer_cost(request_, model))


def book_answer() -> BookAnswer:
    """Price requests that name a price book with this HTTP request's credentials."""
    from ratecard.serving.book_store import book_answerer

    max_chain = get_state().settings.price_book_max_chain
    return book_answerer(database_call, book_access(), max_chain)


def model_resolver(snapshot: CatalogSnapshot) -> Resolver:
    """Resolve cost requests' models against `snapshot`, with `at` from the price history."""
    from ratecard.serving.prices_at import history_resolver

    return history_resolver(snapshot, preferred_sources(), database_call)
