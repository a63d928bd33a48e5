"""The learners' one error type: a client mistake, worded for the client."""

from __future__ import annotations


class LearnerError(ValueError):
    """A request the learner refuses; the message is shown to the client as is.

    It says what is wrong and what was expected, and the learner that raised it is left
    exactly as it was before the call. The web layer maps it to a 400.
    """
