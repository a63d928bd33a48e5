"""Every 401 and 402 of the L402 contract, idempotent retries, and nothing charged twice."""

from __future__ import annotations

import base64
import hashlib
import os

import numpy as np
import pytest
import skops.io
from pymacaroons import Macaroon
from pymacaroons.serializers import BinarySerializer

from backend.keys import PAYWALL
from backend.l402 import CHALLENGE_FORM, parse_challenge
from tests.backend.conftest import macaroon_of

X = [[0.0] * 64]


def with_macaroon(auth: str, raw: bytes) -> str:
    preimage = auth.rsplit(":", 1)[1]
    return f"L402 {base64.b64encode(raw).decode()}:{preimage}"


def edit(raw: bytes, edit_fn) -> bytes:
    mac = Macaroon.deserialize(base64.urlsafe_b64encode(raw).decode(),
                               serializer=BinarySerializer())
    edit_fn(mac)
    text = mac.serialize(serializer=BinarySerializer())
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def credits(buyer, auth) -> int:
    status, body = await buyer.call("GET", "/session", auth)
    assert status == 200, body
    return body["credits_left"]


async def test_no_credential_gets_a_challenge_that_buys_the_call(buyer):
    async with buyer.http.post("/label", json={"x": X}) as response:
        assert response.headers["WWW-Authenticate"].startswith('L402 macaroon="')
        auth, body = await buyer.pay(response)
    assert body["iterations"] == 1 and body["payment_request"].startswith("lnbcrt")
    assert {"session_id", "payment_request", "amount_msat", "iterations"} <= body.keys()
    status, answer = await buyer.call("POST", "/label", auth, json={"x": X})
    assert status == 200 and answer["credits_left"] == 0


async def test_initialize_answers_402_with_the_contracts_fields(buyer):
    async with buyer.http.post("/pay/initialize", json={"iterations": 7}) as response:
        assert response.status == 402
        body = await response.json()
        header = response.headers["WWW-Authenticate"]
    assert body["iterations"] == 7 and body["amount_msat"] == 35
    assert f'invoice="{body["payment_request"]}"' in header
    assert body["settings"]["estimator"] == "random_forest"  # streamed mode: the seed's


async def test_the_challenge_is_one_header_in_the_documented_form(buyer):
    """macaroon then invoice (what deployed clients read), then version and token (today's
    specification), the same macaroon as the body's; the OpenAPI document says so."""
    async with buyer.http.post("/label", json={"x": X}) as response:
        lines = response.headers.getall("WWW-Authenticate")
        body = await response.json()
        openapi = (await (await buyer.http.get("/openapi.json")).json())
    assert lines == [CHALLENGE_FORM.replace("<base64 macaroon>", body["macaroon"])
                     .replace("<bolt11 invoice>", body["payment_request"])]
    assert parse_challenge(lines[0]) == (base64.b64decode(body["macaroon"]),
                                         body["payment_request"])
    described = openapi["paths"]["/label"]["post"]["responses"]["402"]["headers"]
    assert CHALLENGE_FORM in described["WWW-Authenticate"]["description"]


async def test_pool_mode_defaults_to_the_learner_that_uses_the_pool(buyer):
    async with buyer.http.post("/pay/initialize",
                               json={"iterations": 1, "mode": "pool"}) as response:
        body = await response.json()
    assert response.status == 402
    assert (body["settings"]["estimator"], body["settings"]["strategy"]) == (
        "auto", "margin")  # it chooses label spreading where spreading over the pool pays


@pytest.mark.parametrize("scheme", ["L402", "LSAT", "l402"])
async def test_l402_and_legacy_lsat_schemes(buyer, scheme):
    auth, _ = await buyer.buy(2)
    status, body = await buyer.call("POST", "/label", scheme + auth[4:], json={"x": X})
    assert status == 200 and body["credits_left"] == 1


async def test_wrong_preimage_is_401_and_charges_nothing(buyer):
    auth, _ = await buyer.buy(2)
    forged = auth.rsplit(":", 1)[0] + ":" + os.urandom(32).hex()
    status, body = await buyer.call("POST", "/label", forged, json={"x": X})
    assert status == 401 and "preimage" in body["error"]
    assert await credits(buyer, auth) == 2


