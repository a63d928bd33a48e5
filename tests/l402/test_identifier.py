"""The identifier codec: version 0 round trips, and every way a raw identifier is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.l402 import Identifier, L402Error, MalformedIdentifierError, UnknownVersionError

ZERO = bytes(32)
ONES = b"\xff" * 32
COUNTING = bytes(range(32))


@pytest.mark.parametrize(("payment_hash", "token_id"), [
    (ZERO, ZERO),
    (ONES, ZERO),
    (ZERO, ONES),
    (COUNTING, COUNTING[::-1]),
])
def test_round_trip(payment_hash: bytes, token_id: bytes) -> None:
    identifier = Identifier(payment_hash, token_id)
    raw = identifier.encode()
    assert raw == b"\x00\x00" + payment_hash + token_id  # uint16 version, hash, token id
    assert len(raw) == 66
    assert Identifier.decode(raw) == identifier


@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
def test_round_trip_any(payment_hash: bytes, token_id: bytes) -> None:
    identifier = Identifier(payment_hash, token_id)
    assert Identifier.decode(identifier.encode()) == identifier


@pytest.mark.parametrize(("raw", "error", "match"), [
    (b"", MalformedIdentifierError, "0 byte.*too short"),
    (b"\x00", MalformedIdentifierError, "1 byte.*too short"),
    (b"\x00\x00", MalformedIdentifierError, "66 bytes, got 2"),
    (b"\x00\x00" + bytes(63), MalformedIdentifierError, "66 bytes, got 65"),
    (b"\x00\x00" + bytes(65), MalformedIdentifierError, "66 bytes, got 67"),
    (b"\x00\x01" + bytes(64), UnknownVersionError, "unknown L402 identifier version 1"),
    (b"\xff\xff" + bytes(64), UnknownVersionError, "version 65535"),
    (b"\x00\x01", UnknownVersionError, "version 1"),  # the version is read first
])
def test_decode_rejects(raw: bytes, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        Identifier.decode(raw)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"payment_hash": bytes(31), "token_id": ZERO}, MalformedIdentifierError,
     "payment_hash must be 32 bytes, got 31"),
    ({"payment_hash": ZERO, "token_id": bytes(33)}, MalformedIdentifierError,
     "token_id must be 32 bytes, got 33"),
    ({"payment_hash": "00" * 32, "token_id": ZERO}, MalformedIdentifierError,
     "payment_hash must be bytes, got str"),
    ({"payment_hash": ZERO, "token_id": ZERO, "version": 1}, UnknownVersionError,
     "version 1"),
    ({"payment_hash": ZERO, "token_id": ZERO, "version": -1}, MalformedIdentifierError,
     "unsigned 16-bit"),
    ({"payment_hash": ZERO, "token_id": ZERO, "version": 1 << 16}, MalformedIdentifierError,
     "unsigned 16-bit"),
])
def test_construction_rejects(kwargs: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        Identifier(**kwargs)


def test_errors_share_the_base_class() -> None:
    assert issubclass(MalformedIdentifierError, L402Error)
    assert issubclass(UnknownVersionError, L402Error)


@given(st.binary(max_size=80))
def test_decode_any_bytes_parses_or_raises_its_own_errors(raw: bytes) -> None:
    try:
        identifier = Identifier.decode(raw)
    except (MalformedIdentifierError, UnknownVersionError):
        return
    assert identifier.encode() == raw
