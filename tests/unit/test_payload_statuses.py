"""The order status table of PROTOCOL §16."""

from __future__ import annotations

import pytest

from messages.enums import VenueOrderStatus
from venues.hyperliquid.payloads import ORDER_STATUSES, order_status

CANCELLED = [
    "canceled", "marginCanceled", "vaultWithdrawalCanceled", "openInterestCapCanceled",
    "selfTradeCanceled", "reduceOnlyCanceled", "siblingFilledCanceled", "delistedCanceled",
    "liquidatedCanceled", "scheduledCancel", "outcomeSettledCanceled", "internalCancel",
]
REJECTED = [
    "rejected", "tickRejected", "minTradeNtlRejected", "perpMarginRejected",
    "reduceOnlyRejected", "badAloPxRejected", "iocCancelRejected", "badTriggerPxRejected",
    "marketOrderNoLiquidityRejected", "positionIncreaseAtOpenInterestCapRejected",
    "positionFlipAtOpenInterestCapRejected", "tooAggressiveAtOpenInterestCapRejected",
    "openInterestIncreaseRejected", "insufficientSpotBalanceRejected", "oracleRejected",
    "perpMaxPositionRejected", "tooManyOpenOrdersRejected",
]


@pytest.mark.parametrize("raw", CANCELLED)
def test_cancellations(raw: str) -> None:
    assert order_status(raw) is VenueOrderStatus.CANCELLED
    assert raw in ORDER_STATUSES


@pytest.mark.parametrize("raw", REJECTED)
def test_rejections(raw: str) -> None:
    assert order_status(raw) is VenueOrderStatus.REJECTED
    assert raw in ORDER_STATUSES


def test_live_and_final_states() -> None:
    assert order_status("open") is VenueOrderStatus.OPEN
    assert order_status("filled") is VenueOrderStatus.FILLED
    assert order_status("triggered") is VenueOrderStatus.TRIGGERED
    assert len(ORDER_STATUSES) == len(CANCELLED) + len(REJECTED) + 3


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("someFutureReasonCanceled", VenueOrderStatus.CANCELLED),
        ("someFutureReasonRejected", VenueOrderStatus.REJECTED),
        ("Canceled", VenueOrderStatus.UNRECOGNIZED),
        ("", VenueOrderStatus.UNRECOGNIZED),
        ("OPEN", VenueOrderStatus.UNRECOGNIZED),
        ("partiallyFilled", VenueOrderStatus.UNRECOGNIZED),
        ("cancelled", VenueOrderStatus.UNRECOGNIZED),
    ],
)
def test_other_strings_never_crash(raw: str, expected: VenueOrderStatus) -> None:
    assert order_status(raw) is expected
