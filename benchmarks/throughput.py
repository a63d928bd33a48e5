"""Server throughput: many sessions doing paid iterations against one backend at once.

Each run starts one backend as its own process: ``local_stack()``, that is
``alsats-backend --simnet`` in a subprocess on a free loopback port with a fresh data dir,
as a notebook user gets it (the server's event loop, GIL and threads are not shared with
the load; the simnet, alice's and bob's LND, runs inside the server process). This process
is the load: one aiohttp client and bob's ``LightningNode`` (gRPC+TLS) shared by every
session, each session an asyncio task with its own L402 credential and its own pool-mode
session (the server's default estimator and strategy: none is named) on the 10,000 MNIST
test digits, uploaded once as .npy. Opening the sessions (upload, the server's per-pool
work, a first label) is not timed; the run waits until every session's model is fitted.

For each concurrency level n (10 and 50 by default) the first n sessions run two phases:

- ``payg``, pay as you go, the way the widget does it (``AlsatsClient`` with
  ``block_size=1``): each iteration's POST /teach meets a 402 whose challenge is for 1
  iteration, bob pays its invoice, the same POST /teach (same Idempotency-Key) goes again
  with the new credential, then POST /query {"k": 8, the widget's prefetch} names the next
  digit. (A 402 that offers more than 1, the size of the credential used last, is turned
  down and 1 iteration bought with POST /pay/initialize; AlsatsClient now buys it before
  the call instead, leaving no offer open.)
- ``prepaid``: the same loop with a block of the phase's iterations bought just before it
  (POST /pay/initialize {iterations, session_id}, untimed): no payment in the timed loop.

A phase is ``--warmup`` untimed iterations per session, then all n sessions start the
timed loop together, ``--iterations`` each. Timed per iteration: from the first POST
/teach to the query's answer. Throughput: the timed iterations over the wall time from the
common start to the last session's end. The server fits in the background, so a query may
rank with a model that trails the labels: each query's lag (labels_version minus
model_version) is kept, and after the loop the time until every session's model has caught
up (POST /query k=1, one session at a time, until the versions agree); "learned
throughput" counts that time too. The payment overhead of an iteration is the payg p50
minus the prepaid p50 (and their ratio), and the server CPU time per iteration in each.
The phases' order alternates from run to run. All sessions teach true labels.

Checks (a failed one makes the script exit 1 after writing the JSON): every paid POST
/teach answers 200 and every 402 is the one expected (the price, the session's own);
preimages open payment hashes; answers count labels and credits; alice's channel balance
grows in each phase by exactly what bob paid; at the end of a run GET /session has every
label and no credit left, and the server's credit ledger (credits.sqlite, read only) has
one credit used per label, every credential used in full but the offers turned down.
Usage::

    python benchmarks/throughput.py [--iterations N] [--concurrency 10,50] [--runs R]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
import grpc  # noqa: E402
import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from paid_iteration import npy_bytes  # noqa: E402
from pools import load_pool  # noqa: E402
from report import percentile, rounded, table, write_json  # noqa: E402

from alsats_widget import local_stack  # noqa: E402
from alsats_widget.datasets import DatasetError  # noqa: E402
from backend.l402 import format_authorization, parse_challenge  # noqa: E402
from backend.learners import registry  # noqa: E402
from backend.lightning import LightningNode  # noqa: E402
from tests.ledger_rows import ledger_rows  # noqa: E402

try:
    import psutil
except ImportError:  # it is in the test extras; /proc does on Linux without it
    psutil = None

DEFAULT_OUT = REPO / "benchmarks" / "results" / "throughput.json"
MODES = ("payg", "prepaid")
FEE_LIMIT_MSAT = 10_000  # bob pays alice directly: the fee is 0
POOL = "10k"
TIMEOUT_S = 900  # the longest one HTTP call may take before the benchmark gives up
SETUP_CONCURRENCY = 8  # sessions opened (pool uploaded) at a time: setup is not timed
PROBE_S = 0.1  # a GET /healthz every this many seconds during the timed loop
POLL_S = 0.05  # between the queries that wait for a session's model to catch up


class BenchmarkError(Exception):
    """The server answered something the benchmark does not expect; the message says what."""


# -- the load -----------------------------------------------------------------------------


class Load:
    """The client side of one backend: HTTP, bob paying, alice's balance, what was seen."""

    def __init__(self, stack, price_msat: int) -> None:
        self.stack = stack
        self.price_msat = price_msat
        self.http: aiohttp.ClientSession | None = None
        self.bob: LightningNode | None = None
        self.alice: LightningNode | None = None
        self.reset()

    def reset(self) -> None:
        """Start counting a new phase."""
        self.statuses: Counter[str] = Counter()  # "POST /teach 200" -> count
        self.errors: list[str] = []
        self.payments = 0
        self.paid_msat = 0
        self.fees_msat = 0

    async def __aenter__(self) -> Load:
        simnet = self.stack.data_dir / "backend" / "simnet"
        self.http = aiohttp.ClientSession(
            base_url=self.stack.url, connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=TIMEOUT_S))
        self.bob = LightningNode.from_polar(self.stack.network_file, "bob", simnet)
        self.alice = LightningNode.from_polar(self.stack.network_file, "alice", simnet,
                                              macaroon="readonly")
        return self

    async def __aexit__(self, *exc_info) -> None:
        for node in (self.bob, self.alice):
            if node is not None:
                await node.close()
        if self.http is not None:
            await self.http.close()

    async def call(self, method: str, path: str, auth: str | None = None,
                   key: str | None = None, **kwargs) -> tuple[int, dict, str]:
        """One API call as AlsatsClient makes it (an Idempotency-Key on every call);
        (status, JSON body, WWW-Authenticate)."""
        headers = {"Idempotency-Key": key or uuid.uuid4().hex, **kwargs.pop("headers", {})}
        if auth:
            headers["Authorization"] = auth
        async with self.http.request(method, path, headers=headers, **kwargs) as response:
            text = await response.text()
            try:
                body = json.loads(text)
            except ValueError:
                body = {"not_json": text[:300]}
            self.statuses[f"{method} {path} {response.status}"] += 1
            return response.status, body, response.headers.get("WWW-Authenticate", "")

    async def pay(self, body: dict, www_authenticate: str, session_id: str,
                  iterations: int) -> str:
        """Check a 402 challenge as the client does, pay it with bob; the Authorization."""
        macaroon, invoice = parse_challenge(www_authenticate)
        expected = (invoice, session_id, iterations, iterations * self.price_msat)
        got = (body.get("payment_request"), body.get("session_id"), body.get("iterations"),
               body.get("amount_msat"))
        if got != expected:
            raise BenchmarkError(f"unexpected challenge: {got[1:]}, expected {expected[1:]}")
        payment = await self.bob.send_payment(invoice, fee_limit_msat=FEE_LIMIT_MSAT)
        if hashlib.sha256(bytes.fromhex(payment.preimage)).hexdigest() != body["payment_hash"]:
            raise BenchmarkError("the preimage does not open the invoice's payment hash")
        self.payments += 1
        self.paid_msat += payment.value_msat
        self.fees_msat += payment.fee_msat
        return format_authorization(macaroon, bytes.fromhex(payment.preimage))


