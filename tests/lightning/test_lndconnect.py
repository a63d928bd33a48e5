"""lndconnect URIs: make then parse round-trips; malformed URIs are InvalidRequestError."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509

from backend.lightning.errors import InvalidRequestError
from backend.lightning.lndconnect import LndConnect, make_lndconnect, parse_lndconnect
from backend.lightning.simnet.tls import ensure_tls

# every byte value, so the base64url text has '-' and '_' and needs padding stripped
MACAROON = bytes(range(256)) + b"\x02\x01\x03lnd"


@pytest.fixture
def cert_pem(tmp_path: Path) -> bytes:
    pem, _ = ensure_tls(tmp_path / "tls.cert", tmp_path / "tls.key", "alice")
    return pem


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_round_trip_keeps_host_cert_and_macaroon(cert_pem: bytes):
    uri = make_lndconnect("127.0.0.1:10001", cert_pem, MACAROON)
    parsed = parse_lndconnect(uri)

    assert isinstance(parsed, LndConnect)
    assert parsed.host == "127.0.0.1:10001"
    assert parsed.macaroon == MACAROON
    assert parsed.tls_cert_pem is not None
    assert ssl.PEM_cert_to_DER_cert(parsed.tls_cert_pem.decode()) == \
        ssl.PEM_cert_to_DER_cert(cert_pem.decode())
    assert parsed.tls_cert_pem == cert_pem
    cert = x509.load_pem_x509_certificate(parsed.tls_cert_pem)
    assert "CN=alice" in cert.subject.rfc4514_string()


def test_uri_shape_is_lndconnect_with_unpadded_base64url(cert_pem: bytes):
    uri = make_lndconnect("localhost:10009", cert_pem, MACAROON)
    parts = urlsplit(uri)

    assert parts.scheme == "lndconnect"
    assert parts.netloc == "localhost:10009"
    query = parse_qs(parts.query)
    assert set(query) == {"cert", "macaroon"}
    for value in (query["cert"][0], query["macaroon"][0]):
        assert "=" not in value and "+" not in value and "/" not in value
    assert query["macaroon"][0] == b64url(MACAROON)
    assert query["cert"][0] == b64url(ssl.PEM_cert_to_DER_cert(cert_pem.decode()))


def test_round_trip_of_a_hostname(cert_pem: bytes):
    parsed = parse_lndconnect(make_lndconnect("node.example.com:443", cert_pem, b"\x00mac"))
    assert parsed.host == "node.example.com:443"
    assert parsed.macaroon == b"\x00mac"


def test_uri_without_cert_trusts_system_cas():
    parsed = parse_lndconnect(f"lndconnect://node.example.com:10009?macaroon={b64url(MACAROON)}")
    assert parsed == LndConnect("node.example.com:10009", None, MACAROON)


def test_missing_port_defaults_to_lnds_grpc_port():
    parsed = parse_lndconnect(f"lndconnect://node.example.com?macaroon={b64url(b'mac')}")
    assert parsed.host == "node.example.com:10009"


def test_padded_base64_and_surrounding_whitespace_are_accepted():
    padded = base64.urlsafe_b64encode(b"macs").decode()
    assert padded.endswith("=")
    parsed = parse_lndconnect(f"  lndconnect://h:1?macaroon={padded.replace('=', '%3D')}\n")
    assert parsed.macaroon == b"macs" and parsed.host == "h:1"


@pytest.mark.parametrize(
    "uri",
    [
        "https://h:10009?macaroon=AgED",
        "lnd://h:10009?macaroon=AgED",
        "h:10009?macaroon=AgED",
        "lndconnect://?macaroon=AgED",
        "lndconnect:///path?macaroon=AgED",
        "",
    ],
    ids=["https", "lnd", "no-scheme", "no-host", "empty-host", "empty"],
)
def test_wrong_scheme_or_no_host_is_refused(uri: str):
    with pytest.raises(InvalidRequestError, match="not an lndconnect URI"):
        parse_lndconnect(uri)


@pytest.mark.parametrize(
    "uri",
    ["lndconnect://h:10009", "lndconnect://h:10009?cert=AAAA", "lndconnect://h:10009?macaroon="],
    ids=["no-query", "cert-only", "empty-macaroon"],
)
def test_missing_macaroon_is_refused(uri: str):
    with pytest.raises(InvalidRequestError, match="has no macaroon"):
        parse_lndconnect(uri)


@pytest.mark.parametrize(
    ("uri", "what"),
    [
        ("lndconnect://h:10009?macaroon=abcde", "macaroon"),
        ("lndconnect://h:10009?macaroon=A", "macaroon"),
        ("lndconnect://h:10009?macaroon=AgED&cert=abcde", "cert"),
    ],
    ids=["macaroon-length", "macaroon-one-char", "cert-length"],
)
def test_bad_base64_is_refused(uri: str, what: str):
    with pytest.raises(InvalidRequestError, match=f"lndconnect {what} is not base64url"):
        parse_lndconnect(uri)


def test_characters_outside_base64url_are_refused():
    with pytest.raises(InvalidRequestError, match="not base64url"):
        parse_lndconnect("lndconnect://h:10009?macaroon=AgED$$$$")


@pytest.mark.parametrize("port", ["99999", "abc"])
def test_invalid_port_is_refused_as_invalid_request(port: str):
    with pytest.raises(InvalidRequestError):
        parse_lndconnect(f"lndconnect://h:{port}?macaroon=AgED")


def test_ipv6_host_round_trips(cert_pem: bytes):
    parsed = parse_lndconnect(make_lndconnect("[::1]:10009", cert_pem, b"mac"))
    assert parsed.host == "[::1]:10009"
