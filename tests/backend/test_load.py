"""Load: many sessions paying as they go, at once, against one real backend.

50 sessions (``soak``: the same 50) each do 200 paid iterations (``soak``: 2,000), all at
the same time. An iteration is pay as you go, as the widget does it with ``block_size=1``:
POST /teach with the credential of the iteration before, whose one credit is used, meets a
402 for 1 iteration of the session's own, bob's node pays the invoice, and the same POST
/teach (same Idempotency-Key) goes again with the new credential and must answer 200.
(A session's first credential is bought when it opens, with its pool; its first POST
/teach uses it, so every iteration but the first meets a 402.)

Why a subprocess (``local_stack``) and not the in-process ``Backend`` fixture: under load
the server's event loop, GIL and fitting threads must not be shared with the load, or the
test measures the two fighting over one interpreter. As in ``benchmarks/throughput.py``,
the backend runs as ``alsats-backend --simnet`` (alice's and bob's LND inside it) in its own
process with a fresh data dir; this process is the load: one aiohttp client and bob's node
over gRPC+TLS, one asyncio task per session.

The learning is kept cheap, so the test measures payments and the server: a pool-mode
session with label spreading (named: the default, auto, fits several candidates each
time) on scikit-learn's 1,797 8x8 digits (copies shifted by a pixel when a session needs
more labels than that), fitted in the background; no POST /query in the loop (the
session teaches a shuffled order of its pool with true labels).

Checked after the run: no error (every paid call 200, every 402 the expected one); a replay
of each session's last call (same key, same credential) gets its answer again, uncharged;
alice's channel balance grew by what bob's payments sum to and bob's fell by that plus fees;
the server's credits.sqlite (read only) has one credential per payment, each used in full,
one credit per label, each Idempotency-Key charged once; GET /session has every label;
the server logged nothing above info.
Throughput and the latency of a paid iteration (first POST /teach to the 200) are reported
in the robustness table (`docs/robustness-table.md`), never asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from alsats_widget import local_stack
from alsats_widget.stack import LocalStack
from backend.l402 import format_authorization, parse_challenge
from backend.lightning import LightningNode
from tests.backend.conftest import npy
from tests.digits import digit_pool
from tests.ledger_rows import ledger_rows
from tests.robustness import soak

SESSIONS = soak(50, 50)
ITERATIONS = soak(200, 2000)
PRICE_MSAT = 1000
FEE_LIMIT_MSAT = 10_000  # bob pays alice directly: the fee is 0
CALL_TIMEOUT_S = 300  # one HTTP call, at most
LEARNER = "label_spreading"  # one spread per fit: the cheapest pool learner
OPENING_AT_ONCE = 8  # sessions opening (pool upload, graph) at a time: not timed


class LoadError(Exception):
    """The server answered something other than what pay as you go expects."""


@dataclass
class Served:
    """The backend under load, and where its ledger is."""

    stack: LocalStack
    ledger_url: str
    shape: str  # what the robustness table says of it


@pytest.fixture(params=["one process", "hosted"])
def served(request, tmp_path: Path) -> Iterator[Served]:
    """One web process with its SQLite ledger, or a hosted service: 3 web processes, a
    PostgreSQL ledger, learners on Ray."""
    if request.param == "one process":
        ledger_url, args = f"sqlite:///{tmp_path / 'stack' / 'backend' / 'credits.sqlite'}", ()
        shape = "one web process, SQLite ledger"
    else:
        ledger_url = request.getfixturevalue("postgres_server").new_database("load")
        args = ("--processes", "3", "--learners", "ray", "--ledger", ledger_url)
        shape = "3 web processes, PostgreSQL ledger, learners on Ray"
    with local_stack(tmp_path / "stack", price_msat=PRICE_MSAT, reuse=False, timeout=300,
                     backend_args=args) as started:
        yield Served(started, ledger_url, shape)


@dataclass
class Seen:
    """What the load saw: errors, payments, Idempotency-Keys, paid iterations' times."""

    errors: list[str] = field(default_factory=list)
    payment_hashes: set[str] = field(default_factory=set)
    paid_msat: int = 0
    fees_msat: int = 0
    keys: set[str] = field(default_factory=set)
    latencies_ns: list[int] = field(default_factory=list)


