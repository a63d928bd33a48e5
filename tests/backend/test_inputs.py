"""Bad input gets a 4xx that says what is wrong, changes nothing and charges nothing."""

from __future__ import annotations

import io

import numpy as np
import pytest

GOOD_X = [[0.5] * 64]


async def credits_and_labels(buyer, auth) -> tuple[int, int]:
    _, body = await buyer.call("GET", "/session", auth)
    return body["credits_left"], body["n_labeled"]


async def raw_call(buyer, method, path, auth, data, content_type="application/json"):
    async with buyer.http.request(method, path, data=data, headers={
            "Authorization": auth, "Content-Type": content_type}) as response:
        return response.status, await response.json()


@pytest.fixture
async def trained(buyer):
    """A streamed session that has learned 64 features and two classes."""
    auth, _ = await buyer.buy(10)
    status, _ = await buyer.call("POST", "/train", auth,
                                 json={"x": [[0.0] * 64, [1.0] * 64], "y": [0, 1]})
    assert status == 200
    return auth


@pytest.mark.parametrize("body, status, message", [
    (b"{not json", 400, "not valid JSON"),
    (b'{"x": [[NaN]], "y": [0]}', 400, "NaN"),
    (b'{"x": [[Infinity]], "y": [0]}', 400, "Infinity"),
    (b'[1, 2]', 400, "JSON object"),
    (b'{"x": [[1, 2], [3]], "y": [0, 1]}', 400, "ragged"),
    (b'{"x": [[0.5]], "y": [0]}', 400, "features"),
    (b'{"x": [], "y": []}', 400, "x"),
    (b'{"x": [["a"]], "y": [0]}', 400, "number"),
    (b'{"y": [0]}', 400, "missing field 'x'"),
    (b'{"x": [[0.5]], "y": [0], "extra": 1}', 400, "unknown field"),
])
async def test_bad_train_bodies(buyer, trained, body, status, message):
    before = await credits_and_labels(buyer, trained)
    got, answer = await raw_call(buyer, "POST", "/train", trained, body)
    assert got == status and message.lower() in answer["error"].lower(), answer
    assert await credits_and_labels(buyer, trained) == before


async def test_wrong_dimension_and_unknown_label(buyer, trained):
    before = await credits_and_labels(buyer, trained)
    status, body = await buyer.call("POST", "/train", trained,
                                    json={"x": [[0.5] * 63], "y": [0]})
    assert status == 400 and "64" in body["error"]
    status, body = await buyer.call("POST", "/train", trained, json={"x": GOOD_X, "y": [11]})
    assert status == 400 and "11" in body["error"]
    status, body = await buyer.call("POST", "/train", trained, json={"x": GOOD_X, "y": [0, 1]})
    assert status == 400
    assert await credits_and_labels(buyer, trained) == before


async def test_oversized_body_is_413_and_free(buyer, trained, config):
    before = await credits_and_labels(buyer, trained)
    huge = b'{"x": [[' + b"0," * config.limits.max_json_bytes + b'0]], "y": [0]}'
    status, body = await raw_call(buyer, "POST", "/train", trained, io.BytesIO(huge))
    assert status == 413 and "limit" in body["error"]
    assert await credits_and_labels(buyer, trained) == before


@pytest.mark.parametrize("settings, message", [
    ({"iterations": 0}, "iterations"),
    ({"iterations": "3"}, "iterations"),
    ({"iterations": True}, "iterations"),
    ({"iterations": 10**12}, "iterations"),
    ({"iterations": 1, "mode": "batch"}, "mode"),
    ({"iterations": 1, "estimator": "svm9000"}, "estimator"),
    ({"iterations": 1, "estimator": "label_spreading"}, "pool mode only"),
    ({"iterations": 1, "mode": "pool", "estimator": "label_spreading", "strategy": "x"},
     "strategy"),
    ({"iterations": 1, "strategy": "random"}, "strategy"),
    ({"iterations": 1, "threshold": 2}, "threshold"),
    ({"iterations": 1, "classes": [1]}, "classes"),
    ({"iterations": 1, "classes": [1, 1]}, "classes"),
    ({"iterations": 1, "session_id": "nope"}, "nope"),
    ({"iterations": 1, "colour": "red"}, "unknown field"),
])
async def test_bad_initialize_requests(buyer, settings, message):
    async with buyer.http.post("/pay/initialize", json=settings) as response:
        body = await response.json()
        assert response.status in (400, 410), body
    assert message in body["error"]


@pytest.mark.parametrize("data, message", [
    (b"not numpy at all", "npy"),
    (b"\x93NUMPY\x01\x00garbage", "npy"),
])
async def test_malformed_pool_is_400(buyer, data, message):
    auth, _ = await buyer.buy(2, mode="pool")
    status, body = await raw_call(buyer, "PUT", "/pool", auth, data,
                                  "application/octet-stream")
    assert status == 400 and message in body["error"]
    status, body = await buyer.call("POST", "/query", auth, json={"k": 1})
    assert status == 409 and "upload the pool" in body["error"]


