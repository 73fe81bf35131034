"""Every supervision event survives the message codec (they cross process boundaries)."""

from __future__ import annotations

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from messages import codec
from messages import supervision as events

EVENT_CLASSES = [
    events.ChildStarted,
    events.ChildFailed,
    events.ChildRestartScheduled,
    events.ChildRestarted,
    events.ChildStopped,
    events.SupervisorEscalated,
    events.DeadLetter,
]

TEXT = st.text(max_size=40)
INTS = st.integers(min_value=0, max_value=2**63 - 1)


@settings(max_examples=150)
@given(st.data())
def test_supervision_events_roundtrip_through_the_codec(data: st.DataObject) -> None:
    cls = data.draw(st.sampled_from(EVENT_CLASSES))
    fields: dict[str, object] = {}
    for attribute in attrs.fields(cls):
        kind = attribute.type
        if kind in ("str", str):
            fields[attribute.name] = data.draw(TEXT)
        elif kind in ("bool", bool):
            fields[attribute.name] = data.draw(st.booleans())
        else:
            fields[attribute.name] = data.draw(INTS)
    event = cls(**fields)
    assert codec.decode(codec.encode(event)) == event


def test_every_supervision_event_class_is_registered_with_the_codec() -> None:
    registered = set(codec.message_classes())
    assert set(EVENT_CLASSES) <= registered
    defined = {
        value for value in vars(events).values()
        if isinstance(value, type) and value.__module__ == events.__name__
    }
    assert defined == set(EVENT_CLASSES)
