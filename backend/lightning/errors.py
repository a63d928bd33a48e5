"""Typed Lightning failures that keep LND's meaning; the adapter raises these, never None."""

from __future__ import annotations


class LightningError(Exception):
    """Base of every failure the adapter reports."""


class NodeUnavailableError(LightningError):
    """The node cannot be reached (down, wrong port, TLS mismatch)."""


class UnauthenticatedError(LightningError):
    """The node refused the macaroon: missing, wrong or not allowed to do this."""


class InvalidRequestError(LightningError):
    """The node rejected the request itself (bad amount, malformed invoice, ...)."""


class InvoiceNotFoundError(LightningError):
    """LookupInvoice found no invoice with that payment hash."""


class PaymentError(LightningError):
    """A payment did not succeed; ``reason`` is LND's PaymentFailureReason name."""

    reason = "FAILURE_REASON_ERROR"

    def __init__(self, message: str, payment_hash: str = "") -> None:
        super().__init__(message)
        self.payment_hash = payment_hash


class NoRouteError(PaymentError):
    reason = "FAILURE_REASON_NO_ROUTE"


class InsufficientBalanceError(PaymentError):
    reason = "FAILURE_REASON_INSUFFICIENT_BALANCE"


class IncorrectPaymentDetailsError(PaymentError):
    """Unknown, expired, canceled invoice, or wrong amount or payment secret."""

    reason = "FAILURE_REASON_INCORRECT_PAYMENT_DETAILS"


class PaymentTimeoutError(PaymentError):
    reason = "FAILURE_REASON_TIMEOUT"


class PaymentCanceledError(PaymentError):
    reason = "FAILURE_REASON_CANCELED"


class AlreadyPaidError(PaymentError):
    """This node already paid (or is paying) this payment hash."""

    reason = "ALREADY_EXISTS"


FAILURE_REASONS: dict[str, type[PaymentError]] = {
    cls.reason: cls
    for cls in (
        PaymentError,
        NoRouteError,
        InsufficientBalanceError,
        IncorrectPaymentDetailsError,
        PaymentTimeoutError,
        PaymentCanceledError,
    )
}


class PaymentInFlightError(PaymentError):
    """The node gave no final answer in time: the payment may still settle; track it."""

    reason = "IN_FLIGHT"
