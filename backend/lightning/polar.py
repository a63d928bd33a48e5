"""Load a Polar network export (``{"network": {...}, "chart": {...}}``) into typed objects.

Polar writes absolute paths of the machine that made the network
(``~/.polar/networks/1/volumes/lnd/alice/tls.cert``). With no data dir they are used as
written, which is right on the machine running Polar; with a data dir, every path under
the network's ``path`` is rebased under that dir, which is where the simnet writes its
certificates and macaroons (and where an unzipped Polar export keeps them).
"""

from __future__ import annotations

import contextlib
import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_BASE_FEE_MSAT = 1000  # LND's default routing policy
DEFAULT_FEE_RATE_PPM = 1
MACAROON_KINDS = ("admin", "invoice", "readonly")


class PolarNetworkError(ValueError):
    """The network file is malformed or does not have what was asked of it."""


@dataclass(frozen=True)
class LndNodeSpec:
    """One LND node of the file: where it listens and where its credentials live."""

    name: str
    grpc_port: int
    rest_port: int
    p2p_port: int
    tls_cert: Path
    macaroons: dict[str, Path]  # "admin" | "invoice" | "readonly" -> path

    @property
    def grpc_host(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def macaroon_path(self, kind: str = "admin") -> Path:
        if kind not in self.macaroons:
            raise PolarNetworkError(
                f"node {self.name!r} has no {kind!r} macaroon path "
                f"(known: {', '.join(sorted(self.macaroons))})"
            )
        return self.macaroons[kind]


@dataclass(frozen=True)
class ChannelSpec:
    """An open channel from the chart: ``opener`` funded it, balances are in sat."""

    channel_point: str
    opener: str
    peer: str
    capacity_sat: int
    opener_balance_sat: int
    peer_balance_sat: int
    base_fee_msat: int = DEFAULT_BASE_FEE_MSAT
    fee_rate_ppm: int = DEFAULT_FEE_RATE_PPM


@dataclass(frozen=True)
class PolarNetwork:
    name: str
    source: Path
    lnd_nodes: dict[str, LndNodeSpec]
    other_nodes: dict[str, str]  # name -> implementation, for clear errors
    channels: tuple[ChannelSpec, ...]

    def lnd(self, name: str) -> LndNodeSpec:
        """The LND node called ``name``, or an error that says what the file has."""
        if name in self.lnd_nodes:
            return self.lnd_nodes[name]
        if name in self.other_nodes:
            raise PolarNetworkError(
                f"node {name!r} in {self.source} is {self.other_nodes[name]}, "
                "not LND; alsats speaks LND's API"
            )
        raise PolarNetworkError(
            f"no node named {name!r} in {self.source} "
            f"(LND nodes: {', '.join(sorted(self.lnd_nodes)) or 'none'})"
        )


def load_polar_network(path: str | Path, data_dir: str | Path | None = None) -> PolarNetwork:
    """Read and validate a Polar export; see the module docstring for ``data_dir``."""
    source = Path(path)
    try:
        doc = json.loads(source.read_text())
    except FileNotFoundError:
        raise PolarNetworkError(f"network file not found: {source}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PolarNetworkError(
            f"{source} is not a Polar network file (JSON expected; unzip an export and "
            f"use its export.json): {exc}"
        ) from None
    return parse_polar_network(doc, source, data_dir)


def copy_with_free_ports(source: str | Path, destination: str | Path) -> Path:
    """Copy a network file, giving every LND node free loopback ports (for tests, stacks)."""
    doc = json.loads(Path(source).read_text())
    parse_polar_network(doc, Path(source))  # refuse to copy a malformed file
    lnd = [n for n in doc["network"]["nodes"]["lightning"] if n.get("implementation") == "LND"]
    ports = iter(free_ports(3 * len(lnd)))
    for node in lnd:
        node["ports"].update({key: next(ports) for key in ("grpc", "rest", "p2p")})
    destination = Path(destination)
    destination.write_text(json.dumps(doc, indent=2))
    return destination


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports on 127.0.0.1 that nobody listens on right now."""
    with contextlib.ExitStack() as stack:  # hold them all open, so none comes back twice
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def parse_polar_network(
    doc: Any, source: Path, data_dir: str | Path | None = None
) -> PolarNetwork:
    where = str(source)
    network = _field(doc, "network", dict, where)
    chart = _field(doc, "chart", dict, where)
    nodes = _field(network, "nodes", dict, f"{where}: network")
    base = _network_base(network, where)
    rebase_to = Path(data_dir) if data_dir is not None else None

    lnd_nodes: dict[str, LndNodeSpec] = {}
    other_nodes: dict[str, str] = {}
    for i, raw in enumerate(_field(nodes, "lightning", list, f"{where}: network.nodes")):
        at = f"{where}: network.nodes.lightning[{i}]"
        name = _field(raw, "name", str, at)
        if name in lnd_nodes or name in other_nodes:
            raise PolarNetworkError(f"{at}: duplicate node name {name!r}")
        implementation = _field(raw, "implementation", str, at)
        if implementation != "LND":
            other_nodes[name] = implementation
            continue
        lnd_nodes[name] = _lnd_node(raw, name, base, rebase_to, f"{at} ({name})")
    for group in ("bitcoin", "tap"):
        for raw in nodes.get(group, []) or []:
            if isinstance(raw, dict) and isinstance(raw.get("name"), str):
                name = raw["name"]
                if name in lnd_nodes or name in other_nodes:
                    raise PolarNetworkError(f"{where}: duplicate node name {name!r}")
                other_nodes[name] = raw.get("implementation", group)

    _check_unique_ports(lnd_nodes, where)
    links = _field(chart, "links", dict, f"{where}: chart")
    channels = tuple(
        _channel(link_id, link, lnd_nodes, other_nodes, f"{where}: chart.links[{link_id!r}]")
        for link_id, link in links.items()
        if isinstance(link, dict) and (link.get("properties") or {}).get("type") == "open-channel"
    )
    return PolarNetwork(
        name=str(network.get("name", source.stem)),
        source=source,
        lnd_nodes=lnd_nodes,
        other_nodes=other_nodes,
        channels=channels,
    )


def _network_base(network: dict, where: str) -> str | None:
    path = network.get("path")
    if path is not None and not isinstance(path, str):
        raise PolarNetworkError(f"{where}: network.path must be a string")
    return path


def _lnd_node(
    raw: dict, name: str, base: str | None, rebase_to: Path | None, at: str
) -> LndNodeSpec:
    ports = _field(raw, "ports", dict, at)
    paths = _field(raw, "paths", dict, at)
    resolve = lambda key: _resolve(_field(paths, key, str, f"{at}.paths"), base, rebase_to)  # noqa: E731
    macaroons = {"admin": resolve("adminMacaroon"), "readonly": resolve("readonlyMacaroon")}
    if "invoiceMacaroon" in paths:  # older Polar exports have no invoice macaroon
        macaroons["invoice"] = resolve("invoiceMacaroon")
    return LndNodeSpec(
        name=name,
        grpc_port=_port(ports, "grpc", at),
        rest_port=_port(ports, "rest", at),
        p2p_port=_port(ports, "p2p", at) if "p2p" in ports else 9735,
        tls_cert=resolve("tlsCert"),
        macaroons=macaroons,
    )


def _resolve(path: str, base: str | None, rebase_to: Path | None) -> Path:
    if rebase_to is None:
        return Path(path).expanduser()
    if base and (path == base or path.startswith(base.rstrip("/") + "/")):
        return rebase_to / path[len(base.rstrip("/")) + 1 :]
    if not Path(path).is_absolute() and not path.startswith("~"):
        return rebase_to / path
    raise PolarNetworkError(
        f"path {path!r} is not under the network's path {base!r}, so it cannot be "
        f"placed under the data dir {rebase_to}"
    )


def _channel(
    link_id: str, link: dict, lnd: dict[str, LndNodeSpec], others: dict[str, str], at: str
) -> ChannelSpec:
    props = link["properties"]
    ends = []
    for side in ("from", "to"):
        node = _field(_field(link, side, dict, at), "nodeId", str, f"{at}.{side}")
        if node not in lnd:
            what = f"a {others[node]} node" if node in others else "not a node of the file"
            raise PolarNetworkError(
                f"{at}: channel end {node!r} is {what}; channels need LND nodes"
            )
        ends.append(node)
    if ends[0] == ends[1]:
        raise PolarNetworkError(f"{at}: a channel needs two different nodes")
    capacity = _sats(props, "capacity", at)
    from_balance = _sats(props, "fromBalance", at)
    to_balance = _sats(props, "toBalance", at)
    if capacity <= 0 or from_balance + to_balance != capacity:
        raise PolarNetworkError(
            f"{at}: fromBalance ({from_balance}) + toBalance ({to_balance}) "
            f"must equal a positive capacity ({capacity})"
        )
    opener, peer = ends
    opener_balance, peer_balance = from_balance, to_balance
    if props.get("direction") == "rtl":  # Polar draws some channels right to left
        opener, peer = peer, opener
        opener_balance, peer_balance = to_balance, from_balance
    return ChannelSpec(
        channel_point=str(props.get("channelPoint") or link_id),
        opener=opener,
        peer=peer,
        capacity_sat=capacity,
        opener_balance_sat=opener_balance,
        peer_balance_sat=peer_balance,
        base_fee_msat=_optional_int(props, "baseFeeMsat", DEFAULT_BASE_FEE_MSAT, at),
        fee_rate_ppm=_optional_int(props, "feeRatePpm", DEFAULT_FEE_RATE_PPM, at),
    )


def _check_unique_ports(nodes: dict[str, LndNodeSpec], where: str) -> None:
    seen: dict[int, str] = {}
    for node in nodes.values():
        for kind, port in (("grpc", node.grpc_port), ("rest", node.rest_port),
                           ("p2p", node.p2p_port)):
            user = f"{node.name!r} ({kind})"
            if port in seen:
                raise PolarNetworkError(f"{where}: port {port} is used by both {seen[port]} "
                                        f"and {user}")
            seen[port] = user


def _field(obj: Any, key: str, kind: type, at: str) -> Any:
    if not isinstance(obj, dict):
        raise PolarNetworkError(f"{at}: expected an object, got {type(obj).__name__}")
    if key not in obj:
        raise PolarNetworkError(f"{at}: missing {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise PolarNetworkError(f"{at}: {key!r} must be {kind.__name__}, got {value!r}")
    return value


def _port(ports: dict, key: str, at: str) -> int:
    port = _field(ports, key, int, f"{at}.ports")
    if not 0 < port < 65536:
        raise PolarNetworkError(f"{at}.ports: {key} {port} is not a TCP port")
    return port


def _sats(props: dict, key: str, at: str) -> int:
    value = props.get(key)
    try:  # Polar stores amounts as strings of sats
        amount = int(str(value))
    except ValueError:
        raise PolarNetworkError(f"{at}: {key} must be an amount in sat, got {value!r}") from None
    if amount < 0:
        raise PolarNetworkError(f"{at}: {key} must not be negative, got {amount}")
    return amount


def _optional_int(props: dict, key: str, default: int, at: str) -> int:
    if key not in props:
        return default
    value = props[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise PolarNetworkError(f"{at}: {key} must be a non-negative integer, got {value!r}")
    return value
