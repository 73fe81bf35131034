"""Timing stamps taken by wrapping a few library callables, in this process only.

No library file is changed: ``install`` swaps class attributes and ``uninstall`` puts the
originals back. Each wrapper costs ~0.3-1 µs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from messages.enums import RequestKind
from messages.ids import ClientOrderId

from .common import mono


class Probes:
    def __init__(self) -> None:
        self.stages = False
        self._stage_mark = 0
        self.frames: dict[int, int] = {}
        """l2Book frame wall ts_init → monotonic ns when the reader had it."""
        self.stamps: dict[str, dict[str, int]] = {
            k: {} for k in ("exec", "tracker", "signer", "sign_start", "signed", "exec_signed")}
        self.actions: dict[int, tuple[str, RequestKind, tuple[ClientOrderId, ...]]] = {}
        self.ws_sent: list[tuple[int, int, int, bool]] = []
        self.http_sent: list[tuple[int, int]] = []
        self.phase = "start"
        self.lift_budgets = False
        self.exec_core: Any = None
        self._undo: list[Callable[[], None]] = []

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        original = owner.__dict__[name]
        setattr(owner, name, value)
        self._undo.append(lambda: setattr(owner, name, original))

    def install(self) -> None:
        from actors.executing import core as exec_mod
        from actors.executing import pacing as pacing_mod
        from actors.gating import core as gate_mod
        from venues.hyperliquid.ratelimit import AddressBudget, WeightBudget
        from venues.hyperliquid.transport import HttpTransport, WsPostTransport
        from venues.hyperliquid.ws_connection import FrameRouter

        probes, frames, stamps = self, self.frames, self.stamps
        book_prefix = b'{"channel":"l2Book"'

        route = FrameRouter.__call__

        def routed(router: Any, data: bytes, ts_init: int) -> None:
            if data[:19] == book_prefix:
                frames[ts_init] = mono()
            route(router, data, ts_init)

        self._patch(FrameRouter, "__call__", routed)

        ws_post = WsPostTransport.post

        def post(transport: Any, request_id: int, kind: str, payload: bytes) -> bool:
            t0 = mono()
            ok: bool = ws_post(transport, request_id, kind, payload)
            probes.ws_sent.append((request_id, t0, mono(), ok))
            return ok

        self._patch(WsPostTransport, "post", post)
        http_post = HttpTransport.post

        def hpost(transport: Any, request_id: int, path: str, body: bytes) -> None:
            probes.http_sent.append((request_id, mono()))
            http_post(transport, request_id, path, body)

        self._patch(HttpTransport, "post", hpost)
        signed = exec_mod.ExecutionCore.signed
        exec_signed = stamps["exec_signed"]

        def on_signed(core: Any, action: Any) -> None:
            t = mono()
            probes.exec_core = core
            probes.actions[action.request_id] = (probes.phase, action.kind,
                                                 action.client_order_ids)
            if probes.stages and action.kind is RequestKind.SUBMIT:
                for cloid in action.client_order_ids:
                    exec_signed[cloid] = t
            signed(core, action)

        self._patch(exec_mod.ExecutionCore, "signed", on_signed)

        class LiftableWeight(WeightBudget):
            def try_take(self, weight: int, now_ns: int) -> bool:
                return probes.lift_budgets or super().try_take(weight, now_ns)

            def tokens_at(self, now_ns: int) -> float:
                return float("inf") if probes.lift_budgets else super().tokens_at(now_ns)

        class LiftableAddress(AddressBudget):
            def can_order(self, n: int = 1) -> bool:
                return probes.lift_budgets or super().can_order(n)

        self._patch(pacing_mod, "WeightBudget", LiftableWeight)
        self._patch(gate_mod, "AddressBudget", LiftableAddress)

    def install_stages(self) -> None:
        """The stage stamps (each wrapper ~0.3-1 µs hot, several on a cold CPU): only for the
        run that splits the path, never for the headline runs."""
        from actors.gating.core import GateCore
        from actors.order_tracking.core import OrderTrackerCore
        from actors.signing.core import SignerCore
        from messages.commands import SubmitOrder
        from messages.signing import SignOrders

        stamps = self.stamps
        self.stages = True
        self._stage_mark = len(self._undo)
        submit = GateCore.submit
        at_exec = stamps["exec"]

        def on_submit(core: Any, order: Any) -> None:
            at_exec[order.client_order_id] = mono()
            submit(core, order)

        self._patch(GateCore, "submit", on_submit)
        handle = OrderTrackerCore.handle
        at_tracker = stamps["tracker"]

        def on_handle(core: Any, message: object, now_ns: int, *, replay: bool = False) -> Any:
            if type(message) is SubmitOrder and not replay:
                at_tracker[message.client_order_id] = mono()
            return handle(core, message, now_ns, replay=replay)

        self._patch(OrderTrackerCore, "handle", on_handle)
        add = SignerCore.add
        at_signer = stamps["signer"]

        def on_add(core: Any, message: Any) -> None:
            if type(message) is SignOrders:
                t = mono()
                for order in message.orders:
                    at_signer[order.client_order_id] = t
            add(core, message)

        self._patch(SignerCore, "add", on_add)
        sign = SignerCore._sign
        sign_start, signed_at = stamps["sign_start"], stamps["signed"]

        def on_sign(core: Any, kind: RequestKind, action: Any, cloids: Any, exp: Any) -> Any:
            t0 = mono()
            out = sign(core, kind, action, cloids, exp)
            t1 = mono()
            if kind is RequestKind.SUBMIT:
                for cloid in cloids:
                    sign_start[cloid] = t0
                    signed_at[cloid] = t1
            return out

        self._patch(SignerCore, "_sign", on_sign)

    def uninstall_stages(self) -> None:
        while len(self._undo) > self._stage_mark:
            self._undo.pop()()
        self.stages = False

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def sent_at(self) -> dict[str, tuple[int, int]]:
        """Client order id → (send entered, send returned) of the first signed request that
        carried its order over the WS post channel."""
        out: dict[str, tuple[int, int]] = {}
        for request_id, t0, t1, ok in list(self.ws_sent):
            entry = self.actions.get(request_id)
            if ok and entry is not None and entry[1] is RequestKind.SUBMIT:
                for cloid in entry[2]:
                    out.setdefault(cloid, (t0, t1))
        return out

    def batching(self, phase: str, kind: RequestKind) -> str:
        sizes = [len(c) for p, k, c in list(self.actions.values()) if p == phase and k is kind]
        if not sizes:
            return "none"
        return (f"{len(sizes)} actions, {sum(sizes) / len(sizes):.1f} per action "
                f"(max {max(sizes)}, single {sum(1 for s in sizes if s == 1)})")
