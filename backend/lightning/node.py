"""LightningNode: the one adapter to an LND node's gRPC API (real LND, Polar or the simnet).

One long-lived ``grpc.aio`` channel per node, TLS pinned to the node's own certificate,
the macaroon as hex ``macaroon`` metadata on every call, LND's generated stubs from
``lndgrpc.compiled`` (never lndgrpc's client classes). Every failure raises a typed
``LightningError``; no call returns None for a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
from lndgrpc.compiled import invoices_pb2 as invrpc
from lndgrpc.compiled import invoices_pb2_grpc as invgrpc
from lndgrpc.compiled import lightning_pb2 as ln
from lndgrpc.compiled import lightning_pb2_grpc as lngrpc
from lndgrpc.compiled import router_pb2 as routerrpc
from lndgrpc.compiled import router_pb2_grpc as routergrpc

from . import errors
from .lndconnect import parse_lndconnect
from .models import (
    Channel,
    ChannelBalance,
    Invoice,
    NodeInfo,
    Payment,
    PayReq,
    WalletBalance,
)
from .polar import load_polar_network

CALL_TIMEOUT_SECONDS = 30.0
MAX_MESSAGE_BYTES = 50 * 1024 * 1024  # LND's own limit for large responses
STREAM_END_SECONDS = 1.0  # waited for a payment stream's end after its final state
MAX_RECONNECT_BACKOFF_MS = 2_000  # gRPC's default grows to 120 s: a node back is seen soon
AUTH_PHRASES = ("macaroon", "permission denied", "verification failed")


class LightningNode:
    """An LND node reached over gRPC. Use as ``async with``, or call ``close()``."""

    def __init__(self, host: str, tls_cert_pem: bytes | None, macaroon: bytes,
                 *, name: str = "") -> None:
        self.host = host
        self.name = name or host
        self._tls_cert_pem = tls_cert_pem
        self._metadata = (("macaroon", macaroon.hex()),)
        self._channel: grpc.aio.Channel | None = None
        self._stubs: dict[type, object] = {}

    # -- ways to connect ---------------------------------------------------------

    @classmethod
    def from_polar(cls, network_file: str | Path, node_name: str,
                   data_dir: str | Path | None = None, macaroon: str = "admin") -> LightningNode:
        """A node of a Polar export; ``data_dir`` rebases its paths (see polar.py)."""
        node = load_polar_network(network_file, data_dir).lnd(node_name)
        return cls.from_files(node.grpc_host, node.tls_cert, node.macaroon_path(macaroon),
                              name=node_name)

    @classmethod
    def from_files(cls, host: str, tls_cert_path: str | Path, macaroon_path: str | Path,
                   *, name: str = "") -> LightningNode:
        return cls(host, _read(tls_cert_path, "TLS certificate", host),
                   _read(macaroon_path, "macaroon", host), name=name)

    @classmethod
    def from_lndconnect(cls, uri: str, *, name: str = "") -> LightningNode:
        parsed = parse_lndconnect(uri)
        return cls(parsed.host, parsed.tls_cert_pem, parsed.macaroon, name=name)

    # -- lifecycle ---------------------------------------------------------------

    def _grpc_channel(self) -> grpc.aio.Channel:
        if self._channel is None:
            credentials = grpc.ssl_channel_credentials(root_certificates=self._tls_cert_pem)
            self._channel = grpc.aio.secure_channel(self.host, credentials, options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.keepalive_time_ms", 30_000),
                ("grpc.max_reconnect_backoff_ms", MAX_RECONNECT_BACKOFF_MS),
            ])
        return self._channel

    def _stub(self, kind: type):
        if kind not in self._stubs:
            self._stubs[kind] = kind(self._grpc_channel())
        return self._stubs[kind]

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
            self._stubs.clear()

    async def __aenter__(self) -> LightningNode:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    @property
    def _lightning(self) -> lngrpc.LightningStub:
        return self._stub(lngrpc.LightningStub)

    @property
    def _router(self) -> routergrpc.RouterStub:
        return self._stub(routergrpc.RouterStub)

    @property
    def _invoices(self) -> invgrpc.InvoicesStub:
        return self._stub(invgrpc.InvoicesStub)

    async def _call(self, method, request, *, timeout: float = CALL_TIMEOUT_SECONDS,
                    not_found: type[errors.LightningError] = errors.LightningError):
        try:
            return await method(request, metadata=self._metadata, timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            raise self._translate(exc, not_found) from None

    # -- node --------------------------------------------------------------------

    async def get_info(self) -> NodeInfo:
        info = await self._call(self._lightning.GetInfo, ln.GetInfoRequest())
        return NodeInfo(
            pubkey=info.identity_pubkey, alias=info.alias, version=info.version,
            network=info.chains[0].network if info.chains else "",
            block_height=info.block_height, num_active_channels=info.num_active_channels,
            uris=tuple(info.uris),
        )

    async def channel_balance(self) -> ChannelBalance:
        balance = await self._call(self._lightning.ChannelBalance, ln.ChannelBalanceRequest())
        return ChannelBalance(balance.local_balance.msat, balance.remote_balance.msat)

    async def wallet_balance(self) -> WalletBalance:
        balance = await self._call(self._lightning.WalletBalance, ln.WalletBalanceRequest())
        return WalletBalance(balance.confirmed_balance, balance.unconfirmed_balance)

    async def list_channels(self) -> list[Channel]:
        reply = await self._call(self._lightning.ListChannels, ln.ListChannelsRequest())
        return [
            Channel(c.chan_id, c.channel_point, c.remote_pubkey, c.capacity, c.local_balance,
                    c.remote_balance, c.active, c.initiator)
            for c in reply.channels
        ]

    # -- invoices (the receiving side) -------------------------------------------

    async def add_invoice(self, amount_msat: int, memo: str = "", expiry: int = 3600) -> Invoice:
        """A new invoice; ``amount_msat`` 0 makes an any-amount invoice."""
        added = await self._call(self._lightning.AddInvoice, ln.Invoice(
            value_msat=amount_msat, memo=memo, expiry=expiry))
        return await self.lookup_invoice(added.r_hash.hex())

    async def lookup_invoice(self, payment_hash: str) -> Invoice:
        invoice = await self._call(
            self._lightning.LookupInvoice, ln.PaymentHash(r_hash=_hash_bytes(payment_hash)),
            not_found=errors.InvoiceNotFoundError,
        )
        return _invoice(invoice)

    async def list_invoices(self, index_offset: int = 0, max_invoices: int = 0) -> list[Invoice]:
        """Invoices in order of their add_index, after ``index_offset``."""
        reply = await self._call(self._lightning.ListInvoices, ln.ListInvoiceRequest(
            index_offset=index_offset, num_max_invoices=max_invoices))
        return [_invoice(invoice) for invoice in reply.invoices]

    async def cancel_invoice(self, payment_hash: str) -> None:
        await self._call(self._invoices.CancelInvoice,
                         invrpc.CancelInvoiceMsg(payment_hash=_hash_bytes(payment_hash)),
                         not_found=errors.InvoiceNotFoundError)

    async def subscribe_invoices(self, add_index: int = 0,
                                 settle_index: int = 0) -> AsyncIterator[Invoice]:
        """Invoices added or settled after the indexes, then live, until the caller stops."""
        call = self._lightning.SubscribeInvoices(
            ln.InvoiceSubscription(add_index=add_index, settle_index=settle_index),
            metadata=self._metadata,
        )
        try:
            async for invoice in call:
                yield _invoice(invoice)
        except grpc.aio.AioRpcError as exc:
            raise self._translate(exc, errors.LightningError) from None
        finally:
            call.cancel()

    async def wait_invoice_settled(self, payment_hash: str, timeout: float) -> Invoice:
        """Block until the invoice settles; IncorrectPaymentDetailsError if it is canceled
        (or expires), TimeoutError if neither happens within ``timeout`` seconds."""
        call = self._invoices.SubscribeSingleInvoice(
            invrpc.SubscribeSingleInvoiceRequest(r_hash=_hash_bytes(payment_hash)),
            metadata=self._metadata,
        )

        async def settlement() -> Invoice:
            async for update in call:
                invoice = _invoice(update)
                if invoice.settled:
                    return invoice
                if invoice.state == "CANCELED":
                    raise errors.IncorrectPaymentDetailsError(
                        "invoice was canceled or expired before it was paid", payment_hash)
            raise errors.NodeUnavailableError(f"{self.name}: invoice stream ended early")

        try:
            return await asyncio.wait_for(settlement(), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"invoice {payment_hash} not settled within {timeout}s") from None
        except grpc.aio.AioRpcError as exc:
            raise self._translate(exc, errors.InvoiceNotFoundError) from None
        finally:
            call.cancel()

    async def decode_pay_req(self, payment_request: str) -> PayReq:
        decoded = await self._call(self._lightning.DecodePayReq,
                                   ln.PayReqString(pay_req=payment_request))
        return PayReq(
            destination=decoded.destination, payment_hash=decoded.payment_hash,
            amount_msat=decoded.num_msat, timestamp=decoded.timestamp, expiry=decoded.expiry,
            description=decoded.description, payment_addr=decoded.payment_addr.hex(),
        )

    # -- payments (the paying side) ----------------------------------------------

    async def send_payment(self, payment_request: str, *, fee_limit_msat: int,
                           timeout_seconds: int = 60, amount_msat: int = 0) -> Payment:
        """Pay through Router.SendPaymentV2 and return the proof (preimage).

        ``fee_limit_msat`` is required, as in LND: 0 allows only fee-free (direct)
        routes. ``amount_msat`` only for an any-amount invoice.
        """
        request = routerrpc.SendPaymentRequest(
            payment_request=payment_request, fee_limit_msat=fee_limit_msat,
            timeout_seconds=timeout_seconds, amt_msat=amount_msat, no_inflight_updates=True,
        )
        call = self._router.SendPaymentV2(request, metadata=self._metadata,
                                          timeout=timeout_seconds + 10)
        return await self._final_payment(call, "")

    async def track_payment(self, payment_hash: str, timeout: float = 60) -> Payment:
        """The final outcome of a payment this node made (or is making)."""
        call = self._router.TrackPaymentV2(
            routerrpc.TrackPaymentRequest(payment_hash=_hash_bytes(payment_hash),
                                          no_inflight_updates=True),
            metadata=self._metadata, timeout=timeout,
        )
        return await self._final_payment(call, payment_hash)

    async def list_payments(self) -> list[Payment]:
        """The payments this node completed (SUCCEEDED), oldest first."""
        reply = await self._call(self._lightning.ListPayments, ln.ListPaymentsRequest())
        return [_payment(p) for p in reply.payments if p.status == ln.Payment.SUCCEEDED]

    async def _final_payment(self, call, payment_hash: str) -> Payment:
        try:
            async for update in call:
                payment_hash = update.payment_hash or payment_hash
                if update.status == ln.Payment.SUCCEEDED:
                    await _stream_end(call)
                    return _payment(update)
                if update.status == ln.Payment.FAILED:
                    await _stream_end(call)
                    reason = ln.PaymentFailureReason.Name(update.failure_reason)
                    cls = errors.FAILURE_REASONS.get(reason, errors.PaymentError)
                    raise cls(f"{self.name}: payment failed: {reason}", payment_hash)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise errors.PaymentInFlightError(
                    f"{self.name}: no final payment state in time; it may still settle, "
                    "so track it before paying again", payment_hash) from None
            raise self._translate(exc, errors.PaymentError) from None
        finally:
            call.cancel()
        raise errors.PaymentInFlightError(
            f"{self.name}: payment stream ended without a final state", payment_hash)

    # -- errors ------------------------------------------------------------------

    def _translate(self, exc: grpc.aio.AioRpcError,
                   not_found: type[errors.LightningError]) -> errors.LightningError:
        """gRPC status -> typed error, keeping LND's meaning (LND says much as Unknown)."""
        code, details = exc.code(), exc.details() or ""
        message = f"{self.name}: {details or code.name}"
        lowered = details.lower()
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            return errors.NodeUnavailableError(message)
        if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED) or (
            code == grpc.StatusCode.UNKNOWN and any(p in lowered for p in AUTH_PHRASES)
        ):
            return errors.UnauthenticatedError(message)
        if code == grpc.StatusCode.ALREADY_EXISTS or "already paid" in lowered:
            if issubclass(not_found, errors.PaymentError):
                return errors.AlreadyPaidError(message)
            return errors.InvalidRequestError(message)
        if "invoice expired" in lowered:
            return errors.IncorrectPaymentDetailsError(message)
        if code == grpc.StatusCode.NOT_FOUND or "unable to locate" in lowered:
            return not_found(message)
        if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION,
                    grpc.StatusCode.UNKNOWN, grpc.StatusCode.OUT_OF_RANGE):
            return errors.InvalidRequestError(message)
        return errors.LightningError(message)


