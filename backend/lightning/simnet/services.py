"""The LND gRPC services one simnet node serves: Lightning, Router and Invoices.

Thin: parse the request as LND does, call the ledger, turn its rows into LND's messages.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import grpc
from lndgrpc.compiled import invoices_pb2 as invrpc
from lndgrpc.compiled import invoices_pb2_grpc as invgrpc
from lndgrpc.compiled import lightning_pb2 as ln
from lndgrpc.compiled import lightning_pb2_grpc as lngrpc
from lndgrpc.compiled import router_pb2 as routerrpc
from lndgrpc.compiled import router_pb2_grpc as routergrpc

from .events import InvoiceEvents
from .ledger import Invoice, Ledger, Payment, PaymentRejected
from .payreq import MIN_FINAL_CLTV_EXPIRY, decode_payment_request

LND_VERSION = "0.18.0-beta simnet"
BLOCK_HEIGHT = 500  # no chain: the height never moves
MAX_MEMO_BYTES = 1024  # LND's limit on an invoice description

# entity:action each method needs, as LND's rpcserver declares them
PERMISSIONS = {
    "/lnrpc.Lightning/GetInfo": ("info", "read"),
    "/lnrpc.Lightning/AddInvoice": ("invoices", "write"),
    "/lnrpc.Lightning/LookupInvoice": ("invoices", "read"),
    "/lnrpc.Lightning/ListInvoices": ("invoices", "read"),
    "/lnrpc.Lightning/SubscribeInvoices": ("invoices", "read"),
    "/lnrpc.Lightning/DecodePayReq": ("offchain", "read"),
    "/lnrpc.Lightning/ChannelBalance": ("offchain", "read"),
    "/lnrpc.Lightning/ListChannels": ("offchain", "read"),
    "/lnrpc.Lightning/ListPayments": ("offchain", "read"),
    "/lnrpc.Lightning/WalletBalance": ("onchain", "read"),
    "/routerrpc.Router/SendPaymentV2": ("offchain", "write"),
    "/routerrpc.Router/TrackPaymentV2": ("offchain", "read"),
    "/invoicesrpc.Invoices/SubscribeSingleInvoice": ("invoices", "read"),
    "/invoicesrpc.Invoices/CancelInvoice": ("invoices", "write"),
}


async def _reject(context: grpc.aio.ServicerContext, exc: PaymentRejected) -> None:
    await context.abort(getattr(grpc.StatusCode, exc.code), str(exc))


class NodeContext:
    """What every service of one node shares."""

    def __init__(self, name: str, ledger: Ledger, events: InvoiceEvents, p2p_port: int) -> None:
        self.name = name
        self.ledger = ledger
        self.events = events
        self.p2p_port = p2p_port


class LightningService(lngrpc.LightningServicer):
    def __init__(self, node: NodeContext) -> None:
        self.node = node

    async def GetInfo(self, request, context):
        keys = self.node.ledger.keys(self.node.name)
        channels = self.node.ledger.channels(self.node.name)
        peers = {c.node2 if c.node1 == self.node.name else c.node1 for c in channels}
        return ln.GetInfoResponse(
            version=LND_VERSION, identity_pubkey=keys.pubkey, alias=self.node.name,
            color="#3399ff", num_active_channels=len(channels), num_peers=len(peers),
            block_height=BLOCK_HEIGHT, synced_to_chain=True, synced_to_graph=True,
            chains=[ln.Chain(chain="bitcoin", network="regtest")],
            uris=[f"{keys.pubkey}@127.0.0.1:{self.node.p2p_port}"],
        )

    async def AddInvoice(self, request, context):
        if request.value and request.value_msat and request.value * 1000 != request.value_msat:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                "value and value_msat are mutually exclusive")
        value_msat = request.value_msat or request.value * 1000
        if value_msat < 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                "payment of negative value is not allowed")
        if len(request.memo.encode()) > MAX_MEMO_BYTES:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                f"memo too large: {len(request.memo.encode())} bytes "
                                f"(maxsize={MAX_MEMO_BYTES})")
        if request.expiry < 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "expiry must not be negative")
        if request.r_preimage and len(request.r_preimage) != 32:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "preimage must be 32 bytes")
        try:
            invoice = self.node.ledger.add_invoice(
                self.node.name, value_msat, request.memo, request.expiry,
                request.r_preimage or None,
            )
        except PaymentRejected as exc:
            await _reject(context, exc)
        self.node.events.publish(invoice)
        return ln.AddInvoiceResponse(
            r_hash=invoice.payment_hash, payment_request=invoice.payment_request,
            add_index=invoice.add_index, payment_addr=invoice.payment_addr,
        )

    async def LookupInvoice(self, request, context):
        payment_hash = await _payment_hash(request, context)
        invoice = self.node.ledger.lookup_invoice(self.node.name, payment_hash)
        if invoice is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "unable to locate invoice")
        return invoice_message(invoice)

    async def ListInvoices(self, request, context):
        invoices = self.node.ledger.invoices(self.node.name, add_index=request.index_offset)
        if request.pending_only:
            invoices = [i for i in invoices if i.state == "OPEN"]
        if request.num_max_invoices:
            invoices = invoices[: request.num_max_invoices]
        return ln.ListInvoiceResponse(
            invoices=[invoice_message(i) for i in invoices],
            first_index_offset=invoices[0].add_index if invoices else 0,
            last_index_offset=invoices[-1].add_index if invoices else 0,
        )

    async def SubscribeInvoices(self, request, context) -> AsyncIterator[ln.Invoice]:
        """Replay what came after the given indexes, then stream adds and settles live."""
        with self.node.events.subscribe(self.node.name) as queue:
            last_add, last_settle = request.add_index, request.settle_index
            replay = self.node.ledger.invoices(self.node.name, request.add_index,
                                               request.settle_index)
            if not request.add_index and not request.settle_index:
                replay = []  # LND replays nothing when no index is given
            for invoice in replay:
                last_add = max(last_add, invoice.add_index)
                last_settle = max(last_settle, invoice.settle_index)
                yield invoice_message(invoice)
            while True:
                invoice = await queue.get()
                if invoice.state == "OPEN" and invoice.add_index > last_add:
                    last_add = invoice.add_index
                elif invoice.state == "SETTLED" and invoice.settle_index > last_settle:
                    last_settle = invoice.settle_index
                else:
                    continue
                yield invoice_message(invoice)

    async def DecodePayReq(self, request, context):
        try:
            decoded = decode_payment_request(request.pay_req)
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        amount_msat = int(decoded.amount_msat or 0)
        features = {}
        if decoded.features:
            for feature, state in decoded.features.feature_list.items():
                bit = feature.value * 2 + (state.value == 1)
                features[bit] = ln.Feature(name=feature.name, is_required=state.value == 0,
                                           is_known=True)
        return ln.PayReq(
            destination=decoded.payee, payment_hash=decoded.payment_hash,
            num_satoshis=amount_msat // 1000, num_msat=amount_msat, timestamp=decoded.date,
            expiry=decoded.expiry, description=decoded.description or "",
            description_hash=decoded.description_hash or "",
            cltv_expiry=decoded.min_final_cltv_expiry or MIN_FINAL_CLTV_EXPIRY,
            payment_addr=bytes.fromhex(decoded.payment_secret or ""), features=features,
        )

    async def ChannelBalance(self, request, context):
        local = remote = 0
        for channel in self.node.ledger.channels(self.node.name):
            mine, theirs, _, _ = channel.side(self.node.name)
            local, remote = local + mine, remote + theirs
        return ln.ChannelBalanceResponse(
            balance=local // 1000,
            local_balance=ln.Amount(sat=local // 1000, msat=local),
            remote_balance=ln.Amount(sat=remote // 1000, msat=remote),
            unsettled_local_balance=ln.Amount(), unsettled_remote_balance=ln.Amount(),
            pending_open_local_balance=ln.Amount(), pending_open_remote_balance=ln.Amount(),
        )

    async def ListChannels(self, request, context):
        ledger, me = self.node.ledger, self.node.name
        channels = []
        for c in ledger.channels(me):
            peer = c.node2 if c.node1 == me else c.node1
            pubkey = ledger.keys(peer).pubkey
            if request.peer and request.peer.hex() != pubkey:
                continue
            if request.inactive_only or request.private_only:
                continue  # every simnet channel is active and public
            local, remote, sent, received = c.side(me)
            channels.append(ln.Channel(
                active=True, remote_pubkey=pubkey, channel_point=c.channel_point,
                chan_id=c.chan_id, capacity=c.capacity_msat // 1000,
                local_balance=local // 1000, remote_balance=remote // 1000,
                total_satoshis_sent=sent // 1000, total_satoshis_received=received // 1000,
                num_updates=c.num_updates, initiator=c.node1 == me, private=False,
                peer_alias=peer if request.peer_alias_lookup else "",
            ))
        return ln.ListChannelsResponse(channels=channels)

    async def ListPayments(self, request, context):
        payments = self.node.ledger.payments(self.node.name)
        if not request.include_incomplete:
            payments = [p for p in payments if p.status == "SUCCEEDED"]
        payments = [p for p in payments if p.payment_index > request.index_offset]
        if request.max_payments:
            payments = payments[: request.max_payments]
        return ln.ListPaymentsResponse(
            payments=[payment_message(p, self.node.ledger) for p in payments],
            first_index_offset=payments[0].payment_index if payments else 0,
            last_index_offset=payments[-1].payment_index if payments else 0,
        )

    async def WalletBalance(self, request, context):
        return ln.WalletBalanceResponse()  # no chain, so no on-chain funds


class RouterService(routergrpc.RouterServicer):
    def __init__(self, node: NodeContext) -> None:
        self.node = node

    async def SendPaymentV2(self, request, context) -> AsyncIterator[ln.Payment]:
        fee_limit_msat = await _fee_limit(request, context)
        ledger = self.node.ledger
        try:
            target = ledger.payment_target(
                self.node.name, payment_request=request.payment_request,
                dest=request.dest.hex(), payment_hash=request.payment_hash,
                payment_addr=request.payment_addr,
                amount_msat=request.amt_msat or request.amt * 1000,
            )
            if not request.no_inflight_updates:
                yield ln.Payment(
                    payment_hash=target.payment_hash.hex(), value_msat=target.amount_msat,
                    payment_request=request.payment_request, status=ln.Payment.IN_FLIGHT,
                )
            outcome = ledger.send_payment(self.node.name, target, fee_limit_msat)
        except PaymentRejected as exc:
            await _reject(context, exc)
        if outcome.changed_invoice is not None:
            self.node.events.publish(outcome.changed_invoice)
        yield payment_message(outcome.payment, ledger)

    async def TrackPaymentV2(self, request, context) -> AsyncIterator[ln.Payment]:
        payment = self.node.ledger.payment(self.node.name, request.payment_hash)
        if payment is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "payment isn't initiated")
        yield payment_message(payment, self.node.ledger)


class InvoicesService(invgrpc.InvoicesServicer):
    def __init__(self, node: NodeContext) -> None:
        self.node = node

    async def SubscribeSingleInvoice(self, request, context) -> AsyncIterator[ln.Invoice]:
        """The invoice's current state, then each change, ending at a final state."""
        with self.node.events.subscribe(self.node.name) as queue:
            invoice = self.node.ledger.lookup_invoice(self.node.name, request.r_hash)
            if invoice is None:
                await context.abort(grpc.StatusCode.NOT_FOUND, "unable to locate invoice")
            yield invoice_message(invoice)
            while invoice.state == "OPEN":
                update = await queue.get()
                if update.payment_hash == invoice.payment_hash and update.state != invoice.state:
                    invoice = update
                    yield invoice_message(invoice)

    async def CancelInvoice(self, request, context):
        try:
            invoice = self.node.ledger.cancel_invoice(self.node.name, request.payment_hash)
        except PaymentRejected as exc:
            await _reject(context, exc)
        self.node.events.publish(invoice)
        return invrpc.CancelInvoiceResp()


