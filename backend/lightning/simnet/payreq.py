"""BOLT11 payment requests, signed with a node's key by the ``bolt11`` package."""

from __future__ import annotations

from bolt11 import Bolt11, MilliSatoshi, decode, encode
from bolt11.models.features import Feature, Features, FeatureState
from bolt11.models.tags import TagChar, Tags

CURRENCY = "bcrt"  # regtest, as Polar's networks are
MIN_FINAL_CLTV_EXPIRY = 80  # LND's default for invoices
# LND's invoices require var_onion_optin and payment_secret, and offer basic_mpp
FEATURES = Features.from_feature_list({
    Feature.var_onion_optin: FeatureState.required,
    Feature.payment_secret: FeatureState.required,
    Feature.basic_mpp: FeatureState.supported,
})


def encode_payment_request(
    *,
    private_key: bytes,
    payment_hash: bytes,
    payment_addr: bytes,
    amount_msat: int,
    memo: str,
    expiry: int,
    timestamp: int,
) -> str:
    tags = Tags()
    tags.add(TagChar.payment_hash, payment_hash.hex())
    tags.add(TagChar.payment_secret, payment_addr.hex())
    tags.add(TagChar.description, memo)
    tags.add(TagChar.expire_time, expiry)
    tags.add(TagChar.min_final_cltv_expiry, MIN_FINAL_CLTV_EXPIRY)
    tags.add(TagChar.features, FEATURES)
    invoice = Bolt11(
        currency=CURRENCY,
        date=timestamp,
        tags=tags,
        amount_msat=MilliSatoshi(amount_msat) if amount_msat else None,
    )
    return encode(invoice, private_key.hex())


def decode_payment_request(payment_request: str) -> Bolt11:
    """Decode and check the signature; raises ValueError with the reason."""
    try:
        return decode(payment_request.strip())
    except Exception as exc:  # noqa: BLE001 - bolt11 raises many types
        raise ValueError(f"invalid payment request: {exc or type(exc).__name__}") from None