class Load:
    """One HTTP client and bob's node, shared by every session."""

    def __init__(self, http: aiohttp.ClientSession, bob: LightningNode) -> None:
        self.http = http
        self.bob = bob
        self.seen = Seen()

    async def call(self, method: str, path: str, auth: str = "", key: str = "",
                   **kwargs) -> tuple[int, dict, str]:
        """(status, JSON body, WWW-Authenticate); every call carries an Idempotency-Key."""
        headers = {"Idempotency-Key": key or uuid.uuid4().hex, **kwargs.pop("headers", {})}
        if auth:
            headers["Authorization"] = auth
        async with self.http.request(method, path, headers=headers, **kwargs) as response:
            body = await response.json(content_type=None)
            return response.status, body, response.headers.get("WWW-Authenticate", "")

    async def pay(self, answer: dict, challenge: str, session_id: str) -> str:
        """Check a 402 is the one expected (1 iteration of this session at the price),
        pay it with bob, check the preimage; the new Authorization."""
        macaroon, invoice = parse_challenge(challenge)
        got = (answer.get("payment_request"), answer.get("session_id"),
               answer.get("iterations"), answer.get("amount_msat"))
        if got != (invoice, session_id, 1, PRICE_MSAT):
            raise LoadError(f"unexpected challenge {got[1:]}")
        payment = await self.bob.send_payment(invoice, fee_limit_msat=FEE_LIMIT_MSAT)
        if hashlib.sha256(bytes.fromhex(payment.preimage)).hexdigest() != answer["payment_hash"]:
            raise LoadError("the preimage does not open the invoice's payment hash")
        self.seen.payment_hashes.add(answer["payment_hash"])
        self.seen.paid_msat += payment.value_msat
        self.seen.fees_msat += payment.fee_msat
        return format_authorization(macaroon, bytes.fromhex(payment.preimage))


def expect(status: int, wanted: int, what: str, answer: dict) -> None:
    if status != wanted:
        raise LoadError(f"{what}: {status}, expected {wanted}: {str(answer)[:300]}")


class Session:
    """One user paying per label: a pool-mode session and its latest credential."""

    def __init__(self, load: Load, order: np.ndarray, labels: np.ndarray) -> None:
        self.load = load
        self.order = order  # pool indices, in the order they are taught
        self.labels = labels
        self.session_id = ""
        self.auth = ""
        self.taught = 0
        self.last: tuple[str, dict] | None = None  # the last call's key and body

    async def open(self, pool: bytes) -> None:
        """Buy the first iteration with a new session, upload the pool (not timed)."""
        status, answer, challenge = await self.load.call(
            "POST", "/pay/initialize",
            json={"iterations": 1, "mode": "pool", "estimator": LEARNER})
        expect(status, 402, "POST /pay/initialize", answer)
        self.session_id = answer["session_id"]
        self.auth = await self.load.pay(answer, challenge, self.session_id)
        status, answer, _ = await self.load.call(
            "PUT", "/pool", self.auth, data=pool,
            headers={"Content-Type": "application/octet-stream"})
        expect(status, 200, "PUT /pool", answer)

    async def iteration(self) -> None:
        """POST /teach; on the 402, pay and send it again; time it if it paid."""
        index = int(self.order[self.taught])
        request = {"index": index, "label": int(self.labels[index])}
        key = uuid.uuid4().hex
        start = time.perf_counter_ns()
        status, answer, challenge = await self.load.call("POST", "/teach", self.auth, key,
                                                         json=request)
        if self.taught:  # the credential of the iteration before is used up
            expect(status, 402, "POST /teach with a used credential", answer)
            self.auth = await self.load.pay(answer, challenge, self.session_id)
            status, answer, _ = await self.load.call("POST", "/teach", self.auth, key,
                                                     json=request)
        expect(status, 200, "paid POST /teach", answer)
        if self.taught:
            self.load.seen.latencies_ns.append(time.perf_counter_ns() - start)
        self.taught += 1
        self.load.seen.keys.add(key)
        self.last = (key, request)
        if (answer.get("n_labeled"), answer.get("credits_left")) != (self.taught, 0):
            raise LoadError(f"after {self.taught} labels the server says {answer}")

    async def run(self, iterations: int) -> None:
        try:
            for _ in range(iterations):
                await self.iteration()
        except Exception as exc:  # every failure is counted, reported, then asserted
            self.load.seen.errors.append(f"{self.session_id[:8]}: {type(exc).__name__}: {exc}")

    async def replay_and_report(self) -> list[str]:
        """The last call again (same key, same credential): 200 and uncharged (the first
        answer, or the same work again once the server's memory of answers has moved on);
        then GET /session: every label, no credit left."""
        key, request = self.last
        status, answer, _ = await self.load.call("POST", "/teach", self.auth, key, json=request)
        problems = []
        if (status, answer.get("n_labeled"), answer.get("credits_left")) != (200, self.taught, 0):
            problems.append(f"{self.session_id[:8]}: replay answered {status} {answer}")
        status, answer, _ = await self.load.call("GET", "/session", self.auth)
        if (status, answer.get("n_labeled"), answer.get("credits_left")) != (200, self.taught, 0):
            problems.append(f"{self.session_id[:8]}: GET /session {status} {answer}, "
                            f"expected {self.taught} labels")
        return problems


