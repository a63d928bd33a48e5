"""Loading Polar network exports: the committed file, path rebasing, and every malformed shape."""

from __future__ import annotations

import copy
import json
import re
import zipfile
from pathlib import Path

import pytest

from backend.lightning.polar import (
    DEFAULT_BASE_FEE_MSAT,
    DEFAULT_FEE_RATE_PPM,
    PolarNetwork,
    PolarNetworkError,
    copy_with_free_ports,
    load_polar_network,
    parse_polar_network,
)

REPO = Path(__file__).resolve().parents[2]
NETWORK_FILE = REPO / "polar-network.json"
BOB_ALICE = "d705c2a11d1cb14d4a69b9d6de6b2fb8416d3261b82ae1203c5ed657dedd2add:0"
CAROL_BOB = "65933be7869e61d8632b51c3a265db980e8546b6f281e995c3da07b956815a04:0"
REGTEST = "data/chain/bitcoin/regtest"


@pytest.fixture(scope="module")
def original() -> dict:
    return json.loads(NETWORK_FILE.read_text())


@pytest.fixture
def doc(original: dict) -> dict:
    return copy.deepcopy(original)


def node(doc: dict, name: str) -> dict:
    return next(n for n in doc["network"]["nodes"]["lightning"] if n["name"] == name)


def props(doc: dict, link_id: str) -> dict:
    return doc["chart"]["links"][link_id]["properties"]


def parse(doc: dict, data_dir: Path | None = None) -> PolarNetwork:
    return parse_polar_network(doc, Path("network.json"), data_dir)


def channel(network: PolarNetwork, channel_point: str):
    return next(c for c in network.channels if c.channel_point == channel_point)


# -- the committed file -----------------------------------------------------------------------


def test_committed_file_has_three_lnd_nodes_and_a_bitcoind_backend():
    network = load_polar_network(NETWORK_FILE)

    assert network.name == "alsats"
    assert network.source == NETWORK_FILE
    assert sorted(network.lnd_nodes) == ["alice", "bob", "carol"]
    assert network.other_nodes == {"backend1": "bitcoind"}
    ports = {name: (n.grpc_port, n.rest_port, n.p2p_port) for name, n in network.lnd_nodes.items()}
    assert ports == {
        "alice": (10001, 8081, 9735),
        "bob": (10002, 8082, 9736),
        "carol": (10003, 8083, 9737),
    }
    assert network.lnd("alice").grpc_host == "127.0.0.1:10001"
    assert network.lnd("carol").grpc_host == "127.0.0.1:10003"
    for spec in network.lnd_nodes.values():
        assert set(spec.macaroons) == {"admin", "invoice", "readonly"}


def test_committed_file_accepts_a_str_path():
    assert load_polar_network(str(NETWORK_FILE)).source == NETWORK_FILE


def test_committed_file_channels_bob_to_alice_and_carol_to_bob_with_default_fees():
    network = load_polar_network(NETWORK_FILE)

    assert len(network.channels) == 2  # the three backend links are not channels
    bob_alice = channel(network, BOB_ALICE)
    assert (bob_alice.opener, bob_alice.peer) == ("bob", "alice")
    assert bob_alice.capacity_sat == 10_000_000
    assert (bob_alice.opener_balance_sat, bob_alice.peer_balance_sat) == (9_000_000, 1_000_000)
    carol_bob = channel(network, CAROL_BOB)
    assert (carol_bob.opener, carol_bob.peer) == ("carol", "bob")
    assert carol_bob.capacity_sat == 5_000_000
    assert (carol_bob.opener_balance_sat, carol_bob.peer_balance_sat) == (5_000_000, 0)
    for ch in network.channels:
        assert (ch.base_fee_msat, ch.fee_rate_ppm) == (1000, 1)
    assert (DEFAULT_BASE_FEE_MSAT, DEFAULT_FEE_RATE_PPM) == (1000, 1)


