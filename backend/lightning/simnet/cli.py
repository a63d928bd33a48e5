"""``alsats-simnet --network FILE --data-dir DIR``: serve the file's LND nodes until stopped."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from ..lndconnect import make_lndconnect
from ..node import LightningNode
from ..polar import PolarNetwork, PolarNetworkError, load_polar_network
from .server import Simnet, SimnetError

READY_LINE = "simnet ready"  # printed once serving, for scripts that wait on it


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="alsats-simnet",
        description="Serve every LND node of a Polar network file over LND's gRPC API.",
    )
    parser.add_argument("--network", required=True, type=Path, help="Polar export (JSON)")
    parser.add_argument("--data-dir", required=True, type=Path,
                        help="where state, TLS certificates and macaroons live")
    parser.add_argument("--quiet", action="store_true", help="print only the ready line")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    try:
        network = load_polar_network(args.network, args.data_dir)
        asyncio.run(_serve(network, args.data_dir, args.quiet))
    except (PolarNetworkError, SimnetError) as exc:
        print(f"alsats-simnet: {exc}", file=sys.stderr)
        return 2
    return 0


async def _serve(network: PolarNetwork, data_dir: Path, quiet: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Simnet(network, data_dir):
        if not quiet:
            print(await describe(network), flush=True)
        print(READY_LINE, flush=True)
        await stop.wait()


async def describe(network: PolarNetwork) -> str:
    """Each node's identity, balances and how to reach it, asked over its own gRPC API."""
    lines = [f"Lightning simnet '{network.name}' from {network.source}", ""]
    for name, spec in network.lnd_nodes.items():
        async with LightningNode.from_files(spec.grpc_host, spec.tls_cert,
                                            spec.macaroon_path("admin"), name=name) as node:
            info = await node.get_info()
            balance = await node.channel_balance()
            channels = await node.list_channels()
        lines += [
            f"{name}  {info.pubkey}",
            f"  gRPC      {spec.grpc_host}",
            f"  tls.cert  {spec.tls_cert}",
            f"  macaroon  {spec.macaroon_path('admin')}",
            f"  balance   {balance.local_msat} msat local, {balance.remote_msat} msat remote "
            f"in {len(channels)} channel(s)",
            "  lndconnect " + make_lndconnect(spec.grpc_host, spec.tls_cert.read_bytes(),
                                              spec.macaroon_path("admin").read_bytes()),
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
