"""Invoice updates fanned out to the node's live subscriptions (SubscribeInvoices & co)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from .ledger import Invoice


class InvoiceEvents:
    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[Invoice]]] = {}

    def publish(self, invoice: Invoice) -> None:
        for queue in self._queues.get(invoice.node, ()):
            queue.put_nowait(invoice)

    @contextmanager
    def subscribe(self, node: str) -> Iterator[asyncio.Queue[Invoice]]:
        """A queue of the node's invoice updates, from now until the block ends."""
        queue: asyncio.Queue[Invoice] = asyncio.Queue()
        self._queues.setdefault(node, set()).add(queue)
        try:
            yield queue
        finally:
            self._queues[node].discard(queue)
