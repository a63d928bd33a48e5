"""The credit ledger: reserve, commit, release, idempotent retries and restarts."""

from __future__ import annotations

import os
import sqlite3

import pytest

from backend.credits import CreditError, CreditLedger, CreditsExhausted, UnknownCredential


@pytest.fixture
def ledger(tmp_path):
    ledger = CreditLedger(tmp_path / "credits.sqlite")
    yield ledger
    ledger.close()


def sell(ledger: CreditLedger, iterations: int = 2, session_id: str = "s1") -> bytes:
    if ledger.session(session_id) is None:
        ledger.open_session(session_id, {"mode": "stream"}, ttl_seconds=3600)
    token = os.urandom(32)
    ledger.record_sale(token_id=token, payment_hash=os.urandom(32), session_id=session_id,
                       iterations=iterations, amount_msat=iterations * 5,
                       valid_until=2**40)
    return token


def test_commit_uses_a_credit_and_release_does_not(ledger):
    token = sell(ledger, 2)
    failed = ledger.reserve(token)
    ledger.release(failed)
    assert ledger.remaining(token) == 2
    assert ledger.commit(ledger.reserve(token)) == 1
    assert ledger.commit(ledger.reserve(token)) == 0
    with pytest.raises(CreditsExhausted, match="every iteration"):
        ledger.reserve(token)


def test_reservations_in_flight_count_against_the_credits(ledger):
    token = sell(ledger, 1)
    held = ledger.reserve(token)
    with pytest.raises(CreditsExhausted):  # a concurrent call cannot take the same credit
        ledger.reserve(token)
    ledger.release(held)
    ledger.commit(ledger.reserve(token))
    assert ledger.remaining(token) == 0


def test_a_retry_with_the_same_key_is_not_charged_twice(ledger):
    token = sell(ledger, 3)
    assert ledger.commit(ledger.reserve(token, "k1")) == 2
    retry = ledger.reserve(token, "k1")
    assert retry.already_charged
    assert ledger.commit(retry) == 2
    assert ledger.commit(ledger.reserve(token, "k2")) == 1


def test_a_key_still_running_is_refused_and_freed_after(ledger):
    token = sell(ledger, 3)
    first = ledger.reserve(token, "k")
    with pytest.raises(CreditError, match="still running"):
        ledger.reserve(token, "k")
    ledger.release(first)  # failed: not charged, the key may be tried again
    assert not ledger.reserve(token, "k").already_charged


def test_unknown_credential(ledger):
    with pytest.raises(UnknownCredential):
        ledger.reserve(os.urandom(32))


def test_a_reservation_finishes_once(ledger):
    reservation = ledger.reserve(sell(ledger))
    ledger.commit(reservation)
    with pytest.raises(RuntimeError):
        ledger.release(reservation)


def test_restart_keeps_sales_uses_and_charged_keys_but_not_reservations(tmp_path):
    path = tmp_path / "credits.sqlite"
    ledger = CreditLedger(path)
    token = sell(ledger, 3)
    ledger.commit(ledger.reserve(token, "k1"))
    ledger.reserve(token)  # in flight when the process dies: never committed
    ledger.close()

    again = CreditLedger(path)
    assert again.remaining(token) == 2
    assert again.reserve(token, "k1").already_charged
    assert again.session("s1").settings == {"mode": "stream"}
    again.close()


def test_session_spending_counts_used_credentials_only(ledger):
    used = sell(ledger, 4)
    sell(ledger, 10)  # a challenge never paid (or not yet used)
    ledger.commit(ledger.reserve(used))
    assert ledger.session_spending("s1") == {
        "iterations_bought": 4, "iterations_used": 1, "msat_paid": 20}


def test_an_attenuated_credential_grants_no_more_than_its_caveat(ledger):
    token = sell(ledger, 5)
    ledger.commit(ledger.reserve(token, cap=2))
    ledger.commit(ledger.reserve(token, cap=2))
    with pytest.raises(CreditsExhausted, match="every iteration"):
        ledger.reserve(token, cap=2)
    assert ledger.commit(ledger.reserve(token)) == 2  # the full sale, uncapped


def test_a_call_may_cost_several_credits(ledger):
    token = sell(ledger, 5)
    assert ledger.commit(ledger.reserve(token, count=3)) == 2
    with pytest.raises(CreditsExhausted, match="costs 3 iterations and the credential has 2"):
        ledger.reserve(token, count=3)
    held = ledger.reserve(token, count=2)
    ledger.release(held)
    assert ledger.remaining(token) == 2


def test_a_ledger_from_before_the_counts_gets_their_columns(tmp_path):
    path = tmp_path / "credits.sqlite"
    with sqlite3.connect(path) as db:  # the tables as an earlier version made them
        db.executescript("""
            CREATE TABLE sessions (session_id TEXT PRIMARY KEY, settings TEXT NOT NULL,
                created INTEGER NOT NULL, expires INTEGER NOT NULL,
                closed INTEGER NOT NULL DEFAULT 0);
            CREATE TABLE charged_calls (token_id BLOB NOT NULL,
                idempotency_key TEXT NOT NULL, charged_at INTEGER NOT NULL,
                PRIMARY KEY (token_id, idempotency_key));
            INSERT INTO sessions VALUES ('s1', '{}', 1, 99999999999, 0);
            INSERT INTO charged_calls VALUES (x'01', 'k1', 1);
        """)
    ledger = CreditLedger(path)
    assert ledger.session("s1").labels_held == 0
    ledger.set_labels_held("s1", 7)
    assert ledger.session("s1").labels_held == 7
    ledger.close()
    with sqlite3.connect(path) as db:  # a call charged before counted one credit
        assert db.execute("SELECT credits FROM charged_calls").fetchall() == [(1,)]
