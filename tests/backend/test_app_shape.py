"""The OpenAPI document describes exactly the routes the app serves; idle sessions are freed."""

from __future__ import annotations

from backend.app import create_app
from backend.keys import SESSIONS
from backend.learners import ESTIMATORS, STRATEGIES
from backend.learners.registry import DEFAULT_POOL_ESTIMATOR
from backend.openapi import document


def test_openapi_lists_every_route_and_method(config):
    app = create_app(config)
    served = {(r.resource.canonical, r.method.lower()) for r in app.router.routes()
              if r.method != "HEAD"}
    documented = {(path, method) for path, item in document()["paths"].items()
                  for method in item}
    assert served == documented


async def test_idle_sessions_are_freed_and_then_gone(buyer, backend):
    auth, _ = await buyer.buy(2)
    status, _ = await buyer.call("POST", "/label", auth, json={"x": [[1.0, 2.0]]})
    assert status == 200
    store = backend.server.app[SESSIONS]
    assert len(store) == 1
    backend.clock.advance(backend.config.session_idle_seconds + 1)
    assert len(await store.sweep()) == 1 and len(store) == 0
    status, body = await buyer.call("POST", "/label", auth, json={"x": [[1.0, 2.0]]})
    assert status == 410 and "expired" in body["error"]


def test_openapi_names_the_learners_and_strategies_a_session_may_pick():
    fields = document()["paths"]["/pay/initialize"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]["properties"]
    assert fields["estimator"]["enum"] == list(ESTIMATORS)
    assert fields["strategy"]["enum"] == list(STRATEGIES)
    assert f"{DEFAULT_POOL_ESTIMATOR} in pool mode" in fields["estimator"]["description"]


async def test_info_publishes_the_pool_rules_the_server_checks(buyer, backend):
    """/info's pool rules are the ones PUT /pool applies, and the document says the same."""
    async with buyer.http.get("/info") as response:
        published = (await response.json())["pool"]
    limits = backend.config.limits
    assert published == limits.pool_rules().published()
    assert published["max_samples"] == limits.max_pool_samples
    assert published["dtypes"] == ["uint8", "float32", "float64"]
    paths = document(limits)["paths"]
    info_schema = paths["/info"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"]["properties"]["pool"]
    assert info_schema["example"] == published
    assert f"at most {limits.max_pool_samples:,} samples" in paths["/pool"]["put"]["description"]
