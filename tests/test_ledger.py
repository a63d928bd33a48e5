"""The credit ledger, in SQLite and in a real PostgreSQL: reserve, commit, release,
idempotent retries, restarts, a killed process's lapsed reservations, several processes
sharing one ledger, and migrations of ledgers earlier versions wrote."""

from __future__ import annotations

import asyncio
import os
import sqlite3

import pytest

from backend.ledger import (
    LEASE_SECONDS,
    CallInFlight,
    CreditsExhausted,
    LedgerUrlError,
    UnknownCredential,
    open_ledger,
)
from backend.ledger.migrations import migrations
from tests.conftest import FakeClock


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request, tmp_path):
    """One ledger's URL per store: a SQLite file, or a new database on a real server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'credits.sqlite'}"
    return request.getfixturevalue("postgresql_url")


@pytest.fixture
async def ledger(ledger_url, clock):
    async with open_ledger(ledger_url, clock=clock, in_flight_wait=0) as opened:
        yield opened


async def sell(ledger, iterations: int = 2, session_id: str = "s1") -> bytes:
    if await ledger.session(session_id) is None:
        await ledger.open_session(session_id, {"mode": "stream"}, ttl_seconds=3600)
    token = os.urandom(32)
    await ledger.record_sale(token_id=token, payment_hash=os.urandom(32),
                             session_id=session_id, iterations=iterations,
                             amount_msat=iterations * 5, valid_until=2**40)
    return token


async def test_commit_uses_a_credit_and_release_does_not(ledger):
    token = await sell(ledger, 2)
    await ledger.release(await ledger.reserve(token))
    assert await ledger.remaining(token) == 2
    assert await ledger.commit(await ledger.reserve(token)) == 1
    assert await ledger.commit(await ledger.reserve(token)) == 0
    with pytest.raises(CreditsExhausted, match="every iteration"):
        await ledger.reserve(token)


async def test_reservations_in_flight_count_against_the_credits(ledger):
    token = await sell(ledger, 1)
    held = await ledger.reserve(token)
    with pytest.raises(CreditsExhausted):  # a concurrent call cannot take the same credit
        await ledger.reserve(token)
    assert await ledger.remaining(token) == 1  # its holder's still, until the call commits
    await ledger.release(held)
    await ledger.commit(await ledger.reserve(token))
    assert await ledger.remaining(token) == 0


async def test_a_retry_with_the_same_key_is_not_charged_twice(ledger):
    token = await sell(ledger, 3)
    assert await ledger.commit(await ledger.reserve(token, "k1")) == 2
    retry = await ledger.reserve(token, "k1")
    assert retry.already_charged
    assert await ledger.commit(retry) == 2
    assert await ledger.commit(await ledger.reserve(token, "k2")) == 1


async def test_a_commit_says_what_it_used_and_the_payment_it_was_the_first_use_of(ledger):
    """What /metrics counts: credits used, and a credential's price at its first use only
    (the preimage proves the invoice was paid), not again on a retry or a later call."""
    token = await sell(ledger, 4)
    first = await ledger.reserve(token, "k1", count=2)
    await ledger.commit(first)
    assert (first.used, first.paid_msat) == (2, 20)
    retry = await ledger.reserve(token, "k1")
    await ledger.commit(retry)
    assert (retry.used, retry.paid_msat) == (0, 0)
    later = await ledger.reserve(token)
    await ledger.commit(later)
    assert (later.used, later.paid_msat) == (1, 0)


async def test_a_commit_keeps_the_labels_held_with_the_credits_it_used(ledger):
    token = await sell(ledger, 2)
    assert await ledger.commit(await ledger.reserve(token, "k1"), ("s1", 7)) == 1
    assert (await ledger.session("s1")).labels_held == 7
    await ledger.release(await ledger.reserve(token, "k2"))  # a failed call: nothing kept
    assert (await ledger.session("s1")).labels_held == 7
    assert await ledger.commit(await ledger.reserve(token, "k3")) == 0  # none given
    assert (await ledger.session("s1")).labels_held == 7


async def test_a_key_still_running_is_refused_and_freed_after(ledger):
    token = await sell(ledger, 3)
    first = await ledger.reserve(token, "k")
    with pytest.raises(CallInFlight, match="still running"):
        await ledger.reserve(token, "k")
    await ledger.release(first)  # failed: not charged, the key may be tried again
    assert not (await ledger.reserve(token, "k")).already_charged


async def test_a_retry_waits_for_the_first_call_then_is_free(ledger_url, clock):
    async with open_ledger(ledger_url, clock=clock, in_flight_wait=10) as ledger:
        token = await sell(ledger, 3)
        first = await ledger.reserve(token, "k")
        retry = asyncio.create_task(ledger.reserve(token, "k"))
        await asyncio.sleep(0.2)
        assert not retry.done()  # waiting for the first call's end
        await ledger.commit(first)
        assert (await asyncio.wait_for(retry, 5)).already_charged


async def test_unknown_credential(ledger):
    with pytest.raises(UnknownCredential):
        await ledger.reserve(os.urandom(32))
    with pytest.raises(UnknownCredential):
        await ledger.remaining(os.urandom(32))


async def test_a_reservation_finishes_once(ledger):
    reservation = await ledger.reserve(await sell(ledger))
    await ledger.commit(reservation)
    with pytest.raises(RuntimeError):
        await ledger.release(reservation)


async def test_restart_keeps_sales_uses_and_charged_keys(ledger_url, clock):
    async with open_ledger(ledger_url, clock=clock) as ledger:
        token = await sell(ledger, 3)
        await ledger.commit(await ledger.reserve(token, "k1"))
    async with open_ledger(ledger_url, clock=clock) as again:
        assert await again.remaining(token) == 2
        assert (await again.reserve(token, "k1")).already_charged
        assert (await again.session("s1")).settings == {"mode": "stream"}


async def test_a_killed_process_lets_go_of_its_reservations_within_the_lease(ledger_url):
    clock = FakeClock()
    async with open_ledger(ledger_url, clock=clock, in_flight_wait=0) as killed, \
            open_ledger(ledger_url, clock=clock, in_flight_wait=0) as survivor:
        token = await sell(killed, 1)
        await killed.reserve(token, "k")  # in flight when its process dies: never renewed
        killed._held.clear()  # what kill -9 does to its renewals
        with pytest.raises(CallInFlight):  # the retry, in another process
            await survivor.reserve(token, "k")
        with pytest.raises(CreditsExhausted):
            await survivor.reserve(token)
        clock.advance(LEASE_SECONDS + 0.1)
        assert await survivor.remaining(token) == 1  # nothing was charged
        assert await survivor.commit(await survivor.reserve(token, "k")) == 0


async def test_a_new_call_waits_for_a_credit_a_killed_process_held(ledger_url):
    clock = FakeClock()
    async with open_ledger(ledger_url, clock=clock, in_flight_wait=0) as killed, \
            open_ledger(ledger_url, clock=clock, in_flight_wait=10) as survivor:
        token = await sell(killed, 1)
        await killed.reserve(token, "lost")
        killed._held.clear()  # killed mid-call
        # a client told it has none left would buy afresh and leave this one behind
        assert await survivor.remaining(token) == 1
        waiting = asyncio.create_task(survivor.reserve(token, "new"))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # not a 402 that would leave the credit behind
        clock.advance(LEASE_SECONDS + 0.1)
        assert await survivor.commit(await asyncio.wait_for(waiting, 5)) == 0


async def test_a_live_process_keeps_a_long_call_reserved(ledger_url):
    clock = FakeClock()
    async with open_ledger(ledger_url, clock=clock, in_flight_wait=0) as ledger:
        token = await sell(ledger, 1)
        held = await ledger.reserve(token)
        clock.advance(LEASE_SECONDS * 2)
        await asyncio.sleep(1.5)  # a renewal (every RENEW_SECONDS) moves the lease on
        with pytest.raises(CreditsExhausted):
            await ledger.reserve(token)
        assert await ledger.commit(held) == 0


async def test_several_processes_sharing_a_ledger_never_sell_a_credit_twice(ledger_url, clock):
    async with open_ledger(ledger_url, clock=clock) as first, \
            open_ledger(ledger_url, clock=clock) as second:
        token = await sell(first, 5)

        async def spend(ledger):
            try:
                return await ledger.commit(await ledger.reserve(token))
            except CreditsExhausted:
                return None

        results = await asyncio.gather(*(spend([first, second][i % 2]) for i in range(40)))
        served = [left for left in results if left is not None]
        assert len(served) == 5  # the others were told to buy more
        assert await first.remaining(token) == 0
        spending = await second.session_spending("s1")
        assert spending["iterations_used"] == 5


async def test_session_spending_counts_used_credentials_only(ledger):
    used = await sell(ledger, 4)
    await sell(ledger, 10)  # a challenge never paid (or not yet used)
    await ledger.commit(await ledger.reserve(used))
    assert await ledger.session_spending("s1") == {
        "iterations_bought": 4, "iterations_used": 1, "msat_paid": 20}


async def test_an_attenuated_credential_grants_no_more_than_its_caveat(ledger):
    token = await sell(ledger, 5)
    await ledger.commit(await ledger.reserve(token, cap=2))
    await ledger.commit(await ledger.reserve(token, cap=2))
    with pytest.raises(CreditsExhausted, match="every iteration"):
        await ledger.reserve(token, cap=2)
    assert await ledger.commit(await ledger.reserve(token)) == 2  # the full sale, uncapped


async def test_a_call_may_cost_several_credits(ledger):
    token = await sell(ledger, 5)
    assert await ledger.commit(await ledger.reserve(token, count=3)) == 2
    with pytest.raises(CreditsExhausted, match="costs 3 iterations and the credential has 2"):
        await ledger.reserve(token, count=3)
    await ledger.release(await ledger.reserve(token, count=2))
    assert await ledger.remaining(token) == 2


async def test_free_relearning_is_spent_once_across_processes(ledger_url, clock):
    async with open_ledger(ledger_url, clock=clock) as first, \
            open_ledger(ledger_url, clock=clock) as second:
        await sell(first)
        await first.set_relearn_free("s1", 3)
        taken = await asyncio.gather(*(ledger.take_relearn_free("s1", 2)
                                       for ledger in (first, second, first)))
        assert sorted(n for n, _ in taken) == [0, 1, 2]
        assert await second.give_back_relearn_free("s1", 1) == 1
        assert (await first.session("s1")).relearn_free == 1
        assert await first.take_relearn_free("s1", 5) == (1, 0)


async def test_a_ledger_is_migrated_once_to_the_newest_version(ledger_url, clock):
    async with open_ledger(ledger_url, clock=clock), open_ledger(ledger_url, clock=clock):
        pass  # two processes starting at once: each applies only what is not there
    async with open_ledger(ledger_url, clock=clock) as ledger:
        def versions():
            with ledger._store.connection() as db:
                return [row["version"] for row in db.execute(
                    "SELECT version FROM schema_migrations ORDER BY version").fetchall()]
        assert await ledger._run(versions) == [v for v, _, _ in migrations()]


LEGACY_SCHEMA = """
CREATE TABLE sessions (session_id TEXT PRIMARY KEY, settings TEXT NOT NULL,
    created INTEGER NOT NULL, expires INTEGER NOT NULL, closed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE credentials (token_id BLOB PRIMARY KEY, payment_hash BLOB UNIQUE NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (session_id),
    iterations INTEGER NOT NULL, amount_msat INTEGER NOT NULL,
    created INTEGER NOT NULL, valid_until INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0 AND used <= iterations));
