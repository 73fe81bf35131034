"""Hyperliquid structures that are not runtime messages: the venue's own view, field for field.

Parsers in `venues.hyperliquid.payloads` build these next to the runtime messages they derive, so
a payload can be rendered back byte-for-byte (`render_*`). Three rules make that possible:

* a key the venue may omit is typed ``X | Absent``: ``ABSENT`` means the key was not there, while
  ``None`` means it was there with ``null`` (older recordings lack ``tid``/``feeToken``/``cloid``);
* numbers given as strings are kept as the exact `Decimal` of the string (exponent included);
* keys this version does not know are kept in ``extra`` (a `JsonObject`) and rendered after the
  known ones, so a venue upgrade that adds a field neither breaks parsing nor loses the field.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Final, TypeAlias

import attrs

from messages.account import (
    AccountStateReported,
    FundingPaid,
    RateLimitReported,
)
from messages.enums import OrderSide
from messages.ids import ClientOrderId
from messages.venue import (
    FillReported,
    FillsReported,
    OpenOrdersReported,
    OrderNotFoundReported,
    OrderStatusReported,
)


class Absent(enum.Enum):
    """The key was not in the payload (distinct from a JSON ``null``)."""

    ABSENT = "ABSENT"

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final = Absent.ABSENT


@attrs.frozen
class JsonObject:
    """An immutable JSON object (key order kept) for the parts the venue leaves open-ended."""

    items: tuple[tuple[str, Json], ...] = ()

    def get(self, key: str) -> Json | Absent:
        for k, v in self.items:
            if k == key:
                return v
        return ABSENT


Json: TypeAlias = "str | int | float | bool | tuple[Json, ...] | JsonObject | None"
NO_EXTRA: Final = JsonObject()


# --- perpetual and spot universe -------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PerpAsset:
    """One entry of ``meta.universe``; its index is the perp asset id."""

    name: str
    sz_decimals: int
    max_leverage: int
    margin_table_id: int | Absent = ABSENT
    only_isolated: bool | Absent = ABSENT
    is_delisted: bool | Absent = ABSENT
    margin_mode: str | Absent = ABSENT
    growth_mode: str | Absent = ABSENT
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class MarginTier:
    lower_bound: Decimal
    max_leverage: int
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class MarginTable:
    table_id: int
    description: str
    tiers: tuple[MarginTier, ...]
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class PerpMeta:
    universe: tuple[PerpAsset, ...]
    margin_tables: tuple[MarginTable, ...] | Absent = ABSENT
    collateral_token: int | Absent = ABSENT
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class PerpAssetContext:
    """``metaAndAssetCtxs[1][i]``, aligned with ``universe[i]``."""

    day_ntl_vlm: Decimal
    funding: Decimal
    open_interest: Decimal
    prev_day_px: Decimal
    oracle_px: Decimal
    mark_px: Decimal
    mid_px: Decimal | Absent | None = ABSENT
    premium: Decimal | Absent | None = ABSENT
    impact_pxs: tuple[Decimal, ...] | Absent | None = ABSENT
    day_base_vlm: Decimal | Absent = ABSENT
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class MetaAndAssetContexts:
    meta: PerpMeta
    contexts: tuple[PerpAssetContext, ...]


@attrs.frozen(kw_only=True)
class EvmContract:
    address: str
    evm_extra_wei_decimals: int
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class SpotToken:
    name: str
    sz_decimals: int
    wei_decimals: int
    index: int
    token_id: str
    is_canonical: bool
    evm_contract: EvmContract | Absent | None = ABSENT
    full_name: str | Absent | None = ABSENT
    deployer_trading_fee_share: Decimal | Absent = ABSENT
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class SpotPair:
    """One spot market; its coin name is ``name`` and its asset id ``10000 + index``."""

    name: str
    tokens: tuple[int, ...]
    index: int
    is_canonical: bool
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class SpotMeta:
    tokens: tuple[SpotToken, ...]
    universe: tuple[SpotPair, ...]
    extra: JsonObject = NO_EXTRA


# --- orders ----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class VenueOrder:
    """An order as ``openOrders`` (basic fields) or ``frontendOpenOrders`` (all fields) show it.

    ``sz`` is the remaining size. ``children`` are the TP/SL orders attached to a parent.
    """

    coin: str
    side: OrderSide
    limit_px: Decimal
    sz: Decimal
    oid: int
    timestamp: int
    trigger_condition: str | Absent = ABSENT
    is_trigger: bool | Absent = ABSENT
    trigger_px: Decimal | Absent = ABSENT
    children: tuple[VenueOrder, ...] | Absent = ABSENT
    is_position_tpsl: bool | Absent = ABSENT
    reduce_only: bool | Absent = ABSENT
    order_type: str | Absent = ABSENT
    orig_sz: Decimal | Absent = ABSENT
    tif: str | Absent | None = ABSENT
    cloid: ClientOrderId | Absent | None = ABSENT
    extra: JsonObject = NO_EXTRA

    @property
    def is_frontend(self) -> bool:
        """True for the ``frontendOpenOrders`` shape (it is the one that has ``isTrigger``)."""
        return self.is_trigger is not ABSENT


@attrs.frozen(kw_only=True)
class OpenOrders:
    """``openOrders`` / ``frontendOpenOrders``: every entry reported as an OPEN order."""

    orders: tuple[VenueOrder, ...]
    report: OpenOrdersReported


@attrs.frozen(kw_only=True)
class OrderRecord:
    """An order with its status (``historicalOrders``, ``orderStatus``, ``orderUpdates``)."""

    order: VenueOrder
    status: str
    status_timestamp: int
    report: OrderStatusReported
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class OrderUnknown:
    """``orderStatus`` answered ``unknownOid``; ``report`` is set when the query was by cloid."""

    report: OrderNotFoundReported | None


# --- fills -----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class FillLiquidation:
    mark_px: Decimal
    method: str
    liquidated_user: str | Absent = ABSENT
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class Fill:
    """One fill with what `FillReported` does not carry.

    When ``tid`` is absent (fills recorded before mid-2023), ``report.trade_id`` is a negative
    id derived from the fill's content (see `payloads.fills.synthetic_trade_id`).
    """

    report: FillReported
    coin: str
    tid: int | Absent = ABSENT
    cloid: ClientOrderId | Absent | None = ABSENT
    fee_token: str | Absent = ABSENT
    builder_fee: Decimal | Absent = ABSENT
    liquidation: FillLiquidation | Absent | None = ABSENT
    twap_id: int | Absent | None = ABSENT
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class UserFills:
    """``userFills`` / ``userFillsByTime`` (newest first, as the venue sends them)."""

    fills: tuple[Fill, ...]
    report: FillsReported


@attrs.frozen(kw_only=True)
class TwapSliceFill:
    fill: Fill
    twap_id: int
    extra: JsonObject = NO_EXTRA


# --- market history --------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Candle:
    open_time: int
    close_time: int
    coin: str
    interval: str
    open: Decimal
    close: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal
    trades: int
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class FundingRate:
    """One ``fundingHistory`` entry (the market's rate, not the account's payment)."""

    coin: str
    funding_rate: Decimal
    premium: Decimal
    time: int
    extra: JsonObject = NO_EXTRA


# --- account ---------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class UserFunding:
    """One ``userFunding`` entry; ``report`` is the runtime's `FundingPaid`."""

    time: int
    hash: str
    coin: str
    usdc: Decimal
    szi: Decimal
    funding_rate: Decimal
    n_samples: int | Absent | None = ABSENT
    report: FundingPaid
    extra: JsonObject = NO_EXTRA
    delta_extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class LedgerUpdate:
    """A ``userNonFundingLedgerUpdates`` entry; ``delta`` keeps every field (its ``type`` first).

    The delta kinds are many and grow (deposit, withdraw, accountClassTransfer, spotTransfer,
    internalTransfer, subAccountTransfer, vault*, liquidation, send, ...), so they are kept
    generic; `delta_type` names the kind.
    """

    time: int
    hash: str
    delta: JsonObject
    extra: JsonObject = NO_EXTRA

    @property
    def delta_type(self) -> str | None:
        kind = self.delta.get("type")
        return kind if isinstance(kind, str) else None


