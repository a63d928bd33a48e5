"""The package's public API is deliberate: this pins it."""

from __future__ import annotations

import backend.l402 as l402


def test_public_api() -> None:
    assert sorted(l402.__all__) == [
        "ALSATS_CONDITIONS", "CHALLENGE_FORM", "Caveat", "Credential", "Grant", "ITERATIONS",
        "Identifier", "InvalidCredentialError", "L402Error", "MAX_HEADER_BYTES",
        "MalformedCaveatError",
        "MalformedHeaderError", "MalformedIdentifierError", "SCHEMES", "SESSION",
        "UnknownVersionError", "VALID_UNTIL", "format_authorization", "format_challenge",
        "iterations_caveat", "load_or_create_root_key", "mint", "parse_authorization",
        "parse_challenge", "session_caveat", "valid_until_caveat", "verify",
    ]
    assert all(hasattr(l402, name) for name in l402.__all__)


def test_every_error_is_an_l402_error() -> None:
    for name in ("InvalidCredentialError", "MalformedCaveatError", "MalformedHeaderError",
                 "MalformedIdentifierError", "UnknownVersionError"):
        assert issubclass(getattr(l402, name), l402.L402Error)
