"""``alsats-backend``: serve the HTTP API, optionally with the simnet in the same process."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from aiohttp import web
from threadpoolctl import threadpool_limits

from .app import create_app, server_options
from .config import Config, ConfigError
from .lightning import PolarNetworkError, load_polar_network


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: easy to grep, easy to ship."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="alsats-backend",
        description="Sell active-learning iterations over Lightning (L402).")
    parser.add_argument("--network", required=True, type=Path, help="Polar network file")
    parser.add_argument("--node", required=True, help="the server's LND node in that file")
    parser.add_argument("--simnet", action="store_true",
                        help="run the simnet for every LND node of the file in this process")
    parser.add_argument("--lnd-data-dir", type=Path, default=None,
                        help="without --simnet: the folder of a Polar export holding the "
                             "nodes' TLS certs and macaroons (default: the file's own paths)")
    parser.add_argument("--data-dir", type=Path, default=Path(".alsats/backend"),
                        help="credit ledger, root key (and simnet state) (.alsats/backend)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8402)
    parser.add_argument("--price-msat", type=int, default=1000,
                        help="price of one iteration in msat (1000 = 1 sat)")
    parser.add_argument("--workers", type=int, default=2,
                        help="threads that fit and score models (2)")
    parser.add_argument("--read-timeout", type=float, default=60.0, metavar="SECONDS",
                        help="drop a client silent this long: a request body that stops "
                             "arriving (408), a connection that sends no request (60)")
    args = parser.parse_args(argv)

    # the learners already run in a thread pool: native thread pools inside each fit only
    # fight over the cores (badly so for gradient boosting, scikit-learn issue 30662)
    threadpool_limits(limits=1)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    try:
        config = Config(network_file=args.network, node=args.node, data_dir=args.data_dir,
                        simnet=args.simnet, lnd_data_dir=args.lnd_data_dir,
                        host=args.host, port=args.port,
                        price_msat=args.price_msat, workers=args.workers,
                        read_timeout_seconds=args.read_timeout)
        if args.simnet and args.lnd_data_dir:
            raise ConfigError("--lnd-data-dir is for a real network; --simnet keeps its own")
        load_polar_network(config.network_file).lnd(config.node)  # fail early and clearly
    except (ConfigError, PolarNetworkError) as exc:
        print(f"alsats-backend: {exc}", file=sys.stderr)
        return 2
    # run_app stops on SIGINT/SIGTERM: in-flight requests finish (up to the timeout), then
    # the cleanup contexts close the ledger, the Lightning connection and the simnet
    log = logging.getLogger("alsats.backend")
    web.run_app(create_app(config), host=config.host, port=config.port, shutdown_timeout=30,
                print=lambda text: log.info(text.strip()), **server_options(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
