"""The notebook side's tests share one fixture: a real local stack per test module."""

from __future__ import annotations

import pytest

from alsats_widget import local_stack


@pytest.fixture(scope="module")
def stack(request, tmp_path_factory):
    """``alsats-backend --simnet`` in a subprocess, priced at the module's PRICE (msat)."""
    with local_stack(tmp_path_factory.mktemp("stack"), price_msat=request.module.PRICE) as running:
        yield running
