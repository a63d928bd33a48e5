"""RFC 9110's challenge syntax (section 11), with no L402 in it: a ``WWW-Authenticate``
value as a list of challenges, each a scheme with a token68 or parameters.

Several ``WWW-Authenticate`` lines are one value joined by ", " (RFC 9110, section 5.3),
which is what requests and Node's fetch hand over, so one parser reads both. Strict and
total: any string either parses or raises :class:`MalformedHeaderError` saying where it
stopped making sense.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import MalformedHeaderError

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"(?:[\t !#-\[\]-~]|\\[\t -~])*"'  # qdtext or quoted-pair, ASCII only
_PARAM = re.compile(
    rf"(?P<name>{_TOKEN})[ \t]*=[ \t]*(?:(?P<token>{_TOKEN})|(?P<quoted>{_QUOTED}))")
_SCHEME = re.compile(_TOKEN)
_SPACES = re.compile(r" +")
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_END = re.compile(r"[ \t]*(?:,|\Z)")  # where a list element ends
_SEPARATORS = re.compile(r"[ \t]*(?:,[ \t]*)*")  # empty elements are allowed
_QUOTED_PAIR = re.compile(r"\\(.)")


@dataclass
class Challenge:
    """One challenge: ``scheme`` as sent (compare it case-insensitively), then either a
    ``token68`` or ``params``, whose names are lower-cased (they are case-insensitive) and
    whose values are unquoted."""

    scheme: str
    token68: str | None = None
    params: dict[str, str] = field(default_factory=dict)


def parse_challenges(value: str) -> list[Challenge]:
    """The challenges of a ``WWW-Authenticate`` value, in order."""
    challenges: list[Challenge] = []
    pos = _SEPARATORS.match(value).end()
    while pos < len(value):
        param = _element(_PARAM, value, pos)
        if param is not None:  # a parameter of the challenge before it
            if not challenges or challenges[-1].token68 is not None:
                raise _unexpected(value, pos, "a parameter that belongs to no scheme")
            pos = _add(challenges[-1], param)
        else:
            pos = _challenge(value, pos, challenges)
        pos = _SEPARATORS.match(value, pos).end()
    return challenges


def _challenge(value: str, pos: int, challenges: list[Challenge]) -> int:
    """Read a scheme and what follows it on its list element; the position after."""
    scheme = _SCHEME.match(value, pos)
    if scheme is None:
        raise _unexpected(value, pos, "expected a scheme")
    challenge = Challenge(scheme.group())
    challenges.append(challenge)
    pos = scheme.end()
    spaces = _SPACES.match(value, pos)
    if spaces is None or _END.match(value, spaces.end()):
        if not _END.match(value, pos):
            raise _unexpected(value, pos, "expected a space, a comma or the end after the scheme")
        return pos
    pos = spaces.end()
    param = _element(_PARAM, value, pos)
    if param is not None:
        return _add(challenge, param)
    token68 = _element(_TOKEN68, value, pos)
    if token68 is None:
        raise _unexpected(value, pos,
                          f"expected parameters or a token68 after {challenge.scheme[:20]}")
    challenge.token68 = token68.group()
    return token68.end()


def _element(pattern: re.Pattern[str], value: str, pos: int) -> re.Match[str] | None:
    """``pattern`` at ``pos``, if it fills the rest of a list element."""
    match = pattern.match(value, pos)
    return match if match is not None and _END.match(value, match.end()) else None


def _add(challenge: Challenge, param: re.Match[str]) -> int:
    name = param["name"].lower()
    if name in challenge.params:
        raise MalformedHeaderError(
            f"parameter {name[:20]!r} appears twice in one {challenge.scheme[:20]} challenge")
    quoted = param["quoted"]
    challenge.params[name] = param["token"] if quoted is None else _QUOTED_PAIR.sub(
        r"\1", quoted[1:-1])
    return param.end()


def _unexpected(value: str, pos: int, problem: str) -> MalformedHeaderError:
    found = repr(value[pos:pos + 20]) if pos < len(value) else "the end"
    return MalformedHeaderError("WWW-Authenticate is not a list of challenges (RFC 9110): "
                                f"{problem} at character {pos}: {found}")
