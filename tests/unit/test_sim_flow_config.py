"""Synthetic market determinism, configuration loading, the demo key, the fault filter."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from clock import ManualClock
from venues.hyperliquid.keys import SecretKey, keccak256
from venues.simulator import DEMO_ADDRESS, DEMO_PRIVATE_KEY
from venues.simulator.config import FlowConfig, SimulatorConfig, load_config
from venues.simulator.engine import Engine
from venues.simulator.faults import FaultInjector, FaultPlan
from venues.simulator.flow import SyntheticFlow, tick_size
from venues.simulator.model import TradePrinted


def run_flow(seed: int, steps: int) -> tuple[Engine, list[TradePrinted]]:
    config = SimulatorConfig(seed=seed)
    engine = Engine(config.coins, config.fees, ManualClock())
    flow = SyntheticFlow(engine, FlowConfig(taker_probability=0.5), seed)
    flow.start()
    trades: list[TradePrinted] = []
    for _ in range(steps):
        flow.step()
        engine.tick()
        trades += [e for e in engine.drain_events() if isinstance(e, TradePrinted)]
    return engine, trades


def snapshot(engine: Engine) -> list[object]:
    return [(c, b.depth(True, 20), b.depth(False, 20)) for c, b in engine.books.items()]


def test_flow_is_reproducible_moves_and_never_leaves_a_crossed_book() -> None:
    a, trades_a = run_flow(7, 60)
    b, trades_b = run_flow(7, 60)
    c, _ = run_flow(8, 60)
    assert snapshot(a) == snapshot(b)
    assert [(t.coin, t.px, t.sz) for t in trades_a] == [(t.coin, t.px, t.sz) for t in trades_b]
    assert snapshot(a) != snapshot(c)
    assert len({t.coin for t in trades_a}) >= 3
    for book in a.books.values():
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is not None
        assert ask is not None
        assert bid < ask
        assert len(book.depth(True, 50)) >= 10


def test_tick_size_follows_the_price_rules() -> None:
    assert tick_size(Decimal(100000), 5) == Decimal(1)
    assert tick_size(Decimal(3500), 4) == Decimal("0.1")
    assert tick_size(Decimal(150), 2) == Decimal("0.01")
    assert tick_size(Decimal(30), 2) == Decimal("0.001")
    assert tick_size(Decimal("0.5"), 0) == Decimal("0.00001")


def test_demo_key_is_the_documented_throwaway() -> None:
    assert "0x" + keccak256(b"perpetuum-demo-key").hex() == DEMO_PRIVATE_KEY
    assert SecretKey(DEMO_PRIVATE_KEY).address == DEMO_ADDRESS
    assert SimulatorConfig().accounts[0].address == DEMO_ADDRESS


def test_toml_config(tmp_path: Path) -> None:
    path = tmp_path / "sim.toml"
    path.write_text(
        'seed = 5\nis_mainnet = true\nidle_timeout_s = 3.5\n'
        '[fees]\nmaker = "0.0001"\n'
        '[flow]\nenabled = false\n'
        '[[coins]]\nname = "DOGE"\nsz_decimals = 0\nmax_leverage = 10\nmid = "0.12"\n'
        '[[accounts]]\naddress = "0x' + "AB" * 20 + '"\nusdc = 250\n'
    )
    config = load_config(path)
    assert (config.seed, config.is_mainnet, config.idle_timeout_s) == (5, True, 3.5)
    assert config.fees.maker == Decimal("0.0001")
    assert config.fees.taker == Decimal("0.00045")
    assert not config.flow.enabled
    assert [(c.name, c.mid) for c in config.coins] == [("DOGE", Decimal("0.12"))]
    assert config.accounts[0].address == "0x" + "ab" * 20
    funded = config.with_funding("0x" + "ab" * 20, Decimal(50))
    funded = funded.with_funding(DEMO_ADDRESS, Decimal(1))
    assert [(a.address, a.usdc) for a in funded.accounts] == [
        ("0x" + "ab" * 20, Decimal(300)), (DEMO_ADDRESS, Decimal(1))]
    path.write_text("sede = 5\n")
    with pytest.raises(ValueError, match="unknown simulator config keys"):
        load_config(path)


def test_fault_filter_counts_drop_duplicate_reorder() -> None:
    inj = FaultInjector(seed=1)
    filt = inj.ws_filter()
    inj.set(ws_drop_next=1, ws_duplicate_next=1, ws_reorder_next=1)
    assert filt.apply("a") == []
    assert filt.apply("b") == ["b"]  # duplicated, then one copy held back for reordering
    assert filt.apply("c") == ["c", "b"]
    assert filt.apply("d") == ["d"]
    assert {k: v for k, v in inj.counts.items() if v} == {
        "ws_dropped": 1, "ws_duplicated": 1, "ws_reordered": 1}
    inj.set(http_error_status=429, http_error_count=2)
    assert [inj.take_http_error() for _ in range(3)] == [429, 429, None]
    with pytest.raises(ValueError, match="unknown fault settings"):
        inj.set(explode=True)
    with pytest.raises(ValueError, match="http_error_status"):
        FaultPlan(http_error_status=404, http_error_count=1)
