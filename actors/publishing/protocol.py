"""The event replay protocol's names and frames, shared by the publisher and its subscribers.

Pure data and (de)serialisation (orjson only), so a subscriber imports nothing else of the
runtime. docs/events.md is the specification; in short:

* PUB: order events on ``orders.<venue>.<kind>`` (``data.event_sequence`` dense, from 1) and a
  heartbeat on ``sync.orders.<venue>`` every ``heartbeat_s`` and at every (re)bind.
* ROUTER beside it: request ``[b"", request JSON]`` → reply ``[b"", header JSON, topic, body,
  topic, body, ...]``; the reply holds every matching event with ``after < event_sequence <=
  through``.
"""

from __future__ import annotations

from typing import Any

import orjson

ORDER_PREFIX = "orders."
HEARTBEAT_PREFIX = "sync.orders."
HEARTBEAT_EVENT_TYPE = "heartbeat"

OP_SINCE = "since"
STATUS_OK = "ok"
STATUS_NOT_RETAINED = "not_retained"
STATUS_ERROR = "error"

DEFAULT_LIMIT = 1_000
MAX_LIMIT = 10_000


def heartbeat_topic(venue: str) -> str:
    return f"{HEARTBEAT_PREFIX}{venue}"


class ProtocolError(ValueError):
    """A request or reply that does not follow the protocol."""

    def __init__(self, message: str, request_id: object = None) -> None:
        super().__init__(message)
        self.request_id = request_id


def encode_request(request_id: int, after: int, *, limit: int = DEFAULT_LIMIT,
                   topics: tuple[str, ...] = ()) -> bytes:
    request: dict[str, Any] = {"op": OP_SINCE, "id": request_id, "after": after, "limit": limit}
    if topics:
        request["topics"] = list(topics)
    return orjson.dumps(request)


def _int(value: object, name: str, minimum: int, request_id: object) -> int:
    if type(value) is not int or value < minimum:
        raise ProtocolError(f"{name} must be an integer >= {minimum}, got {value!r}",
                            request_id)
    return value


def decode_request(data: bytes) -> tuple[object, int, int, tuple[str, ...]]:
    """(id, after, limit capped at MAX_LIMIT, topic prefixes) of a request.

    Raises `ProtocolError` (carrying the request's id when it has one).
    """
    try:
        request = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"the request is not JSON: {exc}") from None
    if not isinstance(request, dict):
        raise ProtocolError("the request must be a JSON object")
    request_id = request.get("id")
    if request.get("op") != OP_SINCE:
        raise ProtocolError(f"unknown op {request.get('op')!r} (expected {OP_SINCE!r})",
                            request_id)
    after = _int(request.get("after"), "after", 0, request_id)
    limit = min(_int(request.get("limit", DEFAULT_LIMIT), "limit", 0, request_id), MAX_LIMIT)
    topics = request.get("topics", [])
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise ProtocolError("topics must be a list of strings", request_id)
    return request_id, after, limit, tuple(topics)


def decode_header(data: bytes) -> dict[str, Any]:
    try:
        header = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"the reply header is not JSON: {exc}") from None
    if not isinstance(header, dict) or not isinstance(header.get("status"), str):
        raise ProtocolError("the reply header must be an object with a status")
    return header


def split_envelope(frames: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """(routing envelope up to and including the empty delimiter, the rest)."""
    for i, frame in enumerate(frames):
        if not frame:
            return frames[: i + 1], frames[i + 1:]
    raise ProtocolError("no empty delimiter frame (send [b'', request] from a DEALER)")