async def _payment_hash(request: ln.PaymentHash, context) -> bytes:
    if request.r_hash:
        payment_hash = request.r_hash
    else:
        try:
            payment_hash = bytes.fromhex(request.r_hash_str)
        except ValueError:
            payment_hash = b""
    if len(payment_hash) != 32:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "payment hash must be 32 bytes")
    return payment_hash


async def _fee_limit(request: routerrpc.SendPaymentRequest, context) -> int:
    """Check SendPaymentRequest as LND does; the fee limit in msat (0: zero-fee routes only)."""
    if request.timeout_seconds <= 0:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "timeout_seconds must be specified")
    if (request.fee_limit_sat and request.fee_limit_msat) or (request.amt and request.amt_msat):
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                            "sat and msat arguments are mutually exclusive")
    fee_limit_msat = request.fee_limit_msat or request.fee_limit_sat * 1000
    if fee_limit_msat < 0:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "fee limit must not be negative")
    return fee_limit_msat


def invoice_message(invoice: Invoice) -> ln.Invoice:
    return ln.Invoice(
        memo=invoice.memo, r_preimage=invoice.preimage, r_hash=invoice.payment_hash,
        value=invoice.value_msat // 1000, value_msat=invoice.value_msat,
        settled=invoice.state == "SETTLED", creation_date=invoice.creation_date,
        settle_date=invoice.settle_date, payment_request=invoice.payment_request,
        expiry=invoice.expiry, cltv_expiry=MIN_FINAL_CLTV_EXPIRY, add_index=invoice.add_index,
        settle_index=invoice.settle_index, amt_paid=invoice.amt_paid_msat,
        amt_paid_sat=invoice.amt_paid_msat // 1000, amt_paid_msat=invoice.amt_paid_msat,
        state=ln.Invoice.InvoiceState.Value(invoice.state), payment_addr=invoice.payment_addr,
    )


