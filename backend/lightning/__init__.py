"""The one place that speaks to LND: the gRPC adapter, its errors, and the Polar loader."""

from .errors import (
    AlreadyPaidError,
    IncorrectPaymentDetailsError,
    InsufficientBalanceError,
    InvalidRequestError,
    InvoiceNotFoundError,
    LightningError,
    NodeUnavailableError,
    NoRouteError,
    PaymentError,
    PaymentInFlightError,
    PaymentTimeoutError,
    UnauthenticatedError,
)
from .node import LightningNode
from .polar import LndNodeSpec, PolarNetwork, PolarNetworkError, load_polar_network

__all__ = [
    "AlreadyPaidError",
    "IncorrectPaymentDetailsError",
    "InsufficientBalanceError",
    "InvalidRequestError",
    "InvoiceNotFoundError",
    "LightningError",
    "LightningNode",
    "LndNodeSpec",
    "NoRouteError",
    "NodeUnavailableError",
    "PaymentError",
    "PaymentInFlightError",
    "PaymentTimeoutError",
    "PolarNetwork",
    "PolarNetworkError",
    "UnauthenticatedError",
    "load_polar_network",
]