class Session:
    """One user: a pool-mode session, its credential, the digit it labels next."""

    def __init__(self, load: Load, images: np.ndarray, labels: np.ndarray,
                 query_k: int) -> None:
        self.load = load
        self.images = images
        self.true = labels
        self.query_k = query_k
        self.session_id = ""
        self.settings: dict = {}
        self.auth = ""
        self.credits = 0  # left on the credential in use
        self.n_labeled = 0
        self.turned_down = 0  # 402 offers not paid (a block of another size)
        self.next_index = -1
        self.lag = 0  # labels the model that ranked the last query had not learned

    async def open(self, initial: np.ndarray, body: bytes) -> None:
        """Buy the first credits, upload the pool, teach ``initial`` in one call (or one
        label with the single credit), query."""
        load = self.load
        status, answer, challenge = await load.call("POST", "/pay/initialize", json={
            "iterations": max(len(initial), 1), "mode": "pool"})
        expect(status, 402, "POST /pay/initialize", answer)
        self.session_id, self.settings = answer["session_id"], answer["settings"]
        self.auth = await load.pay(answer, challenge, self.session_id, max(len(initial), 1))
        self.credits = max(len(initial), 1)
        status, answer, _ = await load.call(
            "PUT", "/pool", self.auth, data=body,
            headers={"Content-Type": "application/octet-stream"})
        expect(status, 200, "PUT /pool", answer)
        if answer["n_pool"] != len(self.images):
            raise BenchmarkError(f"the pool came back as {answer}")
        await self.query()
        if len(initial):
            status, answer, _ = await load.call("POST", "/teach", self.auth, json={
                "indices": [int(i) for i in initial],
                "labels": [int(self.true[i]) for i in initial]})
            expect(status, 200, "POST /teach (many)", answer)
            self.n_labeled += len(initial)
            self.credits -= len(initial)
            self.check(answer)
            await self.query()
        else:
            await self.iteration()  # uses the one credit

    def check(self, answer: dict) -> None:
        if answer.get("n_labeled") != self.n_labeled \
                or answer.get("credits_left") != self.credits:
            raise BenchmarkError(f"expected {self.n_labeled} labels and {self.credits} "
                                 f"credits left, got {answer}")

    async def buy(self, iterations: int) -> None:
        """Buy a block for this session now (POST /pay/initialize with session_id)."""
        load = self.load
        status, answer, challenge = await load.call(
            "POST", "/pay/initialize",
            json={"iterations": iterations, "session_id": self.session_id})
        expect(status, 402, f"POST /pay/initialize ({iterations} more)", answer)
        self.auth = await load.pay(answer, challenge, self.session_id, iterations)
        self.credits = iterations

    async def query(self, k: int | None = None) -> dict:
        status, answer, _ = await self.load.call("POST", "/query", self.auth,
                                                 json={"k": k or self.query_k})
        expect(status, 200, "POST /query", answer)
        self.next_index = answer["samples"][0]["index"]
        self.lag = answer.get("labels_version", 0) - answer.get("model_version", 0)
        return answer

    async def caught_up(self, timeout: float) -> float:
        """Wait until the newest model has learned every label; the seconds it took."""
        start = time.perf_counter()
        while True:
            answer = await self.query(1)
            if answer.get("labels_version", 0) == answer.get("model_version", 0):
                return time.perf_counter() - start
            if time.perf_counter() - start > timeout:
                raise BenchmarkError(f"the model still trails the labels after {timeout}s: "
                                     f"{answer.get('model_version')} of "
                                     f"{answer.get('labels_version')}")
            await asyncio.sleep(POLL_S)

    async def iteration(self) -> dict[str, int]:
        """Teach the digit (paying first if the server asks), then query: timed by part."""
        load, index = self.load, self.next_index
        teach = {"index": index, "label": int(self.true[index])}
        key = uuid.uuid4().hex  # AlsatsClient repeats a call's key after paying
        t0 = time.perf_counter_ns()
        status, answer, challenge = await load.call("POST", "/teach", self.auth, key, json=teach)
        paid = status == 402
        tp = t0
        if paid:
            if self.credits != 0:
                raise BenchmarkError(f"a 402 with {self.credits} credits left")
            if answer.get("iterations") == 1:
                self.auth = await load.pay(answer, challenge, self.session_id, 1)
                self.credits = 1
            else:  # the size of the credential used last: buy this client's own
                self.turned_down += 1
                await self.buy(1)
            tp = time.perf_counter_ns()
            status, answer, _ = await load.call("POST", "/teach", self.auth, key, json=teach)
        t1 = time.perf_counter_ns()
        expect(status, 200, "POST /teach", answer)
        self.n_labeled += 1
        self.credits -= 1
        self.check(answer)
        await self.query()
        t2 = time.perf_counter_ns()
        timing = {"iteration": t2 - t0, "teach": t1 - tp, "query": t2 - t1, "lag": self.lag}
        return {**timing, "payment": tp - t0} if paid else timing

    async def finish(self) -> None:
        """GET /session must have every label and no credit left; then DELETE it."""
        status, answer, _ = await self.load.call("GET", "/session", self.auth)
        expect(status, 200, "GET /session", answer)
        if (answer["n_labeled"], answer["credits_left"]) != (self.n_labeled, 0):
            raise BenchmarkError(f"GET /session: {answer['n_labeled']} labels and "
                                 f"{answer['credits_left']} credits left, expected "
                                 f"{self.n_labeled} and 0")
        status, answer, _ = await self.load.call("DELETE", "/session", self.auth)
        expect(status, 200, "DELETE /session", answer)


