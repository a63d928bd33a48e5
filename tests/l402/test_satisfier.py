"""Reading alsats's terms from caveat predicates: most restrictive wins, unknown skipped."""

from __future__ import annotations

import pytest

from backend.l402 import InvalidCredentialError
from backend.l402.satisfier import Terms, alsats_terms

BASE = ["alsats_session=s1", "alsats_iterations=5", "alsats_valid_until=1000"]


@pytest.mark.parametrize(("extra", "terms"), [
    ([], Terms("s1", 5, 1000)),
    (["alsats_iterations=2"], Terms("s1", 2, 1000)),
    (["alsats_iterations=50"], Terms("s1", 5, 1000)),  # widening is ineffective
    (["alsats_valid_until=900"], Terms("s1", 5, 900)),
    (["alsats_valid_until=5000"], Terms("s1", 5, 1000)),
    (["alsats_iterations=4", "alsats_iterations=3", "alsats_iterations=9"], Terms("s1", 3, 1000)),
    (["alsats_session=s1"], Terms("s1", 5, 1000)),
    (["services=foo:0", "foo_capabilities=bar"], Terms("s1", 5, 1000)),  # foreign: skipped
    (["free text without an equals sign"], Terms("s1", 5, 1000)),  # not ours: skipped
    (["alsats_iterations =1"], Terms("s1", 5, 1000)),  # another condition, by its name
    (["alsats_iterations=007"], Terms("s1", 5, 1000)),
])
def test_terms(extra: list[str], terms: Terms) -> None:
    assert alsats_terms(BASE + extra) == terms
    assert alsats_terms(extra + BASE) == terms  # order does not matter


@pytest.mark.parametrize(("predicates", "match"), [
    (BASE[1:], "missing caveat: alsats_session"),
    ([BASE[0], BASE[2]], "missing caveat: alsats_iterations"),
    (BASE[:2], "missing caveat: alsats_valid_until"),
    (BASE + ["alsats_session=s2"], "conflicting caveats: alsats_session"),
    (BASE + ["alsats_session="], "malformed caveat: alsats_session is empty"),
    (BASE + ["alsats_iterations=abc"], r"malformed caveat: alsats_iterations='abc'"),
    (BASE + ["alsats_iterations=-1"], "alsats_iterations='-1' is not a non-negative integer"),
    (BASE + ["alsats_iterations=+1"], "alsats_iterations='\\+1'"),
    (BASE + ["alsats_iterations= 1"], "alsats_iterations=' 1'"),
    (BASE + ["alsats_iterations=1_0"], "alsats_iterations='1_0'"),
    (BASE + ["alsats_iterations=٣"], "alsats_iterations='٣'"),  # int() would take it
    (BASE + ["alsats_valid_until=1.5"], "alsats_valid_until='1.5'"),
    (BASE + ["alsats_valid_until=" + "9" * 20], "alsats_valid_until='9999"),
    (BASE + ["alsats_iterations=0"], "grants no iterations"),
])
def test_rejects(predicates: list[str], match: str) -> None:
    with pytest.raises(InvalidCredentialError, match=match):
        alsats_terms(predicates)