CREATE TABLE charged_calls (token_id BLOB NOT NULL, idempotency_key TEXT NOT NULL,
    charged_at INTEGER NOT NULL, PRIMARY KEY (token_id, idempotency_key));
"""  # the oldest ledger alsats wrote: no labels_held, no charged_calls.credits


async def test_a_ledger_an_earlier_version_wrote_is_carried_over(tmp_path, clock):
    path = tmp_path / "credits.sqlite"
    token = os.urandom(32)
    with sqlite3.connect(path) as old:
        old.executescript(LEGACY_SCHEMA)
        old.execute("INSERT INTO sessions VALUES ('s1', '{\"mode\": \"pool\"}', 1, ?, 0)",
                    (2**40,))
        old.execute("INSERT INTO credentials VALUES (?, ?, 's1', 3, 15, 1, ?, 1)",
                    (token, os.urandom(32), 2**40))
        old.execute("INSERT INTO charged_calls VALUES (?, 'k1', 1)", (token,))
    old.close()
    async with open_ledger(f"sqlite:///{path}", clock=clock) as ledger:
        assert await ledger.remaining(token) == 2
        assert (await ledger.reserve(token, "k1")).already_charged
        record = await ledger.session("s1")
        assert record.settings == {"mode": "pool"} and record.labels_held == 0
        assert await ledger.commit(await ledger.reserve(token, "k2")) == 1


@pytest.mark.parametrize("url", ["mysql://x", "sqlite://", "credits.sqlite"])
async def test_a_ledger_url_alsats_has_no_store_for_is_a_clear_error(url):
    with pytest.raises(LedgerUrlError, match="sqlite:///"):
        async with open_ledger(url):
            pass
