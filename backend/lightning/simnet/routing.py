"""Pathfinding over the simnet's channel graph: pure functions, no I/O.

Like LND, the search runs backwards from the destination, so that each hop's amount
includes the fees of the hops after it; it picks the cheapest route whose every channel
has the liquidity, in the right direction, for what crosses it. The payer's own first hop
charges no fee; every forwarding node charges its outgoing channel's policy.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass


@dataclass(frozen=True)
class ChannelEdge:
    """One channel as the router sees it (msat balances of each end)."""

    chan_id: int
    node1: str
    node2: str
    balance1_msat: int
    balance2_msat: int
    base_fee_msat: int
    fee_rate_ppm: int

    def local_balance(self, node: str) -> int:
        return self.balance1_msat if node == self.node1 else self.balance2_msat

    def peer(self, node: str) -> str:
        return self.node2 if node == self.node1 else self.node1


@dataclass(frozen=True)
class Hop:
    chan_id: int
    sender: str
    receiver: str
    amount_msat: int  # what crosses this channel
    fee_msat: int  # what the receiver keeps for forwarding (0 at the destination)


@dataclass(frozen=True)
class Route:
    hops: tuple[Hop, ...]

    @property
    def total_amount_msat(self) -> int:
        return self.hops[0].amount_msat

    @property
    def total_fees_msat(self) -> int:
        return sum(hop.fee_msat for hop in self.hops)


class RoutingFailure(Exception):
    """No route could be had; ``reason`` is LND's PaymentFailureReason name."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def forwarding_fee(channel: ChannelEdge, amount_msat: int) -> int:
    """LND's fee formula: base + amount * rate / 1e6, rounded down."""
    return channel.base_fee_msat + amount_msat * channel.fee_rate_ppm // 1_000_000


def find_route(
    channels: list[ChannelEdge],
    payer: str,
    payee: str,
    amount_msat: int,
    fee_limit_msat: int,
) -> Route:
    """The cheapest route that fits the liquidity and the fee limit, or RoutingFailure."""
    outbound = sum(c.local_balance(payer) for c in channels if payer in (c.node1, c.node2))
    if outbound < amount_msat:
        raise RoutingFailure(
            "FAILURE_REASON_INSUFFICIENT_BALANCE",
            f"insufficient local balance: {outbound} msat available, {amount_msat} needed",
        )
    by_node: dict[str, list[ChannelEdge]] = {}
    for channel in channels:
        by_node.setdefault(channel.node1, []).append(channel)
        by_node.setdefault(channel.node2, []).append(channel)
    if payee not in by_node:
        raise RoutingFailure("FAILURE_REASON_NO_ROUTE", "destination has no channels")

    # must_receive[n]: what node n must receive so that amount_msat reaches the payee
    must_receive = {payee: amount_msat}
    next_hop: dict[str, tuple[ChannelEdge, str]] = {}
    queue = [(amount_msat, payee)]
    done: set[str] = set()
    while queue:
        received, node = heapq.heappop(queue)
        if node in done:
            continue
        done.add(node)
        if node == payer:
            break
        for channel in by_node.get(node, []):
            sender = channel.peer(node)
            if sender in done or channel.local_balance(sender) < received:
                continue
            fee = 0 if sender == payer else forwarding_fee(channel, received)
            cost = received + fee
            if cost < must_receive.get(sender, cost + 1):
                must_receive[sender] = cost
                next_hop[sender] = (channel, node)
                heapq.heappush(queue, (cost, sender))

    if payer not in next_hop:
        raise RoutingFailure("FAILURE_REASON_NO_ROUTE", "no route with enough liquidity")
    route = _walk(payer, payee, must_receive, next_hop)
    if route.total_fees_msat > fee_limit_msat:
        raise RoutingFailure(
            "FAILURE_REASON_NO_ROUTE",
            f"cheapest route costs {route.total_fees_msat} msat in fees, "
            f"over the limit of {fee_limit_msat} msat",
        )
    return route


def _walk(payer: str, payee: str, must_receive: dict, next_hop: dict) -> Route:
    hops = []
    node = payer
    while node != payee:
        channel, receiver = next_hop[node]
        amount = must_receive[receiver]
        # a forwarder keeps what it receives minus what it sends on
        fee = 0 if receiver == payee else amount - must_receive[next_hop[receiver][1]]
        hops.append(Hop(channel.chan_id, node, receiver, amount, fee))
        node = receiver
    return Route(tuple(hops))
