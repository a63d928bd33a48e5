"""What a notebook imports: the labeling widget, the paying client, the wallet, a local
stack and datasets."""

from .client import (
    AlsatsClient,
    AlsatsError,
    OverBudgetError,
    PaymentFailedError,
    ServerError,
    UnexpectedInvoiceError,
)
from .datasets import DatasetError, Digits, combined_mnist, load_mnist, pool_and_holdout
from .labelfile import LabelFileError
from .stack import LocalStack, StackError, local_stack
from .wallet import LightningWallet
from .widget import LabelingWidget

__all__ = [
    "AlsatsClient",
    "AlsatsError",
    "DatasetError",
    "Digits",
    "LabelFileError",
    "LabelingWidget",
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
    "pool_and_holdout",
]
