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
from .datasets import DatasetError, Digits, combined_mnist, load_mnist
from .stack import LocalStack, StackError, local_stack
from .wallet import LightningWallet

__all__ = [
    "AlsatsClient",
    "AlsatsError",
    "DatasetError",
    "Digits",
    "LightningWallet",
    "LocalStack",
    "OverBudgetError",
    "PaymentFailedError",
    "ServerError",
    "StackError",
    "UnexpectedInvoiceError",
    "combined_mnist",
    "load_mnist",
    "local_stack",
]
