"""The challenge and credential headers: round trips, accepted variants, every refusal."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.l402 import (
    MAX_HEADER_BYTES,
    Credential,
    MalformedHeaderError,
    format_authorization,
    format_challenge,
    parse_authorization,
)

PREIMAGE = bytes(range(32))
HEX = PREIMAGE.hex()
MACAROON = b"\x02\x01\x06alsats\xfb\xff\xfe"  # encodes with "+" and "/" in standard base64
STD = base64.b64encode(MACAROON).decode()
URL = base64.urlsafe_b64encode(MACAROON).decode()
CHALLENGE = re.compile(r'^L402 macaroon="([^"]+)", invoice="([^"]+)"$')


def test_challenge_format() -> None:
    value = format_challenge(b"\x02\x01", "lnbcrt10n1abc")
    assert value == 'L402 macaroon="AgE=", invoice="lnbcrt10n1abc"'


@pytest.mark.parametrize("macaroon", [b"\x02", b"\x02\x01", b"\x02\x01\x06", MACAROON,
                                      bytes(range(256))])
def test_challenge_round_trip(macaroon: bytes) -> None:
    match = CHALLENGE.match(format_challenge(macaroon, "lnbc1500n1pw5kjhm"))
    assert match is not None
    assert base64.b64decode(match[1], validate=True) == macaroon  # standard, padded
    assert match[2] == "lnbc1500n1pw5kjhm"


@pytest.mark.parametrize(("macaroon", "invoice"), [
    (b"", "lnbc1"),
    (b"\x02", ""),
    (b"\x02", 'lnbc1", macaroon="forged'),  # no header injection through the invoice
    (b"\x02", "lnbc1\r\nSet-Cookie: x"),
])
def test_challenge_refuses_bad_arguments(macaroon: bytes, invoice: str) -> None:
    with pytest.raises(ValueError):
        format_challenge(macaroon, invoice)


@pytest.mark.parametrize("scheme", ["L402", "LSAT"])
@pytest.mark.parametrize("macaroon", [b"\x02", b"\x02\x01", b"\x02\x01\x06", MACAROON,
                                      bytes(range(256))])
def test_authorization_round_trip(scheme: str, macaroon: bytes) -> None:
    value = format_authorization(macaroon, PREIMAGE, scheme)
    assert value.startswith(f"{scheme} ")
    assert parse_authorization(value) == Credential(macaroon, PREIMAGE, scheme)


@pytest.mark.parametrize(("value", "scheme"), [
    (f"L402 {STD}:{HEX}", "L402"),
    (f"LSAT {STD}:{HEX}", "LSAT"),  # the legacy scheme
    (f"l402 {STD}:{HEX}", "L402"),  # schemes are case-insensitive
    (f"lSaT {STD}:{HEX}", "LSAT"),
    (f"L402 {URL}:{HEX}", "L402"),  # URL-safe alphabet
    (f"L402 {STD.rstrip('=')}:{HEX}", "L402"),  # unpadded
    (f"L402 {URL.rstrip('=')}:{HEX}", "L402"),
    (f"L402 {STD}:{HEX.upper()}", "L402"),
    (f"  L402 \t {STD}:{HEX}  ", "L402"),  # optional whitespace around and between
])
def test_accepted_variants(value: str, scheme: str) -> None:
    assert parse_authorization(value) == Credential(MACAROON, PREIMAGE, scheme)


def _exactly(size: int) -> str:
    """A valid header of ``size`` bytes: "L402 " + unpadded base64 + ":" + 64 hex."""
    b64_chars = size - len("L402 :") - 64
    assert b64_chars % 4 != 1
    macaroon = b"\x02" * (b64_chars * 3 // 4)
    value = f"L402 {base64.b64encode(macaroon).decode().rstrip('=')}:{HEX}"
    assert len(value) == size
    return value


def test_size_limit_is_inclusive() -> None:
    assert parse_authorization(_exactly(MAX_HEADER_BYTES)).preimage == PREIMAGE


@pytest.mark.parametrize(("value", "match"), [
    (" " + _exactly(MAX_HEADER_BYTES), "8193 bytes, more than the 8192 allowed"),
    ("L402 " + "A" * 10_000 + ":" + HEX, "bytes, more than the 8192 allowed"),
    ("é" * 4097, "8194 bytes"),  # counted in bytes, not characters
    ("", "header is empty"),
    (" \t ", "header is empty"),
    (f"{STD}:{HEX}", "missing scheme"),
    (f"Bearer {STD}:{HEX}", "unknown scheme 'Bearer'; expected L402"),
    (f"Basic {STD}:{HEX}", "unknown scheme 'Basic'"),
    (f"L402x {STD}:{HEX}", "unknown scheme 'L402x'"),
    (f"L402:{STD}:{HEX}", "missing scheme"),
    ("L402", "no credentials after the L402 scheme"),
    ("lsat   ", "no credentials after the lsat scheme"),
    (f"L402 {STD}{HEX}", "no ':' between macaroon and preimage"),
    (f"L402 {STD}:{HEX}:{HEX}", "more than one ':'"),
    (f"L402 :{HEX}", "macaroon is empty"),
    (f"L402 ==:{HEX}", "macaroon is empty"),
    (f"L402 {STD}:", "preimage is empty"),
    (f"L402 {STD},{STD}:{HEX}", "more than one macaroon .* is not supported"),
    (f"L402 {STD}, {STD}:{HEX}", "more than one macaroon"),
    (f"L402 {STD} :{HEX}", "whitespace or control characters"),
    (f"L402 {STD}:\t{HEX}", "whitespace or control characters"),
    (f"L402 {STD}\x00:{HEX}", "whitespace or control characters"),
    (f"L402 {STD}\x7f:{HEX}", "whitespace or control characters"),
    (f"L402 AgE*:{HEX}", r"not base64 \(unexpected '\*'\)"),
    (f"L402 Ag=E:{HEX}", r"not base64 \(unexpected '='\)"),
    (f"L402 Ag+_:{HEX}", "mixes standard .* and URL-safe"),
    (f"L402 AgEGY:{HEX}", "impossible length"),
    (f"L402 AgE==:{HEX}", "wrong padding"),
    (f"L402 Ag===:{HEX}", "wrong padding"),
    (f"L402 AgEG=:{HEX}", "wrong padding"),
    (f"L402 {STD}:{HEX[:-1]}", "64 hex digits .*got 63 characters"),
    (f"L402 {STD}:{HEX}00", "64 hex digits .*got 66 characters"),
    (f"L402 {STD}:{HEX[:-1]}g", "64 hex digits .*found non-hex"),
    (f"L402 {STD}:1234abcd1234abcd1234abcd", "got 24 characters"),  # the spec's example
    (f"L402 {STD}:{HEX[:-1]}é", "non-ASCII"),
    ("L402 \ud800:" + HEX, "non-ASCII"),
])
def test_rejections(value: str, match: str) -> None:
    with pytest.raises(MalformedHeaderError, match=match):
        parse_authorization(value)


def test_non_str_is_refused_with_the_same_error() -> None:
    with pytest.raises(MalformedHeaderError, match="must be str, got bytes"):
        parse_authorization(b"L402 AgE=:" + HEX.encode())  # type: ignore[arg-type]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"macaroon": b"", "preimage": PREIMAGE}, "macaroon must be non-empty bytes"),
    ({"macaroon": b"\x02", "preimage": PREIMAGE[:31]}, "preimage must be 32 bytes"),
    ({"macaroon": b"\x02", "preimage": PREIMAGE, "scheme": "l402"}, "scheme must be one of"),
    ({"macaroon": b"\x02", "preimage": PREIMAGE, "scheme": "Bearer"}, "scheme must be one of"),
])
def test_credential_construction_rejects(kwargs: dict, match: str) -> None:
    with pytest.raises(MalformedHeaderError, match=match):
        Credential(**kwargs)


def test_credential_repr_hides_the_preimage() -> None:
    assert HEX not in repr(Credential(MACAROON, PREIMAGE)) and "preimage" not in repr(
        Credential(MACAROON, PREIMAGE))


def _parses_or_refuses(value: str) -> None:
    try:
        credential = parse_authorization(value)
    except MalformedHeaderError as exc:
        assert str(exc)
        return
    assert len(credential.preimage) == 32 and credential.macaroon


@given(st.text())
def test_any_string_parses_or_raises_malformed_header(value: str) -> None:
    _parses_or_refuses(value)


HEADERISH = st.builds(
    lambda scheme, gap, macaroon, colon, preimage: f"{scheme}{gap}{macaroon}{colon}{preimage}",
    st.sampled_from(["L402", "lsat", "Bearer", "", "L402 L402"]),
    st.sampled_from([" ", "", "\t", "  "]),
    st.text(alphabet="AgEGYWxz+/-_=, :\x00é", max_size=24),
    st.sampled_from([":", "", "::", ","]),
    st.text(alphabet="0123456789abcdefABCDEFg :", max_size=70),
)


@given(HEADERISH)
def test_header_like_strings_parse_or_raise_malformed_header(value: str) -> None:
    _parses_or_refuses(value)


@given(st.binary(min_size=1, max_size=300), st.binary(min_size=32, max_size=32),
       st.sampled_from(["L402", "LSAT"]))
def test_any_credential_round_trips(macaroon: bytes, preimage: bytes, scheme: str) -> None:
    credential = Credential(macaroon, preimage, scheme)
    assert parse_authorization(format_authorization(macaroon, preimage, scheme)) == credential
