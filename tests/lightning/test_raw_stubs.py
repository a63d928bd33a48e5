"""Any LND tool can use the simnet: a client made only of lndgrpc's generated stubs and grpc.

No alsats code talks to the simnet here, only LND's own protocol, as lncli-style tools do.
"""

from __future__ import annotations

import hashlib

import grpc
from lndgrpc.compiled import lightning_pb2 as ln
from lndgrpc.compiled import lightning_pb2_grpc as lngrpc
from lndgrpc.compiled import router_pb2 as routerrpc
from lndgrpc.compiled import router_pb2_grpc as routergrpc


def _channel(spec) -> tuple[grpc.aio.Channel, tuple]:
    credentials = grpc.ssl_channel_credentials(spec.tls_cert.read_bytes())
    macaroon = spec.macaroon_path("admin").read_bytes().hex()
    return grpc.aio.secure_channel(spec.grpc_host, credentials), (("macaroon", macaroon),)


async def test_plain_lnd_stubs_invoice_pay_and_stream_states(simnet):
    alice_channel, alice_auth = _channel(simnet.network.lnd("alice"))
    bob_channel, bob_auth = _channel(simnet.network.lnd("bob"))
    async with alice_channel, bob_channel:
        alice = lngrpc.LightningStub(alice_channel)
        info = await alice.GetInfo(ln.GetInfoRequest(), metadata=alice_auth)
        assert info.alias == "alice" and info.synced_to_chain
        assert [(c.chain, c.network) for c in info.chains] == [("bitcoin", "regtest")]

        added = await alice.AddInvoice(ln.Invoice(value=21, memo="raw"), metadata=alice_auth)
        decoded = await lngrpc.LightningStub(bob_channel).DecodePayReq(
            ln.PayReqString(pay_req=added.payment_request), metadata=bob_auth)
        assert decoded.destination == info.identity_pubkey and decoded.num_satoshis == 21

        router = routergrpc.RouterStub(bob_channel)
        updates = [
            update async for update in router.SendPaymentV2(
                routerrpc.SendPaymentRequest(payment_request=added.payment_request,
                                             timeout_seconds=10, fee_limit_sat=0),
                metadata=bob_auth)
        ]
        assert [u.status for u in updates] == [ln.Payment.IN_FLIGHT, ln.Payment.SUCCEEDED]
        final = updates[-1]
        assert hashlib.sha256(bytes.fromhex(final.payment_preimage)).digest() == added.r_hash
        assert final.value_sat == 21 and final.htlcs[0].route.hops[0].pub_key == (
            info.identity_pubkey)

        tracked = [u async for u in router.TrackPaymentV2(
            routerrpc.TrackPaymentRequest(payment_hash=added.r_hash), metadata=bob_auth)]
        assert tracked[-1].status == ln.Payment.SUCCEEDED

        invoice = await alice.LookupInvoice(ln.PaymentHash(r_hash=added.r_hash),
                                            metadata=alice_auth)
        assert invoice.state == ln.Invoice.SETTLED and invoice.amt_paid_sat == 21
        assert invoice.settled and invoice.settle_index == 1 and invoice.add_index == 1


async def test_plain_stubs_see_lnds_failure_reason_and_refusals(simnet):
    alice_channel, alice_auth = _channel(simnet.network.lnd("alice"))
    carol_channel, carol_auth = _channel(simnet.network.lnd("carol"))
    async with alice_channel, carol_channel:
        added = await lngrpc.LightningStub(alice_channel).AddInvoice(
            ln.Invoice(value=1), metadata=alice_auth)
        router = routergrpc.RouterStub(carol_channel)
        request = routerrpc.SendPaymentRequest(payment_request=added.payment_request,
                                               timeout_seconds=10)  # no fee budget
        updates = [u async for u in router.SendPaymentV2(request, metadata=carol_auth)]
        assert updates[-1].status == ln.Payment.FAILED
        assert updates[-1].failure_reason == ln.FAILURE_REASON_NO_ROUTE

        try:
            await lngrpc.LightningStub(alice_channel).GetInfo(ln.GetInfoRequest())
        except grpc.aio.AioRpcError as refusal:
            assert "expected 1 macaroon, got 0" in refusal.details()
        else:
            raise AssertionError("a call without macaroon was served")