async def test_unpaid_credential_cannot_be_used(buyer):
    async with buyer.http.post("/pay/initialize", json={"iterations": 2}) as response:
        body = await response.json()
    # the macaroon alone, with a guessed preimage, is worth nothing
    auth = f"L402 {body['macaroon']}:{'00' * 32}"
    status, _ = await buyer.call("POST", "/label", auth, json={"x": X})
    assert status == 401


async def test_tampered_caveat_is_401(buyer, robustness):
    auth, _ = await buyer.buy(1)

    def widen(mac):
        for caveat in mac.caveats:
            if caveat.caveat_id_bytes.startswith(b"alsats_iterations="):
                caveat.caveat_id = b"alsats_iterations=1000"

    status, body = await buyer.call("POST", "/label", with_macaroon(
        auth, edit(macaroon_of(auth), widen)), json={"x": X})
    assert status == 401 and "signature" in body["error"]
    assert await credits(buyer, auth) == 1
    robustness.record("Abuse", "a tampered caveat (1 iteration widened to 1,000)",
                      "401 (the signature does not verify); charged 0")


async def test_macaroon_minted_with_another_key_is_401(buyer, robustness):
    auth, _ = await buyer.buy(1)
    mac = Macaroon.deserialize(base64.urlsafe_b64encode(macaroon_of(auth)).decode(),
                               serializer=BinarySerializer())
    forged = Macaroon(location=mac.location, identifier=mac.identifier_bytes,
                      key=os.urandom(32), version=mac.version)
    for caveat in mac.caveats:
        forged.add_first_party_caveat(caveat.caveat_id)
    text = forged.serialize(serializer=BinarySerializer())
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    status, _ = await buyer.call("POST", "/label", with_macaroon(auth, raw), json={"x": X})
    assert status == 401
    assert await credits(buyer, auth) == 1
    robustness.record("Abuse", "a forged macaroon (the same identifier and caveats, another "
                      "root key)", "401; charged 0")


async def test_another_sessions_credential_is_401_when_a_session_is_named(buyer, robustness):
    mine, challenge = await buyer.buy(1)
    theirs, _ = await buyer.buy(1)
    status, body = await buyer.call("POST", "/label", theirs,
                                    json={"x": X, "session_id": challenge["session_id"]})
    assert status == 401 and "session" in body["error"]
    assert await credits(buyer, theirs) == 1
    robustness.record("Abuse", "another session's credential, with this session named",
                      "401; charged 0")


async def test_expired_credential_is_401(buyer, backend):
    auth, _ = await buyer.buy(1)
    backend.clock.advance(backend.config.credential_ttl_seconds + 1)
    status, body = await buyer.call("POST", "/label", auth, json={"x": X})
    assert status == 401 and "expired" in body["error"]


@pytest.mark.parametrize("header", [
    "L402", "L402 ", "L402 abc", "L402 :", "L402 !!!:" + "00" * 32, "LSAT x:y",
    "L402 " + "A" * 8_000 + ":" + "00" * 32,
])
async def test_malformed_authorization_is_401(buyer, header):
    status, body = await buyer.call("POST", "/label", header, json={"x": X})
    assert status == 401 and body["error"]


async def test_a_header_over_the_http_limit_is_refused_before_the_app(buyer, robustness):
    # aiohttp's parser refuses header fields over 8190 bytes with a plain 400
    async with buyer.http.post("/label", json={"x": X}, headers={
            "Authorization": "L402 " + "A" * 20_000 + ":" + "00" * 32}) as response:
        assert response.status == 400
    robustness.record("Abuse", "an Authorization header of 20 KB",
                      "400 from aiohttp's parser, before the app sees it")


async def test_a_retry_with_the_same_idempotency_key_is_not_charged_twice(buyer):
    auth, _ = await buyer.buy(3)
    headers = {"Idempotency-Key": "label-1"}
    first = await buyer.call("POST", "/label", auth, json={"x": X}, headers=headers)
    again = await buyer.call("POST", "/label", auth, json={"x": X}, headers=headers)
    assert first == again and first[1]["credits_left"] == 2
    assert await credits(buyer, auth) == 2
    _, other = await buyer.call("POST", "/label", auth, json={"x": X},
                                headers={"Idempotency-Key": "label-2"})
    assert other["credits_left"] == 1


