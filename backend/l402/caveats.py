"""Caveats as Aperture writes them, ``condition=value``, and alsats's three conditions.

A caveat narrows what a macaroon allows; anyone holding the macaroon can add one, and
nobody can remove one, so the alsats terms a verifier reads are at most what was sold.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import MalformedCaveatError

SESSION = "alsats_session"  # the learning session the credential pays for
ITERATIONS = "alsats_iterations"  # how many iterations were bought
VALID_UNTIL = "alsats_valid_until"  # unix seconds; the credential is expired from then on
ALSATS_CONDITIONS = (SESSION, ITERATIONS, VALID_UNTIL)


@dataclass(frozen=True)
class Caveat:
    """One first-party caveat; the condition names it, the value parameterises it."""

    condition: str
    value: str

    def __post_init__(self) -> None:
        if not isinstance(self.condition, str) or not isinstance(self.value, str):
            raise MalformedCaveatError("condition and value must both be str")
        if not self.condition:
            raise MalformedCaveatError("caveat condition is empty")
        if "=" in self.condition:
            # Decoding splits on the first "=", so such a condition would not round-trip.
            raise MalformedCaveatError(f"caveat condition {self.condition!r} contains '='")
        try:
            self.encode().encode("utf-8")  # macaroon caveats are UTF-8
        except UnicodeEncodeError:
            raise MalformedCaveatError("caveat is not encodable as UTF-8") from None

    def encode(self) -> str:
        return f"{self.condition}={self.value}"

    def __str__(self) -> str:
        return self.encode()

    @classmethod
    def decode(cls, text: str) -> Caveat:
        """Split on the first "=", so values may contain "=" themselves."""
        condition, sep, value = text.partition("=")
        if not sep:
            raise MalformedCaveatError(
                f'caveat {_shorten(text)} is not of the form "condition=value"')
        return cls(condition, value)


def session_caveat(session_id: str) -> Caveat:
    """Binds a credential to one learning session."""
    if not session_id:
        raise MalformedCaveatError("session id is empty")
    return Caveat(SESSION, session_id)


def iterations_caveat(iterations: int) -> Caveat:
    """How many iterations the credential is good for (at least one)."""
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise MalformedCaveatError(f"iterations must be a positive int, got {iterations!r}")
    return Caveat(ITERATIONS, str(iterations))


def valid_until_caveat(unix_seconds: int) -> Caveat:
    """The first second at which the credential is expired."""
    if isinstance(unix_seconds, bool) or not isinstance(unix_seconds, int) or unix_seconds < 0:
        raise MalformedCaveatError(
            f"valid_until must be a non-negative int, got {unix_seconds!r}")
    return Caveat(VALID_UNTIL, str(unix_seconds))


def _shorten(text: str, limit: int = 40) -> str:
    """Quote client-supplied text in a message without echoing all of it."""
    return repr(text if len(text) <= limit else text[:limit] + "...")
