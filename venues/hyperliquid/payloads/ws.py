"""WebSocket frames (PROTOCOL §15): `WsFrameParser.parse` / `parse_ws_frame` dispatch on
``channel`` and return runtime messages (market and user data) or small frame models (control).

What each channel becomes:

================================  =========================================================
``l2Book``                        `BookSnapshot`
``trades``                        ``tuple[TradeReceived, ...]`` (may be empty)
``bbo``                           `BestBidOffer`
``allMids``                       `MidsUpdated` (``dex`` dropped: builder-dex coins are prefixed)
``orderUpdates``                  ``tuple[OrderStatusReported, ...]`` (source STREAM)
``userFills``                     `FillsReported` (missing ``isSnapshot`` = False)
``user`` fills / funding          `FillsReported` (is_snapshot False) / `FundingPaid`
``user`` liquidation              `LiquidationReported`
``user`` nonUserCancel            ``tuple[NonUserCancelReported, ...]`` (coin + oid only)
``userFundings``                  ``tuple[FundingPaid, ...]``
``candle``                        `Candle`
``subscriptionResponse``          `SubscriptionAck`
``pong`` / ``error``              `Pong` / `WsError`
``notification``                  `Notification`
``post``                          `PostInfoAnswer` / `PostActionAnswer` / `PostErrorAnswer`
anything else                     `UnhandledFrame` (kept whole, never a crash)
================================  =========================================================

The plain-text greeting ``Websocket connection established.`` returns None.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeAlias

import attrs
import orjson

from messages.account import FundingPaid, LiquidationReported, NonUserCancelReported
from messages.enums import EvidenceSource
from messages.ids import ExchangeOrderId
from messages.market import BestBidOffer, BookSnapshot, MidsUpdated, TradeReceived
from messages.venue import FillsReported, OrderStatusReported
from venues.hyperliquid.models import Candle, Json, JsonObject
from venues.hyperliquid.payloads import fills, orders
from venues.hyperliquid.payloads.account import funding_paid
from venues.hyperliquid.payloads.common import (
    CoinMapper,
    PayloadError,
    Reader,
    expect_dict,
    freeze,
)
from venues.hyperliquid.payloads.dispatch import INFO_CODECS
from venues.hyperliquid.payloads.exchange import ExchangeResponse, parse_exchange_response
from venues.hyperliquid.payloads.market import MarketParser, parse_candle

GREETING: Final = "Websocket connection established."
_GREETING_HEADS: Final = (b"W", "W")


@attrs.frozen(kw_only=True)
class Pong:
    pass


@attrs.frozen(kw_only=True)
class SubscriptionAck:
    method: str
    subscription: JsonObject


@attrs.frozen(kw_only=True)
class WsError:
    message: str


@attrs.frozen(kw_only=True)
class Notification:
    text: str


@attrs.frozen(kw_only=True)
class PostInfoAnswer:
    """``post`` answered with ``/info`` data; ``data`` is what `parse_info` gives for the type
    (a `JsonObject`/JSON value for types not modelled)."""

    request_id: int
    info_type: str
    data: Any


@attrs.frozen(kw_only=True)
class PostActionAnswer:
    request_id: int
    response: ExchangeResponse


@attrs.frozen(kw_only=True)
class PostErrorAnswer:
    """``post`` failed as the HTTP call would have (text mirrors the HTTP status/description)."""

    request_id: int
    message: str


@attrs.frozen(kw_only=True)
class UnhandledFrame:
    channel: str
    data: Json


WsEvent: TypeAlias = (
    BookSnapshot | BestBidOffer | MidsUpdated | FillsReported | FundingPaid | LiquidationReported
    | Candle | Pong | SubscriptionAck | WsError | Notification | PostInfoAnswer | PostActionAnswer
    | PostErrorAnswer | UnhandledFrame
    | tuple[TradeReceived, ...] | tuple[OrderStatusReported, ...]
    | tuple[NonUserCancelReported, ...] | tuple[FundingPaid, ...]
)


class WsFrameParser:
    """One per connection (it owns the interning caches of its `MarketParser`)."""

    __slots__ = ("_handlers", "coins", "market")

    def __init__(self, market: MarketParser | None = None) -> None:
        self.market = market if market is not None else MarketParser()
        self.coins: CoinMapper = self.market.coins
        self._handlers: dict[str, Callable[[Any, int], WsEvent]] = {
            "trades": self.market.trades,
            "bbo": self.market.bbo,
            "allMids": self._all_mids,
            "orderUpdates": self._order_updates,
            "userFills": self._user_fills,
            "user": self._user_event,
            "userFundings": self._user_fundings,
            "candle": lambda data, _ts: parse_candle(data, "candle"),
            "subscriptionResponse": self._ack,
            "pong": lambda _data, _ts: Pong(),
            "error": self._error,
            "notification": self._notification,
            "post": self._post,
        }

    def parse(self, raw: bytes | str, ts_init: int) -> WsEvent | None:
        """Decode one frame; malformed frames raise `PayloadError`."""
        if raw[:1] in _GREETING_HEADS and _is_greeting(raw):
            return None
        try:
            msg = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise PayloadError(f"ws frame is not JSON: {exc}") from None
        if type(msg) is not dict:
            raise PayloadError(f"ws frame must be an object, got {type(msg).__name__}")
        channel = msg.get("channel")
        if channel == "l2Book":
            return self.market.book(msg.get("data"), ts_init)
        handler = self._handlers.get(channel)  # type: ignore[arg-type]
        if handler is None:
            if type(channel) is not str:
                raise PayloadError("ws frame has no 'channel' string")
            return UnhandledFrame(channel=channel, data=freeze(msg.get("data"), channel))
        if "data" not in msg and channel != "pong":
            raise PayloadError(f"ws frame on {channel!r} has no 'data'")
        return handler(msg.get("data"), ts_init)

    __call__ = parse

    def _all_mids(self, data: Any, ts_init: int) -> MidsUpdated:
        return self.market.mids(expect_dict(data, "allMids").get("mids"), ts_init, "allMids.mids")

    def _order_updates(self, data: Any, ts_init: int) -> tuple[OrderStatusReported, ...]:
        return orders.parse_order_updates(data, ts_init, coins=self.coins)

    def _user_fills(self, data: Any, ts_init: int) -> FillsReported:
        return fills.parse_ws_user_fills(data, ts_init, coins=self.coins)

    def _user_fundings(self, data: Any, ts_init: int) -> tuple[FundingPaid, ...]:
        r = Reader(data, "userFundings")
        return tuple(
            funding_paid(f, ts_init, where=f"userFundings.fundings[{i}]", coins=self.coins)[0]
            for i, f in enumerate(r.array("fundings"))
        )

    def _user_event(self, data: Any, ts_init: int) -> WsEvent:
        r = Reader(data, "user")
        if len(r.obj) != 1:
            raise PayloadError(f"user event must have exactly one key, got {sorted(r.obj)[:5]}")
        kind = next(iter(r.obj))
        if kind == "fills":
            found = fills.parse_fill_list(
                r.raw("fills"), ts_init, name="user.fills",
                source=EvidenceSource.STREAM, coins=self.coins,
            )
            return FillsReported(
                fills=tuple(f.report for f in found), is_snapshot=False, ts_init=ts_init
            )
        if kind == "funding":
            return funding_paid(r.raw("funding"), ts_init, where="user.funding",
                                coins=self.coins)[0]
        if kind == "liquidation":
            lr = Reader(r.raw("liquidation"), "user.liquidation")
            return LiquidationReported(
                liquidation_id=lr.integer("lid"),
                liquidator=lr.text("liquidator"),
                liquidated_user=lr.text("liquidated_user"),
                liquidated_notional=lr.dec("liquidated_ntl_pos"),
                liquidated_account_value=lr.dec("liquidated_account_value"),
                ts_init=ts_init,
            )
        if kind == "nonUserCancel":
            out = []
            for i, c in enumerate(r.array("nonUserCancel")):
                cr = Reader(c, f"user.nonUserCancel[{i}]")
                out.append(NonUserCancelReported(
                    exchange_order_id=ExchangeOrderId(cr.integer("oid")),
                    trading_pair=self.coins.to_pair(cr.text("coin")),
                    ts_init=ts_init,
                ))
            return tuple(out)
        return UnhandledFrame(channel="user", data=freeze(data, "user"))

    def _ack(self, data: Any, _ts: int) -> SubscriptionAck:
        r = Reader(data, "subscriptionResponse")
        sub = freeze(expect_dict(r.raw("subscription"), "subscriptionResponse.subscription"))
        assert isinstance(sub, JsonObject)  # a dict freezes to a JsonObject
        return SubscriptionAck(method=r.text("method"), subscription=sub)

    def _error(self, data: Any, _ts: int) -> WsError:
        if type(data) is not str:
            raise PayloadError(f"error frame data must be a string, got {type(data).__name__}")
        return WsError(message=data)

    def _notification(self, data: Any, _ts: int) -> Notification:
        return Notification(text=Reader(data, "notification").text("notification"))

    def _post(self, data: Any, ts_init: int) -> PostInfoAnswer | PostActionAnswer | PostErrorAnswer:
        envelope = post_envelope(data)
        request_id, kind, payload = envelope.request_id, envelope.kind, envelope.payload
        if kind is None:
            raise PayloadError("post.response: an object with a string type is required")
        if kind == "action":
            return PostActionAnswer(
                request_id=request_id,
                response=parse_exchange_response(payload, "post.response.payload"),
            )
        if kind == "error":
            if type(payload) is not str:
                raise PayloadError("post.response.payload: an error answer must be a string")
            return PostErrorAnswer(request_id=request_id, message=payload)
        if kind != "info":
            raise PayloadError(f"post.response.type: unknown {kind[:40]!r}")
        pr = Reader(payload, "post.response.payload")
        info_type = pr.text("type")
        codec = INFO_CODECS.get(info_type)
        body = pr.raw("data")
        value = (
            codec[0](body, ts_init, self.market) if codec is not None
            else freeze(body, "post.response.payload.data")
        )
        return PostInfoAnswer(request_id=request_id, info_type=info_type, data=value)


@attrs.frozen(kw_only=True)
class PostEnvelope:
    """A ``post`` answer's envelope: which request it answers, what kind of answer it is
    (``action``, ``info``, ``error``; None when the venue sent no such object) and its payload,
    not yet interpreted (an answer's meaning depends on the request: execution reads it with
    the request's context)."""

    request_id: int
    kind: str | None
    payload: Any


def post_envelope(data: Any) -> PostEnvelope:
    """The envelope of a ``post`` frame's ``data``; `PayloadError` when it names no request
    (then nothing can be answered)."""
    request_id = Reader(data, "post").integer("id")
    response = data.get("response")
    kind = response.get("type") if isinstance(response, dict) else None
    payload = response.get("payload") if isinstance(response, dict) else None
    return PostEnvelope(request_id=request_id, kind=kind if isinstance(kind, str) else None,
                        payload=payload)


def _is_greeting(raw: bytes | str) -> bool:
    text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8", "replace")
    return text.strip() == GREETING


_DEFAULT_PARSER: Final = WsFrameParser()


def parse_ws_frame(raw: bytes | str, ts_init: int) -> WsEvent | None:
    """`WsFrameParser.parse` on a process-wide parser (its caches are pure memos).

    Streams should own a `WsFrameParser` instead, so cache statistics and bounds are theirs.
    """
    return _DEFAULT_PARSER.parse(raw, ts_init)
