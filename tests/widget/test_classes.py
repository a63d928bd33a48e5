"""Classes of any kind, the values the server keeps for them, and whose key is which."""

from __future__ import annotations

import numpy as np
import pytest

from alsats_widget.classes import Classes


def test_the_digits_are_their_own_keys_and_s_and_backspace_stay() -> None:
    digits = Classes(list(range(10)))
    assert digits.keys["7"] == 7 and len(digits.keys) == 10
    assert digits.skip_keys == ("s", "S") and digits.undo_keys == ("Backspace",)
    assert digits.help_html().startswith("a class's own key labels")


def test_other_classes_take_1_to_9_then_0_by_position() -> None:
    names = Classes([f"class {i}" for i in range(12)])
    assert list(names.keys) == list("1234567890")  # the 11th and 12th: buttons only
    assert names.key_of(9) == "0" and names.key_of(10) is None
    assert Classes([3, 14, 15]).keys == {"1": 0, "2": 1, "3": 2}  # not all within 0-9


def test_keys_override_and_a_class_may_take_skip_or_undo() -> None:
    mail = Classes(["spam", "ham", "eggs"], keys={"spam": "s", "eggs": "Backspace"})
    assert mail.keys == {"s": 0, "2": 1, "Backspace": 2}
    assert mail.skip_keys == () and mail.undo_keys == ()
    assert "Skip: button only" in mail.help_html() and "Undo: button only" in mail.help_html()
    assert "<kbd>s</kbd> spam" in mail.help_html()
    swapped = Classes(list(range(10)), keys={3: "1", 1: "x"})  # 1's key freed by overriding it
    assert swapped.keys["1"] == 3 and swapped.keys["x"] == 1 and "3" not in swapped.keys


@pytest.mark.parametrize(("keys", "message"), [
    ({3: "7"}, "key '7' is 7's by default: give 7 another key"),
    ({3: "x", 4: "x"}, "key 'x' is given to two classes"),
    ({"cat": "c"}, "keys names 'cat', which is not one of the classes"),
    ({3: ""}, "the key for 3 must be a key's name"),
    ({3: 5}, "the key for 3 must be a key's name"),
])
def test_bad_keys_are_refused(keys, message) -> None:
    with pytest.raises(ValueError, match=message):
        Classes(list(range(10)), keys=keys)


def test_the_users_values_and_the_servers() -> None:
    labels = Classes(np.array(["cat", "dog"]))  # NumPy strings: plain strings
    assert labels.wire == ["cat", "dog"] and labels.to_wire(np.str_("dog")) == "dog"
    numbers = Classes([0.5, 1.5, 2])  # floats: their text on the server
    assert numbers.wire == ["0.5", "1.5", "2"]
    assert numbers.to_wire(np.float64(1.5)) == "1.5" and numbers.to_user("2") == 2
    assert numbers.to_user(None) is None  # no guess yet
    with pytest.raises(ValueError, match="label is 3, not one of the classes"):
        numbers.to_wire(3)
    with pytest.raises(ValueError, match="classes must be distinct"):
        Classes(["a", "a"])
    with pytest.raises(ValueError, match="must be ints, or strings, or differ as text"):
        Classes([1, "1"])
    assert Classes([True, 1]).wire == ["True", "1"]  # a bool is not the int 1 here
