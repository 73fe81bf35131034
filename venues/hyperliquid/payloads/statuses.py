"""Order status strings (PROTOCOL §16) → `VenueOrderStatus`; unknown strings never crash.

The raw string always travels beside the mapped status (``raw_status``), so the reason
(``marginCanceled``, ``iocCancelRejected``...) is never lost.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from messages.enums import VenueOrderStatus

_CANCELLED = (
    "canceled",
    "marginCanceled",
    "vaultWithdrawalCanceled",
    "openInterestCapCanceled",
    "selfTradeCanceled",
    "reduceOnlyCanceled",
    "siblingFilledCanceled",
    "delistedCanceled",
    "liquidatedCanceled",
    "outcomeSettledCanceled",
    "scheduledCancel",
    "internalCancel",
)
_REJECTED = (
    "rejected",
    "tickRejected",
    "minTradeNtlRejected",
    "perpMarginRejected",
    "reduceOnlyRejected",
    "badAloPxRejected",
    "iocCancelRejected",
    "badTriggerPxRejected",
    "marketOrderNoLiquidityRejected",
    "positionIncreaseAtOpenInterestCapRejected",
    "positionFlipAtOpenInterestCapRejected",
    "tooAggressiveAtOpenInterestCapRejected",
    "openInterestIncreaseRejected",
    "insufficientSpotBalanceRejected",
    "oracleRejected",
    "perpMaxPositionRejected",
    "tooManyOpenOrdersRejected",
)

ORDER_STATUSES: Final = MappingProxyType(
    {
        "open": VenueOrderStatus.OPEN,
        "filled": VenueOrderStatus.FILLED,
        "triggered": VenueOrderStatus.TRIGGERED,
        **dict.fromkeys(_CANCELLED, VenueOrderStatus.CANCELLED),
        **dict.fromkeys(_REJECTED, VenueOrderStatus.REJECTED),
    }
)
"""Every documented status string and what it means for the lifecycle."""


def order_status(raw: str) -> VenueOrderStatus:
    """Map a venue status string; anything else is ``UNRECOGNIZED`` (the tracker then queries).

    Beyond the documented table, the venue's naming convention is followed: every
    ``<reason>Canceled`` is a cancellation and every ``<reason>Rejected`` a rejection (new reasons
    appear over time, e.g. ``outcomeSettledCanceled``), so a new reason does not stall an order.
    """
    status = ORDER_STATUSES.get(raw)
    if status is not None:
        return status
    if type(raw) is str and len(raw) > 8:
        if raw.endswith("Canceled"):
            return VenueOrderStatus.CANCELLED
        if raw.endswith("Rejected"):
            return VenueOrderStatus.REJECTED
    return VenueOrderStatus.UNRECOGNIZED
