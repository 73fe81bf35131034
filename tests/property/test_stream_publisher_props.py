"""Publisher properties over arbitrary order events: per-topic sequences are 1..n without gaps,
every body is the seed body plus the epoch, and msgpack carries exactly the JSON content."""

from __future__ import annotations

from collections import defaultdict

import msgpack
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.publishing import PublisherConfig, PublisherCore
from messages import codec, orders
from messages.json_events import order_event_body, order_topic
from tests.strategies import for_message

EVENT_CLASSES = sorted(
    (c for c in codec.message_classes()
     if issubclass(c, orders.OrderEvent) and c is not orders.OrderEvent),
    key=lambda c: c.__name__,
)
events = st.lists(st.one_of(*(for_message(c) for c in EVENT_CLASSES)), max_size=12)


def test_every_order_event_class_is_covered() -> None:
    assert len(EVENT_CLASSES) >= 13
    assert orders.OrderFilled in EVENT_CLASSES


@settings(max_examples=60)
@given(events, st.integers(min_value=1, max_value=2**63 - 1))
def test_sequences_bodies_and_formats(batch: list[orders.OrderEvent], epoch: int) -> None:
    as_json = PublisherCore(PublisherConfig(), epoch=epoch)
    as_msgpack = PublisherCore(PublisherConfig(format="msgpack"), epoch=epoch)
    per_topic: dict[str, list[int]] = defaultdict(list)
    for event in batch:
        json_frames = as_json.encode(event)
        packed_frames = as_msgpack.encode(event)
        assert json_frames is not None
        assert packed_frames is not None
        topic = json_frames[0].decode()
        assert topic == order_topic(event)
        assert packed_frames[0] == json_frames[0]
        body = orjson.loads(json_frames[1])
        assert msgpack.unpackb(packed_frames[1]) == body
        assert body.pop("epoch") == epoch
        expected = orjson.loads(orjson.dumps(order_event_body(event, body["sequence"])))
        assert body == expected
        per_topic[topic].append(body["sequence"])
    for topic, sequences in per_topic.items():
        assert sequences == list(range(1, len(sequences) + 1))
        assert as_json.sequence(topic) == len(sequences)
    assert as_json.published == len(batch)
