"""GET /metrics counts what was sold, answered and fitted; --no-metrics serves none."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from backend.app import create_app
from backend.keys import METRICS, SESSIONS
from backend.metrics import Metrics
from backend.openapi import document
from tests.backend.conftest import PRICE_MSAT, Backend

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "backend.md"
X = np.random.default_rng(0).normal(size=(60, 4))


async def scrape(buyer) -> str:
    async with buyer.http.get("/metrics") as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        return await response.text()


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` that carry ``labels``."""
    return sum(sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples
               if sample.name == name and labels.items() <= sample.labels.items())


async def test_metrics_count_paid_calls_payments_requests_sessions_and_fits(buyer, backend):
    stream, _ = await buyer.buy(3)
    for _ in range(2):
        status, _ = await buyer.call("POST", "/label", stream, json={"x": X[:5].tolist()})
        assert status == 200
    retry = {"Idempotency-Key": "k1"}
    for _ in range(2):  # a retry is answered again, not charged again
        status, body = await buyer.call("POST", "/label", stream, json={"x": X[:5].tolist()},
                                        headers=retry)
        assert status == 200 and body["credits_left"] == 0

    pool, _ = await buyer.buy(10, mode="pool", classes=[0, 1])
    status, _ = await buyer.upload_pool(pool, X)
    assert status == 200
    status, _ = await buyer.call("POST", "/teach", pool, json={"index": 0, "label": 0})
    assert status == 200
    status, body = await buyer.call("POST", "/teach", pool,
                                    json={"indices": [1, 2, 3], "labels": [1, 0, 1]})
    assert status == 200 and body["credits_left"] == 6

    store = backend.server.app[SESSIONS]
    status, info = await buyer.call("GET", "/session", pool)
    assert status == 200
    live = await store.get(info["session_id"])
    assert await asyncio.to_thread(live.learner.learner.settle, 30)
    for _ in range(100):  # counted as the fit's task ends, just after it publishes
        text = await scrape(buyer)
        if value(text, "alsats_fit_queue") == 0 and value(text, "alsats_fits_total") >= 2:
            break
        await asyncio.sleep(0.05)

    assert value(text, "alsats_paid_iterations_total", path="/label") == 3
    assert value(text, "alsats_paid_iterations_total", path="/teach") == 4
    assert value(text, "alsats_paid_iterations_total") == 7
    assert value(text, "alsats_challenges_total") == 2
    assert value(text, "alsats_payments_total") == 2
    assert value(text, "alsats_paid_msat_total") == 13 * PRICE_MSAT
    count = "alsats_request_seconds_count"
    assert value(text, count, path="/label", status="2xx") == 4
    assert value(text, count, path="/teach", status="2xx") == 2
    assert value(text, count, path="/pay/initialize", status="4xx") == 2  # the 402s
    assert value(text, count, path="/pool", status="2xx") == 1
    assert value(text, "alsats_open_sessions") == len(store) == 2
    # the pool's neighbour graph and at least one fit, all timed, none waiting
    assert value(text, "alsats_fits_total") >= 2
    assert value(text, "alsats_fit_seconds_count") == value(text, "alsats_fits_total")
    assert value(text, "alsats_fit_queue") == 0
    assert value(text, "alsats_ledger_seconds_count", op="reserve") >= 5
    assert value(text, "alsats_ledger_seconds_count", op="commit") == 5

    async with buyer.http.get("/no/such/path") as response:
        assert response.status == 404
    status, _ = await buyer.call("DELETE", "/session", stream)
    assert status == 200
    text = await scrape(buyer)
    assert value(text, count, path="other", status="4xx") == 1  # not the raw URL
    assert value(text, "alsats_open_sessions") == len(store) == 1


async def test_without_metrics_there_is_no_route_and_calls_still_work(config, clock):
    backend = Backend(replace(config, metrics=False), clock)
    buyer = await backend.start()
    try:
        async with buyer.http.get("/metrics") as response:
            assert response.status == 404
        auth, _ = await buyer.buy(1)
        status, body = await buyer.call("POST", "/label", auth, json={"x": X[:2].tolist()})
        assert status == 200 and body["credits_left"] == 0
        assert backend.server.app[METRICS] is not None  # counted still, only not served
    finally:
        await backend.stop()
    app = create_app(replace(config, metrics=False))
    served = {r.resource.canonical for r in app.router.routes()}
    assert served == set(document()["paths"]) - {"/metrics"}


def test_the_backend_guide_lists_every_metric():
    """The guide's Metrics section names each metric of the registry, and no other."""
    names = set()
    for family in Metrics().registry.collect():
        names.add(family.name + ("_total" if family.type == "counter" else ""))
    guide = GUIDE.read_text().split("## Metrics", 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"`(alsats_\w+)`", guide)) == names
