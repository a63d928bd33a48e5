"""The whole streamed flow and the whole pool flow, paid by bob's node over Lightning."""

from __future__ import annotations

import asyncio
import io
import json

import numpy as np
import pytest
import skops.io
from sklearn.datasets import load_digits

from tests.backend.conftest import OCTET, PRICE_MSAT, npy


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return data.data, data.target



async def test_info_health_and_openapi(buyer, backend):
    async with buyer.http.get("/healthz") as r:
        assert r.status == 200 and (await r.json())["status"] == "ok"
    async with buyer.http.get("/info") as r:
        info = await r.json()
    alice = backend.config.simnet_dir  # the pubkey is alice's, as GetInfo reports it
    assert info["price_msat"] == PRICE_MSAT and info["network"] == "regtest"
    assert len(bytes.fromhex(info["node_pubkey"])) == 33 and alice.exists()
    async with buyer.http.get("/openapi.json") as r:
        doc = await r.json()
    assert doc["openapi"].startswith("3.")
    for path in ("/pay/initialize", "/train", "/label", "/pool", "/query", "/teach",
                 "/undo", "/session", "/model", "/holdout"):
        assert path in doc["paths"]


async def test_streamed_flow_with_credits_and_buying_more(buyer, digits):
    x, y = digits
    auth, challenge = await buyer.buy(3)
    assert challenge["amount_msat"] == 3 * PRICE_MSAT and challenge["iterations"] == 3
    paid_invoice = await buyer.wallet.decode_pay_req(challenge["payment_request"])
    assert paid_invoice.amount_msat == 3 * PRICE_MSAT

    status, body = await buyer.call("POST", "/train", auth,
                                    json={"x": x[:300].tolist(), "y": y[:300].tolist()})
    assert status == 200 and body["credits_left"] == 2 and body["n_labeled"] == 300

    status, body = await buyer.call("POST", "/label", auth, json={"x": x[300:320].tolist()})
    assert status == 200 and body["credits_left"] == 1
    results = body["results"]
    assert len(results) == 20
    assert {r["decision"] for r in results} <= {"label", "skip"}
    assert body["most_uncertain"] == int(np.argmax([r["uncertainty"] for r in results]))
    accuracy = np.mean([r["predicted"] == t for r, t in zip(results, y[300:320], strict=True)])
    assert accuracy > 0.7

    status, _ = await buyer.call("POST", "/label", auth, json={"x": x[320:330].tolist()})
    assert status == 200
    async with buyer.http.post("/label", json={"x": x[330:331].tolist()},
                               headers={"Authorization": auth}) as used_up:
        assert used_up.headers["WWW-Authenticate"].startswith("L402 ")
        more, body = await buyer.pay(used_up)  # a challenge for more, same session
    assert body["credits_left"] == 0 and body["iterations"] == 3
    status, body = await buyer.call("POST", "/label", more, json={"x": x[330:331].tolist()})
    assert status == 200 and body["credits_left"] == 2
    status, session = await buyer.call("GET", "/session", more)
    assert session["n_labeled"] == 300 and session["settings"]["mode"] == "stream"


async def test_pay_as_you_go_one_iteration_at_a_time(buyer, digits):
    x, y = digits
    auth, first = await buyer.buy(1)
    for i in range(3):
        status, body = await buyer.call("POST", "/train", auth,
                                        json={"x": x[i:i + 1].tolist(), "y": [int(y[i])]})
        assert status == 200 and body["credits_left"] == 0
        async with buyer.http.post("/pay/initialize", json={
                "iterations": 1, "session_id": first["session_id"]}) as r:
            auth, _ = await buyer.pay(r)
    status, session = await buyer.call("GET", "/session", auth)
    assert session["n_labeled"] == 3 and session["credits_left"] == 1


async def test_pool_flow_query_teach_undo_and_model(buyer, digits):
    x, y = digits
    pool, truth = x[:600], y[:600]
    auth, _ = await buyer.buy(40, mode="pool", classes=list(range(10)))
    status, body = await buyer.upload_pool(auth, pool.astype(np.float32))
    assert status == 200 and body["n_pool"] == 600 and body["n_features"] == 64
    assert body["credits_left"] == 40  # uploading is free

    status, body = await buyer.call("POST", "/query", auth, json={"k": 5})
    first = [s["index"] for s in body["samples"]]
    assert status == 200 and len(first) == 5 and first != [0, 1, 2, 3, 4]

    taught = []
    for _ in range(30):
        _, body = await buyer.call("POST", "/query", auth, json={"k": 1})
        index = body["samples"][0]["index"]
        assert index not in taught
        status, body = await buyer.call("POST", "/teach", auth,
                                        json={"index": index, "label": int(truth[index])})
        assert status == 200
        taught.append(index)
    assert body["credits_left"] == 10

    status, body = await buyer.call("POST", "/undo", auth, json={"index": taught[-1]})
    assert status == 200 and body["credits_left"] == 10  # undo is free
    status, session = await buyer.call("GET", "/session", auth)
    assert session["n_labeled"] == 29 and session["pool_uploaded"]

    async with buyer.http.get("/model", headers={"Authorization": auth}) as r:
        assert r.status == 200 and r.headers["X-Credits-Left"] == "9"
        data = await r.read()
    model = skops.io.loads(data, trusted=skops.io.get_untrusted_types(data=data))
    assert np.mean(model.predict(x[600:800]) == y[600:800]) > 0.5

    status, body = await buyer.call("DELETE", "/session", auth)
    assert status == 200
    status, body = await buyer.call("POST", "/query", auth, json={"k": 1})
    assert status == 410


