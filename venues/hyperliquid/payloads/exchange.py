"""``/exchange`` answers: the venue's JSON ↔ response models, and models → runtime answers.

`parse_exchange_response` keeps everything the venue said (`render_exchange_response` gives it
back exactly). `submit_answers` / `cancel_answers` / `modify_answers` turn it into one runtime
answer per order that was sent, given the cloids in the order they were sent.

Decisions (PROTOCOL §6):

* ``{"status": "err", "response": str}`` → `RequestFailed(definitive=True)`: the whole action was
  refused.
* A statuses vector whose length differs from the batch: one ``error`` for a batch of n is fanned
  out to all n (§6.3); any other mismatch cannot be matched to orders → `RequestFailed` with
  ``definitive=False`` (some orders may be live; reconcile by cloid). So does an answer of the
  wrong kind (e.g. ``default`` for an ``order`` action).
* ``waitingForFill`` / ``waitingForTrigger`` → ``WAITING``. ``success`` in an order vector and
  any bare string this version does not know → ``WAITING`` too (accepted as far as we can tell,
  the stream or a query will say more); for unknown strings ``error`` carries the string.
* A single ``modify`` answers ``default``: accepted, new oid not given → ``WAITING`` with no oid.
* An order sent without a cloid gets a ``Positional*Answer`` keyed by its index in the batch, as
  the runtime messages require a cloid.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TypeAlias

import attrs

from messages.enums import RequestKind, SubmitOutcome
from messages.ids import ClientOrderId, ExchangeOrderId
from messages.venue import CancelAnswered, ModifyAnswered, RequestFailed, SubmitAnswered
from venues.hyperliquid.models import ABSENT, NO_EXTRA, Absent, Json, JsonObject
from venues.hyperliquid.payloads.common import (
    PayloadError,
    Reader,
    fmt_decimal,
    freeze,
    opt,
    put,
    put_extra,
    thaw,
)

WAITING_WORDS = frozenset({"waitingForFill", "waitingForTrigger", "success"})


@attrs.frozen(kw_only=True)
class Resting:
    oid: int
    cloid: ClientOrderId | Absent = ABSENT
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class Filled:
    total_sz: Decimal
    avg_px: Decimal
    oid: int
    cloid: ClientOrderId | Absent = ABSENT
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class StatusError:
    message: str


@attrs.frozen(kw_only=True)
class StatusWord:
    """A bare string status: ``success``, ``waitingForFill``, ``waitingForTrigger``, ..."""

    word: str


@attrs.frozen(kw_only=True)
class TwapRunning:
    twap_id: int
    extra: JsonObject = NO_EXTRA


StatusEntry: TypeAlias = Resting | Filled | StatusError | StatusWord | TwapRunning


@attrs.frozen(kw_only=True)
class ExchangeError:
    """The whole action was refused: ``{"status": "err", "response": message}``."""

    message: str


@attrs.frozen(kw_only=True)
class StatusesResponse:
    """``order``, ``batchModify``, ``cancel``, ``cancelByCloid``: ``data.statuses``."""

    response_type: str
    statuses: tuple[StatusEntry, ...]


@attrs.frozen(kw_only=True)
class StatusResponse:
    """``twapOrder``, ``twapCancel``: a single ``data.status``."""

    response_type: str
    status: StatusEntry


@attrs.frozen(kw_only=True)
class DefaultResponse:
    """``{"type": "default"}``: accepted, nothing more to say."""


@attrs.frozen(kw_only=True)
class OtherResponse:
    """An ``ok`` answer of a shape this version does not model (kept whole)."""

    response: Json


ExchangeResponse: TypeAlias = (
    ExchangeError | StatusesResponse | StatusResponse | DefaultResponse | OtherResponse
)


@attrs.frozen(kw_only=True)
class PositionalSubmitAnswer:
    """`SubmitAnswered` for an order sent without a cloid: ``index`` is its place in the batch."""

    index: int
    outcome: SubmitOutcome
    exchange_order_id: ExchangeOrderId | None
    filled_amount: Decimal | None
    average_price: Decimal | None
    error: str
    ts_init: int


@attrs.frozen(kw_only=True)
class PositionalCancelAnswer:
    index: int
    success: bool
    error: str
    ts_init: int


@attrs.frozen(kw_only=True)
class PositionalModifyAnswer:
    index: int
    outcome: SubmitOutcome
    exchange_order_id: ExchangeOrderId | None
    error: str
    ts_init: int


# --- JSON ↔ models ---------------------------------------------------------------------------


def _entry(value: object, where: str) -> StatusEntry:
    if type(value) is str:
        return StatusWord(word=value)
    r = Reader(value, where)
    if len(r.obj) != 1:
        raise PayloadError(f"{where}: expected one of resting/filled/error/running")
    if r.has("error"):
        return StatusError(message=r.text("error"))
    if r.has("resting"):
        s = Reader(r.raw("resting"), f"{where}.resting")
        return Resting(oid=s.integer("oid"), cloid=s.optional("cloid", s.cloid), extra=s.extra())
    if r.has("filled"):
        s = Reader(r.raw("filled"), f"{where}.filled")
        return Filled(
            total_sz=s.dec("totalSz"), avg_px=s.dec("avgPx"), oid=s.integer("oid"),
            cloid=s.optional("cloid", s.cloid), extra=s.extra(),
        )
    if r.has("running"):
        s = Reader(r.raw("running"), f"{where}.running")
        return TwapRunning(twap_id=s.integer("twapId"), extra=s.extra())
    raise PayloadError(f"{where}: unknown status {next(iter(r.obj))!r}")


def _render_entry(entry: StatusEntry) -> Any:
    if isinstance(entry, StatusWord):
        return entry.word
    if isinstance(entry, StatusError):
        return {"error": entry.message}
    if isinstance(entry, Resting):
        out: dict[str, Any] = {"oid": entry.oid}
        put(out, "cloid", opt(entry.cloid, str))
        return {"resting": put_extra(out, entry.extra)}
    if isinstance(entry, Filled):
        out = {"totalSz": fmt_decimal(entry.total_sz), "avgPx": fmt_decimal(entry.avg_px),
               "oid": entry.oid}
        put(out, "cloid", opt(entry.cloid, str))
        return {"filled": put_extra(out, entry.extra)}
    return {"running": put_extra({"twapId": entry.twap_id}, entry.extra)}


def parse_exchange_response(payload: object, where: str = "exchange") -> ExchangeResponse:
    r = Reader(payload, where)
    status = r.text("status")
    raw = r.raw("response")
    if r.extra().items:
        raise PayloadError(f"{where}: unexpected keys beside 'status' and 'response'")
    if status == "err":
        if type(raw) is not str:
            raise PayloadError(f"{where}.response: an 'err' answer must carry a string")
        return ExchangeError(message=raw)
    if status != "ok":
        raise PayloadError(f"{where}.status: expected 'ok' or 'err', got {status[:40]!r}")
    body = Reader(raw, f"{where}.response")
    kind = body.text("type")
    if kind == "default" and len(body.obj) == 1:
        return DefaultResponse()
    data = body.obj.get("data")
    if len(body.obj) == 2 and type(data) is dict and len(data) == 1:
        dr = Reader(data, f"{where}.response.data")
        if "statuses" in data:
            return StatusesResponse(
                response_type=kind,
                statuses=tuple(
                    _entry(s, f"{dr.where}.statuses[{i}]")
                    for i, s in enumerate(dr.array("statuses"))
                ),
            )
        if "status" in data:
            return StatusResponse(response_type=kind,
                                  status=_entry(dr.raw("status"), f"{dr.where}.status"))
    return OtherResponse(response=freeze(raw, f"{where}.response"))


def render_exchange_response(resp: ExchangeResponse) -> dict[str, Any]:
    if isinstance(resp, ExchangeError):
        return {"status": "err", "response": resp.message}
    if isinstance(resp, DefaultResponse):
        body: Any = {"type": "default"}
    elif isinstance(resp, StatusesResponse):
        body = {"type": resp.response_type,
                "data": {"statuses": [_render_entry(s) for s in resp.statuses]}}
    elif isinstance(resp, StatusResponse):
        body = {"type": resp.response_type, "data": {"status": _render_entry(resp.status)}}
    else:
        body = thaw(resp.response)
    return {"status": "ok", "response": body}


# --- models → runtime answers ----------------------------------------------------------------


def _aligned(
    resp: ExchangeResponse, cloids: Sequence[ClientOrderId | None], kind: RequestKind,
    ts_init: int,
) -> tuple[StatusEntry, ...] | RequestFailed:
    """The statuses matched one-to-one with the sent orders, or why they cannot be."""
    sent = tuple(c for c in cloids if c is not None)
    if isinstance(resp, ExchangeError):
        return RequestFailed(kind=kind, client_order_ids=sent, reason=resp.message,
                             definitive=True, ts_init=ts_init)
    if not isinstance(resp, StatusesResponse):
        return RequestFailed(kind=kind, client_order_ids=sent,
                             reason=f"unexpected answer: {type(resp).__name__}",
                             definitive=False, ts_init=ts_init)
    statuses, n = resp.statuses, len(cloids)
    if len(statuses) == n:
        return statuses
    if len(statuses) == 1 and isinstance(statuses[0], StatusError):
        return statuses * n
    return RequestFailed(kind=kind, client_order_ids=sent,
                         reason=f"venue answered {len(statuses)} statuses for {n} orders",
                         definitive=False, ts_init=ts_init)


def _submit_fields(entry: StatusEntry) -> dict[str, Any]:
    none: dict[str, Any] = {"exchange_order_id": None, "filled_amount": None,
                            "average_price": None, "error": ""}
    if isinstance(entry, Resting):
        return {**none, "outcome": SubmitOutcome.RESTING,
                "exchange_order_id": ExchangeOrderId(entry.oid)}
    if isinstance(entry, Filled):
        return {**none, "outcome": SubmitOutcome.FILLED,
                "exchange_order_id": ExchangeOrderId(entry.oid),
                "filled_amount": entry.total_sz, "average_price": entry.avg_px}
    if isinstance(entry, StatusError):
        return {**none, "outcome": SubmitOutcome.REJECTED, "error": entry.message}
    word = entry.word if isinstance(entry, StatusWord) else "running"
    error = "" if word in WAITING_WORDS else f"unrecognized status {word[:80]!r}"
    return {**none, "outcome": SubmitOutcome.WAITING, "error": error}


def submit_answers(
    resp: ExchangeResponse, cloids: Sequence[ClientOrderId | None], ts_init: int,
) -> tuple[SubmitAnswered | PositionalSubmitAnswer, ...] | RequestFailed:
    """One answer per order of an ``order`` action, in the order sent."""
    aligned = _aligned(resp, cloids, RequestKind.SUBMIT, ts_init)
    if isinstance(aligned, RequestFailed):
        return aligned
    out: list[SubmitAnswered | PositionalSubmitAnswer] = []
    for i, (cloid, entry) in enumerate(zip(cloids, aligned, strict=True)):
        fields = _submit_fields(entry)
        if cloid is None:
            out.append(PositionalSubmitAnswer(index=i, ts_init=ts_init, **fields))
        else:
            out.append(SubmitAnswered(client_order_id=cloid, ts_init=ts_init, **fields))
    return tuple(out)


def modify_answers(
    resp: ExchangeResponse, cloids: Sequence[ClientOrderId | None], ts_init: int,
) -> tuple[ModifyAnswered | PositionalModifyAnswer, ...] | RequestFailed:
    """One answer per modify of a ``batchModify`` (or the ``default`` of a single ``modify``)."""
    if isinstance(resp, DefaultResponse):
        resp = StatusesResponse(response_type="modify",
                                statuses=(StatusWord(word="success"),) * len(cloids))
    aligned = _aligned(resp, cloids, RequestKind.MODIFY, ts_init)
    if isinstance(aligned, RequestFailed):
        return aligned
    out: list[ModifyAnswered | PositionalModifyAnswer] = []
    for i, (cloid, entry) in enumerate(zip(cloids, aligned, strict=True)):
        f = _submit_fields(entry)
        fields = {"outcome": f["outcome"], "exchange_order_id": f["exchange_order_id"],
                  "error": f["error"]}
        if cloid is None:
            out.append(PositionalModifyAnswer(index=i, ts_init=ts_init, **fields))
        else:
            out.append(ModifyAnswered(client_order_id=cloid, ts_init=ts_init, **fields))
    return tuple(out)


def cancel_answers(
    resp: ExchangeResponse, cloids: Sequence[ClientOrderId | None], ts_init: int,
) -> tuple[CancelAnswered | PositionalCancelAnswer, ...] | RequestFailed:
    """One answer per cancel of a ``cancel`` / ``cancelByCloid`` action, in the order sent."""
    aligned = _aligned(resp, cloids, RequestKind.CANCEL, ts_init)
    if isinstance(aligned, RequestFailed):
        return aligned
    out: list[CancelAnswered | PositionalCancelAnswer] = []
    for i, (cloid, entry) in enumerate(zip(cloids, aligned, strict=True)):
        if isinstance(entry, StatusWord) and entry.word == "success":
            success, error = True, ""
        elif isinstance(entry, StatusError):
            success, error = False, entry.message
        else:
            success, error = False, f"unexpected cancel status {_render_entry(entry)!r}"[:200]
        if cloid is None:
            out.append(PositionalCancelAnswer(index=i, success=success, error=error,
                                              ts_init=ts_init))
        else:
            out.append(CancelAnswered(client_order_id=cloid, success=success, error=error,
                                      ts_init=ts_init))
    return tuple(out)


def default_answer(
    resp: ExchangeResponse, kind: RequestKind, ts_init: int,
    cloids: Sequence[ClientOrderId] = (),
) -> RequestFailed | None:
    """For actions answered ``default`` (scheduleCancel, updateLeverage, noop...): None if
    accepted, else why not (``err`` → definitive; any other shape → not definitive)."""
    if isinstance(resp, DefaultResponse):
        return None
    if isinstance(resp, ExchangeError):
        return RequestFailed(kind=kind, client_order_ids=tuple(cloids), reason=resp.message,
                             definitive=True, ts_init=ts_init)
    return RequestFailed(kind=kind, client_order_ids=tuple(cloids),
                         reason=f"unexpected answer: {type(resp).__name__}", definitive=False,
                         ts_init=ts_init)


def parse_order_response(
    payload: object, cloids: Sequence[ClientOrderId | None], ts_init: int,
) -> tuple[SubmitAnswered | PositionalSubmitAnswer, ...] | RequestFailed:
    """``order`` action answer straight to runtime answers (`parse_exchange_response` + ...)."""
    return submit_answers(parse_exchange_response(payload), cloids, ts_init)


def parse_cancel_response(
    payload: object, cloids: Sequence[ClientOrderId | None], ts_init: int,
) -> tuple[CancelAnswered | PositionalCancelAnswer, ...] | RequestFailed:
    return cancel_answers(parse_exchange_response(payload), cloids, ts_init)


def parse_modify_response(
    payload: object, cloids: Sequence[ClientOrderId | None], ts_init: int,
) -> tuple[ModifyAnswered | PositionalModifyAnswer, ...] | RequestFailed:
    return modify_answers(parse_exchange_response(payload), cloids, ts_init)
