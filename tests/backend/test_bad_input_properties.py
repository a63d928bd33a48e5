"""Generated bad input (hypothesis) against a real backend: never a server error, and a
refusal changes nothing and charges nothing."""

from __future__ import annotations

import io
import json
import math
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import numpy as np
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits

from alsats_widget import local_stack
from backend.config import Config
from tests.robustness import soak

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


@dataclass
class Tally:
    """What a property test generated and what the server answered: its robustness row."""

    check: str = ""
    verdict: str = ""
    kinds: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)

    def add(self, kind: str, status: int) -> None:
        self.kinds[kind] += 1
        self.statuses[status] += 1

    def summary(self) -> str:
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(self.kinds.items()))
        statuses = ", ".join(f"{count}× {status}" for status, count
                             in sorted(self.statuses.items()))
        return (f"{self.statuses.total()} generated ({kinds}): answered {statuses}; "
                f"{self.verdict}")


@pytest.fixture
def tally(robustness) -> Tally:
    """Count the examples of one property test; its row is recorded when it is done."""
    counted = Tally()
    yield counted
    if counted.statuses:
        robustness.record("Bad input", counted.check, counted.summary())


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


@settings(max_examples=soak(200, 2_000), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(endpoint=st.sampled_from(ENDPOINTS), body=bodies)
def test_generated_json_bodies(sessions, tally, endpoint, body) -> None:
    mode, method, path = endpoint
    url, clients = sessions
    client = clients[mode]
    before = state(url, client)
    response = send(url, client, method, path, body)
    check(url, client, response, before)
    tally.check = "generated JSON bodies (hypothesis) to the paid calls"
    tally.verdict = "no 5xx; each refusal changed nothing and charged nothing"
    tally.add(path, response.status_code)


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


@settings(max_examples=soak(30, 300), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.one_of(arrays.map(lambda a: ("arrays", npy(a))),
                         st.binary(max_size=300).map(lambda b: ("bytes", b)),
                         st.binary(max_size=60).map(
                             lambda b: ("npy headers", b"\x93NUMPY\x01\x00" + b))))
def test_generated_holdout_uploads(sessions, tally, payload) -> None:
    """Malformed .npy, pickles, wrong shapes and NaN as held-out sets: all refused."""
    kind, data = payload
    url, clients = sessions
    client = clients["pool"]
    before = state(url, client)
    response = requests.put(url + "/holdout", data=data, timeout=60, headers={
        "Authorization": client._authorization,
        "Content-Type": "application/octet-stream"})
    assert 400 <= response.status_code < 500, response.text
    assert state(url, client) == before
    tally.check = ("generated held-out uploads (hypothesis): malformed .npy, pickles, wrong "
                   "shapes, NaN")
    tally.verdict = "all refused with a 4xx, no 5xx; nothing changed, charged 0"
    tally.add(kind, response.status_code)


# -- oversized bodies: the in-process backend, with limits small enough to pass quickly -----

MAX_JSON = 64 * 1024
MAX_NPY = 256 * 1024
FEATURES = 4
JSON_CALLS = [("stream", "/train"), ("stream", "/label"), ("pool", "/teach"),
              ("pool", "/query"), ("pool", "/undo"), (None, "/pay/initialize")]
NPY_CALLS = ["/pool", "/holdout"]
JSON_SHAPES = {  # head, filler repeated past the limit, tail
    "rows": (b'{"x": [', b"[0.5, 0.25, 0.125, 1.0], ", b'[0.0, 0.0, 0.0, 0.0]], "y": [0]}'),
    "string": (b'{"index": 0, "label": "', b"a", b'"}'),
    "whitespace": (b'{"k": 1', b" ", b"}"),
    "indices": (b'{"indices": [', b"1, ", b'1], "labels": [0]}'),
    "nesting": (b"", b"[", b""),
}


@pytest.fixture
def config(config: Config) -> Config:
    """The backend fixture's config with small body limits (the code path is the same)."""
    return replace(config, limits=replace(config.limits, max_json_bytes=MAX_JSON,
                                          max_pool_bytes=MAX_NPY))


def padded(head: bytes, filler: bytes, tail: bytes, size: int) -> bytes:
    """``head``, ``filler`` repeated, ``tail``: at least ``size`` bytes."""
    count = max(1, -(-(size - len(head) - len(tail)) // len(filler)))
    return head + filler * count + tail


def oversized_array(dtype: str, sample_shape: tuple[int, ...], over: int) -> bytes:
    """A well-formed .npy of samples shaped ``sample_shape``, ``over`` bytes past the limit."""
    sample_bytes = np.dtype(dtype).itemsize * math.prod(sample_shape)
    return npy(np.zeros(((MAX_NPY + over) // sample_bytes + 1, *sample_shape), dtype))


oversized_json = st.builds(
    lambda call, shape, over, declared: (call, "application/json",
                                         padded(*JSON_SHAPES[shape], MAX_JSON + over),
                                         declared, "JSON"),
    st.sampled_from(JSON_CALLS), st.sampled_from(sorted(JSON_SHAPES)),
    st.integers(1, 3 * MAX_JSON), st.booleans())
oversized_npy = st.builds(
    lambda path, body, declared: (("pool", path), "application/octet-stream", body[1],
                                  declared, body[0]),
    st.sampled_from(NPY_CALLS),
    st.one_of(st.builds(oversized_array, st.sampled_from(["uint8", "float32", "float64"]),
                        st.sampled_from([(FEATURES,), (64,), (28, 28)]),
                        st.integers(1, MAX_NPY)).map(lambda body: (".npy", body)),
              st.integers(1, MAX_NPY).map(lambda over: (JUNK_NPY, b"\x93NUMPY\x01\x00"
                                                        + bytes(MAX_NPY + over)))),
    st.booleans())
JUNK_NPY = ".npy of junk"  # its header is refused (400) before a chunked body's size is known


async def npy_upload(buyer, auth: str, path: str, array: np.ndarray) -> None:
    async with buyer.http.put(path, data=npy(array), headers={
            "Authorization": auth, "Content-Type": "application/octet-stream"}) as response:
        assert response.status == 200, await response.text()


@pytest.fixture
async def opened(buyer) -> dict[str, str]:
    """A streamed session that learned, and a pool session with a pool, labels and a
    held-out set (a pool replaced would drop it): their credentials."""
    rng = np.random.default_rng(0)
    stream, _ = await buyer.buy(10)
    status, _ = await buyer.call("POST", "/train", stream, json={
        "x": [[0.0] * FEATURES, [1.0] * FEATURES], "y": [0, 1]})
    assert status == 200
    pool, _ = await buyer.buy(10, mode="pool")
    await npy_upload(buyer, pool, "/pool", rng.random((60, FEATURES)))
    status, _ = await buyer.call("POST", "/teach", pool, json={"indices": [0, 1, 2, 3],
                                                               "labels": [0, 1, 0, 1]})
    assert status == 200
    await npy_upload(buyer, pool, "/holdout", rng.random((20, FEATURES)))
    return {"stream": stream, "pool": pool}


async def snapshot(buyer, opened: dict[str, str]) -> tuple:
    """Everything a refused body must leave as it was: credits, labels, pools, the
    held-out set, the number of sessions."""
    seen = []
    for auth in opened.values():
        _, session = await buyer.call("GET", "/session", auth)
        seen.append((session["credits_left"], session["n_labeled"], session["pool_uploaded"]))
    holdout, _ = await buyer.call("GET", "/holdout", opened["pool"])
    async with buyer.http.get("/healthz") as response:
        sessions = (await response.json())["sessions"]
    return tuple(seen), holdout, sessions


async def chunked(body: bytes) -> AsyncIterator[bytes]:
    """The body with no Content-Length: the server learns its size only by reading it."""
    for start in range(0, len(body), 1 << 14):
        yield body[start:start + (1 << 14)]


@settings(max_examples=soak(30, 300), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.one_of(oversized_json, oversized_npy))
async def test_generated_oversized_bodies_are_413_and_change_nothing(buyer, opened, tally,
                                                                     case) -> None:
    (mode, path), content_type, body, declared, kind = case
    before = await snapshot(buyer, opened)
    headers = {"Content-Type": content_type}
    if mode is not None:
        headers["Authorization"] = opened[mode]
    method = "PUT" if path in NPY_CALLS else "POST"
    async with buyer.http.request(method, path, headers=headers,
                                  data=body if declared else chunked(body)) as response:
        status, answer = response.status, await response.json()
    if kind == JUNK_NPY and not declared:  # read as it arrives: the header goes first
        assert status == 400 and "header is malformed" in answer["error"], answer
    else:
        assert status == 413 and "limit" in answer["error"], answer
    assert await snapshot(buyer, opened) == before
    tally.check = (f"generated oversized bodies (hypothesis): JSON over the limit to the "
                   f"paid calls and /pay/initialize, .npy over it to /pool and /holdout, "
                   f"with a Content-Length or chunked (limits {MAX_JSON // 1024} KiB and "
                   f"{MAX_NPY // 1024} KiB here; a chunked .npy of junk is a 400, its header "
                   f"refused before its size is known)")
    tally.verdict = "nothing changed, charged 0, no session opened"
    tally.add(f"{kind} {'with a Content-Length' if declared else 'chunked'}", status)
