"""Schemathesis against /openapi.json: every operation, valid and invalid input, with a
valid L402 credential; no server error, and every answer as the document says."""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sklearn.datasets import load_digits

from alsats_widget import local_stack
from tests.robustness import soak

CREDITS = 100_000
EXAMPLES = soak(40, 200)  # per operation and generation mode (valid input, invalid input)
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance,
          content_type_conformance]
POOL_PATHS = {"/pool", "/holdout", "/query", "/teach", "/undo"}
FREE_PATHS = {"/healthz", "/info", "/openapi.json", "/pay/initialize"}
CLOSABLE = 30  # sessions bought for DELETE /session: new sessions are rate limited


class Credentials:
    """A streamed and a pool session with many credits, bought by bob's node; DELETE
    /session gets a session of its own, so that they stay open."""

    def __init__(self, stack) -> None:
        self.stack = stack
        self.clients = {mode: self._buy(mode, CREDITS) for mode in ("stream", "pool")}
        X, y = load_digits(return_X_y=True)
        pool = self.clients["pool"]
        pool.upload_pool(X[:300].astype(np.uint8))
        pool.upload_holdout(X[300:340].astype(np.uint8))
        pool.teach_many(list(range(20)), y[:20].tolist())
        self.clients["stream"].train(X[:20], y[:20])
        self.thrown_away = []

    def _buy(self, mode: str, credits: int):
        client = self.stack.client("bob", mode=mode, block_size=credits,
                                   max_payment_msat=10**9, budget_msat=10**10)
        client.initialize(credits)
        return client

    def for_operation(self, method: str, path: str):
        """The client whose credential an operation is sent with (None for free ones)."""
        if path in FREE_PATHS:
            return None
        if method == "DELETE":  # a session of its own, while the rate limit allows
            if len(self.thrown_away) < CLOSABLE:
                self.thrown_away.append(self._buy("stream", 1))
            return self.thrown_away[-1]  # then the last one, closed already: 410
        return self.clients["pool" if path in POOL_PATHS else "stream"]

    def close(self) -> None:
        for client in [*self.clients.values(), *self.thrown_away]:
            client.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with local_stack(tmp_path_factory.mktemp("stack"), reuse=False) as running:
        yield running


@pytest.fixture(scope="module")
def credentials(stack):
    bought = Credentials(stack)
    yield bought
    bought.close()


def api_schema(url: str, credentials: Credentials):
    """The served document, with an auth hook that gives each case its credential."""
    schema = schemathesis.openapi.from_dict(requests.get(url + "/openapi.json", timeout=30).json())

    @schema.auth(refresh_interval=None)
    class L402:
        def get(self, case, context):
            return credentials.for_operation(context.operation.method.upper(),
                                             context.operation.path)

        def set(self, case, client, context):
            authorize(case, client)

    return schema


def authorize(case, client) -> None:
    """The credential in the header, and its session's id where the body names one (a
    credential sold for another session is refused before the body is looked at)."""
    if client is None:
        return
    case.headers = {**(case.headers or {}), "Authorization": client._authorization}
    if isinstance(case.body, dict) and "session_id" in case.body:
        case.body = {**case.body, "session_id": client.session_id}


def fuzz(operation, schema, credentials: Credentials, url: str, http: requests.Session,
         mode: GenerationMode, statuses: Counter) -> None:
    """EXAMPLES generated requests to one operation, each answer checked."""

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode, auth_storage=schema.auth))
    def run(case) -> None:
        if schema.is_security_param_negated(case):  # every request carries a credential
            authorize(case, credentials.for_operation(case.method.upper(), case.path))
        response = case.call(base_url=url, session=http, timeout=60)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:  # GET /healthz and the like take no input to make invalid
        if mode is GenerationMode.POSITIVE:
            raise


@pytest.mark.slow
def test_every_operation_answers_as_documented(stack, credentials, robustness) -> None:
    schema = api_schema(stack.url, credentials)
    operations = [result.ok() for result in schema.get_all_operations()]
    statuses: Counter[int] = Counter()
    started = time.monotonic()
    with requests.Session() as http:
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                fuzz(operation, schema, credentials, stack.url, http, mode, statuses)
    seconds = time.monotonic() - started
    n = sum(statuses.values())
    assert not [status for status in statuses if status >= 500], statuses
    robustness.record(
        "Bad input", "schemathesis on every operation of /openapi.json, with valid L402 "
        "credentials",
        f"{n} generated requests over {len(operations)} operations in {seconds:.0f} s: "
        "no 5xx, every answer as documented")
