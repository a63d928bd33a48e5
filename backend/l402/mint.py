"""Minting and stateless verification of alsats's L402 macaroons.

A credential is good when four things hold, none needing a database: the macaroon is
signed under our root key, its identifier's payment hash is ``sha256(preimage)``, its
alsats caveats grant something, and it has not expired. Counting what was used, and
refusing replays, is the ledger's business, not this module's.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
from dataclasses import dataclass

from pymacaroons import MACAROON_V2, Macaroon, Verifier
from pymacaroons.exceptions import MacaroonException
from pymacaroons.serializers import BinarySerializer

from .caveats import Caveat
from .errors import InvalidCredentialError, MalformedIdentifierError, UnknownVersionError
from .header import Credential
from .identifier import Identifier
from .satisfier import alsats_terms

ROOT_KEY_SIZE = 32
SIGNATURE_SIZE = 32
DEFAULT_LOCATION = "alsats"
_SIGNATURE_FIELD = 6  # libmacaroons V2 field type; the signature is the last field


@dataclass(frozen=True)
class Grant:
    """What a verified credential entitles its bearer to."""

    token_id: bytes
    payment_hash: bytes
    session_id: str
    iterations: int
    valid_until: int


def mint(root_key: bytes, identifier: Identifier, caveats: list[Caveat],
         location: str = DEFAULT_LOCATION) -> bytes:
    """A macaroon over ``identifier`` with ``caveats``, in binary V2 serialization."""
    _check_root_key(root_key)
    macaroon = Macaroon(location=location, identifier=identifier.encode(), key=root_key,
                        version=MACAROON_V2)
    for caveat in caveats:
        macaroon.add_first_party_caveat(caveat.encode())
    return BinarySerializer().serialize_raw(macaroon)


def verify(root_key: bytes, credential: Credential, *, now: int,
           session_id: str | None = None) -> Grant:
    """The credential's grant at ``now`` (unix seconds); InvalidCredentialError if none."""
    _check_root_key(root_key)
    macaroon = _deserialize(credential.macaroon)
    identifier = _identifier(macaroon)
    predicates = _first_party_predicates(macaroon)
    verifier = Verifier()
    verifier.satisfy_general(lambda predicate: True)  # alsats's caveats are checked below
    try:
        verifier.verify(macaroon, root_key)
    except MacaroonException:
        raise InvalidCredentialError(
            "bad signature: the macaroon was not minted here or was altered") from None
    if not hmac.compare_digest(hashlib.sha256(credential.preimage).digest(),
                               identifier.payment_hash):
        raise InvalidCredentialError("wrong preimage: it does not hash to the payment hash")
    terms = alsats_terms(predicates)
    if now >= terms.valid_until:
        raise InvalidCredentialError(f"expired: valid until {terms.valid_until}, now is {now}")
    if session_id is not None and session_id != terms.session_id:
        raise InvalidCredentialError("the credential is for another session")
    return Grant(identifier.token_id, identifier.payment_hash, *terms)


def _check_root_key(root_key: bytes) -> None:
    # A server misconfiguration, not a bad credential: hence not an L402Error.
    if not isinstance(root_key, bytes) or len(root_key) != ROOT_KEY_SIZE:
        raise ValueError(f"root key must be {ROOT_KEY_SIZE} bytes")


def _deserialize(raw: bytes) -> Macaroon:
    if not raw or raw[0] != MACAROON_V2:
        # Also keeps V1 parsing away from client bytes (pymacaroons can loop forever on it).
        raise InvalidCredentialError("undecodable macaroon: not a binary V2 macaroon")
    try:
        macaroon = BinarySerializer().deserialize_raw(raw)
    # pymacaroons signals truncation with a bare Exception (and bad UTF-8 with
    # UnicodeDecodeError), so nothing narrower catches every malformed input.
    except Exception as exc:
        raise InvalidCredentialError(f"undecodable macaroon: {exc}") from None
    signature = binascii.unhexlify(macaroon.signature_bytes)
    if len(signature) != SIGNATURE_SIZE:
        raise InvalidCredentialError("undecodable macaroon: the signature is not 32 bytes")
    if not raw.endswith(bytes([_SIGNATURE_FIELD, SIGNATURE_SIZE]) + signature):
        raise InvalidCredentialError("undecodable macaroon: data after the signature")
    return macaroon


def _identifier(macaroon: Macaroon) -> Identifier:
    try:
        return Identifier.decode(macaroon.identifier_bytes)
    except UnknownVersionError as exc:
        raise InvalidCredentialError(str(exc)) from None
    except MalformedIdentifierError as exc:
        raise InvalidCredentialError(f"malformed identifier: {exc}") from None


def _first_party_predicates(macaroon: Macaroon) -> list[str]:
    predicates = []
    for index, caveat in enumerate(macaroon.caveats):
        if not caveat.first_party():
            raise InvalidCredentialError("third-party caveats are not supported")
        try:
            predicates.append(caveat.caveat_id_bytes.decode("utf-8"))
        except UnicodeDecodeError:
            raise InvalidCredentialError(f"malformed caveat: caveat {index} is not UTF-8") from None
    return predicates
