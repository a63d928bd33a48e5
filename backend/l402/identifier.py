"""The L402 macaroon identifier: version, payment hash, token id (bLIP-0026, version 0).

The identifier is what makes verification stateless: the macaroon signs it, and it
commits to the invoice's payment hash, so ``sha256(preimage)`` proves payment.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .errors import MalformedIdentifierError, UnknownVersionError

LATEST_VERSION = 0
HASH_SIZE = 32
TOKEN_ID_SIZE = 32
_VERSION = struct.Struct(">H")  # uint16, big-endian, as the spec says
ENCODED_SIZE = _VERSION.size + HASH_SIZE + TOKEN_ID_SIZE  # 66 bytes for version 0


@dataclass(frozen=True)
class Identifier:
    """A version 0 identifier; an instance can always be encoded."""

    payment_hash: bytes
    token_id: bytes
    version: int = LATEST_VERSION

    def __post_init__(self) -> None:
        if not isinstance(self.version, int) or not 0 <= self.version <= 0xFFFF:
            raise MalformedIdentifierError(
                f"version must be an unsigned 16-bit integer, got {self.version!r}")
        if self.version != LATEST_VERSION:
            raise UnknownVersionError(f"unknown L402 identifier version {self.version}")
        _check_field("payment_hash", self.payment_hash, HASH_SIZE)
        _check_field("token_id", self.token_id, TOKEN_ID_SIZE)

    def encode(self) -> bytes:
        """Version, payment hash, token id: 66 bytes."""
        return _VERSION.pack(self.version) + self.payment_hash + self.token_id

    @classmethod
    def decode(cls, raw: bytes) -> Identifier:
        """Parse an identifier; the version is read first, so a newer one says so by name."""
        if not isinstance(raw, bytes):
            raise MalformedIdentifierError(f"identifier must be bytes, got {type(raw).__name__}")
        if len(raw) < _VERSION.size:
            raise MalformedIdentifierError(
                f"identifier is {len(raw)} byte(s), too short to hold a version")
        (version,) = _VERSION.unpack_from(raw)
        if version != LATEST_VERSION:
            raise UnknownVersionError(f"unknown L402 identifier version {version}")
        if len(raw) != ENCODED_SIZE:
            raise MalformedIdentifierError(
                f"a version 0 identifier is {ENCODED_SIZE} bytes, got {len(raw)}")
        payment_hash = raw[_VERSION.size:_VERSION.size + HASH_SIZE]
        return cls(payment_hash, raw[_VERSION.size + HASH_SIZE:], version)


def _check_field(name: str, value: object, size: int) -> None:
    if not isinstance(value, bytes):
        raise MalformedIdentifierError(f"{name} must be bytes, got {type(value).__name__}")
    if len(value) != size:
        raise MalformedIdentifierError(f"{name} must be {size} bytes, got {len(value)}")