def expect(status: int, wanted: int, what: str, answer: dict) -> None:
    if status != wanted:
        raise BenchmarkError(f"{what}: {status}, expected {wanted}: {answer}")


def ledger_check(ledger_url: str, sessions: list[Session]) -> dict:
    """The server's credit ledger, read only: per session, one credit used per label
    taught, every credential used at all used in full, and the only credentials never used
    the offers the client turned down. ``ledger_url`` is the server's --ledger (sqlite:///
    or postgresql://): the SQL is what both stores accept (CASE WHEN, not SUM(boolean))."""
    rows = {row["session_id"]: tuple(int(row[key] or 0) for key in
                                     ("credentials", "used", "msat", "partly", "unused"))
            for row in ledger_rows(
                ledger_url,
                "SELECT session_id,"
                " SUM(CASE WHEN used > 0 THEN 1 ELSE 0 END) AS credentials,"
                " SUM(used) AS used,"
                " SUM(CASE WHEN used > 0 THEN amount_msat ELSE 0 END) AS msat,"
                " SUM(CASE WHEN used > 0 AND used < iterations THEN 1 ELSE 0 END) AS partly,"
                " SUM(CASE WHEN used = 0 THEN 1 ELSE 0 END) AS unused"
                " FROM credentials GROUP BY session_id")}
    bad = []
    credentials = used = msat = 0
    for s in sessions:
        count, spent, amount, partly, unused = rows.get(s.session_id, (0,) * 5)
        credentials, used, msat = credentials + count, used + spent, msat + amount
        if spent != s.n_labeled or partly or unused != s.turned_down:
            bad.append({"session": s.session_id[:8], "used": spent, "labels": s.n_labeled,
                        "not_used_in_full": partly, "never_used": unused,
                        "turned_down": s.turned_down})
    return {"credentials_used": credentials, "credits_used": used, "msat_of_used": msat,
            "sessions_off": bad[:5], "ok": not bad}


