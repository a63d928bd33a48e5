"""LND-style macaroons: baking, permission checks, forgery and first-party caveats."""

from __future__ import annotations

import base64
import os
from datetime import datetime, timedelta, timezone

import pytest
from pymacaroons import Macaroon
from pymacaroons.serializers import BinarySerializer

from backend.lightning.simnet.macaroons import (
    ENTITIES,
    PERMISSIONS,
    MacaroonRefused,
    bake,
    check,
)

ROOT_KEY = bytes(range(32))
OTHER_KEY = os.urandom(32)
ACTIONS = ("read", "write")


def baked(kind: str, key: bytes = ROOT_KEY) -> str:
    return bake(key, kind).hex()


def unpack(raw: bytes) -> Macaroon:
    return Macaroon.deserialize(
        base64.urlsafe_b64encode(raw).decode(), serializer=BinarySerializer()
    )


def with_caveat(raw_hex: str, caveat: str) -> str:
    """The macaroon with one more first-party caveat, signed on from its own signature."""
    mac = unpack(bytes.fromhex(raw_hex))
    mac.add_first_party_caveat(caveat)
    text = mac.serialize(serializer=BinarySerializer())
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).hex()


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the binary format -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["admin", "invoice", "readonly"])
def test_baked_binary_starts_like_lnds_own_macaroons(kind: str):
    raw = bake(ROOT_KEY, kind)
    assert raw[:6] == b"\x02\x01\x03lnd"  # v2, location field, length 3, "lnd"
    mac = unpack(raw)
    assert mac.location == "lnd"
    assert mac.identifier_bytes[0] == 3  # LND's identifier version
    assert mac.caveats == []


def test_every_bake_has_a_fresh_nonce():
    assert bake(ROOT_KEY, "admin") != bake(ROOT_KEY, "admin")


def test_unknown_kind_cannot_be_baked():
    with pytest.raises(KeyError):
        bake(ROOT_KEY, "superuser")


# -- permissions -------------------------------------------------------------------------------


@pytest.mark.parametrize("entity", ENTITIES)
@pytest.mark.parametrize("action", ACTIONS)
def test_admin_passes_every_entity_and_action(entity: str, action: str):
    check(ROOT_KEY, baked("admin"), entity, action)


@pytest.mark.parametrize("entity", ENTITIES)
def test_readonly_passes_reads_and_refuses_writes(entity: str):
    mac = baked("readonly")
    check(ROOT_KEY, mac, entity, "read")
    with pytest.raises(MacaroonRefused, match="^permission denied$"):
        check(ROOT_KEY, mac, entity, "write")


@pytest.mark.parametrize(
    ("entity", "action"),
    [("invoices", "read"), ("invoices", "write"), ("address", "read"), ("address", "write"),
     ("onchain", "read")],
)
def test_invoice_macaroon_allows_invoices_and_addresses(entity: str, action: str):
    check(ROOT_KEY, baked("invoice"), entity, action)


@pytest.mark.parametrize(
    ("entity", "action"),
    [("offchain", "write"), ("offchain", "read"), ("info", "read"), ("onchain", "write"),
     ("peers", "write"), ("macaroon", "write"), ("signer", "read")],
    ids=["pay", "list-payments", "getinfo", "send-coins", "connect", "bake", "sign"],
)
def test_invoice_macaroon_refuses_paying_and_everything_else(entity: str, action: str):
    with pytest.raises(MacaroonRefused, match="^permission denied$"):
        check(ROOT_KEY, baked("invoice"), entity, action)


def test_unknown_entity_or_action_is_denied_even_for_admin():
    with pytest.raises(MacaroonRefused, match="permission denied"):
        check(ROOT_KEY, baked("admin"), "uri", "read")
    with pytest.raises(MacaroonRefused, match="permission denied"):
        check(ROOT_KEY, baked("admin"), "offchain", "generate")


def test_permission_table_matches_lnd_kinds():
    assert set(PERMISSIONS) == {"admin", "invoice", "readonly"}
    assert ("offchain", ("read", "write")) in PERMISSIONS["admin"]
    assert all(actions == ("read",) for _, actions in PERMISSIONS["readonly"])


def test_uppercase_hex_is_accepted():
    check(ROOT_KEY, baked("admin").upper(), "info", "read")


# -- refusals ----------------------------------------------------------------------------------


VERIFICATION_FAILED = "^verification failed: signature mismatch after caveat verification$"


def test_macaroon_from_another_root_key_is_refused():
    with pytest.raises(MacaroonRefused, match=VERIFICATION_FAILED):
        check(ROOT_KEY, baked("admin", OTHER_KEY), "info", "read")


