"""The L402 HTTP headers: the server's challenge and the client's credential (bLIP-0026).

Challenge: ``WWW-Authenticate: L402 macaroon="<base64>", invoice="<bolt11>"``.
Credential: ``Authorization: L402 <base64 macaroon>:<hex preimage>``, or the legacy
scheme ``LSAT``. Parsing (of both) is strict and total: any string either parses or raises
:class:`MalformedHeaderError` with a message a client can act on.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from .errors import MalformedHeaderError

MAX_HEADER_BYTES = 8192
PREIMAGE_SIZE = 32
SCHEME = "L402"
LEGACY_SCHEME = "LSAT"  # L402's former name; the spec says to keep accepting it
SCHEMES = (SCHEME, LEGACY_SCHEME)

_WHITESPACE = re.compile(r"[ \t]+")
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")
_STANDARD_B64 = re.compile(r"[A-Za-z0-9+/]+")
_URLSAFE_B64 = re.compile(r"[A-Za-z0-9_-]+")
_ANY_B64 = re.compile(r"[A-Za-z0-9+/_-]+")
_ANY_B64_CHAR = re.compile(r"[A-Za-z0-9+/_-]")
_HEX_64 = re.compile(r"[0-9a-fA-F]{64}")
_INVOICE = re.compile(r"[A-Za-z0-9]+")  # bech32: a BOLT 11 invoice never needs quoting
_URLSAFE_TO_STANDARD = str.maketrans("-_", "+/")
_CHALLENGE = re.compile(r'(?P<scheme>[A-Za-z0-9]+) macaroon="(?P<macaroon>[^"]*)", '
                        r'invoice="(?P<invoice>[^"]*)"')
_USAGE = 'expected "L402 <base64 macaroon>:<hex preimage>"'
_CHALLENGE_USAGE = 'expected \'L402 macaroon="<base64>", invoice="<bolt11>"\''


@dataclass(frozen=True)
class Credential:
    """A parsed ``Authorization`` value: not yet verified, only well-formed."""

    macaroon: bytes  # binary V2 serialization
    preimage: bytes = field(repr=False)  # 32 bytes; a bearer secret, kept out of logs
    scheme: str = SCHEME  # "L402" or "LSAT", upper case whatever the client sent

    def __post_init__(self) -> None:
        if not isinstance(self.macaroon, bytes) or not self.macaroon:
            raise MalformedHeaderError("macaroon must be non-empty bytes")
        if not isinstance(self.preimage, bytes) or len(self.preimage) != PREIMAGE_SIZE:
            raise MalformedHeaderError(f"preimage must be {PREIMAGE_SIZE} bytes")
        if self.scheme not in SCHEMES:
            raise MalformedHeaderError(f"scheme must be one of {', '.join(SCHEMES)}")


def format_challenge(macaroon: bytes, invoice: str) -> str:
    """The ``WWW-Authenticate`` value for a 402: standard padded base64, as Aperture sends."""
    if not macaroon:
        raise ValueError("macaroon is empty")
    if not isinstance(invoice, str) or not _INVOICE.fullmatch(invoice):
        raise ValueError("invoice must be a non-empty BOLT 11 string (letters and digits)")
    encoded = base64.b64encode(macaroon).decode("ascii")
    return f'{SCHEME} macaroon="{encoded}", invoice="{invoice}"'


def parse_challenge(value: str) -> tuple[bytes, str]:
    """The macaroon and invoice of a ``WWW-Authenticate`` value, for clients; strict, so a
    client never pays an invoice it half-read. Raises MalformedHeaderError, nothing else."""
    _check_text(value, "WWW-Authenticate")
    match = _CHALLENGE.fullmatch(value)
    if match is None:
        raise MalformedHeaderError(f"not an L402 challenge; {_CHALLENGE_USAGE}")
    if match["scheme"].upper() not in SCHEMES:
        shown = match["scheme"][:20]
        raise MalformedHeaderError(
            f"unknown scheme {shown!r}; expected L402 (or the legacy LSAT)")
    if not _INVOICE.fullmatch(match["invoice"]):
        raise MalformedHeaderError("invoice must be a non-empty BOLT 11 string "
                                   "(letters and digits)")
    return _decode_macaroon(match["macaroon"]), match["invoice"]


def format_authorization(macaroon: bytes, preimage: bytes, scheme: str = SCHEME) -> str:
    """The ``Authorization`` value a client sends once it has paid (for clients and tests)."""
    credential = Credential(macaroon, preimage, scheme)
    encoded = base64.b64encode(credential.macaroon).decode("ascii")
    return f"{credential.scheme} {encoded}:{credential.preimage.hex()}"


def parse_authorization(value: str) -> Credential:
    """Parse ``L402 <macaroon>:<preimage>``; raises MalformedHeaderError, nothing else."""
    _check_text(value, "Authorization")
    scheme, token = _split_scheme(value.strip(" \t"))
    macaroon_text, preimage_text = _split_token(token)
    return Credential(_decode_macaroon(macaroon_text), _decode_preimage(preimage_text), scheme)


def _check_text(value: str, header: str) -> None:
    """A header value as str, ASCII, within MAX_HEADER_BYTES: checked before any parsing."""
    if not isinstance(value, str):
        raise MalformedHeaderError(f"header value must be str, got {type(value).__name__}")
    size = len(value.encode("utf-8", errors="surrogatepass"))
    if size > MAX_HEADER_BYTES:
        raise MalformedHeaderError(
            f"{header} header is {size} bytes, more than the {MAX_HEADER_BYTES} allowed")
    if not value.isascii():
        raise MalformedHeaderError(f"{header} header contains non-ASCII characters")


def _split_scheme(value: str) -> tuple[str, str]:
    if not value:
        raise MalformedHeaderError(f"Authorization header is empty; {_USAGE}")
    parts = _WHITESPACE.split(value, maxsplit=1)
    word = parts[0]
    if len(parts) == 1:
        if word.upper() in SCHEMES:
            raise MalformedHeaderError(f"no credentials after the {word} scheme; {_USAGE}")
        raise MalformedHeaderError(f"missing scheme; {_USAGE}")
    if word.upper() not in SCHEMES:
        shown = word if len(word) <= 20 else word[:20] + "..."
        raise MalformedHeaderError(
            f"unknown scheme {shown!r}; expected L402 (or the legacy LSAT)")
    return word.upper(), parts[1]


def _split_token(token: str) -> tuple[str, str]:
    colons = token.count(":")
    if colons == 0:
        raise MalformedHeaderError(f"no ':' between macaroon and preimage; {_USAGE}")
    if colons > 1:
        raise MalformedHeaderError(f"more than one ':' in the credentials; {_USAGE}")
    macaroon_text, _, preimage_text = token.partition(":")
    if "," in macaroon_text:
        raise MalformedHeaderError(
            "more than one macaroon (a comma-separated list) is not supported; send one")
    if _CONTROL_OR_SPACE.search(token):
        raise MalformedHeaderError("credentials contain whitespace or control characters")
    if not macaroon_text:
        raise MalformedHeaderError(f"macaroon is empty; {_USAGE}")
    if not preimage_text:
        raise MalformedHeaderError(f"preimage is empty; {_USAGE}")
    return macaroon_text, preimage_text


def _decode_macaroon(text: str) -> bytes:
    """Standard or URL-safe base64, padded or not (clients differ; the bytes do not)."""
    body = text.rstrip("=")
    padding = len(text) - len(body)
    if not body:
        raise MalformedHeaderError("macaroon is empty")
    if not _STANDARD_B64.fullmatch(body):
        if not _URLSAFE_B64.fullmatch(body):
            if _ANY_B64.fullmatch(body):
                raise MalformedHeaderError(
                    "macaroon mixes standard (+/) and URL-safe (-_) base64 alphabets")
            bad = _ANY_B64_CHAR.sub("", body)[0]
            raise MalformedHeaderError(f"macaroon is not base64 (unexpected {bad!r})")
        body = body.translate(_URLSAFE_TO_STANDARD)
    if len(body) % 4 == 1:
        raise MalformedHeaderError("macaroon is not base64 (impossible length)")
    if padding and (padding > 2 or (len(body) + padding) % 4):
        raise MalformedHeaderError("macaroon is not base64 (wrong padding)")
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):  # unreachable after the checks above; kept total
        raise MalformedHeaderError("macaroon is not base64") from None


def _decode_preimage(text: str) -> bytes:
    if not _HEX_64.fullmatch(text):
        if len(text) != 2 * PREIMAGE_SIZE:
            raise MalformedHeaderError(
                f"preimage must be 64 hex digits (32 bytes), got {len(text)} characters")
        raise MalformedHeaderError("preimage must be 64 hex digits (32 bytes), found non-hex")
    return bytes.fromhex(text)