# -- one phase: n sessions, one way of paying ----------------------------------------------


async def phase(load: Load, server_cpu_seconds: Callable[[], float],
                sessions: list[Session], mode: str, args: argparse.Namespace,
                progress: Callable[[str], None]) -> dict:
    """n sessions in one mode; ``server_cpu_seconds`` reads the CPU time (user + system)
    the server's processes have used so far: the caller says which processes count."""
    load.reset()
    n = len(sessions)
    labels_before = sum(s.n_labeled for s in sessions)
    alice_before = (await load.alice.channel_balance()).local_msat
    bob_before = (await load.bob.channel_balance()).local_msat
    if mode == "prepaid":  # the block, bought beforehand
        await asyncio.gather(*(s.buy(args.warmup + args.iterations) for s in sessions))

    async def warm(s: Session) -> None:
        for _ in range(args.warmup):
            await s.iteration()

    await asyncio.gather(*(warm(s) for s in sessions))
    for s in sessions:  # start with every model caught up
        await s.caught_up(TIMEOUT_S)
    progress(f"{n:>3} sessions, {mode:<7}: timing {n * args.iterations} iterations")

    samples: dict[str, list[int]] = {"iteration": [], "payment": [], "teach": [], "query": [],
                                     "lag": []}
    paid = 0

    async def loop(s: Session) -> None:
        nonlocal paid
        for _ in range(args.iterations):
            try:
                timing = await s.iteration()
            except (BenchmarkError, aiohttp.ClientError, asyncio.TimeoutError, KeyError,
                    ValueError) as exc:
                load.errors.append(f"{type(exc).__name__}: {str(exc)[:300]}")
                return
            paid += "payment" in timing
            for key, value in timing.items():
                samples[key].append(value)

    healthz: list[int] = []
    running = True

    async def probe() -> None:
        """GET /healthz every PROBE_S: how long the event loop keeps a free call waiting."""
        while running:
            t0 = time.perf_counter_ns()
            status, _, _ = await load.call("GET", "/healthz")
            healthz.append(time.perf_counter_ns() - t0)
            if status != 200:
                load.errors.append(f"GET /healthz answered {status}")
            await asyncio.sleep(PROBE_S)

    machine_before = machine_cpu_seconds()
    cpu_before, client_before = server_cpu_seconds(), time.process_time()
    start = time.perf_counter()
    prober = asyncio.create_task(probe())
    await asyncio.gather(*(loop(s) for s in sessions))
    wall = time.perf_counter() - start
    server_cpu = server_cpu_seconds() - cpu_before
    client_cpu = time.process_time() - client_before
    machine_after = machine_cpu_seconds()
    running = False
    await prober
    for s in sessions:  # the background fits still owed
        await s.caught_up(TIMEOUT_S)
    learned_wall = time.perf_counter() - start
    server_cpu_learned = server_cpu_seconds() - cpu_before
    others = None if machine_before is None or machine_after is None \
        else max(machine_after - machine_before - server_cpu - client_cpu, 0.0)
    done = len(samples["iteration"])
    if not done:
        raise BenchmarkError(f"{n} sessions, {mode}: no iteration finished: {load.errors[:3]}")

    alice_gain = (await load.alice.channel_balance()).local_msat - alice_before
    bob_spent = bob_before - (await load.bob.channel_balance()).local_msat
    taught = sum(s.n_labeled for s in sessions) - labels_before
    expected_msat = taught * load.price_msat
    per_session = args.warmup + args.iterations
    teach_200, teach_402 = load.statuses["POST /teach 200"], load.statuses["POST /teach 402"]
    other_teach = sum(c for k, c in load.statuses.items()
                      if k.startswith("POST /teach ") and not k.endswith((" 200", " 402")))
    checks = {
        "iterations_done": done, "iterations_expected": n * args.iterations,
        "errors": load.errors[:10], "errors_total": len(load.errors),
        "teach_200": teach_200, "teach_200_expected": n * per_session,
        "teach_402": teach_402,
        "teach_402_expected": n * per_session if mode == "payg" else 0,
        "teach_other_statuses": other_teach,
        "payments": load.payments, "paid_msat": load.paid_msat, "fees_msat": load.fees_msat,
        "expected_msat": expected_msat,
        "alice_channel_gain_msat": alice_gain, "bob_channel_spent_msat": bob_spent,
        "statuses": dict(sorted(load.statuses.items())),
    }
    checks["ok"] = (
        done == n * args.iterations and not load.errors and taught == n * per_session
        and teach_200 == n * per_session and teach_402 == checks["teach_402_expected"]
        and other_teach == 0 and load.paid_msat == expected_msat == alice_gain
        and bob_spent == load.paid_msat + load.fees_msat
    )
    figures = {f"{key}_{q}_ms": percentile(values, p) / 1e6
               for key, values in samples.items() if values and key != "lag"
               for q, p in (("p50", 50), ("p95", 95), ("p99", 99))}
    return {
        "sessions": n, "mode": mode, "wall_s": wall, "iterations": done,
        "iterations_per_s": done / wall, "paid_in_loop": paid,
        "caught_up_s": learned_wall - wall, "learned_per_s": done / learned_wall,
        "lag_p50": percentile(samples["lag"], 50), "lag_max": max(samples["lag"]),
        "server_cpu_s": server_cpu, "server_cpu_ms_per_iteration": server_cpu * 1e3 / done,
        "server_cpu_learned_ms_per_iteration": server_cpu_learned * 1e3 / done,
        "server_cores_busy": server_cpu / wall, "client_cores_busy": client_cpu / wall,
        "other_processes_cores_busy": None if others is None else others / wall,
        "healthz_p50_ms": percentile(healthz, 50) / 1e6,
        "healthz_p99_ms": percentile(healthz, 99) / 1e6, "healthz_probes": len(healthz),
        **figures, "checks": checks,
    }