async def test_pickled_and_nan_pools_are_refused(buyer):
    auth, _ = await buyer.buy(2, mode="pool")
    for pool in (np.array([{"a": 1}], dtype=object), np.full((4, 3), np.nan)):
        buffer = io.BytesIO()
        np.save(buffer, pool, allow_pickle=True)
        status, body = await raw_call(buyer, "PUT", "/pool", auth, buffer.getvalue(),
                                      "application/octet-stream")
        assert status == 400, body


async def test_pools_of_every_kind_the_rules_name_and_only_those(buyer):
    """Features and images grey, RGB or RGBA, as uint8, float32 or float64; anything else
    is a 400 that names the rule and changes nothing."""
    auth, _ = await buyer.buy(2, mode="pool")
    accepted = [np.zeros((6, 5), np.float64), np.zeros((6, 4, 4), np.uint8),
                np.zeros((6, 4, 4, 3), np.uint8), np.zeros((6, 4, 4, 4), np.float32)]
    for pool in accepted:
        status, answer = await buyer.upload_pool(auth, pool)
        assert status == 200 and answer["n_features"] == pool[0].size, answer
    refused = [(np.zeros((6, 5), np.int64), "must hold uint8, float32 or float64 values"),
               (np.zeros((6, 4, 4, 2), np.uint8), "must have 1, 3 or 4 channels"),
               (np.zeros((6, 2, 2, 2, 1), np.uint8), "must be an array of shape")]
    for pool, message in refused:
        buffer = io.BytesIO()
        np.save(buffer, pool)
        status, body = await raw_call(buyer, "PUT", "/pool", auth, buffer.getvalue(),
                                      "application/octet-stream")
        assert status == 400 and message in body["error"], body
    status, body = await buyer.call("POST", "/query", auth, json={"k": 6})
    assert status == 200 and len(body["samples"]) == 6  # the last good pool is the one kept
    status, body = await buyer.call("GET", "/session", auth)
    assert status == 200 and body["credits_left"] == 2  # refusals charged nothing


async def test_pool_calls_check_index_and_label(buyer):
    auth, _ = await buyer.buy(5, mode="pool")
    await buyer.upload_pool(auth, np.random.default_rng(0).random((20, 4)))
    for body in ({"index": 20, "label": 1}, {"index": -1, "label": 1},
                 {"index": 0, "label": 12}, {"index": "0", "label": 1}):
        status, answer = await buyer.call("POST", "/teach", auth, json=body)
        assert status == 400, answer
    status, _ = await buyer.call("POST", "/undo", auth, json={"index": 3})
    assert status == 400  # nothing taught there
    for k in (0, 101, "1"):
        status, _ = await buyer.call("POST", "/query", auth, json={"k": k})
        assert status == 400
    _, session = await buyer.call("GET", "/session", auth)
    assert session["credits_left"] == 5 and session["n_labeled"] == 0


@pytest.mark.parametrize("exclude, message", [
    (None, "exclude must be a list of pool indices: got None"),
    (3, "exclude must be a list of pool indices: got 3"),
    ({"0": 1}, "exclude must be a list of pool indices"),
    ([0, 20], "exclude[1]: index 20 is out of range: the pool has 20 samples"),
    ([-1], "exclude[0]: index -1 is out of range"),
    ([True], "exclude[0]: index must be an integer: got True"),
    ([1.5], "exclude[0]: index must be an integer: got 1.5"),
    (["1"], "exclude[0]: index must be an integer: got '1'"),
    ([0] * 21, "exclude lists 21 indices, more than the pool's 20 samples"),
])
async def test_bad_exclude_is_400_and_free(buyer, exclude, message):
    auth, _ = await buyer.buy(2, mode="pool")
    await buyer.upload_pool(auth, np.random.default_rng(0).random((20, 4)))
    status, answer = await buyer.call("POST", "/query", auth, json={"k": 1, "exclude": exclude})
    assert status == 400 and message in answer["error"], answer
    _, session = await buyer.call("GET", "/session", auth)
    assert session["credits_left"] == 2 and session["n_labeled"] == 0


async def test_the_wrong_mode_is_409_and_free(buyer):
    auth, _ = await buyer.buy(1, mode="pool")
    status, body = await buyer.call("POST", "/label", auth, json={"x": GOOD_X})
    assert status == 409 and "stream" in body["error"]


async def test_unknown_routes_and_methods_answer_json(buyer):
    async with buyer.http.get("/nowhere") as response:
        assert response.status == 404 and "error" in await response.json()
    async with buyer.http.get("/train") as response:
        assert response.status == 405 and "error" in await response.json()
