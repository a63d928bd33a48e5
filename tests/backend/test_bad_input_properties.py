"""Generated bad input (hypothesis) against a real backend: never a server error, and a
refusal changes nothing and charges nothing."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits

from alsats_widget import local_stack

CREDITS = 10_000
FIELDS = ["x", "y", "index", "label", "indices", "labels", "k", "exclude", "session_id"]

numbers = st.one_of(st.integers(-(2**70), 2**70), st.floats(allow_nan=True,
                                                            allow_infinity=True),
                    st.booleans(), st.none(), st.text(max_size=5))
rows = st.lists(numbers, max_size=70)
values = st.one_of(numbers, rows, st.lists(rows, max_size=4),
                   st.lists(st.lists(st.floats(0, 16), min_size=64, max_size=64), max_size=3),
                   st.dictionaries(st.text(max_size=3), numbers, max_size=2))
bodies = st.one_of(st.dictionaries(st.sampled_from(FIELDS), values, max_size=4),
                   values)


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """A stack of its own, with a streamed and a pool session holding many credits."""
    with local_stack(tmp_path_factory.mktemp("stack"), reuse=False) as stack:
        X, y = load_digits(return_X_y=True)
        opened = {}
        for mode in ("stream", "pool"):
            client = stack.client("bob", mode=mode, block_size=CREDITS,
                                  max_payment_msat=10**9, budget_msat=10**10)
            client.initialize(CREDITS)
            if mode == "pool":
                client.upload_pool(X[:300].astype(np.uint8))
                client.teach_many(list(range(20)), y[:20].tolist())
            else:
                client.train(X[:20], y[:20])
            opened[mode] = client
        yield stack.url, opened
        for client in opened.values():
            client.close()


def state(url: str, client) -> tuple[int, int]:
    answer = requests.get(url + "/session", headers={"Authorization": client._authorization},
                          timeout=30).json()
    return answer["credits_left"], answer["n_labeled"]


def send(url: str, client, method: str, path: str, body) -> requests.Response:
    text = json.dumps(body, allow_nan=True)  # NaN and Infinity as Python writes them
    return requests.request(method, url + path, data=text, timeout=60, headers={
        "Authorization": client._authorization, "Content-Type": "application/json"})


def check(url: str, client, response: requests.Response, before: tuple[int, int]) -> None:
    assert response.status_code < 500, response.text
    answer = response.json()
    if response.status_code >= 400:
        assert answer["error"] and "Traceback" not in answer["error"]
        assert state(url, client) == before  # refused: no charge, no label
    else:  # the generator can stumble on a valid call: then it costs what it says
        assert state(url, client)[0] == answer["credits_left"]


ENDPOINTS = [("stream", "POST", "/train"), ("stream", "POST", "/label"),
             ("pool", "POST", "/teach"), ("pool", "POST", "/query"),
             ("pool", "POST", "/undo")]


@pytest.mark.parametrize("mode, method, path", ENDPOINTS)
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_generated_json_bodies(sessions, mode, method, path, body) -> None:
    url, clients = sessions
    client = clients[mode]
    before = state(url, client)
    check(url, client, send(url, client, method, path, body), before)


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


arrays = st.one_of(
    st.builds(lambda n, d: np.full((n, d), math.nan), st.integers(1, 5), st.integers(1, 80)),
    st.builds(lambda n: np.zeros((n, 0)), st.integers(0, 3)),
    st.builds(lambda n: np.zeros(n), st.integers(0, 10)),
    st.builds(lambda: np.zeros((2, 2, 2, 2))),
    st.builds(lambda: np.array([["a", "b"]])),
    st.builds(lambda: np.array([[{"x": 1}]], dtype=object)),
    st.builds(lambda d: np.ones((3, d)), st.integers(1, 100).filter(lambda d: d != 64)),
)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.one_of(arrays.map(npy), st.binary(max_size=300),
                         st.binary(max_size=60).map(lambda b: b"\x93NUMPY\x01\x00" + b)))
def test_generated_holdout_uploads(sessions, payload) -> None:
    """Malformed .npy, pickles, wrong shapes and NaN as held-out sets: all refused."""
    url, clients = sessions
    client = clients["pool"]
    before = state(url, client)
    response = requests.put(url + "/holdout", data=payload, timeout=60, headers={
        "Authorization": client._authorization,
        "Content-Type": "application/octet-stream"})
    assert 400 <= response.status_code < 500, response.text
    assert state(url, client) == before
