"""Reads alsats's terms out of a macaroon's caveats, honouring holders' attenuation.

A holder may add caveats but never remove them, so when a condition repeats the most
restrictive occurrence wins: the smallest iteration count, the earliest expiry, and
one session (differing sessions grant nothing). Caveats of other conditions are
skipped, as bLIP-0026 requires: they may narrow the macaroon for someone else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from .caveats import ITERATIONS, SESSION, VALID_UNTIL, Caveat
from .errors import InvalidCredentialError, MalformedCaveatError

_UINT = re.compile(r"[0-9]{1,19}")  # bounded, as Aperture bounds it with int64 parsing


class Terms(NamedTuple):
    session_id: str
    iterations: int
    valid_until: int


def alsats_terms(predicates: Iterable[str]) -> Terms:
    """The effective terms of a macaroon's first-party caveat predicates, in order."""
    sessions: list[str] = []
    iterations: list[int] = []
    valid_until: list[int] = []
    for predicate in predicates:
        try:
            caveat = Caveat.decode(predicate)
        except MalformedCaveatError:
            continue  # not condition=value, so not one of ours: an unknown caveat
        if caveat.condition == SESSION:
            if not caveat.value:
                raise InvalidCredentialError(f"malformed caveat: {SESSION} is empty")
            sessions.append(caveat.value)
        elif caveat.condition == ITERATIONS:
            iterations.append(_uint(caveat))
        elif caveat.condition == VALID_UNTIL:
            valid_until.append(_uint(caveat))
    for condition, values in ((SESSION, sessions), (ITERATIONS, iterations),
                              (VALID_UNTIL, valid_until)):
        if not values:
            raise InvalidCredentialError(f"missing caveat: {condition}")
    if len(set(sessions)) > 1:
        raise InvalidCredentialError(f"conflicting caveats: {SESSION} names different sessions")
    terms = Terms(sessions[0], min(iterations), min(valid_until))
    if terms.iterations == 0:
        raise InvalidCredentialError(f"{ITERATIONS} is 0: the credential grants no iterations")
    return terms


def _uint(caveat: Caveat) -> int:
    if not _UINT.fullmatch(caveat.value):
        shown = caveat.value if len(caveat.value) <= 24 else caveat.value[:24] + "..."
        raise InvalidCredentialError(
            f"malformed caveat: {caveat.condition}={shown!r} is not a non-negative integer")
    return int(caveat.value)
