"""WebSocket frames the other way: runtime messages and frame models → the venue's frames, and
the client's own frames (subscribe / unsubscribe / ping / post) both ways.

Client frames are kept as JSON (`ClientFrame`): the actions inside ``post`` requests are built
by `venues.hyperliquid.wire`, which owns their exact key order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from messages.account import FundingPaid, LiquidationReported, NonUserCancelReported
from messages.market import BestBidOffer, BookSnapshot, MidsUpdated, TradeReceived
from messages.venue import FillsReported, OrderStatusReported
from venues.hyperliquid.models import ABSENT, NO_EXTRA, Absent, Candle, JsonObject
from venues.hyperliquid.payloads.common import (
    CoinMapper,
    PayloadError,
    Reader,
    fmt_decimal,
    freeze,
    ns_to_ms,
    put,
    put_extra,
    thaw,
)
from venues.hyperliquid.payloads.dispatch import INFO_CODECS
from venues.hyperliquid.payloads.exchange import render_exchange_response
from venues.hyperliquid.payloads.fills import render_fill_report, render_ws_user_fills_data
from venues.hyperliquid.payloads.market import (
    MarketParser,
    render_bbo,
    render_book,
    render_candle,
    render_mids,
    render_trades,
)
from venues.hyperliquid.payloads.orders import render_order_update
from venues.hyperliquid.payloads.ws import (
    Notification,
    Pong,
    PostActionAnswer,
    PostErrorAnswer,
    PostInfoAnswer,
    SubscriptionAck,
    UnhandledFrame,
    WsError,
    WsEvent,
)


def _frame(channel: str, data: Any) -> dict[str, Any]:
    return {"channel": channel, "data": data}


def render_ws_book(book: BookSnapshot, coins: CoinMapper) -> dict[str, Any]:
    return _frame("l2Book", render_book(book, coins))


def render_ws_trades(trades: Sequence[TradeReceived], coins: CoinMapper) -> dict[str, Any]:
    return _frame("trades", render_trades(trades, coins))


def render_ws_bbo(bbo: BestBidOffer, coins: CoinMapper) -> dict[str, Any]:
    return _frame("bbo", render_bbo(bbo, coins))


def render_ws_all_mids(mids: MidsUpdated, coins: CoinMapper) -> dict[str, Any]:
    return _frame("allMids", {"mids": render_mids(mids, coins)})


def render_ws_order_updates(
    reports: Sequence[OrderStatusReported], coins: CoinMapper
) -> dict[str, Any]:
    return _frame("orderUpdates", [render_order_update(r, coins=coins) for r in reports])


def render_ws_user_fills(report: FillsReported, *, user: str, coins: CoinMapper) -> dict[str, Any]:
    return _frame("userFills", render_ws_user_fills_data(report, user=user, coins=coins))


def _render_funding(f: FundingPaid, coins: CoinMapper) -> dict[str, Any]:
    return {
        "time": ns_to_ms(f.ts_event), "coin": coins.to_coin(f.trading_pair),
        "usdc": fmt_decimal(f.amount), "szi": fmt_decimal(f.position_size),
        "fundingRate": fmt_decimal(f.rate),
    }


def render_ws_user_event(
    event: FillsReported | FundingPaid | LiquidationReported | tuple[NonUserCancelReported, ...],
    coins: CoinMapper,
) -> dict[str, Any]:
    """A ``user`` channel frame (userEvents subscription)."""
    if isinstance(event, FillsReported):
        body: Any = {"fills": [render_fill_report(f, coins=coins) for f in event.fills]}
    elif isinstance(event, FundingPaid):
        body = {"funding": _render_funding(event, coins)}
    elif isinstance(event, LiquidationReported):
        body = {"liquidation": {
            "lid": event.liquidation_id, "liquidator": event.liquidator,
            "liquidated_user": event.liquidated_user,
            "liquidated_ntl_pos": fmt_decimal(event.liquidated_notional),
            "liquidated_account_value": fmt_decimal(event.liquidated_account_value),
        }}
    else:
        body = {"nonUserCancel": [
            {"coin": coins.to_coin(c.trading_pair), "oid": int(c.exchange_order_id)}
            for c in event
        ]}
    return _frame("user", body)


def render_ws_control(
    event: Pong | SubscriptionAck | WsError | Notification | PostInfoAnswer | PostActionAnswer
    | PostErrorAnswer | UnhandledFrame | Candle,
    market: MarketParser,
) -> dict[str, Any]:
    """Frames that are not runtime messages (acks, pong, errors, post answers, candles...)."""
    if isinstance(event, Pong):
        return {"channel": "pong"}
    if isinstance(event, SubscriptionAck):
        return _frame("subscriptionResponse",
                      {"method": event.method, "subscription": thaw(event.subscription)})
    if isinstance(event, WsError):
        return _frame("error", event.message)
    if isinstance(event, Notification):
        return _frame("notification", {"notification": event.text})
    if isinstance(event, Candle):
        return _frame("candle", render_candle(event))
    if isinstance(event, UnhandledFrame):
        return _frame(event.channel, thaw(event.data))
    if isinstance(event, PostActionAnswer):
        response: dict[str, Any] = {"type": "action",
                                    "payload": render_exchange_response(event.response)}
    elif isinstance(event, PostErrorAnswer):
        response = {"type": "error", "payload": event.message}
    else:
        codec = INFO_CODECS.get(event.info_type)
        data = codec[1](event.data, market) if codec is not None else thaw(event.data)
        response = {"type": "info", "payload": {"type": event.info_type, "data": data}}
    return _frame("post", {"id": event.request_id, "response": response})


def render_ws_frame(
    event: WsEvent, *, market: MarketParser, user: str | None = None
) -> dict[str, Any]:
    """Any `parse_ws_frame` result back to a frame.

    `FillsReported` renders as a ``userFills`` frame when ``user`` is given (that channel names
    the user), else as a ``user`` (userEvents) frame. An empty tuple is ambiguous (trades,
    orderUpdates, ...) and refused: use the per-channel renderers.
    """
    coins = market.coins
    if isinstance(event, BookSnapshot):
        return render_ws_book(event, coins)
    if isinstance(event, BestBidOffer):
        return render_ws_bbo(event, coins)
    if isinstance(event, MidsUpdated):
        return render_ws_all_mids(event, coins)
    if isinstance(event, FillsReported) and user is not None:
        return render_ws_user_fills(event, user=user, coins=coins)
    if isinstance(event, FillsReported | FundingPaid | LiquidationReported):
        return render_ws_user_event(event, coins)
    if isinstance(event, tuple):
        if not event:
            raise PayloadError("an empty tuple does not name its channel")
        first = event[0]
        if isinstance(first, TradeReceived):
            return render_ws_trades(event, coins)  # type: ignore[arg-type]
        if isinstance(first, OrderStatusReported):
            return render_ws_order_updates(event, coins)  # type: ignore[arg-type]
        if isinstance(first, NonUserCancelReported):
            return render_ws_user_event(event, coins)  # type: ignore[arg-type]
        return _frame("userFundings", {"fundings": [
            _render_funding(f, coins) for f in event  # type: ignore[arg-type]
        ]})
    return render_ws_control(event, market)


# --- client frames ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ClientFrame:
    """A frame the client sends: ``{"method", "id"?, "subscription"?, "request"?}``."""

    method: str
    request_id: int | Absent = ABSENT
    subscription: JsonObject | Absent = ABSENT
    request: JsonObject | Absent = ABSENT
    extra: JsonObject = NO_EXTRA


def _object(r: Reader, key: str) -> JsonObject:
    value = freeze(r.raw(key), f"{r.where}.{key}")
    if not isinstance(value, JsonObject):
        raise PayloadError(f"{r.where}.{key}: expected an object")
    return value


def parse_client_frame(obj: object) -> ClientFrame:
    r = Reader(obj, "client frame")
    return ClientFrame(
        method=r.text("method"),
        request_id=r.optional("id", r.integer),
        subscription=r.optional("subscription", lambda k: _object(r, k)),
        request=r.optional("request", lambda k: _object(r, k)),
        extra=r.extra(),
    )


def render_client_frame(frame: ClientFrame) -> dict[str, Any]:
    out: dict[str, Any] = {"method": frame.method}
    put(out, "id", frame.request_id)
    if frame.subscription is not ABSENT:
        out["subscription"] = thaw(frame.subscription)
    if frame.request is not ABSENT:
        out["request"] = thaw(frame.request)
    return put_extra(out, frame.extra)
