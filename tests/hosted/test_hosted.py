"""Several web processes sharing a PostgreSQL ledger and Ray learners: a credit is sold
once whichever process a call lands on; a session's calls go on across processes and
across a killed learner."""

from __future__ import annotations

import asyncio
import ssl

import aiohttp
import numpy as np
import psutil
import psycopg
import pytest
from psycopg.rows import dict_row

from alsats_widget import AlsatsClient, LabelingWidget
from alsats_widget.client import ServerError
from backend.l402 import format_authorization, parse_challenge
from tests.digits import digit_pool

pytestmark = pytest.mark.slow
RACERS = 100


def ledger_rows(hosted, sql: str, *params) -> list[dict]:
    with psycopg.connect(hosted.ledger_url, row_factory=dict_row) as db:
        return db.execute(sql.replace("?", "%s"), params).fetchall()


async def buy_one(http: aiohttp.ClientSession, hosted) -> tuple[str, str]:
    """A credential for one stream-mode iteration, paid by bob -> (Authorization, hash)."""
    async with http.post("/pay/initialize", json={"iterations": 1}) as offer:
        assert offer.status == 402
        macaroon, invoice = parse_challenge(offer.headers["WWW-Authenticate"])
        payment_hash = (await offer.json())["payment_hash"]
    payment = await asyncio.to_thread(hosted.stack.wallet("bob").pay, invoice,
                                      fee_limit_msat=0)
    return format_authorization(macaroon, bytes.fromhex(payment.preimage)), payment_hash


async def test_one_credit_raced_by_a_hundred_calls_over_the_processes_is_sold_once(hosted,
                                                                                   robustness):
    trusted = ssl.create_default_context(cafile=hosted.cert)
    connector = aiohttp.TCPConnector(limit=RACERS, force_close=True, ssl=trusted)
    async with aiohttp.ClientSession(hosted.url, connector=connector) as http:
        auth, payment_hash = await buy_one(http, hosted)

        async def label() -> int:
            async with http.post("/label", json={"x": [[1.0, 2.0]]},
                                 headers={"Authorization": auth}) as response:
                await response.read()
                return response.status

        statuses = await asyncio.gather(*(label() for _ in range(RACERS)))
    assert statuses.count(200) == 1 and statuses.count(402) == RACERS - 1, statuses
    credential, = ledger_rows(hosted, "SELECT * FROM credentials WHERE payment_hash = ?",
                              bytes.fromhex(payment_hash))
    assert credential["used"] == 1 == credential["iterations"]
    assert not ledger_rows(hosted, "SELECT * FROM reservations")
    served = hosted.pids_that_served("/label")
    assert len(served) >= 2, "the calls all landed on one web process"
    robustness.record(
        "Hosted", f"{RACERS} concurrent paid calls with one credential holding 1 credit, "
        f"each on a connection of its own to nginx, over {len(hosted.web_processes())} web "
        "processes sharing a PostgreSQL ledger",
        f"1 served, {RACERS - 1} answered 402 with a challenge for more; the credential "
        f"used once; the calls landed on {len(served)} processes")


def test_a_killed_learner_is_rebuilt_and_its_labels_taught_again_free(hosted, tmp_path,
                                                                        robustness):
    pool, truth = digit_pool(1)
    client = AlsatsClient(hosted.url, hosted.stack.wallet("bob"), mode="pool",
                          fee_limit_msat=0)
    widget = LabelingWidget(client, pool[:400], label_file=tmp_path / "labels.jsonl")
    try:
        widget.simulate(truth[:400], 20)
        paid = client.spending.iterations_bought
        assert client.session_info()["n_labeled"] == 20
        actor = max(learner_actors(), key=psutil.Process.create_time)  # the newest: ours
        actor.kill()  # kill -9 of the Ray worker that holds the session's learner
        actor.wait(30)
        widget.simulate(truth[:400], 5)
        info = client.session_info()
        assert info["n_labeled"] == 25 and widget.labeler.problem is None
        assert client.spending.iterations_bought == paid + 5  # the 20 again for free
        assert max(learner_actors(), key=psutil.Process.create_time).pid != actor.pid
    finally:
        widget.close()
        client.close()
    robustness.record(
        "Hosted", "the Ray actor holding a session's learner killed (kill -9) after 20 "
        "labels", "the widget's next call finds it gone (409), uploads the pool again and "
        "teaches the 20 labels again free: 25 labels on the server, 25 iterations paid")


def learner_actors() -> list[psutil.Process]:
    """The Ray worker processes that hold learners (Ray titles them by the actor class)."""
    return [p for p in psutil.process_iter(["cmdline"])
            if p.info["cmdline"] and p.info["cmdline"][0].startswith("ray::LearnerActor")]


def test_calls_of_one_session_land_on_every_process_and_see_one_learner(hosted, tmp_path):
    pool, truth = digit_pool(1)
    # the web processes' own port: nginx keeps its connections to them open, so one
    # client's calls would all reach the one process behind one kept connection
    client = AlsatsClient(hosted.stack.url, hosted.stack.wallet("bob"), mode="pool",
                          fee_limit_msat=0)
    try:
        client.initialize(30)
        client.upload_pool(pool[:300])
        for i in range(30):
            client._http.close()  # a new connection: any of the processes
            assert client.teach(i, int(truth[i]))["n_labeled"] == i + 1
        assert client.session_info()["n_labeled"] == 30
        assert np.unique([s["index"] for s in client.query(10)["samples"]]).size == 10
        with pytest.raises(ServerError) as refused:  # the actor's refusal, as it said it
            client.teach(0, 99)
        assert refused.value.status == 400 and "99" in refused.value.message
        assert "Traceback" not in refused.value.message
        assert "RayTaskError" not in refused.value.message
        assert client.session_info()["n_labeled"] == 30  # nothing changed, nothing charged
    finally:
        client.close()
    assert len(hosted.pids_that_served("/teach")) >= 2
