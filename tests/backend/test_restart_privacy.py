"""A restart keeps the credits bought; nothing a user sent is ever on disk."""

from __future__ import annotations

import sqlite3
import stat

import numpy as np


async def test_restart_mid_session_keeps_credits_and_charged_keys(backend):
    buyer = await backend.start()
    auth, challenge = await buyer.buy(5)
    x = [[0.25] * 8, [0.75] * 8]
    status, body = await buyer.call("POST", "/train", auth, json={"x": x, "y": [0, 1]},
                                    headers={"Idempotency-Key": "k1"})
    assert status == 200 and body["credits_left"] == 4
    await backend.stop()

    buyer = await backend.start()
    status, session = await buyer.call("GET", "/session", auth)
    assert status == 200 and session["credits_left"] == 4
    assert session["restored"] and session["n_labeled"] == 0  # learners live in memory only
    assert session["session_id"] == challenge["session_id"]
    # the charged call, retried after the restart: done again, not charged again
    status, body = await buyer.call("POST", "/train", auth, json={"x": x, "y": [0, 1]},
                                    headers={"Idempotency-Key": "k1"})
    assert status == 200 and body["credits_left"] == 4
    status, body = await buyer.call("POST", "/label", auth, json={"x": x})
    assert status == 200 and body["credits_left"] == 3


async def test_a_model_a_restart_lost_is_taught_again_for_free(backend):
    buyer = await backend.start()
    auth, _ = await buyer.buy(6, mode="pool")
    pool = np.random.default_rng(2).integers(0, 255, (60, 16)).astype(np.uint8)
    status, body = await buyer.upload_pool(auth, pool)
    assert status == 200 and body["relearn_free"] == 0
    teach = {"indices": [0, 1, 2, 3, 4], "labels": [0, 1, 2, 3, 4]}
    status, body = await buyer.call("POST", "/teach", auth, json=teach)
    assert status == 200 and body["credits_left"] == 1
    status, body = await buyer.call("POST", "/undo", auth, json={"index": 4})
    assert status == 200  # the model holds 4 labels now
    await backend.stop()

    buyer = await backend.start()
    status, body = await buyer.upload_pool(auth, pool)
    assert status == 200 and body["relearn_free"] == 4  # the labels the model held
    # the 4 lost ones and a new one: 4 free, 1 charged
    teach = {"indices": [0, 1, 2, 3, 5], "labels": [0, 1, 2, 3, 5]}
    status, body = await buyer.call("POST", "/teach", auth, json=teach)
    assert status == 200 and body["n_labeled"] == 5
    assert body["credits_left"] == 0 and body["relearn_free"] == 0
    status, body = await buyer.call("POST", "/teach", auth, json={"index": 6, "label": 6})
    assert status == 402  # beyond what was lost, teaching is paid again

    await backend.stop()  # lost again, while it held 5: those 5 are free again
    buyer = await backend.start()
    status, body = await buyer.upload_pool(auth, pool)
    assert body["relearn_free"] == 5
    for _ in range(2):  # a label taught twice adds nothing the second time, costs nothing
        status, body = await buyer.call("POST", "/teach", auth, json={"index": 0, "label": 0})
        assert status == 200 and body["relearn_free"] == 4
    status, body = await buyer.call("POST", "/teach", auth, json={"index": 70, "label": 1})
    assert status == 400 and "index" in body["error"]  # refused: the free label stays
    status, session = await buyer.call("GET", "/session", auth)
    assert session["relearn_free"] == 4 and session["credits_left"] == 0


async def test_nothing_user_sent_is_on_disk(backend, config):
    buyer = await backend.start()
    marker = 0.123456789  # a value no file should ever contain
    auth, _ = await buyer.buy(3)
    x = [[marker, 2.5, 7.25], [1.0, marker, 3.5]]
    await buyer.call("POST", "/train", auth, json={"x": x, "y": [0, 1]})
    await buyer.call("POST", "/label", auth, json={"x": x})

    pool_auth, _ = await buyer.buy(3, mode="pool")
    pool = np.random.default_rng(1).integers(0, 255, (50, 16)).astype(np.uint8)
    await buyer.upload_pool(pool_auth, pool)
    await buyer.call("POST", "/teach", pool_auth, json={"index": 3, "label": 7})
    await buyer.call("DELETE", "/session", pool_auth)
    await backend.stop()

    needles = [repr(marker).encode(), np.float64(marker).tobytes(), pool.tobytes()[:64],
               pool[3].tobytes(), pool[3].astype(np.float32).tobytes()]
    files = [p for p in config.data_dir.rglob("*") if p.is_file()]
    assert files
    for path in files:
        content = path.read_bytes()
        for needle in needles:
            assert needle not in content, f"user data found in {path}"


async def test_root_key_is_private_and_never_served(backend, config):
    buyer = await backend.start()
    root_key = config.data_dir / "root.key"
    assert stat.S_IMODE(root_key.stat().st_mode) == 0o600
    secret = root_key.read_bytes()
    for path in ("/root.key", "/../root.key", "/info", "/openapi.json", "/healthz"):
        async with buyer.http.get(path) as response:
            assert secret not in await response.read()
            assert secret.hex().encode() not in await response.read()


async def test_a_sessions_expiry_is_written_at_most_once_a_minute(backend, config):
    buyer = await backend.start()
    auth, challenge = await buyer.buy(1)

    def expires() -> int:
        with sqlite3.connect(config.data_dir / "credits.sqlite") as db:
            return db.execute("SELECT expires FROM sessions WHERE session_id = ?",
                              (challenge["session_id"],)).fetchone()[0]

    first = expires()
    backend.clock.advance(30)
    await buyer.call("GET", "/session", auth)
    assert expires() == first  # no write (an fsync) per call
    backend.clock.advance(31)
    await buyer.call("GET", "/session", auth)
    assert expires() == first + 61  # a minute on: it moves with the session's use
