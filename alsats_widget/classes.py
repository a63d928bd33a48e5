"""The classes a person labels with: their own values, the server's, and the keys for each.

A data scientist's classes are whatever their data holds: strings ("spam"), ints, NumPy
scalars, floats. The server keeps a session's classes as plain ints or strings, so
``Classes`` pairs each of the user's values with the one the server (and the label file)
keeps, and turns one into the other at the edges: what the widget gives back
(``labels``, ``to_dataframe()``) and takes (``simulate()``, ``holdout``) are the user's own.

Keys: a class's own digit when the classes are the digits 0 to 9, else 1 to 9 and 0 by
position; ``keys={"spam": "p"}`` overrides. ``s`` skips and Backspace undoes unless a class
takes one of them, and then that action is a button only.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

SKIP_KEYS, UNDO_KEYS = ("s", "S"), ("Backspace",)
POSITION_KEYS = "1234567890"  # the 10th class's key is 0, after 9


class Classes:
    """The user's classes, in order, with their server values and keys."""

    def __init__(self, classes: Sequence[Any], keys: Mapping[Any, str] | None = None) -> None:
        self.user = [_plain(c) for c in classes]
        if len(set(map(_hashable, self.user))) != len(self.user):
            raise ValueError(f"classes must be distinct: got {self.user}")
        self.wire = _wire_values(self.user)
        self._to_wire = {_hashable(u): w for u, w in zip(self.user, self.wire, strict=True)}
        self._to_user = dict(zip(self.wire, self.user, strict=True))
        self.keys = _keys(self.user, keys or {})  # key -> position in the classes
        taken = set(self.keys)
        self.skip_keys = () if taken & set(SKIP_KEYS) else SKIP_KEYS
        self.undo_keys = () if taken & set(UNDO_KEYS) else UNDO_KEYS

    def __len__(self) -> int:
        return len(self.user)

    def to_wire(self, value: Any, what: str = "label") -> Any:
        """The server's value of one of the user's classes, or a ValueError."""
        try:
            return self._to_wire[_hashable(_plain(value))]
        except (KeyError, TypeError):
            raise ValueError(f"{what} is {_plain(value)!r}, not one of the classes "
                             f"{self.user}") from None

    def to_user(self, value: Any) -> Any:
        """The user's class for a server value (None stays None: no guess yet)."""
        return None if value is None else self._to_user.get(value, value)

    def key_of(self, position: int) -> str | None:
        return next((k for k, p in self.keys.items() if p == position), None)

    def help_html(self) -> str:
        """Which key does what, for the widget's title line."""
        own = {k for k, p in self.keys.items() if k == str(self.user[p])}
        parts = ["a class's own key labels"] if own else []
        parts += [f"<kbd>{html.escape(k)}</kbd> {html.escape(str(self.user[p]))}"
                  for k, p in self.keys.items() if k not in own]
        parts.append("<kbd>s</kbd> skips" if self.skip_keys else "Skip: button only")
        parts.append("<kbd>Backspace</kbd> undoes" if self.undo_keys else "Undo: button only")
        return " · ".join(parts)


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds (np.str_('a') -> 'a')."""
    return value.item() if isinstance(value, np.generic) else value


def _hashable(value: Any) -> Any:
    """Equal classes meet in a dict; 1 and True stay apart, as do 1 and 1.0 and '1'."""
    return (type(value).__name__, value)


def _wire_values(user: list) -> list:
    """The user's classes as the server keeps them: as they are when all are ints or all
    are strings, else their text (which must tell them apart)."""
    if all(isinstance(c, int) and not isinstance(c, bool) for c in user) or \
            all(isinstance(c, str) for c in user):
        return list(user)
    names = [str(c) for c in user]
    if len(set(names)) != len(names):
        raise ValueError(f"classes {user} must be ints, or strings, or differ as text")
    return names


def _keys(user: list, overrides: Mapping[Any, str]) -> dict[str, int]:
    """key -> class position: the defaults, then ``overrides`` (class -> key)."""
    digits = all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 9 for c in user)
    keys = {str(c): i for i, c in enumerate(user)} if digits else \
        {key: i for i, key in enumerate(POSITION_KEYS[:len(user)])}
    positions = {_hashable(c): i for i, c in enumerate(user)}
    chosen: dict[int, str] = {}
    for value, key in overrides.items():
        position = positions.get(_hashable(_plain(value)))
        if position is None:
            raise ValueError(f"keys names {value!r}, which is not one of the classes {user}")
        if not isinstance(key, str) or not key or key.isspace():
            raise ValueError(f"the key for {value!r} must be a key's name, such as 'p' "
                             f"or 'Enter': got {key!r}")
        chosen[position] = key
    keys = {k: p for k, p in keys.items() if p not in chosen}
    for position, key in chosen.items():
        if key in keys and keys[key] not in chosen:
            other = user[keys[key]]
            raise ValueError(f"key {key!r} is {other!r}'s by default: give {other!r} "
                             "another key in keys= too")
        if key in keys:
            raise ValueError(f"key {key!r} is given to two classes in keys=")
        keys[key] = position
    return dict(sorted(keys.items(), key=lambda item: item[1]))