# -- a run: one backend, every level and mode -------------------------------------------------


async def one_run(args: argparse.Namespace, r: int, images: np.ndarray, labels: np.ndarray,
                  body: bytes, progress: Callable[[str], None]) -> dict:
    with tempfile.TemporaryDirectory(prefix="alsats-throughput-") as tmp, \
            local_stack(Path(tmp) / "stack", price_msat=args.price_msat, reuse=False) as stack:
        pid = stack.process.pid
        return await drive(stack, f"sqlite:///{stack.data_dir / 'backend' / 'credits.sqlite'}",
                           lambda: cpu_seconds(pid), lambda field: proc_status_mib(pid, field),
                           args, r, images, labels, body, progress)


async def drive(stack, ledger_url: str, server_cpu_seconds: Callable[[], float],
                server_mib: Callable[[str], float | None], args: argparse.Namespace, r: int,
                images: np.ndarray, labels: np.ndarray, body: bytes,
                progress: Callable[[str], None]) -> dict:
    """Every level and mode against a backend already serving. ``stack`` is what Load
    reads (url, data_dir with the simnet in data_dir/backend/simnet, network_file);
    ``ledger_url`` its --ledger; ``server_cpu_seconds`` and ``server_mib`` (a
    /proc/<pid>/status field) read the processes that count as the server, so that
    another deployment (hosted_throughput.py) can say which those are."""
    initial = np.random.default_rng(args.seed).choice(len(images), args.initial_labels,
                                                      replace=False)
    # alternate the order of the phases from run to run, so drift favours neither
    modes = MODES if r % 2 else MODES[::-1]
    phases = []
    async with Load(stack, args.price_msat) as load:
        sessions = [Session(load, images, labels, args.query_k)
                    for _ in range(max(args.concurrency))]
        gate = asyncio.Semaphore(SETUP_CONCURRENCY)

        async def open_one(s: Session) -> None:
            async with gate:
                await s.open(initial, body)

        start, cpu_before = time.perf_counter(), server_cpu_seconds()
        await asyncio.gather(*(open_one(s) for s in sessions))
        for s in sessions:
            await s.caught_up(TIMEOUT_S)
        setup = {"sessions": len(sessions), "wall_s": time.perf_counter() - start,
                 "server_cpu_s": server_cpu_seconds() - cpu_before,
                 "rss_mib": server_mib("VmRSS")}
        setup["server_cpu_s_per_session"] = setup["server_cpu_s"] / len(sessions)
        progress(f"{len(sessions)} sessions open, models fitted, in "
                 f"{setup['wall_s']:.1f}s ({setup['server_cpu_s_per_session']:.2f} s "
                 f"of server CPU each: upload, pool graph, first fit); "
                 f"estimator {sessions[0].settings.get('estimator')}")
        for n in args.concurrency:
            for mode in modes:
                result = await phase(load, server_cpu_seconds, sessions[:n], mode, args,
                                     progress)
                phases.append(result)
                progress(f"{n:>3} sessions, {mode:<7}: "
                         f"{result['iterations_per_s']:6.2f} it/s, p50 "
                         f"{result['iteration_p50_ms']:7.1f} ms, p99 "
                         f"{result['iteration_p99_ms']:7.1f} ms, lag <= "
                         f"{result['lag_max']} labels, caught up after "
                         f"{result['caught_up_s']:.1f}s; server "
                         f"{result['server_cores_busy']:.2f} cores busy, checks "
                         f"{'ok' if result['checks']['ok'] else 'FAILED'}")
        finish_errors = []
        ledger = ledger_check(ledger_url, sessions)
        for s in sessions:
            try:
                await s.finish()
            except BenchmarkError as exc:
                finish_errors.append(str(exc)[:300])
        _, health, _ = await load.call("GET", "/healthz")
    peak_rss = server_mib("VmHWM")
    end_checks = {"ledger": ledger, "finish_errors": finish_errors[:5],
                  "live_sessions_after_close": health["sessions"]}
    end_checks["ok"] = ledger["ok"] and not finish_errors and health["sessions"] == 0
    return {"setup": setup, "phases": phases, "end_checks": end_checks,
            "estimator": sessions[0].settings.get("estimator"),
            "strategy": sessions[0].settings.get("strategy"),
            "server_peak_rss_mib": peak_rss}


