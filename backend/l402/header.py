"""The L402 HTTP headers: the server's challenge and the client's credential (bLIP-0026).

Challenge: ``WWW-Authenticate: L402 macaroon="<base64>", invoice="<bolt11>", version="0",
token="<base64>"``, the same macaroon twice: the clients deployed today read ``macaroon``
then ``invoice``, in that order, and nothing else; the L402 specification as updated in
2026 names it ``token``, adds ``version`` and has clients ignore what they do not know.
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
from .httpauth import Challenge, parse_challenges

MAX_HEADER_BYTES = 8192
PREIMAGE_SIZE = 32
SCHEME = "L402"
LEGACY_SCHEME = "LSAT"  # L402's former name; the spec says to keep accepting it
SCHEMES = (SCHEME, LEGACY_SCHEME)
VERSION = "0"  # the only version of the challenge there is

_WHITESPACE = re.compile(r"[ \t]+")
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")
_STANDARD_B64 = re.compile(r"[A-Za-z0-9+/]+")
_URLSAFE_B64 = re.compile(r"[A-Za-z0-9_-]+")
_ANY_B64 = re.compile(r"[A-Za-z0-9+/_-]+")
_ANY_B64_CHAR = re.compile(r"[A-Za-z0-9+/_-]")
_HEX_64 = re.compile(r"[0-9a-fA-F]{64}")
_INVOICE = re.compile(r"[A-Za-z0-9]+")  # bech32: a BOLT 11 invoice never needs quoting
_URLSAFE_TO_STANDARD = str.maketrans("-_", "+/")
_USAGE = 'expected "L402 <base64 macaroon>:<hex preimage>"'


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


def _challenge(macaroon: str, invoice: str) -> str:
    return (f'{SCHEME} macaroon="{macaroon}", invoice="{invoice}", version="{VERSION}", '
            f'token="{macaroon}"')


CHALLENGE_FORM = _challenge("<base64 macaroon>", "<bolt11 invoice>")  # for the docs


def format_challenge(macaroon: bytes, invoice: str) -> str:
    """The ``WWW-Authenticate`` value for a 402: one challenge that clients of the old form
    and of today's specification both read; standard padded base64, as Aperture sends."""
    if not macaroon:
        raise ValueError("macaroon is empty")
    if not isinstance(invoice, str) or not _INVOICE.fullmatch(invoice):
        raise ValueError("invoice must be a non-empty BOLT 11 string (letters and digits)")
    return _challenge(base64.b64encode(macaroon).decode("ascii"), invoice)


def parse_challenge(value: str) -> tuple[bytes, str]:
    """The macaroon and invoice a ``WWW-Authenticate`` value offers, for clients.

    Reads any form a compliant server sends: ``token`` or ``macaroon`` (both: the same),
    parameters in any order, unknown ones ignored, the LSAT scheme, other schemes'
    challenges beside it, several header lines joined by ", ". Challenges of a version it
    does not know are set aside. Strict, so a client never pays an invoice it half-read
    or could read two ways. Raises MalformedHeaderError, nothing else."""
    _check_text(value, "WWW-Authenticate")
    every = parse_challenges(value)
    challenges = [c for c in every if c.scheme.upper() in SCHEMES]
    if not challenges:
        offered = ", ".join(repr(c.scheme[:20]) for c in every[:5]) or "none"
        raise MalformedHeaderError(
            f"no L402 challenge (schemes offered: {offered}); expected '{CHALLENGE_FORM}'")
    known = [c for c in challenges if c.params.get("version", VERSION) == VERSION]
    if not known:
        version = challenges[0].params["version"][:20]
        raise MalformedHeaderError(
            f"unknown L402 version {version!r}: this client reads version {VERSION}")
    offers = {_offer(challenge) for challenge in known}
    if len(offers) > 1:
        raise MalformedHeaderError(
            f"{len(offers)} L402 challenges offer different invoices or macaroons: "
            "which one to pay is ambiguous")
    return offers.pop()


def _offer(challenge: Challenge) -> tuple[bytes, str]:
    """An L402 challenge's macaroon and invoice."""
    if challenge.token68 is not None:
        raise MalformedHeaderError(f"the {challenge.scheme[:20]} challenge has a bare token, "
                                   f"not parameters; expected '{CHALLENGE_FORM}'")
    params = challenge.params
    macaroons = {_decode_macaroon(params[name]) for name in ("token", "macaroon")
                 if name in params}
    if not macaroons:
        raise MalformedHeaderError("the L402 challenge has no token (nor macaroon)")
    if len(macaroons) > 1:
        raise MalformedHeaderError("the L402 challenge's token and macaroon differ")
    if "invoice" not in params:
        raise MalformedHeaderError("the L402 challenge has no invoice")
    if not _INVOICE.fullmatch(params["invoice"]):
        raise MalformedHeaderError("invoice must be a non-empty BOLT 11 string "
                                   "(letters and digits)")
    return macaroons.pop(), params["invoice"]


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
