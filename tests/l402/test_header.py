"""The challenge and credential headers: round trips, accepted variants, every refusal."""

from __future__ import annotations

import base64

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
    parse_challenge,
)

PREIMAGE = bytes(range(32))
HEX = PREIMAGE.hex()
MACAROON = b"\x02\x01\x06alsats\xfb\xff\xfe"  # encodes with "+" and "/" in standard base64
STD = base64.b64encode(MACAROON).decode()
URL = base64.urlsafe_b64encode(MACAROON).decode()
INVOICE = "lnbcrt50n1pjq8xyzpp5"


def test_challenge_format() -> None:
    value = format_challenge(b"\x02\x01", "lnbcrt10n1abc")
    assert value == 'L402 macaroon="AgE=", invoice="lnbcrt10n1abc"'


@pytest.mark.parametrize(("macaroon", "invoice"), [
    (b"\x02", "lnbc1500n1pw5kjhm"),
    (b"\x02\x01", "lnbcrt10n1abc"),
    (b"\x02\x01\x06", "LNBC1"),  # bech32 may be upper case
    (MACAROON, INVOICE),
    (bytes(range(256)), "lntb20m1" + "q" * 300),
])
def test_challenge_round_trip(macaroon: bytes, invoice: str) -> None:
    value = format_challenge(macaroon, invoice)
    assert f'macaroon="{base64.b64encode(macaroon).decode()}"' in value  # standard, padded
    assert parse_challenge(value) == (macaroon, invoice)


@pytest.mark.parametrize("value", [
    f'L402 macaroon="{STD}", invoice="{INVOICE}"',
    f'LSAT macaroon="{STD}", invoice="{INVOICE}"',  # the legacy scheme
    f'l402 macaroon="{STD}", invoice="{INVOICE}"',  # schemes are case-insensitive
    f'Lsat macaroon="{STD}", invoice="{INVOICE}"',
    f'L402 macaroon="{URL}", invoice="{INVOICE}"',  # the macaroon decodes as a credential's
    f'L402 macaroon="{STD.rstrip("=")}", invoice="{INVOICE}"',
])
def test_challenge_accepted_variants(value: str) -> None:
    assert parse_challenge(value) == (MACAROON, INVOICE)


@pytest.mark.parametrize(("value", "match"), [
    ("", "not an L402 challenge"),
    (f'L402 {STD}:{HEX}', "not an L402 challenge"),  # a credential, not a challenge
    (f'L402 macaroon="{STD}"', "not an L402 challenge"),
    (f'L402 invoice="{INVOICE}", macaroon="{STD}"', "not an L402 challenge"),  # order
    (f'L402 macaroon="{STD}",invoice="{INVOICE}"', "not an L402 challenge"),
    (f'L402  macaroon="{STD}", invoice="{INVOICE}"', "not an L402 challenge"),
    (f' L402 macaroon="{STD}", invoice="{INVOICE}"', "not an L402 challenge"),
    (f'L402 macaroon="{STD}", invoice="{INVOICE}" ', "not an L402 challenge"),
    (f'L402 macaroon={STD}, invoice={INVOICE}', "not an L402 challenge"),  # unquoted
    (f'L402 macaroon="{STD}", invoice="{INVOICE}", version="0"', "not an L402 challenge"),
    (f'L402 macaroon="{STD}", invoice="{INVOICE}", Basic realm="x"', "not an L402 challenge"),
    (f'L402 macaroon="{STD}", invoice="{INVOICE}"\r\nX: y', "not an L402 challenge"),
    (f'Bearer macaroon="{STD}", invoice="{INVOICE}"', "unknown scheme 'Bearer'"),
    (f'L402x macaroon="{STD}", invoice="{INVOICE}"', "unknown scheme 'L402x'"),
    (f'L402 macaroon="", invoice="{INVOICE}"', "macaroon is empty"),
    (f'L402 macaroon="AgE*", invoice="{INVOICE}"', r"not base64 \(unexpected '\*'\)"),
    (f'L402 macaroon="Ag E=", invoice="{INVOICE}"', r"not base64 \(unexpected ' '\)"),
    (f'L402 macaroon="Ag+_", invoice="{INVOICE}"', "mixes standard"),
    (f'L402 macaroon="AgEGY", invoice="{INVOICE}"', "impossible length"),
    (f'L402 macaroon="AgE==", invoice="{INVOICE}"', "wrong padding"),
    (f'L402 macaroon="{STD}", invoice=""', "invoice must be a non-empty BOLT 11 string"),
    (f'L402 macaroon="{STD}", invoice="lnbc 1"', "invoice must be"),
    (f'L402 macaroon="{STD}", invoice="lnbc-1"', "invoice must be"),
    (f'L402 macaroon="{STD}", invoice="{INVOICE}é"', "non-ASCII"),
    (f'L402 macaroon="{"A" * 8192}", invoice="{INVOICE}"', "WWW-Authenticate header is 8"),
])
def test_challenge_rejections(value: str, match: str) -> None:
    with pytest.raises(MalformedHeaderError, match=match):
        parse_challenge(value)


def test_challenge_of_non_str_is_refused_with_the_same_error() -> None:
    with pytest.raises(MalformedHeaderError, match="must be str, got bytes"):
        parse_challenge(format_challenge(MACAROON, INVOICE).encode())  # type: ignore[arg-type]


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


@given(st.text())
def test_any_string_parses_as_a_challenge_or_raises_malformed_header(value: str) -> None:
    try:
        macaroon, invoice = parse_challenge(value)
    except MalformedHeaderError as exc:
        assert str(exc)
        return
    assert macaroon and invoice


@given(st.binary(min_size=1, max_size=300),
       st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=300))
def test_any_challenge_round_trips(macaroon: bytes, invoice: str) -> None:
    assert parse_challenge(format_challenge(macaroon, invoice)) == (macaroon, invoice)