def proc_status_mib(pid: int, field: str) -> float | None:
    """A memory field of /proc/<pid>/status (VmRSS, VmHWM) in MiB; None if unreadable."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return None


def machine_cpu_seconds() -> float | None:
    """CPU time all cores of the machine have spent busy so far (Linux), else None."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # guest time is in user


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    if psutil is not None:
        times = psutil.Process(pid).cpu_times()
        return times.user + times.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- reporting ----------------------------------------------------------------------------------


def flatten(run: dict) -> dict[str, float]:
    out: dict[str, float] = {"setup_server_cpu_s_per_session":
                             run["setup"]["server_cpu_s_per_session"]}
    by = {(p["sessions"], p["mode"]): p for p in run["phases"]}
    for (n, mode), p in by.items():
        out[f"c{n}_{mode}_ips"] = p["iterations_per_s"]
        for key in ("iteration_p50_ms", "iteration_p99_ms", "teach_p50_ms", "query_p50_ms",
                    "learned_per_s", "caught_up_s", "lag_p50", "lag_max",
                    "server_cpu_ms_per_iteration", "server_cpu_learned_ms_per_iteration",
                    "server_cores_busy", "client_cores_busy", "other_processes_cores_busy",
                    "healthz_p50_ms", "healthz_p99_ms"):
            if p.get(key) is not None:
                out[f"c{n}_{mode}_{key}"] = p[key]
        if mode == "payg":
            out[f"c{n}_payg_payment_p50_ms"] = p["payment_p50_ms"]
            out[f"c{n}_payg_payment_p99_ms"] = p["payment_p99_ms"]
    for n in {n for n, _ in by}:
        if (n, "payg") in by and (n, "prepaid") in by:
            payg, pre = by[(n, "payg")], by[(n, "prepaid")]
            out[f"c{n}_overhead_p50_ms"] = payg["iteration_p50_ms"] - pre["iteration_p50_ms"]
            out[f"c{n}_ratio_p50"] = payg["iteration_p50_ms"] / pre["iteration_p50_ms"]
            out[f"c{n}_ips_ratio"] = pre["iterations_per_s"] / payg["iterations_per_s"]
            out[f"c{n}_payment_server_cpu_ms"] = (
                payg["server_cpu_learned_ms_per_iteration"]
                - pre["server_cpu_learned_ms_per_iteration"])
    return out


def figure_rows(levels: list[int], query_k: int) -> list[tuple[str, str, str]]:
    rows = [("setup_server_cpu_s_per_session", "opening a session: server CPU", "s")]
    for n in levels:
        rows += [
            (f"c{n}_payg_ips", f"{n} sessions, pay as you go: throughput", "it/s"),
            (f"c{n}_prepaid_ips", f"{n} sessions, prepaid: throughput", "it/s"),
            (f"c{n}_payg_learned_per_s", "  pay as you go: learned throughput", "it/s"),
            (f"c{n}_prepaid_learned_per_s", "  prepaid: learned throughput", "it/s"),
            (f"c{n}_payg_iteration_p50_ms", "  pay as you go: iteration p50", "ms"),
            (f"c{n}_payg_iteration_p99_ms", "  pay as you go: iteration p99", "ms"),
            (f"c{n}_prepaid_iteration_p50_ms", "  prepaid: iteration p50", "ms"),
            (f"c{n}_prepaid_iteration_p99_ms", "  prepaid: iteration p99", "ms"),
            (f"c{n}_overhead_p50_ms", "  payment overhead (p50 payg - prepaid)", "ms"),
            (f"c{n}_ratio_p50", "  p50 payg / p50 prepaid", "x"),
            (f"c{n}_ips_ratio", "  throughput prepaid / payg", "x"),
            (f"c{n}_payg_payment_p50_ms", "  payg: 402 + bob pays, p50", "ms"),
            (f"c{n}_payg_payment_p99_ms", "  payg: 402 + bob pays, p99", "ms"),
            (f"c{n}_payg_teach_p50_ms", "  payg: paid POST /teach, p50", "ms"),
            (f"c{n}_prepaid_teach_p50_ms", "  prepaid: POST /teach, p50", "ms"),
            (f"c{n}_prepaid_query_p50_ms", f"  prepaid: POST /query k={query_k}, p50", "ms"),
            (f"c{n}_payg_lag_p50", "  payg: labels a ranking trailed, p50", "labels"),
            (f"c{n}_payg_lag_max", "  payg: most labels a ranking trailed", "labels"),
            (f"c{n}_payg_caught_up_s", "  payg: models caught up after the loop", "s"),
            (f"c{n}_payg_server_cpu_learned_ms_per_iteration",
             "  payg: server CPU per iteration", "ms"),
            (f"c{n}_prepaid_server_cpu_learned_ms_per_iteration",
             "  prepaid: server CPU per iteration", "ms"),
            (f"c{n}_payment_server_cpu_ms", "  payment: server CPU/iteration, payg-prep",
             "ms"),
            (f"c{n}_payg_server_cores_busy", "  payg: server process, cores busy", "cores"),
            (f"c{n}_payg_client_cores_busy", "  payg: load (this process), cores busy",
             "cores"),
            (f"c{n}_payg_other_processes_cores_busy", "  payg: other processes, cores busy",
             "cores"),
            (f"c{n}_payg_healthz_p50_ms", "  payg: GET /healthz meanwhile, p50", "ms"),
            (f"c{n}_payg_healthz_p99_ms", "  payg: GET /healthz meanwhile, p99", "ms"),
        ]
    return rows