async def run_load(served: Served) -> tuple[list[Session], Seen, float, list[str]]:
    """Open the sessions, run them all at once; (sessions, seen, loop wall s, problems)."""
    stack = served.stack
    images, labels = digit_pool(ITERATIONS)
    pool = images.reshape(len(images), -1)
    body = npy(pool)
    rng = np.random.default_rng(0)
    simnet = stack.data_dir / "backend" / "simnet"
    async with aiohttp.ClientSession(
            base_url=stack.url, connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT_S)) as http, \
            LightningNode.from_polar(stack.network_file, "bob", simnet) as bob, \
            LightningNode.from_polar(stack.network_file, "alice", simnet,
                                     macaroon="readonly") as alice:
        load = Load(http, bob)
        sessions = [Session(load, rng.permutation(len(pool))[:ITERATIONS], labels)
                    for _ in range(SESSIONS)]
        gate = asyncio.Semaphore(OPENING_AT_ONCE)

        async def open_one(session: Session) -> None:
            async with gate:
                await session.open(body)

        alice_before = (await alice.channel_balance()).local_msat
        bob_before = (await bob.channel_balance()).local_msat
        await asyncio.gather(*(open_one(s) for s in sessions))
        start = time.perf_counter()
        await asyncio.gather(*(s.run(ITERATIONS) for s in sessions))
        wall = time.perf_counter() - start
        problems = []
        for s in sessions:
            if s.last is not None:
                problems += await s.replay_and_report()
        alice_gain = (await alice.channel_balance()).local_msat - alice_before
        bob_spent = bob_before - (await bob.channel_balance()).local_msat
        paid, fees = load.seen.paid_msat, load.seen.fees_msat
        if (alice_gain, bob_spent) != (paid, paid + fees) \
                or paid != len(load.seen.payment_hashes) * PRICE_MSAT:
            problems.append(f"alice gained {alice_gain} msat and bob spent {bob_spent}; "
                            f"bob's payments: {paid} msat and {fees} msat of fees")
        problems += ledger_problems(served.ledger_url, sessions, load.seen)
    return sessions, load.seen, wall, problems


def ledger_problems(url: str, sessions: list[Session], seen: Seen) -> list[str]:
    """The server's credit ledger, read only, against what the load paid and taught."""
    per_session = {row["session_id"]: (row["n"], row["used"], row["short"]) for row in
                   ledger_rows(url, "SELECT session_id, COUNT(*) AS n, SUM(used) AS used,"
                               " SUM(CASE WHEN used < iterations THEN 1 ELSE 0 END) AS short"
                               " FROM credentials GROUP BY session_id")}
    hashes = {bytes(row["payment_hash"]).hex()
              for row in ledger_rows(url, "SELECT payment_hash FROM credentials")}
    keys = [row["idempotency_key"]
            for row in ledger_rows(url, "SELECT idempotency_key FROM charged_calls")]
    problems = []
    for s in sessions:
        sold, used, not_in_full = per_session.pop(s.session_id, (0, 0, 0))
        if (sold, used, not_in_full) != (s.taught, s.taught, 0):
            problems.append(f"{s.session_id[:8]}: {sold} credentials sold, {used} credits "
                            f"used, {not_in_full} not used in full; {s.taught} labels taught")
    if per_session:
        problems.append(f"credentials of sessions nobody opened: {sorted(per_session)[:3]}")
    if hashes != seen.payment_hashes:
        problems.append(f"{len(hashes - seen.payment_hashes)} credentials sold and not paid, "
                        f"{len(seen.payment_hashes - hashes)} paid and not on the ledger")
    if len(keys) != len(set(keys)) or set(keys) != seen.keys:
        problems.append(f"{len(keys)} charged calls for {len(set(keys))} Idempotency-Keys; "
                        f"{len(seen.keys)} calls succeeded")
    return problems


def server_log_problems(path: Path) -> list[str]:
    """Lines of the server's log (JSON lines) above info: a failed background fit or a
    crashed handler shows there even when the client got its answer."""
    problems = []
    for line in path.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict) and entry.get("level") in ("debug", "info"):
                continue
        problems.append(f"server log: {line[:300]}")
    return problems


def percentile_ms(latencies_ns: list[int], q: float) -> float:
    return float(np.percentile(latencies_ns, q)) / 1e6 if latencies_ns else float("nan")


@pytest.mark.slow
@pytest.mark.timeout(soak(900, 7200))
def test_many_sessions_pay_as_they_go(served: Served, robustness) -> None:
    sessions, seen, wall, problems = asyncio.run(run_load(served))
    problems += server_log_problems(served.stack.data_dir / "backend.log")
    done = sum(s.taught for s in sessions)
    p50, p99 = percentile_ms(seen.latencies_ns, 50), percentile_ms(seen.latencies_ns, 99)
    consistent = "ledger consistent" if not problems else f"{len(problems)} problems found"
    robustness.record(
        "Load", f"{SESSIONS} sessions × {ITERATIONS} paid iterations, pay as you go; "
        f"{served.shape}",
        f"{len(seen.errors)} errors in {done:,} paid iterations; {done / wall:.0f} "
        f"iterations/s; p50 {p50:.0f} ms, p99 {p99:.0f} ms; {consistent}")
    assert seen.errors == []
    assert done == SESSIONS * ITERATIONS
    assert problems == []
