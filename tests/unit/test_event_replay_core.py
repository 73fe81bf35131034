"""The subscriber's merge rules one by one, and the replay server's answers (no sockets)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from actors.publishing.protocol import ProtocolError, decode_request, encode_request
from actors.publishing.replay import ReplayServer
from actors.publishing.subscriber_core import Notice, ReceivedEvent, SubscriberCore
from messages import codec
from messages.enums import OrderSide, OrderState, OrderType
from messages.ids import ClientOrderId
from messages.orders import OrderAccepted, OrderSubmitted
from supervision.eventlog import EventLog, EventLogReader

FILLED = "orders.hyperliquid.filled"


def ev(seq: int, topic: str = FILLED) -> ReceivedEvent:
    return ReceivedEvent(topic=topic, body={"data": {"event_sequence": seq}}, sequence=seq)


def core(after: int | None = 0, replay: bool = True) -> tuple[SubscriberCore, list[Notice]]:
    notices: list[Notice] = []
    c = SubscriberCore(after=after, replay=replay, on_notice=notices.append)
    return c, notices


def seqs(c: SubscriberCore) -> list[int | None]:
    out = [e.sequence for e in c.ready]
    c.ready.clear()
    return out


def test_start_up_catch_up_then_live_in_order() -> None:
    c, _ = core(after=0)
    assert c.needs_replay()  # the Clone pattern: ask for everything after `after` first
    c.on_live(ev(3), True, 1)  # live meanwhile: held
    assert seqs(c) == []
    c.on_reply(after=0, through=3, events=[ev(1), ev(2), ev(3)], last_sequence=3)
    assert seqs(c) == [1, 2, 3]
    assert (c.stats.replayed, c.stats.duplicates, c.covered) == (3, 1, 3)
    c.on_live(ev(4), True, 1)
    assert seqs(c) == [4]
    assert not c.needs_replay()
    assert c.stats.gaps_filled == 0  # a start-up catch-up is not a gap


def test_a_live_jump_is_a_gap_filled_before_what_follows() -> None:
    c, _ = core(after=None)
    c.on_live(ev(10), True, 1)
    assert seqs(c) == [10]
    c.on_live(ev(13), True, 1)
    c.on_live(ev(14), True, 1)
    assert seqs(c) == []
    assert c.needs_replay()
    c.on_reply(after=10, through=12, events=[ev(11), ev(12)], last_sequence=14)
    assert seqs(c) == [11, 12, 13, 14]
    assert c.stats.gaps_filled == 1
    assert (c.stats.live, c.stats.replayed) == (3, 2)


def test_a_filtered_reply_covers_its_whole_range() -> None:
    c, _ = core(after=None)
    c.on_live(ev(1), True, 1)
    c.on_live(ev(2, "orders.hyperliquid.created"), False, 1)  # not wanted: advances only
    c.on_live(ev(6), True, 1)
    c.on_reply(after=2, through=5, events=[ev(4)], last_sequence=6)  # 3 and 5 did not match
    assert seqs(c) == [1, 4, 6]
    assert c.covered == 6


def test_a_reply_limited_below_the_gap_asks_again() -> None:
    c, _ = core(after=None)
    c.on_live(ev(1), True, 1)
    c.on_live(ev(5), True, 1)
    c.on_reply(after=1, through=2, events=[ev(2)], last_sequence=5)
    assert seqs(c) == [1, 2]
    assert c.needs_replay()
    c.on_reply(after=2, through=4, events=[ev(3), ev(4)], last_sequence=5)
    assert seqs(c) == [3, 4, 5]


def test_heartbeat_last_sequence_above_covered_is_certain_loss() -> None:
    c, _ = core(after=None)
    c.on_live(ev(1), True, 1)
    c.on_heartbeat(epoch=1, last_sequence=3, log_sequence=3, replay=True)
    assert c.needs_replay()  # at once: the heartbeat came after 2 and 3 on the same pipe


def test_log_sequence_ahead_for_a_whole_period_is_a_loss() -> None:
    c, _ = core(after=None)
    c.on_live(ev(1), True, 1)
    c.on_heartbeat(epoch=1, last_sequence=1, log_sequence=2, replay=True)
    assert not c.needs_replay()  # 2 may still be on its way to the publisher
    c.on_heartbeat(epoch=1, last_sequence=1, log_sequence=2, replay=True)
    assert c.needs_replay()
    c.on_reply(after=1, through=2, events=[ev(2)], last_sequence=2)
    assert seqs(c) == [1, 2]
    assert c.stats.gaps_filled == 1


def test_a_new_epoch_catches_up_to_the_end_of_the_log() -> None:
    c, notices = core(after=None)
    c.on_live(ev(1), True, 1)
    c.on_heartbeat(epoch=2, last_sequence=0, log_sequence=1, replay=True)
    assert [n.kind for n in notices] == ["epoch"]
    assert c.needs_replay()
    c.on_reply(after=1, through=3, events=[ev(2), ev(3)], last_sequence=3)
    assert seqs(c) == [1, 2, 3]
    assert not c.needs_replay()
    assert c.stats.epochs == 2


def test_not_retained_reports_exactly_the_holes() -> None:
    c, notices = core(after=0)
    c.on_live(ev(7), True, 1)  # held until the range below it is settled
    c.on_not_retained(first_sequence=6, last_sequence=9)
    assert [(n.kind, n.first, n.last) for n in notices] == [("unfillable", 1, 5)]
    assert c.stats.unfillable_events == 5
    assert c.needs_replay()  # 6 is still missing
    c.on_reply(after=5, through=9, events=[ev(6), ev(7), ev(8), ev(9)], last_sequence=9)
    assert seqs(c) == [6, 7, 8, 9]
    assert c.stats.duplicates == 1


def test_replay_off_reports_a_gap_at_once() -> None:
    c, notices = core(after=None, replay=False)
    c.on_live(ev(1), True, 1)
    c.on_live(ev(4), True, 1)
    assert seqs(c) == [1, 4]
    assert [(n.first, n.last) for n in notices] == [(2, 3)]
    assert not c.needs_replay()


def test_a_publisher_without_replay_makes_gaps_unfillable() -> None:
    c, notices = core(after=None)
    c.on_heartbeat(epoch=1, last_sequence=5, log_sequence=None, replay=False)
    c.on_live(ev(8), True, 1)
    assert seqs(c) == [8]
    assert [(n.first, n.last) for n in notices] == [(6, 7)]


def test_giving_up_releases_what_arrived_live() -> None:
    c, notices = core(after=None)
    c.on_live(ev(1), True, 1)
    c.on_live(ev(3), True, 1)
    c.on_live(ev(5), True, 1)
    c.give_up("no answer")
    assert seqs(c) == [1, 3, 5]
    assert [(n.first, n.last) for n in notices] == [(2, 2), (4, 4)]
    assert "no answer" in notices[0].text


def test_from_now_anchors_on_the_first_heartbeat() -> None:
    c, _ = core(after=None)
    assert not c.needs_replay()
    c.on_heartbeat(epoch=1, last_sequence=40, log_sequence=42, replay=True)
    assert c.covered == 40
    c.on_live(ev(41), True, 1)
    assert seqs(c) == [41]


def test_bad_after() -> None:
    with pytest.raises(ValueError, match="after"):
        core(after=-1)


def order(seq: int, accepted: bool) -> OrderSubmitted | OrderAccepted:
    kind = OrderAccepted if accepted else OrderSubmitted
    return kind(client_order_id=ClientOrderId.from_int(seq), exchange_order_id=None,
                trading_pair="ETH-USD", side=OrderSide.SELL, order_type=OrderType.LIMIT,
                price=Decimal("1891.4"), amount=Decimal("0.02"), filled_amount=Decimal(0),
                order_state=OrderState.OPEN if accepted else OrderState.SUBMITTED,
                strategy_id="mm", sequence=seq, ts_event=seq, ts_init=seq)


def test_the_replay_server_answers(tmp_path: Path) -> None:
    log = EventLog.open(tmp_path)
    for seq in range(1, 11):
        log.append(seq, codec.encode(order(seq, accepted=seq % 2 == 0)))
    log.append(11, b"not msgpack")
    log.append(12, codec.encode(order(99, accepted=True)))  # sequence mismatch
    server = ReplayServer(EventLogReader(tmp_path), venue="hyperliquid", epoch=5, format="json")
    header, *pairs = server.answer(encode_request(1, 0, limit=4,
                                                  topics=("orders.hyperliquid.created",)))
    head = orjson.loads(header)
    assert (head["status"], head["through"], head["count"], head["last_sequence"]) == (
        "ok", 4, 2, 12)
    assert pairs[0] == b"orders.hyperliquid.created"
    body = orjson.loads(pairs[1])
    assert (body["sequence"], body["epoch"], body["replayed"]) == (None, 5, True)
    assert body["data"]["event_sequence"] == 2
    header, *pairs = server.answer(encode_request(2, 8))
    assert orjson.loads(header)["through"] == 12
    assert len(pairs) == 4  # 9 and 10; 11 and 12 are skipped and counted
    assert server.undecodable == 2
    bad = orjson.loads(server.answer(b"[]")[0])
    assert (bad["status"], bad["id"]) == ("error", None)
    assert "object" in bad["error"]
    bad = orjson.loads(server.answer(b'{"op": "dump", "id": 4}')[0])
    assert (bad["status"], bad["id"]) == ("error", 4)
    log.close()


def test_requests_round_trip_and_limits_are_capped() -> None:
    assert decode_request(encode_request(3, 9, limit=10**9, topics=("a", "b"))) == (
        3, 9, 10_000, ("a", "b"))
    with pytest.raises(ProtocolError, match="limit"):
        decode_request(b'{"op": "since", "id": 1, "after": 0, "limit": "all"}')
    with pytest.raises(ProtocolError, match="topics"):
        decode_request(b'{"op": "since", "id": 1, "after": 0, "topics": "orders."}')
    with pytest.raises(ProtocolError, match="JSON"):
        decode_request(b"\xff")
