"""Minting and verifying: the happy path, attenuation, tampering and every refusal."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymacaroons import MACAROON_V2, Macaroon
from pymacaroons.serializers import BinarySerializer

from backend.l402 import (
    Caveat,
    Credential,
    Grant,
    Identifier,
    InvalidCredentialError,
    format_challenge,
    iterations_caveat,
    mint,
    parse_authorization,
    session_caveat,
    valid_until_caveat,
    verify,
)

ROOT_KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
PREIMAGE = hashlib.sha256(b"preimage").digest()
PAYMENT_HASH = hashlib.sha256(PREIMAGE).digest()
TOKEN_ID = b"\x07" * 32
IDENTIFIER = Identifier(PAYMENT_HASH, TOKEN_ID)
NOW = 1_700_000_000
VALID_UNTIL = NOW + 3600
TERMS = [session_caveat("s1"), iterations_caveat(3), valid_until_caveat(VALID_UNTIL)]
GRANT = Grant(TOKEN_ID, PAYMENT_HASH, "s1", 3, VALID_UNTIL)


def minted(caveats: list[Caveat] = TERMS, root_key: bytes = ROOT_KEY,
           identifier: Identifier = IDENTIFIER) -> bytes:
    return mint(root_key, identifier, caveats)


def check(macaroon: bytes, preimage: bytes = PREIMAGE, now: int = NOW, **kwargs) -> Grant:
    return verify(ROOT_KEY, Credential(macaroon, preimage), now=now, **kwargs)


def attenuate(macaroon: bytes, *predicates: str) -> bytes:
    """What a holder can do without the root key: add first-party caveats."""
    serializer = BinarySerializer()
    held = serializer.deserialize_raw(macaroon)
    for predicate in predicates:
        held.add_first_party_caveat(predicate)
    return serializer.serialize_raw(held)


def test_mint_makes_a_binary_v2_macaroon() -> None:
    raw = minted()
    assert raw[0] == MACAROON_V2
    parsed = Macaroon.deserialize(BinarySerializer().serialize(Macaroon.deserialize(
        base64.urlsafe_b64encode(raw).decode())))
    assert parsed.location == "alsats"
    assert parsed.identifier_bytes == IDENTIFIER.encode()
    assert [c.caveat_id_bytes.decode() for c in parsed.caveats] == [
        "alsats_session=s1", "alsats_iterations=3", f"alsats_valid_until={VALID_UNTIL}"]
    assert mint(ROOT_KEY, IDENTIFIER, TERMS, location="elsewhere") != raw


@pytest.mark.parametrize(("session", "iterations", "valid_until"), [
    ("s1", 1, NOW + 1),
    ("a" * 64, 1000, 2**40),
    ("uuid-like-6f1c2a", 7, NOW + 86_400),
    ("with=equals", 2, NOW + 10),
])
def test_round_trip(session: str, iterations: int, valid_until: int) -> None:
    token_id = os.urandom(32)
    raw = minted([session_caveat(session), iterations_caveat(iterations),
                  valid_until_caveat(valid_until)], identifier=Identifier(PAYMENT_HASH, token_id))
    grant = check(raw, session_id=session)
    assert grant == Grant(token_id, PAYMENT_HASH, session, iterations, valid_until)


def test_through_the_headers() -> None:
    """The server's challenge, read back by a client, verifies once the invoice is paid."""
    challenge = format_challenge(minted(), "lnbcrt30n1xyz")
    macaroon = challenge.split('macaroon="', 1)[1].split('"', 1)[0]
    credential = parse_authorization(f"LSAT {macaroon}:{PREIMAGE.hex()}")
    assert verify(ROOT_KEY, credential, now=NOW) == GRANT


def test_unpadded_url_safe_copy_verifies() -> None:
    text = BinarySerializer().serialize(BinarySerializer().deserialize_raw(minted()))
    credential = parse_authorization(f"L402 {text}:{PREIMAGE.hex()}")
    assert verify(ROOT_KEY, credential, now=NOW) == GRANT


def test_expiry_boundary() -> None:
    assert check(minted(), now=VALID_UNTIL - 1) == GRANT
    with pytest.raises(InvalidCredentialError, match=f"expired: valid until {VALID_UNTIL}"):
        check(minted(), now=VALID_UNTIL)  # valid_until is the first expired second
    with pytest.raises(InvalidCredentialError, match="expired"):
        check(minted(), now=VALID_UNTIL + 10**6)


