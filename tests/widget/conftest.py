"""The notebook side's tests share a real local stack per test module, and a maker of
widgets on it."""

from __future__ import annotations

import pytest

from alsats_widget import LabelingWidget, local_stack


@pytest.fixture(scope="module")
def stack(request, tmp_path_factory):
    """``alsats-backend --simnet`` in a subprocess, priced at the module's PRICE (msat)."""
    with local_stack(tmp_path_factory.mktemp("stack"), price_msat=request.module.PRICE) as running:
        yield running


@pytest.fixture
def open_widget(stack, tmp_path):
    """Makes LabelingWidgets on bob's client (each its own label file unless one is
    given), and closes them and their clients after the test."""
    made = []

    def make(X, client=None, label_file=None, **options):
        client = client or stack.client("bob", fee_limit_msat=0)
        widget = LabelingWidget(client, X, label_file=label_file or
                                tmp_path / f"{len(made)}.jsonl", **options)
        made.append(widget)
        return widget

    yield make
    for widget in made:
        widget.close()
        widget.labeler.client.close()
