"""RFC 9110's challenge syntax: what parses to what, every refusal, rendered lists round trip."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.l402 import MalformedHeaderError
from backend.l402.httpauth import Challenge, parse_challenges


@pytest.mark.parametrize(("value", "challenges"), [
    ("", []),
    (" , ,", []),  # empty list elements are allowed
    ('Basic realm="x"', [Challenge("Basic", params={"realm": "x"})]),
    # RFC 9110's own example, section 11.6.1
    ('Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"', [
        Challenge("Newauth", params={"realm": "apps", "type": "1", "title": 'Login to "apps"'}),
        Challenge("Basic", params={"realm": "simple"})]),
    ("Bearer abc.DEF-_~+/==, Negotiate", [Challenge("Bearer", token68="abc.DEF-_~+/=="),
                                          Challenge("Negotiate")]),
    ('Negotiate ,L402  Token = "a=b, c" ,, REALM=x ,', [
        Challenge("Negotiate"), Challenge("L402", params={"token": "a=b, c", "realm": "x"})]),
    ('x y=""', [Challenge("x", params={"y": ""})]),
    ("Basic realm=", [Challenge("Basic", token68="realm=")]),  # a token68, not a parameter
    ("Basic realm=x, Basic realm=y", [Challenge("Basic", params={"realm": "x"}),
                                      Challenge("Basic", params={"realm": "y"})]),
])
def test_parses(value: str, challenges: list[Challenge]) -> None:
    assert parse_challenges(value) == challenges


@pytest.mark.parametrize(("value", "match"), [
    ('realm="x"', "a parameter that belongs to no scheme at character 0"),
    ('Bearer abc, realm="x"', "a parameter that belongs to no scheme at character 12"),
    ('Basic realm="x" Basic', "expected parameters or a token68 after Basic at character 6"),
    ("Basic\trealm=x", "expected a space, a comma or the end after the scheme"),
    ('Basic realm="x', "expected parameters or a token68"),
    ("Bearer a=b=", "expected parameters or a token68"),
    ("Bearer abc=def=", "expected parameters or a token68"),
    ("Basic realm=x y", "expected parameters or a token68"),
    ('"Basic"', r"""expected a scheme at character 0: '"Basic"'"""),
    ("Basic realm=x,=", "expected a scheme at character 14"),
    ("Basic r\u00e9alm=x", "expected parameters or a token68"),
    ('Basic realm="\x00"', "expected parameters or a token68"),
    ("Basic realm=x\n", "after Basic at character 6"),
    ('Basic realm="x", REALM="y"', "parameter 'realm' appears twice in one Basic challenge"),
])
def test_refuses(value: str, match: str) -> None:
    with pytest.raises(MalformedHeaderError, match=match):
        parse_challenges(value)


def test_refusals_say_where_and_show_little() -> None:
    with pytest.raises(MalformedHeaderError) as refused:
        parse_challenges("Basic realm=" + "x" * 5000 + " ?")
    assert "at character 6" in str(refused.value) and len(str(refused.value)) < 200


@given(st.text())
def test_any_string_parses_or_raises_malformed_header(value: str) -> None:
    try:
        challenges = parse_challenges(value)
    except MalformedHeaderError as exc:
        assert str(exc)
        return
    assert all(isinstance(challenge, Challenge) for challenge in challenges)


TOKEN = st.from_regex(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", fullmatch=True)
TOKEN68 = st.from_regex(r"[A-Za-z0-9\-._~+/]+=*", fullmatch=True)
PRINTABLE = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20)
CHALLENGES = st.lists(st.one_of(
    st.builds(Challenge, TOKEN, TOKEN68),
    st.builds(Challenge, TOKEN, st.none(),
              st.dictionaries(TOKEN.map(str.lower), st.one_of(TOKEN, PRINTABLE), max_size=4)),
), max_size=4)


def _render(challenges: list[Challenge], comma: str) -> str:
    """As a server would write them: quoting only what is not a token."""
    def value(text: str) -> str:
        if re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", text):
            return text
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def one(challenge: Challenge) -> str:
        if challenge.token68 is not None:
            return f"{challenge.scheme} {challenge.token68}"
        params = comma.join(f"{name}={value(text)}" for name, text in challenge.params.items())
        return f"{challenge.scheme} {params}" if params else challenge.scheme

    return comma.join(one(challenge) for challenge in challenges)


@given(CHALLENGES, st.sampled_from([", ", ",", " ,\t", " , , "]))
def test_rendered_challenges_round_trip(challenges: list[Challenge], comma: str) -> None:
    assert parse_challenges(_render(challenges, comma)) == challenges


@given(CHALLENGES, CHALLENGES)
def test_two_header_lines_joined_read_as_one_list(first: list[Challenge],
                                                  second: list[Challenge]) -> None:
    lines = [_render(first, ", "), _render(second, ", ")]
    assert parse_challenges(", ".join(lines)) == first + second