@pytest.mark.parametrize(("predicates", "grant"), [
    (["alsats_iterations=2"], Grant(TOKEN_ID, PAYMENT_HASH, "s1", 2, VALID_UNTIL)),
    ([f"alsats_valid_until={NOW + 10}"], Grant(TOKEN_ID, PAYMENT_HASH, "s1", 3, NOW + 10)),
    (["alsats_iterations=1", f"alsats_valid_until={NOW + 5}"],
     Grant(TOKEN_ID, PAYMENT_HASH, "s1", 1, NOW + 5)),
    (["alsats_iterations=1000"], GRANT),  # widening is ineffective: the minimum wins
    ([f"alsats_valid_until={VALID_UNTIL + 10**6}"], GRANT),
    (["alsats_session=s1"], GRANT),  # restating the session is harmless
    (["services=foo:0"], GRANT),  # a foreign condition is skipped, as the spec requires
    (["foo_capabilities=bar,baz", "a note for someone else"], GRANT),
])
def test_attenuation(predicates: list[str], grant: Grant) -> None:
    assert check(attenuate(minted(), *predicates)) == grant


def test_attenuated_expiry_is_enforced() -> None:
    raw = attenuate(minted(), f"alsats_valid_until={NOW}")
    with pytest.raises(InvalidCredentialError, match=f"expired: valid until {NOW}"):
        check(raw)


def _tampered_value() -> bytes:
    raw = minted()
    assert raw.count(b"alsats_iterations=3") == 1
    return raw.replace(b"alsats_iterations=3", b"alsats_iterations=9")


def _appended_unsigned_caveat() -> bytes:
    raw = minted()
    tail = 1 + 2 + 32  # end of caveats, then the signature field (type, length, 32 bytes)
    predicate = b"alsats_valid_until=9999999999"
    section = bytes([2, len(predicate)]) + predicate + b"\x00"  # identifier field, then end
    return raw[:-tail] + section + raw[-tail:]


def _removed_caveat() -> bytes:
    raw = minted()
    section = bytes([2, len("alsats_iterations=3")]) + b"alsats_iterations=3\x00"
    assert section in raw
    return raw.replace(section, b"")


def _swapped_identifier() -> bytes:
    raw = minted()
    other = Identifier(hashlib.sha256(b"other").digest(), TOKEN_ID).encode()
    return raw.replace(IDENTIFIER.encode(), other)


def _raw_macaroon(identifier: bytes, *predicates: str, key: bytes = ROOT_KEY) -> bytes:
    macaroon = Macaroon(location="alsats", identifier=identifier, key=key, version=MACAROON_V2)
    for predicate in predicates:
        macaroon.add_first_party_caveat(predicate)
    return BinarySerializer().serialize_raw(macaroon)


def _third_party() -> bytes:
    held = BinarySerializer().deserialize_raw(minted())
    held.add_third_party_caveat("https://auth.example", os.urandom(32), "who-is-it")
    return BinarySerializer().serialize_raw(held)


def _non_utf8_caveat() -> bytes:
    return minted().replace(b"alsats_session=s1", b"alsats_session=\xff1")


VALID_TERMS = ("alsats_session=s1", "alsats_iterations=3", f"alsats_valid_until={VALID_UNTIL}")


@pytest.mark.parametrize(("macaroon", "match"), [
    (minted(root_key=OTHER_KEY), "bad signature"),
    (_tampered_value(), "bad signature"),
    (_appended_unsigned_caveat(), "bad signature"),
    (_removed_caveat(), "bad signature"),
    (_swapped_identifier(), "bad signature"),
    (_raw_macaroon(b"\x00\x01" + bytes(64), *VALID_TERMS), "unknown L402 identifier version 1"),
    (_raw_macaroon(b"\x00\x00" + bytes(65), *VALID_TERMS),
     "malformed identifier: a version 0 identifier is 66 bytes, got 67"),
    (minted(TERMS[1:]), "missing caveat: alsats_session"),
    (minted([TERMS[0], TERMS[2]]), "missing caveat: alsats_iterations"),
    (minted(TERMS[:2]), "missing caveat: alsats_valid_until"),
    (minted(TERMS + [Caveat("alsats_iterations", "three")]),
     "malformed caveat: alsats_iterations='three'"),
    (minted(TERMS + [Caveat("alsats_valid_until", "-5")]), "malformed caveat: alsats_valid_until"),
    (attenuate(minted(), "alsats_session=s2"), "conflicting caveats: alsats_session"),
    (attenuate(minted(), "alsats_iterations=0"), "grants no iterations"),
    (_third_party(), "third-party caveats are not supported"),
    (_non_utf8_caveat(), "malformed caveat: caveat 0 is not UTF-8"),
    (b"\x02", "undecodable macaroon"),
    (b"\x02garbage", "undecodable macaroon"),
    (minted()[:-1], "undecodable macaroon"),
    (minted()[:40], "undecodable macaroon"),
    (minted() + b"\x00", "undecodable macaroon: data after the signature"),
    (minted()[:-33] + b"\x1f" + minted()[-32:-1], "undecodable macaroon: .*not 32 bytes"),
    (b"0012location alsats\n", "undecodable macaroon: not a binary V2 macaroon"),  # V1
    (b"\x01\x00", "not a binary V2 macaroon"),
])
def test_rejections(macaroon: bytes, match: str) -> None:
    with pytest.raises(InvalidCredentialError, match=match):
        check(macaroon)