def test_data_dir_rebases_every_path_under_it(tmp_path: Path):
    network = load_polar_network(NETWORK_FILE, tmp_path)

    for name in ("alice", "bob", "carol"):
        spec = network.lnd(name)
        assert spec.tls_cert == tmp_path / "volumes" / "lnd" / name / "tls.cert"
        for kind in ("admin", "invoice", "readonly"):
            expected = tmp_path / "volumes" / "lnd" / name / REGTEST / f"{kind}.macaroon"
            assert spec.macaroon_path(kind) == expected
    assert network.lnd("alice").macaroon_path() == network.lnd("alice").macaroons["admin"]


def test_data_dir_as_str_is_accepted(tmp_path: Path):
    network = load_polar_network(NETWORK_FILE, str(tmp_path))
    assert network.lnd("bob").tls_cert == tmp_path / "volumes/lnd/bob/tls.cert"


def test_without_data_dir_paths_are_expanded_as_written(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("HOME", str(tmp_path))
    network = load_polar_network(NETWORK_FILE)

    alice = network.lnd("alice")
    assert alice.tls_cert == tmp_path / ".polar/networks/1/volumes/lnd/alice/tls.cert"
    assert alice.macaroon_path("readonly") == (
        tmp_path / ".polar/networks/1/volumes/lnd/alice" / REGTEST / "readonly.macaroon"
    )
    assert "~" not in str(alice.macaroon_path("admin"))


def test_relative_paths_are_placed_under_the_data_dir(doc: dict, tmp_path: Path):
    node(doc, "alice")["paths"]["tlsCert"] = "certs/alice.cert"
    assert parse(doc, tmp_path).lnd("alice").tls_cert == tmp_path / "certs/alice.cert"


def test_a_path_outside_the_network_path_cannot_be_rebased(doc: dict, tmp_path: Path):
    node(doc, "alice")["paths"]["tlsCert"] = "/etc/lnd/tls.cert"
    with pytest.raises(PolarNetworkError, match=r"'/etc/lnd/tls.cert' is not under the network"):
        parse(doc, tmp_path)
    assert parse(doc).lnd("alice").tls_cert == Path("/etc/lnd/tls.cert")  # fine without a dir


def test_a_sibling_directory_sharing_the_prefix_is_not_under_the_network_path(
    doc: dict, tmp_path: Path
):
    node(doc, "alice")["paths"]["tlsCert"] = "~/.polar/networks/10/volumes/tls.cert"
    with pytest.raises(PolarNetworkError, match="is not under the network's path"):
        parse(doc, tmp_path)


# -- asking for nodes --------------------------------------------------------------------------


def test_asking_for_the_bitcoind_backend_says_it_is_not_lnd():
    network = load_polar_network(NETWORK_FILE)
    with pytest.raises(PolarNetworkError, match="backend1") as info:
        network.lnd("backend1")
    assert "bitcoind" in str(info.value) and "not LND" in str(info.value)


def test_asking_for_an_unknown_node_lists_the_lnd_nodes():
    network = load_polar_network(NETWORK_FILE)
    with pytest.raises(PolarNetworkError, match=r"no node named 'dave'.*alice, bob, carol"):
        network.lnd("dave")


def test_a_file_without_lnd_nodes_says_none(doc: dict):
    doc["network"]["nodes"]["lightning"] = []
    doc["chart"]["links"] = {}
    network = parse(doc)
    assert network.lnd_nodes == {} and network.channels == ()
    with pytest.raises(PolarNetworkError, match=r"LND nodes: none"):
        network.lnd("alice")


def test_a_non_lnd_lightning_node_is_reported_by_its_implementation(doc: dict):
    node(doc, "carol")["implementation"] = "c-lightning"
    del doc["chart"]["links"][CAROL_BOB]
    network = parse(doc)
    assert sorted(network.lnd_nodes) == ["alice", "bob"]
    with pytest.raises(PolarNetworkError, match=r"'carol'.* is c-lightning, not LND"):
        network.lnd("carol")


def test_unknown_macaroon_kind_is_refused_with_the_known_kinds():
    alice = load_polar_network(NETWORK_FILE).lnd("alice")
    with pytest.raises(PolarNetworkError, match=r"no 'signer' macaroon.*admin, invoice, readonly"):
        alice.macaroon_path("signer")


def test_older_exports_without_an_invoice_macaroon_still_load(doc: dict):
    del node(doc, "alice")["paths"]["invoiceMacaroon"]
    alice = parse(doc).lnd("alice")
    assert set(alice.macaroons) == {"admin", "readonly"}
    with pytest.raises(PolarNetworkError, match="no 'invoice' macaroon"):
        alice.macaroon_path("invoice")


def test_missing_p2p_port_defaults_to_9735(doc: dict):
    del node(doc, "alice")["ports"]["p2p"]
    assert parse(doc).lnd("alice").p2p_port == 9735


# -- channels: overrides and direction ---------------------------------------------------------


def test_per_channel_fee_override_is_honoured(doc: dict):
    props(doc, BOB_ALICE).update(baseFeeMsat=0, feeRatePpm=2500)
    network = parse(doc)
    assert (channel(network, BOB_ALICE).base_fee_msat, channel(network, BOB_ALICE).fee_rate_ppm) \
        == (0, 2500)
    assert (channel(network, CAROL_BOB).base_fee_msat, channel(network, CAROL_BOB).fee_rate_ppm) \
        == (1000, 1)


def test_only_one_fee_field_overridden_keeps_the_other_default(doc: dict):
    props(doc, CAROL_BOB)["feeRatePpm"] = 42
    carol_bob = channel(parse(doc), CAROL_BOB)
    assert (carol_bob.base_fee_msat, carol_bob.fee_rate_ppm) == (1000, 42)


def test_rtl_direction_swaps_opener_and_peer_with_their_balances(doc: dict):
    props(doc, BOB_ALICE)["direction"] = "rtl"
    bob_alice = channel(parse(doc), BOB_ALICE)
    assert (bob_alice.opener, bob_alice.peer) == ("alice", "bob")
    assert (bob_alice.opener_balance_sat, bob_alice.peer_balance_sat) == (1_000_000, 9_000_000)
    assert bob_alice.capacity_sat == 10_000_000


def test_channel_without_channel_point_is_named_by_its_link_id(doc: dict):
    del props(doc, BOB_ALICE)["channelPoint"]
    assert {c.channel_point for c in parse(doc).channels} == {BOB_ALICE, CAROL_BOB}


def test_integer_amounts_are_accepted_as_well_as_strings(doc: dict):
    props(doc, CAROL_BOB).update(capacity=5_000_000, fromBalance=4_000_000, toBalance=1_000_000)
    carol_bob = channel(parse(doc), CAROL_BOB)
    assert (carol_bob.opener_balance_sat, carol_bob.peer_balance_sat) == (4_000_000, 1_000_000)


# -- malformed files ---------------------------------------------------------------------------


def _set(path: tuple, value):
    def mutate(doc):
        target = doc
        for key in path[:-1]:
            target = target[key] if not callable(key) else key(target)
        target[path[-1]] = value

    return mutate


def _del(path: tuple):
    def mutate(doc):
        target = doc
        for key in path[:-1]:
            target = target[key] if not callable(key) else key(target)
        del target[path[-1]]

    return mutate


def _lnd(name: str):
    return lambda doc: node(doc, name)


def _link(link_id: str):
    return lambda doc: props(doc, link_id)


def _end(link_id: str, side: str):
    return lambda doc: doc["chart"]["links"][link_id][side]


MALFORMED = {
    "missing network": (_del(("network",)), r"missing 'network'"),
    "missing chart": (_del(("chart",)), r"missing 'chart'"),
    "network not an object": (_set(("network",), []), r"'network' must be dict"),
    "missing nodes": (_del(("network", "nodes")), r"network: missing 'nodes'"),
    "lightning not a list": (
        _set(("network", "nodes", "lightning"), {}), r"'lightning' must be list"),
    "node not an object": (
        _set(("network", "nodes", "lightning", 0), "alice"),
        r"lightning\[0\]: expected an object, got str"),
    "node without a name": (
        _del((_lnd("bob"), "name")), r"lightning\[1\]: missing 'name'"),
    "network path not a string": (
        _set(("network", "path"), 1), r"network.path must be a string"),
    "node without ports": (_del((_lnd("alice"), "ports")), r"\(alice\): missing 'ports'"),
    "node without paths": (_del((_lnd("bob"), "paths")), r"\(bob\): missing 'paths'"),
    "node without tls cert path": (
        _del((_lnd("alice"), "paths", "tlsCert")), r"\(alice\)\.paths: missing 'tlsCert'"),
    "node without admin macaroon path": (
        _del((_lnd("alice"), "paths", "adminMacaroon")), r"missing 'adminMacaroon'"),
    "node without grpc port": (
        _del((_lnd("carol"), "ports", "grpc")), r"\(carol\)\.ports: missing 'grpc'"),
    "port zero": (
        _set((_lnd("alice"), "ports", "grpc"), 0), r"\(alice\)\.ports: grpc 0 is not a TCP port"),
    "port negative": (
        _set((_lnd("alice"), "ports", "rest"), -1), r"rest -1 is not a TCP port"),
    "port too high": (
        _set((_lnd("bob"), "ports", "p2p"), 65536), r"p2p 65536 is not a TCP port"),
    "port as string": (
        _set((_lnd("alice"), "ports", "grpc"), "10001"), r"'grpc' must be int, got '10001'"),
    "port as float": (
        _set((_lnd("alice"), "ports", "grpc"), 10001.0), r"'grpc' must be int, got 10001.0"),
    "port as bool": (
        _set((_lnd("alice"), "ports", "rest"), True), r"'rest' must be int, got True"),
    "duplicate node name": (
        _set((_lnd("bob"), "name"), "alice"), r"duplicate node name 'alice'"),
    "two nodes share a grpc port": (
        _set((_lnd("bob"), "ports", "grpc"), 10001),
        r"port 10001 is used by both 'alice' \(grpc\) and 'bob' \(grpc\)"),
    "one node's grpc and rest share a port": (
        _set((_lnd("bob"), "ports", "rest"), 10002),
        r"port 10002 is used by both 'bob' \(grpc\) and 'bob' \(rest\)"),
    "two nodes share a port across kinds": (
        _set((_lnd("carol"), "ports", "p2p"), 8081),
        r"port 8081 is used by both 'alice' \(rest\) and 'carol' \(p2p\)"),
    "missing links": (_del(("chart", "links")), r"chart: missing 'links'"),
    "channel to the bitcoind node": (
        _set((_end(BOB_ALICE, "to"), "nodeId"), "backend1"),
        r"channel end 'backend1' is a bitcoind node; channels need LND nodes"),
    "channel to an unknown node": (
        _set((_end(CAROL_BOB, "from"), "nodeId"), "dave"),
        r"channel end 'dave' is not a node of the file"),
    "channel end without node id": (
        _del((_end(CAROL_BOB, "from"), "nodeId")), r"\.from: missing 'nodeId'"),
    "channel to itself": (
        _set((_end(BOB_ALICE, "to"), "nodeId"), "bob"), r"a channel needs two different nodes"),
    "balances below capacity": (
        _set((_link(BOB_ALICE), "fromBalance"), "8000000"),
        r"fromBalance \(8000000\) \+ toBalance \(1000000\) must equal a positive capacity "
        r"\(10000000\)"),
    "balances above capacity": (
        _set((_link(CAROL_BOB), "toBalance"), "1"), r"must equal a positive capacity"),
    "zero capacity": (
        lambda doc: props(doc, CAROL_BOB).update(capacity="0", fromBalance="0", toBalance="0"),
        r"must equal a positive capacity \(0\)"),
    "negative balance": (
        lambda doc: props(doc, CAROL_BOB).update(fromBalance="5000001", toBalance="-1"),
        r"toBalance must not be negative, got -1"),
    "negative capacity": (
        _set((_link(CAROL_BOB), "capacity"), "-5000000"), r"capacity must not be negative"),
    "non-numeric capacity": (
        _set((_link(BOB_ALICE), "capacity"), "lots"),
        r"capacity must be an amount in sat, got 'lots'"),
    "fractional balance": (
        _set((_link(BOB_ALICE), "fromBalance"), "9000000.5"),
        r"fromBalance must be an amount in sat"),
    "missing capacity": (
        _del((_link(BOB_ALICE), "capacity")), r"capacity must be an amount in sat, got None"),
    "negative base fee override": (
        _set((_link(BOB_ALICE), "baseFeeMsat"), -1),
        r"baseFeeMsat must be a non-negative integer, got -1"),
    "negative fee rate override": (
        _set((_link(CAROL_BOB), "feeRatePpm"), -5),
        r"feeRatePpm must be a non-negative integer, got -5"),
    "fee rate override as string": (
        _set((_link(CAROL_BOB), "feeRatePpm"), "5"), r"feeRatePpm must be a non-negative integer"),
    "fee override as bool": (
        _set((_link(CAROL_BOB), "baseFeeMsat"), True),
        r"baseFeeMsat must be a non-negative integer, got True"),
}


@pytest.mark.parametrize(("mutate", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_network_is_refused_naming_the_problem(doc: dict, mutate, message: str):
    mutate(doc)
    with pytest.raises(PolarNetworkError, match=message):
        parse(doc)


@pytest.mark.parametrize("top", [[], "network", 3, None], ids=["list", "str", "int", "null"])
def test_a_document_that_is_not_an_object_is_refused(top):
    with pytest.raises(PolarNetworkError, match=r"expected an object"):
        parse(top)


def test_malformed_file_on_disk_names_the_file(doc: dict, tmp_path: Path):
    props(doc, BOB_ALICE)["capacity"] = "1"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(PolarNetworkError, match=re.escape(str(path))):
        load_polar_network(path)


def test_a_file_that_is_not_json_is_refused(tmp_path: Path):
    path = tmp_path / "network.json"
    path.write_text("{not json")
    expected = r"network.json is not a Polar network file \(JSON expected"
    with pytest.raises(PolarNetworkError, match=expected):
        load_polar_network(path)


def test_an_empty_file_is_refused(tmp_path: Path):
    path = tmp_path / "network.json"
    path.write_text("")
    with pytest.raises(PolarNetworkError, match=r"is not a Polar network file"):
        load_polar_network(path)


def test_a_missing_file_is_refused(tmp_path: Path):
    path = tmp_path / "nope.json"
    with pytest.raises(PolarNetworkError, match=r"network file not found: .*nope\.json"):
        load_polar_network(path)


def test_a_binary_file_such_as_a_zip_export_is_refused(tmp_path: Path):
    path = tmp_path / "alsats.polar.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("network.json", NETWORK_FILE.read_bytes())
        archive.writestr("volumes/lnd/alice/tls.cert", b"\xff\xfe\x00" * 64)
    with pytest.raises(PolarNetworkError):
        load_polar_network(path)


def test_a_bitcoin_node_named_like_an_lnd_node_is_a_duplicate(doc: dict):
    doc["network"]["nodes"]["bitcoin"][0]["name"] = "alice"
    with pytest.raises(PolarNetworkError, match="duplicate node name 'alice'"):
        parse(doc)


def test_the_committed_file_is_not_modified_by_these_tests(original: dict):
    assert json.loads(NETWORK_FILE.read_text()) == original


def test_copy_with_free_ports_gives_every_node_distinct_free_ports(tmp_path: Path):
    for attempt in range(20):  # the OS hands out ports freely: repeat to catch a reuse
        copied = copy_with_free_ports(NETWORK_FILE, tmp_path / f"network{attempt}.json")
        network = load_polar_network(copied)
        ports = [p for n in network.lnd_nodes.values()
                 for p in (n.grpc_port, n.rest_port, n.p2p_port)]
        assert len(ports) == len(set(ports)) == 9
        assert set(network.lnd_nodes) == {"alice", "bob", "carol"}
        assert len(network.channels) == 2
