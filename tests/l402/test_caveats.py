"""Caveat codec (``condition=value``) and the helpers for alsats's three conditions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.l402 import (
    ALSATS_CONDITIONS,
    Caveat,
    MalformedCaveatError,
    iterations_caveat,
    session_caveat,
    valid_until_caveat,
)


@pytest.mark.parametrize(("caveat", "text"), [
    (Caveat("alsats_session", "3f2a"), "alsats_session=3f2a"),
    (Caveat("alsats_iterations", "5"), "alsats_iterations=5"),
    (Caveat("alsats_valid_until", "1700000000"), "alsats_valid_until=1700000000"),
    (Caveat("services", "foo:0,bar:1"), "services=foo:0,bar:1"),
    (Caveat("note", "a=b=c"), "note=a=b=c"),  # split on the first "=" only
    (Caveat("note", ""), "note="),
    (Caveat("note", "héllo ✓"), "note=héllo ✓"),
])
def test_round_trip(caveat: Caveat, text: str) -> None:
    assert caveat.encode() == text
    assert str(caveat) == text
    assert Caveat.decode(text) == caveat


@given(st.text(min_size=1).filter(lambda s: "=" not in s), st.text())
def test_round_trip_any(condition: str, value: str) -> None:
    try:
        caveat = Caveat(condition, value)
    except MalformedCaveatError:  # lone surrogates cannot be UTF-8
        return
    assert Caveat.decode(caveat.encode()) == caveat


@pytest.mark.parametrize(("text", "match"), [
    ("alsats_iterations", 'not of the form "condition=value"'),
    ("", 'not of the form "condition=value"'),
    ("=5", "condition is empty"),
])
def test_decode_rejects(text: str, match: str) -> None:
    with pytest.raises(MalformedCaveatError, match=match):
        Caveat.decode(text)


@pytest.mark.parametrize(("condition", "value", "match"), [
    ("", "x", "condition is empty"),
    ("a=b", "x", "contains '='"),
    ("note", "\ud800", "UTF-8"),
    ("note", 5, "must both be str"),
])
def test_construction_rejects(condition: object, value: object, match: str) -> None:
    with pytest.raises(MalformedCaveatError, match=match):
        Caveat(condition, value)  # type: ignore[arg-type]


def test_helpers() -> None:
    assert session_caveat("s-1") == Caveat("alsats_session", "s-1")
    assert iterations_caveat(3) == Caveat("alsats_iterations", "3")
    assert valid_until_caveat(1_700_000_000) == Caveat("alsats_valid_until", "1700000000")
    assert ALSATS_CONDITIONS == ("alsats_session", "alsats_iterations", "alsats_valid_until")


@pytest.mark.parametrize(("make", "argument", "match"), [
    (session_caveat, "", "session id is empty"),
    (iterations_caveat, 0, "positive int, got 0"),
    (iterations_caveat, -2, "positive int, got -2"),
    (iterations_caveat, True, "positive int, got True"),
    (iterations_caveat, "3", "positive int, got '3'"),
    (valid_until_caveat, -1, "non-negative int, got -1"),
    (valid_until_caveat, 1.5, "non-negative int, got 1.5"),
])
def test_helpers_reject(make, argument: object, match: str) -> None:
    with pytest.raises(MalformedCaveatError, match=match):
        make(argument)
