"""/exchange answers → SubmitAnswered / CancelAnswered / ModifyAnswered / RequestFailed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from messages.enums import RequestKind, SubmitOutcome
from messages.ids import ClientOrderId, ExchangeOrderId
from messages.venue import CancelAnswered, ModifyAnswered, RequestFailed, SubmitAnswered
from tests.helpers import load_recorded
from venues.hyperliquid.payloads import (
    DefaultResponse,
    ExchangeError,
    OtherResponse,
    PayloadError,
    PositionalCancelAnswer,
    PositionalSubmitAnswer,
    StatusResponse,
    TwapRunning,
    default_answer,
    parse_cancel_response,
    parse_exchange_response,
    parse_modify_response,
    parse_order_response,
    render_exchange_response,
)

TS = 42
A, B, C = (ClientOrderId.from_int(n) for n in (1, 2, 3))


def order_answer(*statuses: Any, kind: str = "order") -> dict[str, Any]:
    return {"status": "ok", "response": {"type": kind, "data": {"statuses": list(statuses)}}}


def test_every_status_kind_maps_to_an_outcome() -> None:
    payload = order_answer(
        {"resting": {"oid": 11}},
        {"filled": {"totalSz": "0.02", "avgPx": "1891.4", "oid": 12}},
        {"error": "Order must have minimum value of $10."},
        "waitingForFill",
        "waitingForTrigger",
    )
    cloids = [A, B, C, ClientOrderId.from_int(4), ClientOrderId.from_int(5)]
    answers = parse_order_response(payload, cloids, TS)
    assert not isinstance(answers, RequestFailed)
    assert all(isinstance(a, SubmitAnswered) for a in answers)
    rest, fill, err, wait_fill, wait_trigger = answers
    assert isinstance(rest, SubmitAnswered)
    assert rest.client_order_id == A
    assert (rest.outcome, rest.exchange_order_id, rest.error) == (SubmitOutcome.RESTING, 11, "")
    assert isinstance(fill, SubmitAnswered)
    assert fill.outcome is SubmitOutcome.FILLED
    assert fill.exchange_order_id == 12
    assert fill.filled_amount == Decimal("0.02")
    assert fill.average_price == Decimal("1891.4")
    assert isinstance(err, SubmitAnswered)
    assert err.outcome is SubmitOutcome.REJECTED
    assert err.error == "Order must have minimum value of $10."
    assert err.exchange_order_id is None
    assert wait_fill.outcome is wait_trigger.outcome is SubmitOutcome.WAITING
    assert wait_fill.error == ""
    assert all(a.ts_init == TS for a in answers)


def test_recorded_order_answers() -> None:
    resting = parse_order_response(load_recorded("docs_exchange_order_resting.json"), [A], TS)
    assert isinstance(resting, tuple)
    assert resting[0].exchange_order_id == 77738308
    filled = parse_order_response(load_recorded("docs_exchange_order_filled.json"), [A], TS)
    assert isinstance(filled, tuple)
    assert filled[0].outcome is SubmitOutcome.FILLED
    error = parse_order_response(load_recorded("docs_exchange_order_error.json"), [A], TS)
    assert isinstance(error, tuple)
    assert error[0].outcome is SubmitOutcome.REJECTED


def test_action_error_is_a_definitive_request_failure() -> None:
    payload = {"status": "err", "response": "Invalid nonce: duplicate nonce 5"}
    failed = parse_order_response(payload, [A, None, B], TS)
    assert failed == RequestFailed(
        kind=RequestKind.SUBMIT, client_order_ids=(A, B),
        reason="Invalid nonce: duplicate nonce 5", definitive=True, ts_init=TS,
    )
    cancel = parse_cancel_response(payload, [A], TS)
    assert isinstance(cancel, RequestFailed)
    assert cancel.kind is RequestKind.CANCEL


def test_one_error_for_a_batch_is_fanned_out_to_every_order() -> None:
    payload = order_answer({"error": "Price must be divisible by tick size."})
    answers = parse_order_response(payload, [A, B, C], TS)
    assert isinstance(answers, tuple)
    assert len(answers) == 3
    assert [a.outcome for a in answers] == [SubmitOutcome.REJECTED] * 3
    assert {a.client_order_id for a in answers if isinstance(a, SubmitAnswered)} == {A, B, C}


@pytest.mark.parametrize(
    "statuses",
    [
        [{"resting": {"oid": 1}}],  # one success for three orders: which one?
        [{"error": "x"}, {"error": "y"}],
        [{"resting": {"oid": 1}}, {"resting": {"oid": 2}}, "waitingForFill", "success"],
    ],
)
def test_other_length_mismatches_are_not_definitive(statuses: list[Any]) -> None:
    failed = parse_order_response(order_answer(*statuses), [A, B, C], TS)
    assert isinstance(failed, RequestFailed)
    assert not failed.definitive
    assert "statuses for 3 orders" in failed.reason
    assert failed.client_order_ids == (A, B, C)


def test_orders_without_cloid_are_answered_by_position() -> None:
    payload = order_answer({"resting": {"oid": 7}}, {"error": "no"})
    answers = parse_order_response(payload, [None, A], TS)
    assert isinstance(answers, tuple)
    assert answers[0] == PositionalSubmitAnswer(
        index=0, outcome=SubmitOutcome.RESTING, exchange_order_id=ExchangeOrderId(7),
        filled_amount=None, average_price=None, error="", ts_init=TS,
    )
    assert isinstance(answers[1], SubmitAnswered)
    assert answers[1].client_order_id == A


def test_unknown_bare_status_waits_and_says_so() -> None:
    answers = parse_order_response(order_answer("somethingNew"), [A], TS)
    assert isinstance(answers, tuple)
    assert answers[0].outcome is SubmitOutcome.WAITING
    assert "somethingNew" in answers[0].error


def test_wrong_kind_of_answer_is_not_definitive() -> None:
    failed = parse_order_response(load_recorded("docs_exchange_default_ok.json"), [A], TS)
    assert isinstance(failed, RequestFailed)
    assert not failed.definitive


def test_cancel_answers() -> None:
    ok = parse_cancel_response(load_recorded("docs_exchange_cancel_success.json"), [A], TS)
    assert ok == (CancelAnswered(client_order_id=A, success=True, error="", ts_init=TS),)
    err = parse_cancel_response(load_recorded("docs_exchange_cancel_error.json"), [None], TS)
    assert err == (PositionalCancelAnswer(
        index=0, success=False, error="Order was never placed, already canceled, or filled.",
        ts_init=TS,
    ),)
    odd = parse_cancel_response(order_answer({"resting": {"oid": 1}}, kind="cancel"), [A], TS)
    assert isinstance(odd, tuple)
    assert isinstance(odd[0], CancelAnswered)
    assert not odd[0].success
    assert "resting" in odd[0].error


def test_modify_answers() -> None:
    batch = parse_modify_response(
        order_answer({"resting": {"oid": 99}}, {"error": "bad"}, kind="batchModify"), [A, B], TS
    )
    assert batch == (
        ModifyAnswered(client_order_id=A, outcome=SubmitOutcome.RESTING,
                       exchange_order_id=ExchangeOrderId(99),
                       error="", ts_init=TS),
        ModifyAnswered(client_order_id=B, outcome=SubmitOutcome.REJECTED, exchange_order_id=None,
                       error="bad", ts_init=TS),
    )
    single = parse_modify_response(load_recorded("docs_exchange_default_ok.json"), [A], TS)
    assert isinstance(single, tuple)
    assert single[0].outcome is SubmitOutcome.WAITING
    assert single[0].exchange_order_id is None


def test_default_answers() -> None:
    ok = parse_exchange_response(load_recorded("docs_exchange_default_ok.json"))
    assert isinstance(ok, DefaultResponse)
    assert default_answer(ok, RequestKind.SCHEDULE_CANCEL, TS) is None
    err = parse_exchange_response({"status": "err", "response": "Cannot set scheduled cancel"})
    assert isinstance(err, ExchangeError)
    failed = default_answer(err, RequestKind.SCHEDULE_CANCEL, TS)
    assert failed is not None
    assert failed.definitive


def test_twap_answers_are_modelled() -> None:
    running = parse_exchange_response(load_recorded("docs_exchange_twap_order_running.json"))
    assert isinstance(running, StatusResponse)
    assert running.response_type == "twapOrder"
    assert running.status == TwapRunning(twap_id=77738308)
    cancelled = parse_exchange_response(load_recorded("docs_exchange_twap_cancel_success.json"))
    assert isinstance(cancelled, StatusResponse)
    assert cancelled.response_type == "twapCancel"


def test_unknown_ok_shapes_are_kept_whole() -> None:
    payload = {"status": "ok", "response": {"type": "spotDeploy", "data": {"a": 1, "b": [2]}}}
    parsed = parse_exchange_response(payload)
    assert isinstance(parsed, OtherResponse)
    assert render_exchange_response(parsed) == payload


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ([], "expected an object"),
        ({"status": "ok"}, "missing key 'response'"),
        ({"status": "maybe", "response": {}}, "expected 'ok' or 'err'"),
        ({"status": "err", "response": {"x": 1}}, "must carry a string"),
        ({"status": "ok", "response": {"type": "order", "data": {"statuses": [{"huh": 1}]}}},
         "unknown status 'huh'"),
        ({"status": "ok", "response": {"type": "order", "data": {"statuses": [
            {"resting": {"oid": "1"}}]}}}, r"statuses\[0\]\.resting\.oid"),
        ({"status": "ok", "response": {"type": "order", "data": {"statuses": [
            {"filled": {"oid": 1, "totalSz": "a", "avgPx": "1"}}]}}}, "totalSz"),
        ({"status": "ok", "response": "x", "extra": 1}, "unexpected keys"),
    ],
)
def test_malformed_answers_raise_payload_error(payload: object, match: str) -> None:
    with pytest.raises(PayloadError, match=match):
        parse_exchange_response(payload)
