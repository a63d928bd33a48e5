"""L402 (bLIP-0026) for alsats: pure codecs, minting and stateless verification.

Nothing here talks to Lightning or HTTP; the only I/O is the root-key file.
"""

from __future__ import annotations

from .caveats import (
    ALSATS_CONDITIONS,
    ITERATIONS,
    SESSION,
    VALID_UNTIL,
    Caveat,
    iterations_caveat,
    session_caveat,
    valid_until_caveat,
)
from .errors import (
    InvalidCredentialError,
    L402Error,
    MalformedCaveatError,
    MalformedHeaderError,
    MalformedIdentifierError,
    UnknownVersionError,
)
from .header import (
    CHALLENGE_FORM,
    MAX_HEADER_BYTES,
    SCHEMES,
    Credential,
    format_authorization,
    format_challenge,
    parse_authorization,
    parse_challenge,
)
from .identifier import Identifier
from .mint import Grant, mint, verify
from .root_key import load_or_create_root_key

__all__ = [
    "ALSATS_CONDITIONS",
    "CHALLENGE_FORM",
    "ITERATIONS",
    "MAX_HEADER_BYTES",
    "SCHEMES",
    "SESSION",
    "VALID_UNTIL",
    "Caveat",
    "Credential",
    "Grant",
    "Identifier",
    "InvalidCredentialError",
    "L402Error",
    "MalformedCaveatError",
    "MalformedHeaderError",
    "MalformedIdentifierError",
    "UnknownVersionError",
    "format_authorization",
    "format_challenge",
    "iterations_caveat",
    "load_or_create_root_key",
    "mint",
    "parse_authorization",
    "parse_challenge",
    "session_caveat",
    "valid_until_caveat",
    "verify",
]
