"""The credential and challenge headers: round trips, accepted forms, every refusal."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.l402 import (
    CHALLENGE_FORM,
    MAX_HEADER_BYTES,
    Credential,
    MalformedHeaderError,
    format_authorization,
    format_challenge,
    parse_authorization,
    parse_challenge,
)
from backend.l402.httpauth import parse_challenges

PREIMAGE = bytes(range(32))
HEX = PREIMAGE.hex()
MACAROON = b"\x02\x01\x06alsats\xfb\xff\xfe"  # encodes with "+" and "/" in standard base64
STD = base64.b64encode(MACAROON).decode()
URL = base64.urlsafe_b64encode(MACAROON).decode()
INVOICE = "lnbcrt50n1pjq8xyzpp5"


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


# -- the challenge: WWW-Authenticate ---------------------------------------------------

OTHER = base64.b64encode(b"\x02\x01\x07another").decode()
MAC, TOK, INV = f'macaroon="{STD}"', f'token="{STD}"', f'invoice="{INVOICE}"'
VER = 'version="0"'
# how the clients deployed today read a challenge (Aperture's Go client, lnget and others)
DEPLOYED_READER = re.compile(r'(LSAT|L402) macaroon="(.*?)", invoice="(.*?)"')


def test_challenge_format() -> None:
    assert format_challenge(b"\x02\x01", "lnbcrt10n1abc") == (
        'L402 macaroon="AgE=", invoice="lnbcrt10n1abc", version="0", token="AgE="')
    assert CHALLENGE_FORM == ('L402 macaroon="<base64 macaroon>", invoice="<bolt11 invoice>", '
                              'version="0", token="<base64 macaroon>"')


@pytest.mark.parametrize(("macaroon", "invoice"), [
    (b"\x02", "lnbc1500n1pw5kjhm"),
    (b"\x02\x01", "lnbcrt10n1abc"),
    (b"\x02\x01\x06", "LNBC1"),  # bech32 may be upper case
    (MACAROON, INVOICE),
    (bytes(range(256)), "lntb20m1" + "q" * 300),
])
def test_challenge_round_trip_and_every_reader_finds_the_same(macaroon: bytes,
                                                               invoice: str) -> None:
    value = format_challenge(macaroon, invoice)
    assert parse_challenge(value) == (macaroon, invoice)
    _, old_macaroon, old_invoice = DEPLOYED_READER.search(value).groups()
    assert (base64.b64decode(old_macaroon, validate=True), old_invoice) == (macaroon, invoice)
    (challenge,) = parse_challenges(value)  # as today's specification reads it
    assert challenge.params["version"] == "0"
    assert base64.b64decode(challenge.params["token"], validate=True) == macaroon


@pytest.mark.parametrize("value", [
    f"L402 {MAC}, {INV}",  # the form deployed servers send
    f"L402 {VER}, {TOK}, {INV}",  # today's specification's
    f"L402 {MAC}, {INV}, {VER}, {TOK}",  # alsats's: both
    f"L402 {INV}, {TOK}",  # any order, version left out
    f"L402 {TOK}, {INV}, {MAC}",
    f"LSAT {MAC}, {INV}",  # the legacy scheme
    f"l402 {TOK}, {INV}",  # schemes are case-insensitive
    f"Lsat {MAC}, {INV}",
    f'L402 TOKEN="{STD}", Invoice="{INVOICE}", VERSION="0"',  # and parameter names
    f'L402 {TOK}, {INV}, expires="3600", amount_msat=1000',  # unknown parameters are ignored
    f'L402 {TOK}, caveats="a=1, b=2", {INV}, note="say \\"hi\\""',  # commas, quoted-pairs
    f'L402 {INV}, macaroon="{URL}", token="{STD.rstrip("=")}"',  # the same bytes, spelled two ways
    f"L402 {MAC}, invoice={INVOICE}, version=0",  # a token value needs no quotes
    f'L402 token = "{STD}" ,invoice= "{INVOICE}"',  # optional whitespace
    f"L402 {MAC},{INV}",
    f"L402  {MAC}, {INV}",
    f"  L402 {MAC}, {INV}  ",
    f"L402 {MAC}, , {INV},",  # empty list elements
    f'Basic realm="alsats", L402 {TOK}, {INV}',  # several challenges in one header
    f"L402 {TOK}, {INV}, Bearer abc==, Negotiate",
    ", ".join(['Basic realm="x"', f"L402 {MAC}, {INV}, {VER}, {TOK}"]),  # two lines, as joined
    f"LSAT {MAC}, {INV}, L402 {MAC}, {INV}",  # both schemes, the same offer (as Aperture sends)
    f'L402 version="1", token="{OTHER}", invoice="lnbcrt1new", L402 {VER}, {TOK}, {INV}',
])
def test_challenge_accepted_forms(value: str) -> None:
    assert parse_challenge(value) == (MACAROON, INVOICE)


@pytest.mark.parametrize(("value", "match"), [
    ("", r"no L402 challenge \(schemes offered: none\)"),
    (f"Bearer {MAC}, {INV}",
     r"no L402 challenge \(schemes offered: 'Bearer'\); expected 'L402 macaroon="),
    (f"L402x {MAC}, {INV}", "schemes offered: 'L402x'"),
    ('Basic realm="x", Negotiate', "schemes offered: 'Basic', 'Negotiate'"),
    (f"L402 {STD}", "the L402 challenge has a bare token, not parameters"),
    (f"L402 {STD}:{HEX}", "not a list of challenges"),  # a credential, not a challenge
    (f"L402 {MAC}", "the L402 challenge has no invoice"),
    (f"L402 {INV}, {VER}", r"the L402 challenge has no token \(nor macaroon\)"),
    ("L402", "has no token"),
    (f'L402 {MAC}, token="{OTHER}", {INV}', "the L402 challenge's token and macaroon differ"),
    (f'L402 version="1", {TOK}, {INV}', "unknown L402 version '1': this client reads version 0"),
    (f'L402 version="", {TOK}, {INV}', "unknown L402 version ''"),
    (f"L402 {MAC}, {INV}, LSAT {MAC}, invoice=lnbcrt1other", "2 L402 challenges offer different"),
    (f'L402 {MAC}, {INV}, L402 token="{OTHER}", {INV}', "which one to pay is ambiguous"),
    (f"L402 {MAC}, {INV}, L402 {MAC}", "has no invoice"),  # one of them broken: all refused
    (f"L402 {MAC}, {MAC}, {INV}", "parameter 'macaroon' appears twice in one L402 challenge"),
    (f'L402 {MAC}, MACAROON="{STD}", {INV}', "appears twice"),
    (f"L402 {MAC} {INV}", "not a list of challenges"),  # a comma left out
    (f"L402 macaroon={STD}, {INV}", "not a list of challenges"),  # '/' must be quoted
    (f'L402 macaroon="{STD}, {INV}', "not a list of challenges"),  # a quote left open
    (f"L402 {MAC}, {INV}\r\nX: y", "not a list of challenges"),
    (f"L402\t{MAC}, {INV}", "not a list of challenges"),
    (f"{INV}, L402 {MAC}", "a parameter that belongs to no scheme at character 0"),
    (f'L402 macaroon="", {INV}', "macaroon is empty"),
    (f'L402 macaroon="AgE*", {INV}', r"not base64 \(unexpected '\*'\)"),
    (f'L402 token="Ag E=", {INV}', r"not base64 \(unexpected ' '\)"),
    (f'L402 macaroon="Ag+_", {INV}', "mixes standard"),
    (f'L402 macaroon="AgEGY", {INV}', "impossible length"),
    (f'L402 macaroon="AgE==", {INV}', "wrong padding"),
    (f'L402 {MAC}, invoice=""', "invoice must be a non-empty BOLT 11 string"),
    (f'L402 {MAC}, invoice="lnbc 1"', "invoice must be"),
    (f'L402 {MAC}, invoice="lnbc-1"', "invoice must be"),
    (f'L402 {MAC}, invoice="{INVOICE}é"', "non-ASCII"),
    (f'L402 macaroon="{"A" * 8192}", {INV}', "WWW-Authenticate header is 8"),
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


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _spelled(macaroon: bytes, draw) -> str:
    """The macaroon as some server may write it: either alphabet, padded or not, quoted."""
    text = draw(st.sampled_from([base64.b64encode, base64.urlsafe_b64encode]))(macaroon)
    text = text.decode()
    return _quoted(text.rstrip("=") if draw(st.booleans()) else text)


@st.composite
def compliant_challenges(draw) -> tuple[str, bytes, str]:
    """A WWW-Authenticate value some compliant server may send, with what it offers."""
    macaroon = draw(st.binary(min_size=1, max_size=100))
    invoice = draw(st.text(alphabet="lnbcrt0123456789", min_size=1, max_size=40))
    names = draw(st.sampled_from([["token"], ["macaroon"], ["token", "macaroon"]]))
    params = [(name, _spelled(macaroon, draw)) for name in names]
    params.append(("invoice", draw(st.sampled_from([invoice, _quoted(invoice)]))))
    if draw(st.booleans()):
        params.append(("version", draw(st.sampled_from(['"0"', "0"]))))
    unknown = st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True).filter(
        lambda name: name not in ("token", "macaroon", "invoice", "version"))
    values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12)
    extra = draw(st.dictionaries(unknown, values.map(_quoted), max_size=3))
    params += list(extra.items())
    params = draw(st.permutations(params))
    comma = draw(st.sampled_from([", ", ",", " , ", ",  "]))
    scheme = draw(st.sampled_from(["L402", "LSAT", "l402", "lsat"]))
    cased = [(draw(st.sampled_from([name, name.upper(), name.title()])), value)
             for name, value in params]
    challenge = scheme + " " + comma.join(f"{name}={value}" for name, value in cased)
    others = st.sampled_from(['Basic realm="alsats"', "Bearer abc==", "Negotiate",
                              'Newauth realm="apps", type=1, title="Login to \\"apps\\""'])
    before, after = draw(st.lists(others, max_size=2)), draw(st.lists(others, max_size=2))
    return comma.join([*before, challenge, *after]), macaroon, invoice


@given(compliant_challenges())
def test_every_compliant_form_is_read(case: tuple[str, bytes, str]) -> None:
    value, macaroon, invoice = case
    assert parse_challenge(value) == (macaroon, invoice)