def test_wrong_preimage() -> None:
    with pytest.raises(InvalidCredentialError, match="wrong preimage"):
        check(minted(), preimage=bytes(32))
    with pytest.raises(InvalidCredentialError, match="wrong preimage"):
        check(minted(), preimage=PAYMENT_HASH)  # the hash is not the preimage


def test_another_session() -> None:
    assert check(minted(), session_id="s1") == GRANT
    with pytest.raises(InvalidCredentialError, match="for another session"):
        check(minted(), session_id="s2")


def test_another_root_key_verifies_nothing() -> None:
    with pytest.raises(InvalidCredentialError, match="bad signature"):
        verify(OTHER_KEY, Credential(minted(), PREIMAGE), now=NOW)


@pytest.mark.parametrize("root_key", [b"", bytes(31), bytes(33), "k" * 32])
def test_root_key_must_be_32_bytes(root_key: bytes) -> None:
    with pytest.raises(ValueError, match="root key must be 32 bytes"):
        mint(root_key, IDENTIFIER, TERMS)
    with pytest.raises(ValueError, match="root key must be 32 bytes"):
        verify(root_key, Credential(b"\x02", PREIMAGE), now=NOW)


@given(st.binary(min_size=1, max_size=400))
def test_any_bytes_are_refused_with_invalid_credential(macaroon: bytes) -> None:
    with pytest.raises(InvalidCredentialError):
        check(macaroon)


@given(st.binary(min_size=1, max_size=400))
def test_any_v2_looking_bytes_are_refused_with_invalid_credential(tail: bytes) -> None:
    with pytest.raises(InvalidCredentialError):
        check(b"\x02" + tail)


@given(st.data())
def test_mutated_macaroons_are_refused_or_grant_what_was_minted(data: st.DataObject) -> None:
    raw = bytearray(minted())
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(raw) - 1))
        operation = data.draw(st.sampled_from(["flip", "delete", "insert"]))
        if operation == "flip":
            raw[position] ^= data.draw(st.integers(1, 255))
        elif operation == "delete":
            del raw[position]
        else:
            raw.insert(position, data.draw(st.integers(0, 255)))
    try:
        grant = check(bytes(raw))
    except InvalidCredentialError:
        return
    # Only the location is outside the signature (a macaroon's location is a hint), so
    # whatever survives a mutation grants exactly what was minted.
    assert grant == GRANT


def test_the_location_is_not_signed() -> None:
    assert check(minted().replace(b"alsats", b"alsatz", 1)) == GRANT


@given(st.lists(st.one_of(
    st.text(max_size=30),
    st.builds("{}={}".format, st.sampled_from(["alsats_session", "alsats_iterations",
                                                 "alsats_valid_until", "services"]),
              st.one_of(st.integers(-5, 2 * VALID_UNTIL).map(str), st.text(max_size=8))),
), max_size=6))
def test_attenuation_never_widens(predicates: list[str]) -> None:
    try:
        raw = attenuate(minted(), *predicates)
    except UnicodeEncodeError:  # pymacaroons needs UTF-8 predicates
        return
    try:
        grant = check(raw, now=0)
    except InvalidCredentialError:
        return
    assert (grant.token_id, grant.session_id) == (TOKEN_ID, "s1")
    assert 1 <= grant.iterations <= 3 and grant.valid_until <= VALID_UNTIL
