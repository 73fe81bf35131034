"""API wallets (agents): who may sign L1 actions for which account.

An account has at most one unnamed agent and three named ones; approving a new unnamed agent,
or re-using a name, replaces the previous one (whose nonce set is then pruned, as on the venue).
A name may carry a ``" valid_until <ms>"`` suffix after which the agent stops working.
"""

from __future__ import annotations

import attrs

MAX_NAMED = 3


@attrs.frozen
class Agent:
    address: str
    master: str
    name: str
    valid_until: int | None


def _split_name(name: str) -> tuple[str, int | None]:
    base, sep, until = name.partition(" valid_until ")
    if sep and until.isdigit():
        return base, int(until)
    return name, None


class AgentRegistry:
    def __init__(self) -> None:
        self._by_address: dict[str, Agent] = {}

    def approve(self, master: str, agent_address: str, name: str) -> tuple[str | None, list[str]]:
        """Register an agent; returns ``(error, replaced agent addresses)``."""
        base, valid_until = _split_name(name)
        mine = [a for a in self._by_address.values() if a.master == master]
        replaced = [a.address for a in mine if a.name == base]
        named = {a.name for a in mine if a.name}
        if base and base not in named and len(named) >= MAX_NAMED:
            return "Too many named agents.", []
        existing = self._by_address.get(agent_address)
        if existing is not None and existing.master != master:
            return "Agent already registered to another user.", []
        for address in replaced:
            del self._by_address[address]
        self._by_address[agent_address] = Agent(agent_address, master, base, valid_until)
        return None, [a for a in replaced if a != agent_address]

    def master_of(self, agent_address: str, now_ms: int) -> str | None:
        agent = self._by_address.get(agent_address)
        if agent is None or (agent.valid_until is not None and now_ms > agent.valid_until):
            return None
        return agent.master

    def agents_of(self, master: str) -> list[Agent]:
        return [a for a in self._by_address.values() if a.master == master]
