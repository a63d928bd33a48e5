"""lndconnect URIs: ``lndconnect://host:port?cert=<base64url DER>&macaroon=<base64url>``."""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlsplit

from .errors import InvalidRequestError


@dataclass(frozen=True)
class LndConnect:
    host: str  # host:port
    tls_cert_pem: bytes | None  # None: trust the system's CAs
    macaroon: bytes


def parse_lndconnect(uri: str) -> LndConnect:
    parts = urlsplit(uri.strip())
    if parts.scheme != "lndconnect" or not parts.hostname:
        raise InvalidRequestError("not an lndconnect URI: expected lndconnect://host:port?...")
    query = parse_qs(parts.query)
    if "macaroon" not in query:
        raise InvalidRequestError("lndconnect URI has no macaroon")
    try:
        port = parts.port or 10009  # LND's default gRPC port
    except ValueError:
        raise InvalidRequestError("lndconnect URI has an invalid port") from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    cert = None
    if "cert" in query:
        cert = ssl.DER_cert_to_PEM_cert(_b64(query["cert"][0], "cert")).encode()
    return LndConnect(f"{host}:{port}", cert, _b64(query["macaroon"][0], "macaroon"))


def make_lndconnect(host: str, tls_cert_pem: bytes, macaroon: bytes) -> str:
    der = ssl.PEM_cert_to_DER_cert(tls_cert_pem.decode())
    return (f"lndconnect://{host}?cert={quote(_unpadded(der))}"
            f"&macaroon={quote(_unpadded(macaroon))}")


def _b64(value: str, what: str) -> bytes:
    try:  # validate: the lenient decoder would drop characters outside the alphabet
        return base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_",
                                validate=True)
    except ValueError:
        raise InvalidRequestError(f"lndconnect {what} is not base64url") from None


def _unpadded(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
