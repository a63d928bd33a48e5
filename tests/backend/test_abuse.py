"""Abuse: challenges cost nothing to ask for, so what they leave behind must be bounded.

Unpaid challenges (and the sessions they opened) are forgotten once their invoices can no
longer be paid; a paid one never is. A client address gets a limited number of challenges
for sessions that never paid, a session a limited number of unpaid invoices at once: past
either, 429 with Retry-After, and nothing changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import replace

import pytest

from backend.app import sweep
from backend.config import Config
from backend.keys import LEDGER, SESSIONS
from backend.paywall import SWEEP_GRACE_SECONDS
from tests.backend.conftest import Backend
from tests.robustness import soak

UNPAID = soak(1_000, 10_000)  # challenges nobody pays
BATCH = 25  # asked for at once


@contextlib.asynccontextmanager
async def running(config: Config, clock, **settings):
    """A backend of its own with these settings; yields it and its buyer."""
    backend = Backend(replace(config, **settings), clock)
    buyer = await backend.start()
    try:
        yield backend, buyer
    finally:
        await backend.stop()


async def ledger_rows(backend: Backend) -> dict[str, int]:
    return await backend.server.app[LEDGER].counts()


async def ask(buyer, method: str, path: str, **kwargs) -> tuple[int, dict, dict]:
    """One call; its status, JSON body and headers."""
    async with buyer.http.request(method, path, **kwargs) as response:
        return response.status, await response.json(), dict(response.headers)


async def unpaid_challenges(buyer, count: int, session_id: str) -> None:
    """``count`` challenges turned down, of three kinds in turn: a new session's, a paid
    call's without a credential (it opens a session too), more for an existing session."""
    kinds = [("POST", "/pay/initialize", {"json": {"iterations": 3}}),
             ("POST", "/train", {"json": {"x": [[1.0]], "y": [0]}}),
             ("POST", "/pay/initialize", {"json": {"iterations": 1, "session_id": session_id}})]
    for start in range(0, count, BATCH):
        calls = [ask(buyer, *kinds[i % 3][:2], **kinds[i % 3][2])
                 for i in range(start, min(start + BATCH, count))]
        for status, body, _ in await asyncio.gather(*calls):
            assert status == 402, body


async def swept(backend: Backend, expected: dict[str, int], timeout: float = 60) -> None:
    """Sweep until the ledger holds ``expected`` (the simnet cancels an expired invoice
    within a second of its clock passing the expiry)."""
    deadline = time.monotonic() + timeout
    while True:
        await sweep(backend.server.app)
        if await ledger_rows(backend) == expected or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert await ledger_rows(backend) == expected


@pytest.mark.slow
async def test_unpaid_challenges_are_forgotten_and_paid_ones_kept(config, clock, robustness):
    unlimited = {"challenges_per_minute": 0, "max_open_challenges": UNPAID}
    async with running(config, clock, **unlimited) as (backend, buyer):
        expiry = backend.config.invoice_expiry_seconds
        used, _ = await buyer.buy(5)  # paid and used: its session may buy more
        status, answer = await buyer.call("POST", "/label", used, json={"x": [[1.0, 2.0]]})
        assert status == 200
        session_id = answer_session(await buyer.call("GET", "/session", used))
        ahead, _ = await buyer.buy(2)  # paid, not used yet
        async with buyer.http.post("/pay/initialize", json={"iterations": 2}) as offer:
            clock.advance(expiry - 5)  # paid 5 s before its invoice expires
            late, _ = await buyer.pay(offer)
        before = await ledger_rows(backend)

        started = time.monotonic()
        await unpaid_challenges(buyer, UNPAID, session_id)
        asked = time.monotonic() - started
        grown = await ledger_rows(backend)
        assert grown["credentials"] == before["credentials"] + UNPAID
        assert grown["sessions"] == before["sessions"] + sum(i % 3 != 2 for i in range(UNPAID))

        await sweep(backend.server.app)  # too early: every invoice may still be paid
        assert await ledger_rows(backend) == grown
        clock.advance(expiry + SWEEP_GRACE_SECONDS + 1)
        started = time.monotonic()
        await swept(backend, before)
        took = time.monotonic() - started
        assert len(backend.server.app[SESSIONS]) == 3  # the live ones: the paid sessions

        for auth in (used, ahead, late):  # every paid credential still works
            status, answer = await buyer.call("POST", "/label", auth, json={"x": [[1.0, 2.0]]})
            assert status == 200, answer
    robustness.record(
        "Abuse", f"{UNPAID:,} unpaid challenges from one address (new sessions, paid calls "
        "without a credential, offers turned down)",
        f"the ledger grew by {grown['sessions'] - before['sessions']:,} sessions and "
        f"{UNPAID:,} credentials in {asked:.1f} s; once the invoices expired, a sweep "
        f"({took:.1f} s) forgot every one; the 3 paid credentials, one paid 5 s before its "
        "invoice expired, kept working")


def answer_session(call: tuple[int, dict]) -> str:
    status, body = call
    assert status == 200, body
    return body["session_id"]


