"""Trading pairs: the seed's ``BASE-QUOTE`` convention and its mapping to venue coins.

Hyperliquid perpetuals are quoted in USD(C) and named by their base coin (``BTC``, ``kPEPE``,
builder-dex perps ``xyz:TEST``). The runtime speaks ``BTC-USD``; the venue layer speaks ``BTC``.
"""

from __future__ import annotations

import functools

PERP_QUOTE = "USD"
_MAX_LEN = 64


def validate_trading_pair(pair: object) -> str:
    """Return ``pair`` if it is ``BASE-QUOTE`` with non-empty parts, else raise ValueError."""
    if not isinstance(pair, str):
        raise TypeError(f"trading pair must be a str, not {type(pair).__name__}")
    return _checked_pair(pair)


@functools.lru_cache(maxsize=1024)  # every order message checks its pair: few distinct values
def _checked_pair(pair: str) -> str:
    base, sep, quote = pair.rpartition("-")
    if not sep or not base or not quote or len(pair) > _MAX_LEN or any(c.isspace() for c in pair):
        raise ValueError(f"trading pair must look like 'BTC-USD', got {pair[:_MAX_LEN]!r}")
    return pair


def coin_to_trading_pair(coin: str, quote: str = PERP_QUOTE) -> str:
    """``BTC`` → ``BTC-USD``."""
    if not coin or "-" in coin:
        raise ValueError(f"not a coin name: {coin[:_MAX_LEN]!r}")
    return f"{coin}-{quote}"


def trading_pair_to_coin(pair: str) -> str:
    """``BTC-USD`` → ``BTC``; also accepts a bare coin (``BTC``) and returns it unchanged."""
    if "-" not in pair:
        if not pair or len(pair) > _MAX_LEN:
            raise ValueError(f"not a trading pair or coin: {pair[:_MAX_LEN]!r}")
        return pair
    return validate_trading_pair(pair).rpartition("-")[0]


def normalize_trading_pair(text: str, quote: str = PERP_QUOTE) -> str:
    """Accept ``BTC``, ``btc-usd``-style input for the base's known case, or ``BTC-USD``.

    Case is preserved for the base (``kPEPE`` is a real coin); the quote is upper-cased.
    """
    if "-" in text:
        base, _, q = text.rpartition("-")
        return validate_trading_pair(f"{base}-{q.upper()}")
    return coin_to_trading_pair(text, quote)
