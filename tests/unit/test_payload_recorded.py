"""Every recorded Hyperliquid payload parses and renders back exactly (render(parse(x)) == x).

Key order is checked too: the 2023 cassettes store every object with sorted keys, so for those
the rendering is compared after sorting; the 2025 recordings and most docs samples keep the
venue's own order and are compared byte for byte. Three docs samples were hand-edited into an
order that is neither (listed below) and are compared as JSON values only.
"""

from __future__ import annotations

from typing import Any

import attrs
import orjson
import pytest

from tests.helpers import RECORDED, load_recorded
from venues.hyperliquid.models import NO_EXTRA, JsonObject
from venues.hyperliquid.payloads import (
    MarketParser,
    WsFrameParser,
    parse_exchange_response,
    parse_info,
    render_exchange_response,
    render_info,
)
from venues.hyperliquid.payloads.ws_render import (
    parse_client_frame,
    render_client_frame,
    render_ws_frame,
)

FILES = sorted(
    p.name for p in RECORDED.glob("*.json") if p.name != "sdk_signing_test_vectors.json"
)
HAND_ORDERED_DOCS = {
    "docs_info_metaAndAssetCtxs.json",
    "docs_info_spotMeta.json",
    "docs_info_userFills.json",
}
TS_INIT = 1_700_000_000_123_456_789


def info_type(name: str) -> str:
    base = name.removesuffix(".json")
    if base.startswith("http_info_"):
        return base.removeprefix("http_info_").split("__")[0]
    return base.removeprefix("docs_info_").split("_")[0]


def round_trip(name: str, payload: Any) -> tuple[Any, Any]:
    """(parsed, rendered) for one recorded file, by what the file holds."""
    market = MarketParser()
    if name.startswith("docs_exchange_"):
        parsed: Any = parse_exchange_response(payload)
        return parsed, render_exchange_response(parsed)
    if name.startswith("docs_ws_") and name.endswith("_request.json"):
        parsed = parse_client_frame(payload)
        return parsed, render_client_frame(parsed)
    if name.startswith("docs_ws_"):
        parsed = WsFrameParser(market).parse(orjson.dumps(payload), TS_INIT)
        assert parsed is not None
        return parsed, render_ws_frame(parsed, market=market)
    kind = info_type(name)
    parsed = parse_info(kind, payload, TS_INIT, market=market)
    return parsed, render_info(kind, parsed, market=market)


def _all_sorted(value: Any) -> bool:
    if isinstance(value, dict):
        keys = list(value)
        return keys == sorted(keys) and all(_all_sorted(v) for v in value.values())
    if isinstance(value, list):
        return all(_all_sorted(v) for v in value)
    return True


def _extras(value: Any, path: str = "") -> list[str]:
    """Paths of every non-empty ``extra`` in a parsed result (keys the models did not know)."""
    found: list[str] = []
    if attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            item = getattr(value, field.name)
            if field.name in ("extra", "delta_extra") and isinstance(item, JsonObject):
                if item != NO_EXTRA:
                    found.append(f"{path}.{field.name}: {[k for k, _ in item.items]}")
            elif not isinstance(item, JsonObject):
                found += _extras(item, f"{path}.{field.name}")
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            found += _extras(item, f"{path}[{i}]")
    return found


def test_the_recordings_are_all_here() -> None:
    assert len(FILES) == 56
    assert any(f.startswith("http_info_") for f in FILES)


@pytest.mark.parametrize("name", FILES)
def test_render_of_parse_is_the_payload(name: str) -> None:
    payload = load_recorded(name)
    _, rendered = round_trip(name, payload)
    assert rendered == payload
    # Equality of dicts ignores key order; the bytes do not.
    if name in HAND_ORDERED_DOCS:
        return
    if _all_sorted(payload):
        assert orjson.dumps(rendered, option=orjson.OPT_SORT_KEYS) == orjson.dumps(payload)
    else:
        assert orjson.dumps(rendered) == orjson.dumps(payload)


@pytest.mark.parametrize("name", FILES)
def test_every_recorded_field_is_modelled(name: str) -> None:
    """Nothing in a real payload lands in the ``extra`` catch-all: every key has a field."""
    parsed, _ = round_trip(name, load_recorded(name))
    assert _extras(parsed) == []


def test_recent_recordings_keep_the_venues_key_order() -> None:
    """Guards the key-order check above from passing only on sorted files."""
    exact = [f for f in FILES if not _all_sorted(load_recorded(f))]
    assert "http_info_historicalOrders__test_historical_orders_0.json" in exact
    assert "http_info_userNonFundingLedgerUpdates__test_user_non_funding_ledger_updates_without_end_time_0.json" in exact  # noqa: E501
    assert len(exact) >= 15