async def test_the_rate_limit_answers_429_and_changes_nothing(config, clock, robustness):
    per_minute = 5
    async with running(config, clock, challenges_per_minute=per_minute) as (backend, buyer):
        paid, _ = await buyer.buy(1)  # the first of the five
        session_id = answer_session(await buyer.call("GET", "/session", paid))
        status, _ = await buyer.call("POST", "/label", paid, json={"x": [[1.0, 2.0]]})
        assert status == 200  # its credential used: the session paid
        status, _, _ = await ask(buyer, "POST", "/pay/initialize", json={"iterations": 0})
        assert status == 400  # bad input is refused before the limit: it costs no token
        for _ in range(per_minute - 1):
            status, body, _ = await ask(buyer, "POST", "/pay/initialize", json={"iterations": 1})
            assert status == 402, body
        before = await ledger_rows(backend)
        refused = [await ask(buyer, "POST", "/pay/initialize", json={"iterations": 1}),
                   await ask(buyer, "POST", "/teach", json={"index": 0, "label": 1}),
                   await ask(buyer, "POST", "/label", json={"x": [[1.0]]})]
        for status, body, headers in refused:
            assert status == 429, body
            assert "too many challenges" in body["error"]
            assert body["retry_after"] == int(headers["Retry-After"]) == 60 // per_minute
        assert await ledger_rows(backend) == before  # no session, no invoice, no credential

        # a session that paid buys more, pay as you go, whatever the limit
        for _ in range(3):
            status, body, _ = await ask(buyer, "POST", "/pay/initialize",
                                        json={"iterations": 1, "session_id": session_id})
            assert status == 402, body
        clock.advance(60 / per_minute)  # one token back
        status, body, _ = await ask(buyer, "POST", "/pay/initialize", json={"iterations": 1})
        assert status == 402, body
        status, body, _ = await ask(buyer, "POST", "/pay/initialize", json={"iterations": 1})
        assert status == 429, body
    robustness.record(
        "Abuse", f"challenges for sessions that never paid, past {per_minute} a minute from "
        "one address (POST /pay/initialize, a paid call without a credential)",
        f"429 with Retry-After: {60 // per_minute} s and a JSON error; the ledger unchanged; "
        "a session that paid still buys more; a token back after 60/limit s (the default "
        "limit: 120 a minute)")


async def test_a_session_has_a_bounded_number_of_open_invoices(config, clock, robustness):
    cap = 4
    async with running(config, clock, max_open_challenges=cap) as (backend, buyer):
        auth, _ = await buyer.buy(1)
        session_id = answer_session(await buyer.call("GET", "/session", auth))
        status, _ = await buyer.call("POST", "/label", auth, json={"x": [[1.0, 2.0]]})
        assert status == 200  # its one credit used
        more = {"json": {"iterations": 1, "session_id": session_id}}
        for _ in range(cap - 1):
            status, body, _ = await ask(buyer, "POST", "/pay/initialize", **more)
            assert status == 402, body
        status, body = await buyer.call("POST", "/label", auth, json={"x": [[1.0, 2.0]]})
        assert status == 402, body  # credits used up: the cap-th offer
        before = await ledger_rows(backend)
        expiry = backend.config.invoice_expiry_seconds
        for status, body, headers in [
                await ask(buyer, "POST", "/pay/initialize", **more),
                await ask(buyer, "POST", "/label", json={"x": [[1.0, 2.0]]},
                          headers={"Authorization": auth})]:
            assert status == 429, body
            assert f"{cap} unpaid invoices" in body["error"]
            assert int(headers["Retry-After"]) == body["retry_after"] == expiry
        assert await ledger_rows(backend) == before

        clock.advance(expiry)  # the offers can no longer be paid: new ones again
        status, body, _ = await ask(buyer, "POST", "/pay/initialize", **more)
        assert status == 402, body
    robustness.record(
        "Abuse", f"more than {cap} unpaid invoices for one session (offers turned down, "
        "calls past its credits)",
        "429 with Retry-After (until the oldest invoice expires); the ledger unchanged; "
        "offers again once they expired (the default: 100 open per session)")


async def test_a_paid_credential_never_used_goes_only_once_it_has_expired(buyer, backend,
                                                                          clock):
    auth, _ = await buyer.buy(1)
    empty = {"sessions": 0, "credentials": 0, "charged_calls": 0, "reservations": 0}
    clock.advance(backend.config.credential_ttl_seconds - 60)
    await sweep(backend.server.app)  # its invoice expired long ago, but it was paid
    assert await ledger_rows(backend) == {**empty, "sessions": 1, "credentials": 1}
    clock.advance(61)
    status, body = await buyer.call("GET", "/session", auth)
    assert status == 401 and "expired" in body["error"]  # whether it is forgotten or not
    await sweep(backend.server.app)
    assert await ledger_rows(backend) == empty
    status, body = await buyer.call("GET", "/session", auth)
    assert status == 401 and "expired" in body["error"]