@pytest.mark.parametrize("missing", [None, ""])
def test_missing_macaroon_is_refused(missing):
    with pytest.raises(MacaroonRefused, match="^expected 1 macaroon, got 0$"):
        check(ROOT_KEY, missing, "info", "read")


@pytest.mark.parametrize(
    "garbage",
    ["deadbeef", "00", "02", "0201036c6e64", "not hex at all", "abc", "zz" * 20],
    ids=["hex-junk", "one-byte", "version-only", "truncated", "non-hex", "odd-length", "zz"],
)
def test_garbage_is_refused_as_unmarshalable(garbage: str):
    with pytest.raises(MacaroonRefused, match="^unable to unmarshal macaroon$"):
        check(ROOT_KEY, garbage, "info", "read")


def test_truncated_real_macaroon_is_refused():
    mac = baked("admin")
    with pytest.raises(MacaroonRefused):
        check(ROOT_KEY, mac[: len(mac) // 2], "info", "read")


def test_flipped_signature_byte_is_refused():
    raw = bytearray(bake(ROOT_KEY, "admin"))
    raw[-1] ^= 0x01  # the last bytes are the 32-byte signature
    with pytest.raises(MacaroonRefused, match=VERIFICATION_FAILED):
        check(ROOT_KEY, raw.hex(), "info", "read")


def test_readonly_identifier_swapped_for_admin_permissions_is_refused():
    readonly, admin = bake(ROOT_KEY, "readonly"), bake(ROOT_KEY, "admin")
    ro, ad = unpack(readonly), unpack(admin)
    forged = Macaroon(location="lnd", identifier=ad.identifier_bytes, key=OTHER_KEY, version=2)
    forged.signature = ro.signature  # keep the readonly signature, claim admin's ops
    text = forged.serialize(serializer=BinarySerializer())
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    with pytest.raises(MacaroonRefused, match=VERIFICATION_FAILED):
        check(ROOT_KEY, raw.hex(), "offchain", "write")


# -- first-party caveats -----------------------------------------------------------------------


def test_time_before_in_the_past_is_refused():
    past = rfc3339(datetime.now(timezone.utc) - timedelta(minutes=1))
    mac = with_caveat(baked("admin"), f"time-before {past}")
    with pytest.raises(MacaroonRefused, match=VERIFICATION_FAILED):
        check(ROOT_KEY, mac, "info", "read")


def test_time_before_in_the_future_passes_and_keeps_permissions():
    future = rfc3339(datetime.now(timezone.utc) + timedelta(hours=1))
    mac = with_caveat(baked("readonly"), f"time-before {future}")
    check(ROOT_KEY, mac, "info", "read")
    with pytest.raises(MacaroonRefused, match="permission denied"):
        check(ROOT_KEY, mac, "offchain", "write")


def test_time_before_with_lnd_nanosecond_format_passes():
    future = datetime.now(timezone.utc) + timedelta(days=1)
    stamp = future.strftime("%Y-%m-%dT%H:%M:%S") + ".123456789Z"  # Go's RFC3339Nano
    check(ROOT_KEY, with_caveat(baked("admin"), f"time-before {stamp}"), "info", "read")


def test_time_before_with_an_offset_is_understood():
    check(ROOT_KEY, with_caveat(baked("admin"), "time-before 2999-01-01T00:00:00+02:00"),
          "info", "read")
    with pytest.raises(MacaroonRefused, match=VERIFICATION_FAILED):
        check(ROOT_KEY, with_caveat(baked("admin"), "time-before 2000-01-01T00:00:00+02:00"),
              "info", "read")


@pytest.mark.parametrize(
    "caveat",
    ["ipaddr 127.0.0.1", "lnd-custom foo bar", "time-after 2000-01-01T00:00:00Z",
     "time-before not-a-date", "time-before", "anything"],
)
def test_unknown_or_unparseable_caveat_is_refused(caveat: str):
    with pytest.raises(MacaroonRefused, match=VERIFICATION_FAILED):
        check(ROOT_KEY, with_caveat(baked("admin"), caveat), "info", "read")


def test_a_caveat_added_with_the_wrong_chain_is_refused():
    # a caveat re-signed from a macaroon of another root key does not verify under ours
    future = rfc3339(datetime.now(timezone.utc) + timedelta(hours=1))
    mac = with_caveat(baked("admin", OTHER_KEY), f"time-before {future}")
    with pytest.raises(MacaroonRefused, match=VERIFICATION_FAILED):
        check(ROOT_KEY, mac, "info", "read")
