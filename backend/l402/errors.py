"""The L402 layer's errors: one base class, so callers can map all of them to a 401."""

from __future__ import annotations


class L402Error(Exception):
    """Anything wrong with an L402 credential, its parts or the root key."""


class MalformedIdentifierError(L402Error):
    """A macaroon identifier that is not a well-formed version 0 L402 identifier."""


class UnknownVersionError(L402Error):
    """An identifier version this code cannot decode (only version 0 exists)."""


class MalformedCaveatError(L402Error):
    """A caveat that is not ``condition=value`` or whose value does not parse."""


class MalformedHeaderError(L402Error):
    """An ``Authorization`` value that is not ``L402 <base64 macaroon>:<hex preimage>``,
    or a ``WWW-Authenticate`` value without exactly one L402 offer a client can read."""


class InvalidCredentialError(L402Error):
    """A well-formed credential that does not verify; the message says why."""
