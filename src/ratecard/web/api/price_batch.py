"""POST /api/cost/batch: many cost requests in one body, NDJSON or a JSON array.

NDJSON is read in chunks and priced as it arrives (on two cores for large bodies: see
`costing.cost_batch_child`), its results spooled and sent once the body is read.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import IO, Any

import orjson
from flask import Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from ratecard.costing.cost_batch import BatchPricer
from ratecard.costing.cost_batch_child import ndjson_on_two_cores
from ratecard.errors import UnsupportedMediaType, ValidationFailed
from ratecard.json_keys import refuse_key_given_twice
from ratecard.web.api.blueprint import cost_route, current_catalog, preferred_sources
from ratecard.web.api.price_request import COST_EXAMPLES, book_answer, model_resolver
from ratecard.web.request_parsing import parse_json
from ratecard.web.routes import RouteSpec
from ratecard.web.state import get_state


@cost_route(
    RouteSpec(
        "POST",
        "/api/cost/batch",
        "price_batch",
        "The cost of many requests in one body (NDJSON or a JSON array).",
        description="`application/x-ndjson` (one request a line; the answer is NDJSON, one "
        "result a non-blank line, in order) or a JSON array (the answer is an array). Each item "
        "is a POST /api/cost body; one that fails gets its own error object with its `line` "
        "(array item, from 1), `status` and `field`, and the others are priced. Bodies up to "
        "RATECARD_BATCH_MAX_BYTES (128 MiB by default).",
        body="CostBatchRequest",
        responses={
            200: "CostBatchOut",
            400: "ErrorOut",
            413: "ErrorOut",
            415: "ErrorOut",
            422: "ErrorOut",
            503: "ErrorOut",
        },
        body_example=list(COST_EXAMPLES.values()),
    )
)
def cost_batch() -> Response:
    mimetype = request.mimetype
    if mimetype not in ("application/json", "application/x-ndjson"):
        raise UnsupportedMediaType(
            "the body must be application/x-ndjson (one request a line) or application/json "
            "(an array of requests)",
            field="Content-Type",
        )
    snapshot = current_catalog()
    pricer = BatchPricer(model_resolver(snapshot), books=book_answer())
    if mimetype == "application/json":
        return _batch_array(pricer, _array_body())
    stream = request.stream
    chunks = iter(functools.partial(stream.read, _READ_CHUNK), b"")
    results: Iterator[bytes]
    if get_state().settings.batch_fork:
        # A large body is priced on two cores (a forked child, kept for the next batch of this
        # same catalog object); the model index is built here first, never in the child (see
        # ndjson_on_two_cores).
        # Deferred: the history reader brings SQLAlchemy, which the first ready answer of a
        # worker must not wait for.
        from ratecard.serving.prices_at import ForkedHistory

        history = ForkedHistory(snapshot, preferred_sources(), get_state().settings.database_url)
        results = ndjson_on_two_cores(
            pricer, chunks, prepare=lambda: snapshot.identity, catalog=snapshot, history=history
        )
    else:
        results = pricer.ndjson(chunks)
    spool = _spooled(results)
    from werkzeug.wsgi import wrap_file

    # The spool handed to the server whole: gunicorn sends it with sendfile(2) (no copy through
    # Python), its length known. Closed (its file removed) once sent, or when the client goes
    # away before the end: the server closes the wrapper, which closes the spool.
    response = Response(
        wrap_file(request.environ, spool, _READ_CHUNK),
        mimetype="application/x-ndjson",
        direct_passthrough=True,
    )
    response.content_length = spool.tell()
    spool.seek(0)
    return response


_READ_CHUNK = 1024 * 1024
# Results beyond this many bytes wait on disk, not in memory (see _spooled).
_SPOOL_IN_MEMORY = 8 * 1024 * 1024


def _array_body() -> bytes:
    """A JSON-array body, refused past RATECARD_BATCH_ARRAY_MAX_BYTES.

    An array is parsed whole, and its parsed items and answers take ~40 bytes of memory per
    byte of body: the 128 MiB a streamed NDJSON batch may have would be ~5 GB in one worker.
    """
    limit = get_state().settings.batch_array_max_bytes
    # Before the stream is first read: werkzeug then refuses a larger Content-Length at once
    # and stops a chunked body one byte past the limit.
    request.max_content_length = min(limit, request.max_content_length or limit)
    try:
        return request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise RequestEntityTooLarge(
            description=f"a JSON-array batch is limited to {request.max_content_length} bytes "
            "(it is parsed whole): send a larger batch as NDJSON (application/x-ndjson), which "
            "is streamed"
        ) from None


def _batch_array(pricer: Any, raw: bytes) -> Response:
    # The standard parser, as for a single request: it sees a key given twice (a 422 for the
    # whole body: which item it was in is not known). NDJSON, the fast path, checks per line.
    items = parse_json(raw)
    refuse_key_given_twice(raw)
    if not isinstance(items, list):
        raise ValidationFailed(
            "body: must be a JSON array of cost requests (or NDJSON, one a line)", field="body"
        )
    return Response(orjson.dumps(pricer.array(items)), mimetype="application/json")


def _spooled(results: Iterable[bytes]) -> IO[bytes]:
    """Price the whole NDJSON body as it arrives; return the results written (at their end).

    Not line for line: a client that sends its whole body before reading (http.client,
    requests, most scripts) would deadlock against a server already writing results, once both
    directions' socket buffers are full (a few MB). So results go to a spooled file (memory up
    to _SPOOL_IN_MEMORY, then disk) while the body is read in chunks, and the answer streams
    from it once the body is read; memory stays flat for any body size, and a body over the
    limit is still a clean 413 (nothing was sent yet).
    """
    import tempfile

    # Closed by the response once sent, or here if pricing fails: not a `with` block.
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
    try:
        for piece in results:
            spool.write(piece)
    except BaseException:
        spool.close()
        raise
    return spool