async def _stream_end(call) -> None:
    """Let the node end a payment stream after its final state, as it does: a stream
    cancelled first races the node's closing status, and the node logs an error."""
    with contextlib.suppress(asyncio.TimeoutError, grpc.aio.AioRpcError):
        await asyncio.wait_for(call.code(), STREAM_END_SECONDS)


def _read(path: str | Path, what: str, host: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except FileNotFoundError:
        raise errors.NodeUnavailableError(
            f"{what} for {host} not found at {path}: is the node (or the simnet) running, "
            "and is the data dir right?") from None


def _hash_bytes(payment_hash: str) -> bytes:
    try:
        raw = bytes.fromhex(payment_hash)
    except (ValueError, TypeError):
        raw = b""
    if len(raw) != 32:
        raise errors.InvalidRequestError(f"payment hash must be 64 hex digits: {payment_hash!r}")
    return raw


def _invoice(invoice: ln.Invoice) -> Invoice:
    return Invoice(
        payment_hash=invoice.r_hash.hex(), payment_request=invoice.payment_request,
        value_msat=invoice.value_msat, memo=invoice.memo,
        state=ln.Invoice.InvoiceState.Name(invoice.state),
        amt_paid_msat=invoice.amt_paid_msat, creation_date=invoice.creation_date,
        expiry=invoice.expiry, settle_date=invoice.settle_date, add_index=invoice.add_index,
        settle_index=invoice.settle_index, preimage=invoice.r_preimage.hex(),
        payment_addr=invoice.payment_addr.hex(),
    )


def _payment(payment: ln.Payment) -> Payment:
    route = payment.htlcs[-1].route if payment.htlcs else None
    return Payment(
        payment_hash=payment.payment_hash, preimage=payment.payment_preimage,
        value_msat=payment.value_msat, fee_msat=payment.fee_msat,
        payment_index=payment.payment_index,
        hops=tuple(hop.pub_key for hop in route.hops) if route else (),
    )
