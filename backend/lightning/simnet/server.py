"""The simnet: every LND node of a Polar file served over gRPC+TLS from this process.

Embeddable (``async with Simnet(network, data_dir): ...``) and run alone by
``alsats-simnet``. One data dir belongs to one running simnet (a lock file says so).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import grpc
from lndgrpc.compiled import invoices_pb2_grpc as invgrpc
from lndgrpc.compiled import lightning_pb2_grpc as lngrpc
from lndgrpc.compiled import router_pb2_grpc as routergrpc

from ..polar import MACAROON_KINDS, PolarNetwork
from . import macaroons
from .events import InvoiceEvents
from .ledger import Ledger
from .services import (
    PERMISSIONS,
    InvoicesService,
    LightningService,
    NodeContext,
    RouterService,
)
from .tls import ensure_tls, write_private

log = logging.getLogger(__name__)
EXPIRY_SWEEP_SECONDS = 1.0


class SimnetError(RuntimeError):
    """The simnet cannot start: a port is taken, the data dir is in use, ..."""


class Simnet:
    def __init__(
        self,
        network: PolarNetwork,
        data_dir: str | Path,
        *,
        host: str = "127.0.0.1",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.network = network
        self.data_dir = Path(data_dir)
        self.host = host
        self._clock = clock
        self.ledger: Ledger | None = None
        self.events = InvoiceEvents()
        self._servers: list[grpc.aio.Server] = []
        self._lock_file = None
        self._sweeper: asyncio.Task | None = None

    async def __aenter__(self) -> Simnet:
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.stop()

    async def start(self) -> None:
        if not self.network.lnd_nodes:
            raise SimnetError(f"{self.network.source} has no LND node to simulate")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_data_dir()
        try:
            self.ledger = Ledger(self.data_dir / "simnet.sqlite", clock=self._clock)
            self.ledger.open_network(self.network)
            for name in self.network.lnd_nodes:
                self._servers.append(await self._serve_node(name))
        except BaseException:
            await self.stop()
            raise
        self._sweeper = asyncio.create_task(self._sweep_expired_invoices())
        log.info("simnet serving %s from %s", ", ".join(self.network.lnd_nodes), self.data_dir)

    async def stop(self, grace: float = 0.5) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        await asyncio.gather(*(server.stop(grace) for server in self._servers))
        self._servers.clear()
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def _lock_data_dir(self) -> None:
        lock = (self.data_dir / "simnet.lock").open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise SimnetError(
                f"data dir {self.data_dir} is in use by another running simnet"
            ) from None
        lock.write(str(os.getpid()))
        lock.flush()
        self._lock_file = lock

    async def _serve_node(self, name: str) -> grpc.aio.Server:
        spec = self.network.lnd_nodes[name]
        keys = self.ledger.keys(name)
        cert, key = ensure_tls(spec.tls_cert, spec.tls_cert.with_name("tls.key"), name)
        for kind in MACAROON_KINDS:
            if kind in spec.macaroons:
                write_private(spec.macaroons[kind], macaroons.bake(keys.root_key, kind))
        server = grpc.aio.server(
            interceptors=[MacaroonInterceptor(keys.root_key)],
            options=[
                ("grpc.so_reuseport", 0),  # a taken port must fail, not be shared
                # LND's keepalive enforcement: clients may ping every 5 s, even when idle
                ("grpc.http2.min_recv_ping_interval_without_data_ms", 5_000),
                ("grpc.keepalive_permit_without_calls", 1),
            ],
        )
        node = NodeContext(name, self.ledger, self.events, spec.p2p_port)
        lngrpc.add_LightningServicer_to_server(LightningService(node), server)
        routergrpc.add_RouterServicer_to_server(RouterService(node), server)
        invgrpc.add_InvoicesServicer_to_server(InvoicesService(node), server)
        address = f"{self.host}:{spec.grpc_port}"
        credentials = grpc.ssl_server_credentials([(key, cert)])
        try:
            bound = server.add_secure_port(address, credentials)
        except RuntimeError:
            bound = 0
        if not bound:
            raise SimnetError(f"cannot listen on {address} for node {name!r}: port in use?")
        await server.start()
        return server

    async def _sweep_expired_invoices(self) -> None:
        while True:
            for invoice in self.ledger.expire_invoices():
                self.events.publish(invoice)
            await asyncio.sleep(EXPIRY_SWEEP_SECONDS)


class MacaroonInterceptor(grpc.aio.ServerInterceptor):
    """Check each call's macaroon against the method's permission, as LND does."""

    def __init__(self, root_key: bytes) -> None:
        self._root_key = root_key

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        permission = PERMISSIONS.get(details.method)
        if handler is None or permission is None:
            return handler
        metadata = dict(details.invocation_metadata or ())
        try:
            macaroons.check(self._root_key, metadata.get("macaroon"), *permission)
        except macaroons.MacaroonRefused as refusal:
            return _refusing(handler, str(refusal))
        return handler


def _refusing(handler: grpc.RpcMethodHandler, message: str) -> grpc.RpcMethodHandler:
    """A handler of the same shape that fails the call the way LND does (code Unknown)."""

    async def refuse(request, context):
        await context.abort(grpc.StatusCode.UNKNOWN, message)

    make = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }[(handler.request_streaming, handler.response_streaming)]
    return make(
        refuse,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