def payment_message(payment: Payment, ledger: Ledger) -> ln.Payment:
    hops = json.loads(payment.route)
    htlcs = []
    if payment.status == "SUCCEEDED":
        capacity = {c.chan_id: c.capacity_msat // 1000 for c in ledger.channels()}
        route = ln.Route(
            total_amt=hops[0]["amount_msat"] // 1000, total_amt_msat=hops[0]["amount_msat"],
            total_fees=payment.fee_msat // 1000, total_fees_msat=payment.fee_msat,
            hops=[_hop_message(hop, capacity, ledger) for hop in hops],
        )
        htlcs.append(ln.HTLCAttempt(
            attempt_id=payment.payment_index, status=ln.HTLCAttempt.SUCCEEDED, route=route,
            attempt_time_ns=payment.creation_time_ns, resolve_time_ns=payment.creation_time_ns,
            preimage=payment.preimage,
        ))
    return ln.Payment(
        payment_hash=payment.payment_hash.hex(),
        value=payment.value_msat // 1000, value_sat=payment.value_msat // 1000,
        value_msat=payment.value_msat, fee=payment.fee_msat // 1000,
        fee_sat=payment.fee_msat // 1000, fee_msat=payment.fee_msat,
        payment_preimage=(payment.preimage or bytes(32)).hex(),
        payment_request=payment.payment_request,
        status=ln.Payment.PaymentStatus.Value(payment.status),
        failure_reason=ln.PaymentFailureReason.Value(payment.failure_reason),
        creation_date=payment.creation_time_ns // 1_000_000_000,
        creation_time_ns=payment.creation_time_ns, payment_index=payment.payment_index,
        htlcs=htlcs,
    )


def _hop_message(hop: dict, capacity: dict, ledger: Ledger) -> ln.Hop:
    # LND's Hop: the channel into the hop's node, what that node forwards and keeps
    forwarded = hop["amount_msat"] - hop["fee_msat"]
    return ln.Hop(
        chan_id=hop["chan_id"], chan_capacity=capacity.get(hop["chan_id"], 0),
        amt_to_forward=forwarded // 1000, amt_to_forward_msat=forwarded,
        fee=hop["fee_msat"] // 1000, fee_msat=hop["fee_msat"],
        pub_key=ledger.keys(hop["receiver"]).pubkey, tlv_payload=True,
    )