@attrs.frozen(kw_only=True)
class DelegatorEvent:
    """A ``delegatorHistory`` entry: ``delta`` is ``{kind: {...}}`` (delegate, cDeposit, ...)."""

    time: int
    hash: str
    kind: str
    fields: JsonObject
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class UserRole:
    role: str
    data: Json | Absent = ABSENT
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class ExtraAgent:
    name: str
    address: str
    valid_until: int
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class VaultEquity:
    vault_address: str
    equity: Decimal
    locked_until_timestamp: int | Absent = ABSENT
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class PortfolioPeriod:
    """One ``portfolio`` entry (``day``, ``week``, ``month``, ``allTime``, ``perpDay``, ...)."""

    period: str
    account_value_history: tuple[tuple[int, Decimal], ...]
    pnl_history: tuple[tuple[int, Decimal], ...]
    vlm: Decimal
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class MarginSummary:
    account_value: Decimal
    total_ntl_pos: Decimal
    total_raw_usd: Decimal
    total_margin_used: Decimal
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class Leverage:
    kind: str
    """``cross`` or ``isolated``."""
    value: int
    raw_usd: Decimal | Absent = ABSENT
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class CumFunding:
    all_time: Decimal
    since_open: Decimal
    since_change: Decimal
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class Position:
    coin: str
    szi: Decimal
    leverage: Leverage
    entry_px: Decimal | None
    position_value: Decimal
    unrealized_pnl: Decimal
    return_on_equity: Decimal
    liquidation_px: Decimal | None
    margin_used: Decimal
    max_leverage: int | Absent = ABSENT
    cum_funding: CumFunding | Absent = ABSENT
    max_trade_szs: tuple[Decimal, ...] | Absent = ABSENT
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class AssetPosition:
    kind: str
    """``oneWay`` today."""
    position: Position
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class ClearinghouseState:
    """``clearinghouseState``; ``report`` is the runtime's `AccountStateReported`.

    Recordings from 2023 have no ``time`` (then ``report.ts_event`` is the caller's ``ts_init``)
    and no ``crossMaintenanceMarginUsed``.
    """

    margin_summary: MarginSummary
    cross_margin_summary: MarginSummary
    cross_maintenance_margin_used: Decimal | Absent
    withdrawable: Decimal
    asset_positions: tuple[AssetPosition, ...]
    time: int | Absent
    report: AccountStateReported
    extra: JsonObject = NO_EXTRA


@attrs.frozen(kw_only=True)
class UserRateLimit:
    cum_vlm: Decimal
    n_requests_used: int
    n_requests_cap: int
    n_requests_surplus: int | Absent
    report: RateLimitReported
    extra: JsonObject = NO_EXTRA