async def test_query_leaves_out_excluded_samples(buyer, digits):
    x, y = digits
    auth, _ = await buyer.buy(2, mode="pool")
    await buyer.upload_pool(auth, x[:30])
    _, body = await buyer.call("POST", "/query", auth, json={"k": 5})
    first = [s["index"] for s in body["samples"]]
    status, body = await buyer.call("POST", "/query", auth, json={"k": 5, "exclude": first})
    assert status == 200 and len(body["samples"]) == 5
    assert not {s["index"] for s in body["samples"]} & set(first)  # before the first fit

    await buyer.call("POST", "/teach", auth, json={"indices": [0, 1], "labels": [0, 1]})
    for _ in range(300):  # the fit runs in the background; meanwhile the spread answers
        _, body = await buyer.call("POST", "/query", auth, json={"k": 6})
        if body["model_version"] == body["labels_version"] == 1:
            break
        await asyncio.sleep(0.05)
    ranked = body["samples"]
    assert ranked[0]["predicted"] in (0, 1) and ranked[0]["uncertainty"] < 1
    skipped = [s["index"] for s in ranked[:2]]
    status, body = await buyer.call("POST", "/query", auth, json={"k": 4, "exclude": skipped})
    assert status == 200 and len(body["samples"]) == 4  # after it: others
    assert not {s["index"] for s in body["samples"]} & {0, 1, *skipped}
    _, body = await buyer.call("POST", "/query", auth,
                               json={"k": 5, "exclude": list(range(2, 28)) + [2, 3]})
    assert sorted(s["index"] for s in body["samples"]) == [28, 29]  # fewer remain
    status, body = await buyer.call("POST", "/query", auth,
                                    json={"k": 5, "exclude": list(range(30))})
    assert status == 200 and body["samples"] == [] and body["credits_left"] == 0


async def holdout_of_version(buyer, auth: str, version: int) -> tuple[int, dict]:
    """GET /holdout until the model of `version` has answered (a free call; fits run
    in the background, so the first answers may come from the model before)."""
    for _ in range(300):
        status, body = await buyer.call("GET", "/holdout", auth)
        if status != 200 or body["model_version"] >= version:
            return status, body
        await asyncio.sleep(0.05)
    raise AssertionError(f"model version {version} never answered")


async def test_holdout_predictions_are_free_and_follow_the_model(buyer, digits):
    x, y = digits
    auth, _ = await buyer.buy(160, mode="pool")
    status, body = await buyer.call("PUT", "/holdout", auth, data=npy(x[600:800]),
                                    headers=OCTET)
    assert status == 409 and "upload the pool first" in body["error"]
    await buyer.upload_pool(auth, x[:600])
    status, body = await buyer.call("GET", "/holdout", auth)
    assert status == 409 and "no held-out set" in body["error"]

    status, body = await buyer.call("PUT", "/holdout", auth,
                                    data=npy(x[600:800].reshape(200, 8, 8)), headers=OCTET)
    assert status == 200 and body == {"n_holdout": 200, "credits_left": 160}
    status, body = await buyer.call("GET", "/holdout", auth)
    assert status == 200
    assert body == {"predicted": None, "model_version": 0, "n_holdout": 200,
                    "credits_left": 160}

    await buyer.call("POST", "/teach", auth, json={
        "indices": list(range(150)), "labels": [int(v) for v in y[:150]]})
    status, body = await holdout_of_version(buyer, auth, 1)  # fitted in the background
    assert status == 200 and body["model_version"] == 1 and body["credits_left"] == 10
    assert len(body["predicted"]) == 200 and np.mean(body["predicted"] == y[600:800]) > 0.5
    _, again = await buyer.call("GET", "/holdout", auth)
    assert again == body  # nothing new taught: the same answer, free

    await buyer.call("POST", "/teach", auth, json={"index": 150, "label": int(y[150])})
    _, body = await holdout_of_version(buyer, auth, 2)
    assert body["model_version"] == 2 and body["credits_left"] == 9

    await buyer.upload_pool(auth, x[:600])
    status, body = await buyer.call("GET", "/holdout", auth)
    assert status == 409 and "no held-out set" in body["error"]  # a new pool drops it


async def test_health_answers_while_a_session_is_fitting(buyer, digits):
    x, y = digits
    auth, _ = await buyer.buy(1)
    body = json.dumps({"x": np.repeat(x, 2, axis=0).astype(int).tolist(),
                       "y": np.repeat(y, 2).tolist()}).encode()
    fitting = asyncio.create_task(buyer.call(
        "POST", "/train", auth, data=io.BytesIO(body),
        headers={"Content-Type": "application/json"}))
    await asyncio.sleep(0.3)  # the fit has started in a worker thread
    async with buyer.http.get("/healthz") as r:
        assert r.status == 200
    assert not fitting.done(), "healthz waited for the fit"
    status, _ = await fitting
    assert status == 200


async def test_batch_teach_costs_one_iteration_per_label(buyer, digits):
    x, y = digits
    auth, _ = await buyer.buy(5, mode="pool")
    await buyer.upload_pool(auth, x[:100])
    status, body = await buyer.call("POST", "/teach", auth, json={
        "indices": [0, 1, 2], "labels": [int(v) for v in y[:3]]})
    assert status == 200 and body["n_labeled"] == 3 and body["credits_left"] == 2
    async with buyer.http.post("/teach", headers={"Authorization": auth}, json={
            "indices": [3, 4, 5], "labels": [int(v) for v in y[3:6]]}) as response:
        more, challenge = await buyer.pay(response)  # 3 cost more than the 2 left
    assert challenge["credits_left"] == 2 and challenge["iterations"] == 5
    status, body = await buyer.call("POST", "/teach", more, json={
        "indices": [3, 4, 5], "labels": [int(v) for v in y[3:6]]})
    assert status == 200 and body["n_labeled"] == 6 and body["credits_left"] == 2
