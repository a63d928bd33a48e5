"""LND-style macaroons: bake admin/invoice/readonly, and check a call's permission.

The identifier is LND's: version byte 3 then a protobuf ``MacaroonId`` (nonce, storage
id, ops of entity + actions); location "lnd"; version-2 binary encoding, so the files
look exactly like LND's and any LND client reads them. Refusals use LND's own messages.
"""

from __future__ import annotations

import base64
import os
from datetime import datetime, timezone

from pymacaroons import MACAROON_V2, Macaroon, Verifier
from pymacaroons.serializers import BinarySerializer

ENTITIES = ("onchain", "offchain", "address", "message", "peers", "info", "invoices",
            "signer", "macaroon")
PERMISSIONS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "admin": [(e, ("read", "write")) for e in ENTITIES],
    "readonly": [(e, ("read",)) for e in ENTITIES],
    "invoice": [("invoices", ("read", "write")), ("address", ("read", "write")),
                ("onchain", ("read",))],
}
IDENTIFIER_VERSION = 3  # bakery.LatestVersion in LND


class MacaroonRefused(Exception):
    """The call's macaroon is missing, forged or lacks the permission; text is LND's."""


def bake(root_key: bytes, kind: str) -> bytes:
    """The binary macaroon LND would write to ``<kind>.macaroon``."""
    ops = PERMISSIONS[kind]
    identifier = bytes([IDENTIFIER_VERSION]) + _encode_id(os.urandom(16), b"0", ops)
    mac = Macaroon(location="lnd", identifier=identifier, key=root_key, version=MACAROON_V2)
    return _b64decode(mac.serialize(serializer=BinarySerializer()))


def check(root_key: bytes, macaroon_hex: str | None, entity: str, action: str) -> None:
    """Raise MacaroonRefused unless the macaroon is ours and grants entity:action."""
    if not macaroon_hex:
        raise MacaroonRefused("expected 1 macaroon, got 0")
    try:
        raw = bytes.fromhex(macaroon_hex)
        mac = Macaroon.deserialize(
            base64.urlsafe_b64encode(raw).decode(), serializer=BinarySerializer()
        )
        ops = _decode_id(mac.identifier_bytes)
    except Exception:  # noqa: BLE001 - any decoding failure is the same refusal
        raise MacaroonRefused("unable to unmarshal macaroon") from None
    verifier = Verifier()
    verifier.satisfy_general(_time_before_ok)
    try:
        verifier.verify(mac, root_key)
    except Exception:  # noqa: BLE001 - pymacaroons raises several types for "no"
        raise MacaroonRefused(
            "verification failed: signature mismatch after caveat verification"
        ) from None
    if not any(e == entity and action in actions for e, actions in ops):
        raise MacaroonRefused("permission denied")


def _time_before_ok(caveat: str) -> bool:
    name, _, value = caveat.partition(" ")
    if name != "time-before":
        return False
    try:
        deadline = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return False
    return datetime.now(timezone.utc) < deadline


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- the MacaroonId protobuf, by hand: three fields are not worth a generated module --

def _encode_id(nonce: bytes, storage_id: bytes, ops: list[tuple[str, tuple[str, ...]]]) -> bytes:
    out = _field(1, nonce) + _field(2, storage_id)
    for entity, actions in ops:
        op = _field(1, entity.encode()) + b"".join(_field(2, a.encode()) for a in actions)
        out += _field(3, op)
    return out


def _decode_id(identifier: bytes) -> list[tuple[str, tuple[str, ...]]]:
    if not identifier or identifier[0] != IDENTIFIER_VERSION:
        raise ValueError("unknown macaroon identifier version")
    ops = []
    for number, value in _fields(identifier[1:]):
        if number == 3:
            entity, actions = "", []
            for n, v in _fields(value):
                if n == 1:
                    entity = v.decode()
                elif n == 2:
                    actions.append(v.decode())
            ops.append((entity, tuple(actions)))
    return ops


def _field(number: int, value: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _fields(data: bytes):
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        if key & 7 != 2:
            raise ValueError("unexpected wire type in macaroon id")
        length, pos = _read_varint(data, pos)
        if pos + length > len(data):
            raise ValueError("truncated macaroon id")
        yield key >> 3, data[pos : pos + length]
        pos += length


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
