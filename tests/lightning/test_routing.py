"""Pathfinding over the simnet graph: exact fees, liquidity, failure reasons, and properties."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.lightning.simnet.routing import (
    ChannelEdge,
    Hop,
    Route,
    RoutingFailure,
    find_route,
    forwarding_fee,
)

BIG = 10_000_000_000  # msat, plenty of liquidity
NO_LIMIT = 10**12


def edge(chan_id: int, node1: str, node2: str, balance1: int = BIG, balance2: int = BIG,
         base: int = 1000, ppm: int = 1) -> ChannelEdge:
    return ChannelEdge(chan_id, node1, node2, balance1, balance2, base, ppm)


def path_of(route: Route) -> list[str]:
    return [route.hops[0].sender] + [hop.receiver for hop in route.hops]


# -- forwarding_fee ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "ppm", "amount", "fee"),
    [
        (1000, 1, 1_000_000, 1001),
        (1000, 1, 999_999, 1000),  # rounded down
        (0, 0, 5_000_000, 0),
        (0, 1_000_000, 1234, 1234),  # 100%
        (500, 2500, 2_000_000, 5500),
        (1, 1, 0, 1),
    ],
)
def test_forwarding_fee_is_base_plus_rate_rounded_down(base, ppm, amount, fee):
    assert forwarding_fee(edge(1, "a", "b", base=base, ppm=ppm), amount) == fee


# -- exact routes ------------------------------------------------------------------------------


def test_direct_route_charges_no_fee():
    channels = [edge(1, "bob", "alice", 9_000_000, 1_000_000, base=5000, ppm=5000)]
    route = find_route(channels, "bob", "alice", 5_000, fee_limit_msat=0)

    assert route.hops == (Hop(1, "bob", "alice", 5_000, 0),)
    assert route.total_fees_msat == 0
    assert route.total_amount_msat == 5_000


def test_direct_route_works_from_either_end_of_the_channel():
    channels = [edge(1, "bob", "alice", 9_000_000, 1_000_000)]
    route = find_route(channels, "alice", "bob", 1_000_000, fee_limit_msat=0)
    assert route.hops == (Hop(1, "alice", "bob", 1_000_000, 0),)


def test_two_hops_charge_the_middle_node_its_outgoing_channels_fee():
    channels = [
        edge(1, "carol", "bob", base=7000, ppm=700),  # carol's policy: never charged here
        edge(2, "bob", "alice", base=1000, ppm=1),  # bob forwards over this one
    ]
    route = find_route(channels, "carol", "alice", 1_000_000, fee_limit_msat=NO_LIMIT)

    assert route.hops == (
        Hop(1, "carol", "bob", 1_001_001, 1001),
        Hop(2, "bob", "alice", 1_000_000, 0),
    )
    assert route.total_fees_msat == 1001
    assert route.total_amount_msat == 1_001_001


def test_three_hop_line_charges_both_forwarders_on_amounts_with_downstream_fees():
    channels = [
        edge(1, "dave", "carol", base=9999, ppm=9999),  # payer's own hop: no fee
        edge(2, "carol", "bob", base=500, ppm=1000),
        edge(3, "bob", "alice", base=1000, ppm=10),
    ]
    route = find_route(channels, "dave", "alice", 2_000_000, fee_limit_msat=NO_LIMIT)

    bob_fee = 1000 + 2_000_000 * 10 // 1_000_000  # 1020
    carol_fee = 500 + (2_000_000 + bob_fee) * 1000 // 1_000_000  # 500 + 2001
    assert (bob_fee, carol_fee) == (1020, 2501)
    assert route.hops == (
        Hop(1, "dave", "carol", 2_003_521, 2501),
        Hop(2, "carol", "bob", 2_001_020, 1020),
        Hop(3, "bob", "alice", 2_000_000, 0),
    )
    assert route.total_fees_msat == 3521
    assert route.total_amount_msat == 2_003_521


def test_cheaper_of_two_parallel_paths_is_chosen():
    channels = [
        edge(1, "payer", "x"), edge(2, "x", "payee", base=5000, ppm=1),
        edge(3, "payer", "y"), edge(4, "y", "payee", base=100, ppm=1),
    ]
    route = find_route(channels, "payer", "payee", 1_000_000, fee_limit_msat=NO_LIMIT)
    assert path_of(route) == ["payer", "y", "payee"]
    assert route.total_fees_msat == 101


def test_a_longer_path_wins_when_it_is_cheaper():
    channels = [
        edge(1, "p", "x"), edge(2, "x", "t", base=10_000, ppm=0),
        edge(3, "p", "a"), edge(4, "a", "b", base=10, ppm=0), edge(5, "b", "t", base=10, ppm=0),
    ]
    route = find_route(channels, "p", "t", 50_000, fee_limit_msat=NO_LIMIT)
    assert path_of(route) == ["p", "a", "b", "t"]
    assert route.total_fees_msat == 20


def test_a_direct_channel_beats_any_forwarded_path():
    channels = [
        edge(1, "p", "x", base=0, ppm=0), edge(2, "x", "t", base=0, ppm=0), edge(3, "p", "t"),
    ]
    route = find_route(channels, "p", "t", 10_000, fee_limit_msat=0)
    assert route.hops == (Hop(3, "p", "t", 10_000, 0),)


def test_a_path_without_liquidity_in_the_needed_direction_is_skipped():
    channels = [
        edge(1, "p", "x"), edge(2, "x", "t", 0, BIG, base=0, ppm=0),  # all on t's side
        edge(3, "p", "y"), edge(4, "y", "t", base=3000, ppm=0),
    ]
    route = find_route(channels, "p", "t", 1_000_000, fee_limit_msat=NO_LIMIT)
    assert path_of(route) == ["p", "y", "t"]
    assert route.total_fees_msat == 3000


def test_liquidity_must_cover_the_fees_too():
    # y->t carries exactly the amount; p->y must carry amount + y's fee (1001)
    channels = [edge(1, "p", "y", 1_001_000, 0), edge(2, "y", "t", 1_000_000, 0)]
    with pytest.raises(RoutingFailure) as info:
        find_route(channels, "p", "t", 1_000_000, fee_limit_msat=NO_LIMIT)
    assert info.value.reason == "FAILURE_REASON_NO_ROUTE"

    channels = [edge(1, "p", "y", 1_001_001, 0), edge(2, "y", "t", 1_000_000, 0)]
    route = find_route(channels, "p", "t", 1_000_000, fee_limit_msat=NO_LIMIT)
    assert [hop.amount_msat for hop in route.hops] == [1_001_001, 1_000_000]


def test_only_path_without_liquidity_is_no_route():
    channels = [edge(1, "carol", "bob", 5_000_000, 0), edge(2, "bob", "alice", 0, 10_000_000)]
    with pytest.raises(RoutingFailure, match="no route with enough liquidity") as info:
        find_route(channels, "carol", "alice", 1_000, fee_limit_msat=NO_LIMIT)
    assert info.value.reason == "FAILURE_REASON_NO_ROUTE"


def test_payer_outbound_below_amount_is_insufficient_balance():
    channels = [edge(1, "p", "x", 300, BIG), edge(2, "p", "y", 200, BIG), edge(3, "x", "t")]
    with pytest.raises(RoutingFailure, match="500 msat available, 501 needed") as info:
        find_route(channels, "p", "t", 501, fee_limit_msat=NO_LIMIT)
    assert info.value.reason == "FAILURE_REASON_INSUFFICIENT_BALANCE"


def test_payer_with_no_channels_is_insufficient_balance():
    with pytest.raises(RoutingFailure) as info:
        find_route([edge(1, "x", "t")], "p", "t", 1, fee_limit_msat=NO_LIMIT)
    assert info.value.reason == "FAILURE_REASON_INSUFFICIENT_BALANCE"


def test_outbound_split_over_channels_is_enough_for_the_balance_check_but_not_a_route():
    # 500 + 500 outbound covers 600 in total, but no single channel can carry it
    channels = [edge(1, "p", "t", 500, 0), edge(2, "p", "t", 500, 0)]
    with pytest.raises(RoutingFailure) as info:
        find_route(channels, "p", "t", 600, fee_limit_msat=NO_LIMIT)
    assert info.value.reason == "FAILURE_REASON_NO_ROUTE"


def test_fee_over_the_limit_is_no_route_and_at_the_limit_is_fine():
    channels = [edge(1, "carol", "bob"), edge(2, "bob", "alice")]
    with pytest.raises(RoutingFailure, match="1001 msat in fees, over the limit of 1000") as info:
        find_route(channels, "carol", "alice", 1_000_000, fee_limit_msat=1000)
    assert info.value.reason == "FAILURE_REASON_NO_ROUTE"

    route = find_route(channels, "carol", "alice", 1_000_000, fee_limit_msat=1001)
    assert route.total_fees_msat == 1001


def test_destination_with_no_channels_is_no_route():
    with pytest.raises(RoutingFailure, match="destination has no channels") as info:
        find_route([edge(1, "bob", "alice")], "bob", "zed", 1000, fee_limit_msat=NO_LIMIT)
    assert info.value.reason == "FAILURE_REASON_NO_ROUTE"


def test_destination_in_another_component_is_no_route():
    channels = [edge(1, "a", "b"), edge(2, "c", "d")]
    with pytest.raises(RoutingFailure) as info:
        find_route(channels, "a", "d", 1000, fee_limit_msat=NO_LIMIT)
    assert info.value.reason == "FAILURE_REASON_NO_ROUTE"


def test_routing_failure_carries_reason_and_message():
    failure = RoutingFailure("FAILURE_REASON_NO_ROUTE", "nope")
    assert failure.reason == "FAILURE_REASON_NO_ROUTE" and str(failure) == "nope"


# -- properties over random small graphs -------------------------------------------------------

NODES = ["n0", "n1", "n2", "n3", "n4", "n5"]


@st.composite
def graphs(draw):
    n = draw(st.integers(3, 6))
    names = NODES[:n]
    # mostly neighbours on a ring, so multi-hop routes are common; some chords for choice
    index = st.integers(0, n - 1)
    neighbours = index.map(lambda i: (names[i], names[(i + 1) % n]))
    chords = st.tuples(index, index).filter(lambda p: p[0] != p[1]).map(
        lambda p: (names[p[0]], names[p[1]]))
    pair = st.one_of(neighbours, neighbours, chords).flatmap(
        lambda p: st.sampled_from([p, p[::-1]]))
    balance = st.one_of(st.just(0), st.integers(0, 4_000_000), st.integers(1_000_000, 4_000_000))
    specs = draw(st.lists(
        st.tuples(pair, balance, balance, st.integers(0, 5000), st.integers(0, 50_000)),
        min_size=1, max_size=10,
    ))
    channels = [
        ChannelEdge(i + 1, a, b, bal1, bal2, base, ppm)
        for i, ((a, b), bal1, bal2, base, ppm) in enumerate(specs)
    ]
    connected = sorted({end for ch in channels for end in (ch.node1, ch.node2)})
    payer = draw(st.sampled_from(connected))  # a payer without channels is rarely interesting
    payee = draw(st.sampled_from([name for name in names if name != payer]))
    amount = draw(st.integers(1, 1_200_000))
    fee_limit = draw(st.one_of(st.integers(0, 50_000), st.just(NO_LIMIT)))
    return channels, payer, payee, amount, fee_limit


def simple_paths(channels, payer, payee):
    """Every loop-free sequence of channels from payer to payee (parallel channels distinct)."""
    out = []

    def walk(node, visited, hops):
        if node == payee:
            out.append(list(hops))
            return
        for ch in channels:
            if node in (ch.node1, ch.node2):
                nxt = ch.peer(node)
                if nxt not in visited:
                    walk(nxt, visited | {nxt}, hops + [(ch, node, nxt)])

    walk(payer, {payer}, [])
    return out


def path_fees(path, amount):
    """Fees of a path if its liquidity suffices, else None (the brute-force oracle)."""
    amounts = [0] * len(path)
    amounts[-1] = amount
    for i in range(len(path) - 2, -1, -1):
        amounts[i] = amounts[i + 1] + forwarding_fee(path[i + 1][0], amounts[i + 1])
    crossings = zip(path, amounts, strict=True)
    if any(ch.local_balance(sender) < amt for (ch, sender, _), amt in crossings):
        return None
    return amounts[0] - amount


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_any_route_found_is_a_valid_liquid_path_within_the_fee_limit(graph):
    check_route_properties(graph)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_find_route_agrees_with_brute_force_on_reason_and_cheapest_fee(graph):
    check_against_brute_force(graph)


def check_route_properties(graph):
    channels, payer, payee, amount, fee_limit = graph
    by_id = {ch.chan_id: ch for ch in channels}
    try:
        route = find_route(channels, payer, payee, amount, fee_limit)
    except RoutingFailure as failure:
        assert failure.reason in ("FAILURE_REASON_NO_ROUTE", "FAILURE_REASON_INSUFFICIENT_BALANCE")
        return

    hops = route.hops
    assert hops, "a route has at least one hop"
    assert hops[0].sender == payer and hops[-1].receiver == payee
    for a, b in zip(hops, hops[1:], strict=False):
        assert a.receiver == b.sender
    visited = path_of(route)
    assert len(set(visited)) == len(visited), "no node twice"
    for hop in hops:
        ch = by_id[hop.chan_id]
        assert {hop.sender, hop.receiver} == {ch.node1, ch.node2}
        assert hop.amount_msat <= ch.local_balance(hop.sender)
    assert hops[-1].amount_msat == amount and hops[-1].fee_msat == 0
    assert hops[0].amount_msat == amount + route.total_fees_msat
    assert route.total_amount_msat == hops[0].amount_msat
    for hop, nxt in zip(hops, hops[1:], strict=False):
        assert hop.fee_msat == forwarding_fee(by_id[nxt.chan_id], nxt.amount_msat)
        assert hop.amount_msat == nxt.amount_msat + hop.fee_msat
    assert route.total_fees_msat <= fee_limit


def check_against_brute_force(graph):
    channels, payer, payee, amount, fee_limit = graph
    outbound = sum(ch.local_balance(payer) for ch in channels if payer in (ch.node1, ch.node2))
    feasible = [
        fees for path in simple_paths(channels, payer, payee)
        if (fees := path_fees(path, amount)) is not None
    ]
    try:
        route = find_route(channels, payer, payee, amount, fee_limit)
    except RoutingFailure as failure:
        if outbound < amount:
            assert failure.reason == "FAILURE_REASON_INSUFFICIENT_BALANCE"
        else:
            assert failure.reason == "FAILURE_REASON_NO_ROUTE"
            assert not feasible or min(feasible) > fee_limit
        return
    assert outbound >= amount
    assert feasible and route.total_fees_msat == min(feasible)
