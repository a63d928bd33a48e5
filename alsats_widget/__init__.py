"""What a notebook imports: the paying client, the wallet, a local stack, datasets.

The labeling widget itself arrives with the rest of the notebook-side issue.
"""

from .client import (
    AlsatsClient,
    AlsatsError,
    OverBudgetError,
    PaymentFailedError,
    ServerError,
    UnexpectedInvoiceError,
)
from .stack import LocalStack, StackError, local_stack
from .wallet import LightningWallet

__all__ = [
    "AlsatsClient",
    "AlsatsError",
    "LightningWallet",
    "LocalStack",
    "OverBudgetError",
    "PaymentFailedError",
    "ServerError",
    "StackError",
    "UnexpectedInvoiceError",
    "local_stack",
]