async def test_a_retried_model_download_is_made_again_not_kept_or_charged(buyer, backend):
    auth, _ = await buyer.buy(5, mode="pool")
    pool = np.random.default_rng(3).integers(0, 255, (80, 64)).astype(np.uint8)
    await buyer.upload_pool(auth, pool)
    await buyer.call("POST", "/teach", auth, json={"indices": [0, 1], "labels": [0, 1]})
    downloads = []
    for _ in range(2):
        async with buyer.http.get("/model", headers={"Authorization": auth,
                                                     "Idempotency-Key": "model-1"}) as r:
            assert r.status == 200 and r.headers["X-Credits-Left"] == "2"
            downloads.append(await r.read())
    assert len(downloads[0]) > 64 * 1024
    first, again = (skops.io.loads(d, trusted=skops.io.get_untrusted_types(data=d))
                    for d in downloads)  # the same model (a zip's timestamps may differ)
    assert (first.predict(pool) == again.predict(pool)).all()
    remembered = backend.server.app[PAYWALL]._answers.values()
    assert not any(isinstance(result, bytes) for result, _ in remembered)  # memory stays small
    assert await credits(buyer, auth) == 2


async def test_preimage_proves_the_payment(buyer):
    auth, body = await buyer.buy(1)
    preimage = bytes.fromhex(auth.rsplit(":", 1)[1])
    assert hashlib.sha256(preimage).hexdigest() == body["payment_hash"]


async def test_a_holder_may_attenuate_a_credential_to_fewer_iterations(buyer):
    auth, _ = await buyer.buy(3)
    narrowed = with_macaroon(auth, edit(
        macaroon_of(auth), lambda mac: mac.add_first_party_caveat("alsats_iterations=1")))
    status, body = await buyer.call("POST", "/label", narrowed, json={"x": X})
    assert status == 200 and body["credits_left"] == 0  # what the narrowed one grants
    async with buyer.http.post("/label", json={"x": X},
                               headers={"Authorization": narrowed}) as response:
        assert response.status == 402  # the narrowed credential is used up
    status, body = await buyer.call("POST", "/label", auth, json={"x": X})
    assert status == 200 and body["credits_left"] == 1  # the original still has its own


async def test_the_preimage_of_another_paid_invoice_is_401_and_charges_nothing(buyer,
                                                                              robustness):
    mine, _ = await buyer.buy(1)
    theirs, _ = await buyer.buy(1)
    borrowed = mine.rsplit(":", 1)[0] + ":" + theirs.rsplit(":", 1)[1]  # paid, not for this
    status, body = await buyer.call("POST", "/label", borrowed, json={"x": X})
    assert status == 401 and "preimage" in body["error"]
    assert await credits(buyer, mine) == 1 and await credits(buyer, theirs) == 1
    robustness.record("Abuse", "the preimage of another paid invoice",
                      "401; charged 0 on either credential")


async def test_a_replay_after_the_credits_are_used_gets_a_challenge_not_a_call(buyer,
                                                                               robustness):
    auth, _ = await buyer.buy(1)
    status, _ = await buyer.call("POST", "/label", auth, json={"x": X})
    assert status == 200
    async with buyer.http.post("/label", json={"x": X},
                               headers={"Authorization": auth}) as response:
        body = await response.json()
        assert response.status == 402 and "WWW-Authenticate" in response.headers
    assert body["iterations"] >= 1 and await credits(buyer, auth) == 0
    robustness.record("Abuse", "a replay after the credits are used",
                      "402 with a challenge for more; no call")


async def test_the_root_key_is_private_and_never_served(buyer, config, robustness):
    key_file = config.data_dir / "root.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = key_file.read_bytes()
    needles = [key, key.hex().encode(), base64.b64encode(key), base64.urlsafe_b64encode(key)]
    auth, _ = await buyer.buy(3, mode="pool")
    served = []
    for method, path, kwargs in [("GET", "/info", {}), ("GET", "/openapi.json", {}),
                                 ("GET", "/healthz", {}), ("GET", "/session", {}),
                                 ("POST", "/pay/initialize", {"json": {"iterations": 1}}),
                                 ("GET", "/root.key", {}), ("GET", "/../root.key", {})]:
        async with buyer.http.request(method, path, headers={"Authorization": auth},
                                      **kwargs) as response:
            served.append(await response.read() + str(response.headers).encode())
            assert response.status < 500
    assert not any(needle in body for needle in needles for body in served)
    robustness.record("Abuse", "the root key file", f"mode 0600; in none of {len(served)} "
                      "answers (info, openapi, healthz, session, a 402, /root.key), as bytes, "
                      "hex or base64")
