"""LightningWallet: the user's own LND node, for notebook code that is not async.

It wraps backend.lightning.LightningNode (the one adapter to LND) and runs it on a private
event loop in a daemon thread, so it works the same in a plain script and in a Jupyter
kernel (which already runs a loop of its own).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from backend.lightning import LightningNode
from backend.lightning.models import Payment

T = TypeVar("T")
DEFAULT_FEE_LIMIT_MSAT = 10_000  # plenty for a few hops at LND's default fees


class LightningWallet:
    """Pay invoices from your node and read its balance."""

    def __init__(self, node: LightningNode, *, call_timeout: float = 120.0) -> None:
        self._node = node
        self._call_timeout = call_timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"alsats-wallet-{node.name}")
        self._thread.start()
        self._pubkey: str | None = None

    @classmethod
    def from_polar(cls, network_file: str | Path, node_name: str,
                   data_dir: str | Path | None = None) -> LightningWallet:
        """A node of a Polar network file; ``data_dir`` rebases its paths (the simnet's)."""
        return cls(LightningNode.from_polar(network_file, node_name, data_dir))

    @classmethod
    def from_files(cls, host: str, tls_cert_path: str | Path,
                   macaroon_path: str | Path) -> LightningWallet:
        return cls(LightningNode.from_files(host, tls_cert_path, macaroon_path))

    @classmethod
    def from_lndconnect(cls, uri: str) -> LightningWallet:
        return cls(LightningNode.from_lndconnect(uri))

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if not self._thread.is_alive():
            coroutine.close()
            raise RuntimeError("this wallet is closed")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(self._call_timeout)

    @property
    def pubkey(self) -> str:
        if self._pubkey is None:
            self._pubkey = self._run(self._node.get_info()).pubkey
        return self._pubkey

    def balance_msat(self) -> int:
        """What the node can spend over its channels."""
        return self._run(self._node.channel_balance()).local_msat

    def pay(self, payment_request: str, *, fee_limit_msat: int = DEFAULT_FEE_LIMIT_MSAT,
            timeout_seconds: int = 60) -> Payment:
        """Pay and return the proof (``.preimage``); raises backend.lightning's errors."""
        return self._run(self._node.send_payment(
            payment_request, fee_limit_msat=fee_limit_msat, timeout_seconds=timeout_seconds))

    def track_payment(self, payment_hash: str, *, timeout_seconds: int = 30) -> Payment:
        """How a payment this node made ended (the proof, if it settled); raises
        backend.lightning's errors: PaymentError if it failed or was never made."""
        return self._run(self._node.track_payment(payment_hash, timeout=timeout_seconds))

    def close(self) -> None:
        if self._thread.is_alive():
            self._run(self._node.close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def __enter__(self) -> LightningWallet:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LightningWallet({self._node.name!r})"