def registry_default() -> str:
    """The pool-mode default the learner registry names (DEFAULT_POOL_ESTIMATOR where it
    has one, else DEFAULT_ESTIMATOR), for the record beside what the server reported."""
    return getattr(registry, "DEFAULT_POOL_ESTIMATOR", registry.DEFAULT_ESTIMATOR)


def git_state() -> dict:
    """The commit, whether backend/ differs from it, and a hash of backend/'s sources."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "backend").rglob("*.py")):
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())

    def run(*cmd: str) -> str:
        try:
            return subprocess.run(["git", *cmd], cwd=REPO, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": run("rev-parse", "HEAD"),
            "backend_uncommitted_changes": bool(run("status", "--porcelain", "backend")),
            "backend_sources_sha256": digest.hexdigest()}


def environment() -> dict:
    return {
        "python": sys.version.split()[0], "implementation": platform.python_implementation(),
        "platform": platform.platform(), "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "numpy": np.__version__, "scikit-learn": sklearn.__version__,
        "aiohttp": aiohttp.__version__, "grpcio": grpc.__version__,
        "psutil": psutil.__version__ if psutil else None, "git": git_state(),
    }


def parse_levels(text: str) -> list[int]:
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("levels must be positive integers")
    return levels


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = build_parser(__doc__.split("\n\n")[0], [10, 50], DEFAULT_OUT)
    return check_args(parser, parser.parse_args(argv))


def build_parser(description: str, levels: list[int], out: Path) -> argparse.ArgumentParser:
    """The options of a load like this one's (hosted_throughput.py adds its own)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--concurrency", type=parse_levels, default=levels,
                        help="numbers of concurrent sessions, comma-separated "
                             f"({','.join(map(str, levels))})")
    parser.add_argument("--iterations", type=int, default=20,
                        help="timed iterations per session, phase and run (20)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed iterations per session and phase before the timed "
                             "loop (1; at least 1: a 402 offer turned down lands there)")
    parser.add_argument("--initial-labels", type=int, default=0,
                        help="true labels of seeded random digits each session is taught in "
                             "one paid call before its first iteration (0: from scratch, as "
                             "a new widget starts)")
    parser.add_argument("--query-k", type=int, default=8,
                        help="k of each POST /query (8, the widget's prefetch)")
    parser.add_argument("--runs", type=int, default=3,
                        help="runs, each on a fresh backend and sessions (3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial labels (0)")
    parser.add_argument("--price-msat", type=int, default=1000,
                        help="price of one iteration (1000 msat, the backend's default)")
    parser.add_argument("--out", type=Path, default=out,
                        help=f"where the JSON goes ({out.relative_to(REPO)})")
    return parser


def check_args(parser: argparse.ArgumentParser,
               args: argparse.Namespace) -> argparse.Namespace:
    """Refuse what cannot run (parser.error exits 2); note fewer than 3 runs."""
    for name in ("iterations", "runs", "warmup", "query_k", "price_msat"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.initial_labels < 0:
        parser.error("--initial-labels must not be negative")
    # the first sessions take part in every phase and keep their labels
    most = max(args.initial_labels, 1) + 2 * len(args.concurrency) * (args.warmup
                                                                      + args.iterations)
    if most + args.query_k > 10_000:
        parser.error(f"{most} labels per session: too many for the 10,000-digit pool")
    if args.runs < 3:
        print(f"note: {args.runs} run(s); medians are meant to be taken over 3 or more",
              file=sys.stderr)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        digits = load_pool(POOL)
    except (DatasetError, OSError) as exc:
        print(f"throughput: {exc}", file=sys.stderr)
        return 2
    images, labels = digits.images, digits.labels
    source = digits.source
    body = npy_bytes(images)

    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    progress(f"pool: {len(images)} digits ({source}); levels {args.concurrency}, "
             f"{args.iterations} timed iterations per session")
    started = time.perf_counter()
    runs, per_run = [], []
    for r in range(1, args.runs + 1):
        run_start = time.perf_counter()

        def run_progress(text: str, r: int = r) -> None:
            progress(f"run {r}/{args.runs}: {text}")

        run = asyncio.run(one_run(args, r, images, labels, body, run_progress))
        runs.append(run)
        per_run.append(flatten(run))
        run_progress(f"done in {time.perf_counter() - run_start:.1f}s")
    rows = figure_rows(args.concurrency, args.query_k)
    medians = {key: statistics.median(f[key] for f in per_run)
               for key, _, _ in rows if all(key in f for f in per_run)}
    checks_ok = all(p["checks"]["ok"] for run in runs for p in run["phases"]) \
        and all(run["end_checks"]["ok"] for run in runs)
    estimators = sorted({run["estimator"] for run in runs})
    report = rounded({
        "benchmark": "throughput",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": time.perf_counter() - started,
        "parameters": {
            "runs": args.runs, "concurrency": args.concurrency,
            "iterations_per_session": args.iterations, "warmup_per_session": args.warmup,
            "initial_labels": args.initial_labels, "initial_labels_seed": args.seed,
            "query_k": args.query_k, "price_msat": args.price_msat,
            "fee_limit_msat": FEE_LIMIT_MSAT,
            "pool": f"{len(images)} digits, uint8 {tuple(images.shape)}, {source}, "
                    "uploaded once per session as .npy (untimed)",
            "estimator": estimators, "estimator_note": "the server's default (no estimator "
            "named at POST /pay/initialize), as its 402 answer's settings report it",
            "registry_default_estimator": registry_default(),
            "strategy": sorted({run["strategy"] for run in runs}),
            "server": "local_stack(): alsats-backend --simnet in a subprocess (its default "
                      "learner threads, threadpool_limits(1)), fresh temp data dir, "
                      "loopback; the simnet (alice's and bob's LND) runs in that process",
            "client": "this process: one aiohttp ClientSession (keep-alive, no connection "
                      "limit) and bob's LightningNode over gRPC+TLS, one asyncio task per "
                      "session",
            "sessions": "max(concurrency) sessions opened per run (untimed: 1 paid credit or "
                        "the initial labels' block, PUT /pool, a first label or the batch, "
                        "then waiting until every model is fitted); level n uses the first "
                        "n of them, so they carry their labels from phase to phase",
            "payg": "per iteration POST /teach -> 402 (a challenge for 1), bob pays, "
                    "POST /teach again (same Idempotency-Key) -> 200, POST /query; a 402 "
                    "offering another size is turned down and 1 bought with "
                    "POST /pay/initialize {iterations: 1, session_id}, as AlsatsClient does",
            "prepaid": "a block of warmup + iterations bought per session just before the "
                       "phase (untimed); per iteration POST /teach -> 200, POST /query",
            "timed": "iteration: first POST /teach to the query's answer; payment: the 402 "
                     "teach + paying (+ the explicit purchase if the offer was turned "
                     "down); teach: the POST /teach that answered 200; throughput: timed "
                     "iterations over wall time from the common start to the last session's "
                     "end; learned throughput: the same over the time until every "
                     "session's model had caught up after the loop (polled with POST /query "
                     "k=1, one session at a time); lag: labels_version - model_version of "
                     "each query in the loop",
            "server_cpu": "user + system time of the server process from the timed loop's "
                          "start until the models caught up, per timed iteration (the "
                          "catch-up polls included)",
            "order": "per run: for each level, payg then prepaid (odd runs) or prepaid then "
                     "payg (even runs); every phase first waits until every model has "
                     "learned every label",
        },
        "environment": environment(),
        "median": medians,
        "checks_ok": checks_ok,
        "runs": [{"figures": f, "detail": run} for f, run in zip(per_run, runs, strict=True)],
    })
    print(f"estimator: {', '.join(estimators)} (the server's default for pool mode; the "
          f"learner registry's default here: {registry_default()})")
    print(table(rows, report["median"], [r["figures"] for r in report["runs"]], args.runs))
    print(f"\nchecks (200s, 402s, payments, ledger, balances): "
          f"{'all ok' if checks_ok else 'FAILED, see the JSON'}")
    write_json(args.out, report)
    return 0 if checks_ok else 1


if __name__ == "__main__":
    sys.exit(main())
