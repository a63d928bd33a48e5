"""Hosted throughput: throughput.py's load against alsats deployed as a host runs it.

Each deployment is one ``alsats-backend`` this script starts itself, in a fresh temp dir,
the way docs/guides/hosting.md runs a hosted alsats, with the simnet (alice's and bob's
LND) in a process of its own:

1. ``python -m backend.lightning.simnet.cli --network NET --data-dir D/backend/simnet
   --quiet``, waited for until it prints "simnet ready" (NET: a copy of the repository's
   polar-network.json with free loopback ports);
2. ``python -m backend.cli --network NET --node alice --lnd-data-dir D/backend/simnet
   --data-dir D/backend --port P --price-msat PRICE --processes K --learners L --ledger
   URL --no-access-log`` (no --simnet; no line logged per request, as behind nginx in
   docs/guides/hosting.md), waited for until GET /healthz answers 200 and K web processes
   each logged "Running on" (its JSON log lines carry their pid).

The deployments (``--deployments``, all six by default)::

    1p-sqlite-local      1 web process, SQLite ledger, learners in the web process
    1p-postgresql-local  the same with a PostgreSQL ledger
    1p-sqlite-ray        1 web process under the supervisor, learners as Ray actors
    1p-postgresql-ray
    2p-sqlite-ray        2 web processes on one port (SO_REUSEPORT) under the supervisor
    2p-postgresql-ray    (more than 1 needs Ray: the server refuses local learners)

``1p-sqlite-local`` is the baseline: today's default, but with the simnet outside the
server. PostgreSQL is one throwaway server (tests/postgres.py: Debian's initdb and
postgres on a Unix socket, fsync on) for the whole benchmark, with a new database per
deployment and run; SQLite is ``sqlite:///D/backend/credits.sqlite``.

Against each, throughput.py's load, unchanged (its Load, Session and phase; see its
docstring): ``--concurrency`` sessions (50) on the 10,000 MNIST test digits, each phase
``--warmup`` untimed then ``--iterations`` timed iterations per session, pay as you go
(each iteration a 402, bob pays, the teach again, the query) and prepaid (a block bought
before the phase), their order alternating from run to run. One aiohttp client with
keep-alive and no connection limit: with 2 web processes the kernel spreads its
connections over both. Per deployment and mode: iterations/s (timed iterations over the
wall time from the common start to the last session's end), p50 and p99 of an iteration
(first POST /teach to the query's answer), and the server CPU per iteration.

Server CPU is the user + system time (psutil) of the web processes only: the backend
process itself for ``1p-*-local`` (there is no supervisor then), else the supervisor's
children whose command line holds "spawn_main". It never counts the simnet (the Lightning
node), Ray's own processes (the Ray client inside each web process does count), the
supervisor or this load; with Ray learners the fits run in Ray's actor processes, so it
excludes them too, and with local learners it includes them.
``server_cpu_ms_per_iteration`` is that CPU during the timed loop over its iterations
(``..._learned_...``: until every model had caught up, the catch-up polls included).

"The server's own CPU per paid iteration" (no fits, no Lightning node) is the prepaid
figure on the Ray deployments; the payg figure beside it adds what the payment costs the
server (the 402, the invoice asked of alice's node, the paid call again). Each
deployment's prepaid iterations/s is also divided by the baseline's measured in the same
run (the deployments' order rotates from run to run, so drift favours none); the report
gives medians over ``--runs`` runs. The issue's goals are reported, never asserted: that
CPU at 1 ms or less; at 50 prepaid sessions, 300 iterations/s or more with p99 at 250 ms
or less.

Checks (a failed one makes the script exit 1 after writing the JSON): every check of
throughput.py (200s, 402s, preimages, alice's balance, GET /session, the credit ledger,
read from whichever store the deployment used), every session closed in the ledger (GET
/healthz's count of live sessions is one web process's, so it is judged with 1 only),
that every deployment started, and that the web processes that served at the start
served to the end (none died and restarted).
Usage::

    python benchmarks/hosted_throughput.py [--concurrency 50] [--iterations 20] [--runs 3]
        [--deployments 1p-sqlite-local,2p-postgresql-ray]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(REPO))
BENCHMARKS = Path(__file__).resolve().parent
if str(BENCHMARKS) not in sys.path:  # throughput.py and report.py beside this file
    sys.path.insert(0, str(BENCHMARKS))

import numpy as np  # noqa: E402
import psutil  # noqa: E402
import throughput  # noqa: E402
from paid_iteration import npy_bytes  # noqa: E402
from pools import load_pool  # noqa: E402
from report import proc_status_mib, rounded, table, write_json  # noqa: E402

from alsats_widget.datasets import DatasetError  # noqa: E402
from alsats_widget.stack import die_with_parent  # noqa: E402
from backend.lightning.polar import copy_with_free_ports, free_ports  # noqa: E402
from backend.lightning.simnet.cli import READY_LINE  # noqa: E402
from tests.ledger_rows import ledger_rows  # noqa: E402

DEFAULT_OUT = REPO / "benchmarks" / "results" / "hosted_throughput.json"
NETWORK_FILE = REPO / "polar-network.json"
BASELINE = "1p-sqlite-local"
SIMNET_START_S = 120
BACKEND_START_S = 300  # Ray's start takes most of it on 2 cores
STOP_S = 60  # SIGTERM, then this long before SIGKILL
GOALS = {"server_cpu_ms_per_iteration_at_most": 1.0, "sessions": 50,
         "prepaid_iterations_per_s_at_least": 300.0, "prepaid_iteration_p99_ms_at_most": 250.0}


@dataclass(frozen=True)
class Shape:
    """What a deployment is: web processes, ledger store, where the learners live."""

    processes: int
    ledger: str  # "sqlite" or "postgresql"
    learners: str  # "local" or "ray"

    @property
    def supervised(self) -> bool:
        """The backend is a supervisor (backend/processes.py) rather than the web process."""
        return self.processes > 1 or self.learners != "local"


DEPLOYMENTS = {
    "1p-sqlite-local": Shape(1, "sqlite", "local"),
    "1p-postgresql-local": Shape(1, "postgresql", "local"),
    "1p-sqlite-ray": Shape(1, "sqlite", "ray"),
    "1p-postgresql-ray": Shape(1, "postgresql", "ray"),
    "2p-sqlite-ray": Shape(2, "sqlite", "ray"),
    "2p-postgresql-ray": Shape(2, "postgresql", "ray"),
}


class StartError(RuntimeError):
    """A deployment did not come up; the message carries its logs' last words."""


# -- one deployment -----------------------------------------------------------------------


class Deployment:
    """A simnet and an alsats-backend in a temp dir, as Load wants them (url, data_dir with
    the simnet in data_dir/backend/simnet, network_file); stopped on exit."""

    def __init__(self, name: str, ledger_url: str | None, price_msat: int,
                 progress: Callable[[str], None]) -> None:
        self.name = name
        self.shape = DEPLOYMENTS[name]
        self.price_msat = price_msat
        self.progress = progress
        self.data_dir = Path(tempfile.mkdtemp(prefix=f"alsats-hosted-{name}-"))
        self.backend_dir = self.data_dir / "backend"
        self.simnet_dir = self.backend_dir / "simnet"
        self.ledger_url = ledger_url or f"sqlite:///{self.backend_dir / 'credits.sqlite'}"
        self.network_file = self.data_dir / "network.json"
        self.log_file = self.data_dir / "backend.log"
        self.url = ""
        self.simnet: subprocess.Popen | None = None
        self.backend: subprocess.Popen | None = None
        self.web: list[psutil.Process] = []
        self._cpu: dict[int, float] = {}  # last reading per web process (one may die)
        self.start_s = 0.0

    def __enter__(self) -> Deployment:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        began = time.perf_counter()
        self.backend_dir.mkdir(parents=True)
        copy_with_free_ports(NETWORK_FILE, self.network_file)
        self.simnet = self._start_simnet()
        port = free_ports(1)[0]
        self.url = f"http://127.0.0.1:{port}"
        with self.log_file.open("ab") as log:  # the children keep it open
            self.backend = subprocess.Popen(
                [sys.executable, "-m", "backend.cli", "--network", str(self.network_file),
                 "--node", "alice", "--lnd-data-dir", str(self.simnet_dir),
                 "--data-dir", str(self.backend_dir), "--port", str(port),
                 "--price-msat", str(self.price_msat),
                 "--processes", str(self.shape.processes),
                 "--learners", self.shape.learners, "--ledger", self.ledger_url,
                 "--no-access-log"],
                cwd=REPO, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_child)
        deadline = time.monotonic() + BACKEND_START_S
        while not _healthy(self.url):
            if self.backend.poll() is not None or time.monotonic() > deadline:
                raise StartError(f"{self.name}: the backend did not answer /healthz "
                                 f"(exit {self.backend.poll()}); {self.log_tail()}")
            time.sleep(0.2)
        while True:  # /healthz answers once one web process serves: wait for all K
            self.web = self.serving()
            if len(self.web) >= self.shape.processes:
                break
            if self.backend.poll() is not None or time.monotonic() > deadline:
                raise StartError(f"{self.name}: {len(self.web)} of {self.shape.processes} "
                                 f"web processes serve; {self.log_tail()}")
            time.sleep(0.2)
        self.start_s = time.perf_counter() - began

    def _start_simnet(self) -> subprocess.Popen:
        """The simnet in a process of its own, once it prints its ready line."""
        with (self.data_dir / "simnet.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "backend.lightning.simnet.cli", "--network",
                 str(self.network_file), "--data-dir", str(self.simnet_dir), "--quiet"],
                cwd=REPO, stdout=subprocess.PIPE, stderr=log, text=True, preexec_fn=_child)
        deadline = time.monotonic() + SIMNET_START_S
        while time.monotonic() < deadline:
            ready, _, _ = select.select([process.stdout], [], [], 0.5)
            if ready:
                line = process.stdout.readline()
                if line.strip() == READY_LINE:
                    self.progress(f"simnet ready (pid {process.pid})")
                    return process
                if not line:  # it exited
                    break
            elif process.poll() is not None:
                break
        self.simnet = process  # stop() ends it
        tail = (self.data_dir / "simnet.log").read_text(errors="replace")[-2000:]
        raise StartError(f"{self.name}: the simnet did not start; its log ends:\n{tail}")

    def serving(self) -> list[psutil.Process]:
        """The web processes alive now that logged "Running on": the backend itself
        without a supervisor, else the supervisor's spawned children."""
        served = {entry.get("pid") for entry in self.log()
                  if "Running on" in str(entry.get("message", ""))}
        try:
            backend = psutil.Process(self.backend.pid)
            candidates = [child for child in backend.children()
                          if "spawn_main" in " ".join(child.cmdline())] \
                if self.shape.supervised else [backend]
        except psutil.Error:
            return []
        return sorted((p for p in candidates if p.pid in served), key=lambda p: p.pid)

    def log(self) -> list[dict]:
        """The backend's JSON log lines so far (every web process writes to the file)."""
        entries = []
        for line in self.log_file.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    entries.append(json.loads(line))
        return entries

    def log_tail(self) -> str:
        text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        return f"its log ends:\n{text[-2000:]}"

    def server_cpu_seconds(self) -> float:
        """User + system CPU of the web processes so far (a dead one: its last reading)."""
        for process in self.web:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                self._cpu[process.pid] = times.user + times.system
        return sum(self._cpu.values())

    def server_mib(self, field: str) -> float | None:
        """A /proc/<pid>/status memory field summed over the web processes, in MiB."""
        values = [proc_status_mib(p.pid, field) for p in self.web]
        return None if any(v is None for v in values) else sum(values)

    def same_web_processes(self) -> dict:
        """The web processes that served at the start serve still: none died meanwhile."""
        before = [p.pid for p in self.web]
        now = [p.pid for p in self.serving()]
        return {"pids_at_start": before, "pids_at_end": now,
                "ok": now == before and len(before) == self.shape.processes}

    def stop(self) -> None:
        """SIGTERM the backend and wait (it stops its web processes and Ray), then the
        simnet; SIGKILL (the backend: its whole process group) whatever outlives STOP_S."""
        if self.backend is not None and self.backend.poll() is None:
            self.backend.send_signal(signal.SIGTERM)
            try:
                self.backend.wait(STOP_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.backend.pid, signal.SIGKILL)
                self.backend.wait()
        if self.simnet is not None:
            if self.simnet.poll() is None:
                self.simnet.send_signal(signal.SIGTERM)
                try:
                    self.simnet.wait(STOP_S)
                except subprocess.TimeoutExpired:
                    self.simnet.kill()
                    self.simnet.wait()
            if self.simnet.stdout is not None:
                self.simnet.stdout.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _child() -> None:
    """A child's preexec: it dies with this process (Linux), and Ctrl-C in a terminal
    reaches this process only, which stops it cleanly."""
    die_with_parent()
    os.setpgrp()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def postgres_if_needed(names: list[str]) -> Iterator[object | None]:
    """One throwaway PostgreSQL server for the whole benchmark, if a deployment uses it."""
    if not any(DEPLOYMENTS[n].ledger == "postgresql" for n in names):
        yield None
        return
    from tests.postgres import PostgresServer
    with PostgresServer() as server:
        yield server


# -- a run: every deployment once ------------------------------------------------------------


def run_deployment(name: str, postgres, args: argparse.Namespace, r: int, images: np.ndarray,
                   labels: np.ndarray, body: bytes,
                   progress: Callable[[str], None]) -> dict:
    """Start ``name``, drive throughput.py's load against it, stop it; its record (with an
    "error" and failed checks if it did not get through)."""
    ledger_url = None
    if DEPLOYMENTS[name].ledger == "postgresql":
        ledger_url = postgres.new_database(f"hosted_r{r}_{name.replace('-', '_')}")
    record: dict = {"deployment": name, **vars(DEPLOYMENTS[name])}
    try:
        with Deployment(name, ledger_url, args.price_msat, progress) as deployment:
            record["start_s"] = deployment.start_s
            progress(f"serving after {deployment.start_s:.1f}s: web processes "
                     f"{[p.pid for p in deployment.web]}")
            detail = asyncio.run(throughput.drive(
                deployment, deployment.ledger_url, deployment.server_cpu_seconds,
                deployment.server_mib, args, r, images, labels, body, progress))
            record["web_processes"] = deployment.same_web_processes()
            judge_closed(detail, deployment)
    except Exception as exc:  # recorded: the other deployments go on
        progress(f"FAILED: {type(exc).__name__}: {str(exc)[:500]}")
        record.update(error=f"{type(exc).__name__}: {str(exc)[:2000]}",
                      traceback=traceback.format_exc()[-3000:], checks_ok=False)
        return record
    record["detail"] = detail
    record["figures"] = throughput.flatten(detail)
    record["checks_ok"] = (all(p["checks"]["ok"] for p in detail["phases"])
                           and detail["end_checks"]["ok"] and record["web_processes"]["ok"])
    return record


def judge_closed(detail: dict, deployment: Deployment) -> None:
    """Every session closed, judged by the ledger: GET /healthz counts the sessions one web
    process holds in memory, which with several says nothing of the others' (a session
    DELETEd through one stays in another's cache until its sweep), so throughput.py's
    live_sessions_after_close is judged only with one web process."""
    end = detail["end_checks"]
    end["sessions_open_in_ledger"] = int(ledger_rows(
        deployment.ledger_url, "SELECT COUNT(*) AS n FROM sessions WHERE closed = 0")[0]["n"])
    end["live_sessions_after_close_judged"] = deployment.shape.processes == 1
    end["ok"] = (end["ledger"]["ok"] and not end["finish_errors"]
                 and end["sessions_open_in_ledger"] == 0
                 and (end["live_sessions_after_close"] == 0
                      or not end["live_sessions_after_close_judged"]))


def with_baseline_ratios(records: dict[str, dict], levels: list[int]) -> None:
    """Each deployment's prepaid it/s over the baseline's of the same run, into its figures."""
    base = records.get(BASELINE, {}).get("figures")
    if not base:
        return
    for record in records.values():
        figures = record.get("figures")
        for n in levels if figures else ():
            key = f"c{n}_prepaid_ips"
            if key in figures and base.get(key):
                figures[f"{key}_vs_baseline"] = figures[key] / base[key]


# -- reporting ----------------------------------------------------------------------------------


def figure_rows(names: list[str], levels: list[int]) -> list[tuple[str, str, str]]:
    """The table's rows, keys "DEPLOYMENT/FIGURE" of the flattened figures."""
    rows = []
    for name in names:
        for n in levels:
            rows.append((f"{name}/c{n}_prepaid_ips", f"{name}, {n} sessions, prepaid", "it/s"))
            rows += [(f"{name}/c{n}_{mode}_{key}", f"  {label}", unit)
                     for mode in throughput.MODES
                     for key, label, unit in (
                         ("ips", f"{mode}: throughput", "it/s"),
                         ("iteration_p50_ms", f"{mode}: iteration p50", "ms"),
                         ("iteration_p99_ms", f"{mode}: iteration p99", "ms"),
                         ("server_cpu_ms_per_iteration", f"{mode}: server CPU/iteration",
                          "ms"))
                     if (mode, key) != ("prepaid", "ips")]
            rows.append((f"{name}/c{n}_prepaid_ips_vs_baseline",
                         f"  prepaid it/s / {BASELINE}'s", "x"))
    return rows


def headline(medians: dict[str, dict], names: list[str], n: int) -> dict:
    """The issue's figures at n sessions, and its goals (reported, never asserted)."""
    ray = [d for d in names if DEPLOYMENTS[d].learners == "ray"]

    def pick(key: str, among: list[str]) -> dict[str, float]:
        return {d: medians[d][key] for d in among if key in medians.get(d, {})}

    own = pick(f"c{n}_prepaid_server_cpu_ms_per_iteration", ray)
    ips = pick(f"c{n}_prepaid_ips", names)
    p99 = pick(f"c{n}_prepaid_iteration_p99_ms", names)
    goals = {"goals": GOALS, "measured_at_sessions": n,
             "server_cpu_met": {d: v <= GOALS["server_cpu_ms_per_iteration_at_most"]
                                for d, v in own.items()},
             "throughput_and_p99_met": {
                 d: ips[d] >= GOALS["prepaid_iterations_per_s_at_least"]
                 and p99[d] <= GOALS["prepaid_iteration_p99_ms_at_most"]
                 for d in ips if d in p99}}
    return {
        "sessions": n,
        "server_own_cpu_ms_per_paid_iteration": own,
        "server_own_cpu_note": "prepaid server CPU per iteration on the Ray deployments: "
                               "the web processes only, so no fits (Ray's actors) and no "
                               "Lightning node (the simnet's process)",
        "payg_server_cpu_ms_per_paid_iteration":
            pick(f"c{n}_payg_server_cpu_ms_per_iteration", ray),
        "prepaid_iterations_per_s": ips, "prepaid_iteration_p99_ms": p99,
        "prepaid_iterations_per_s_vs_baseline": pick(f"c{n}_prepaid_ips_vs_baseline", names),
        "goals": goals,
    }


def postgres_version(postgres) -> str | None:
    if postgres is None:
        return None
    import psycopg
    with psycopg.connect(postgres.url_of("postgres")) as db:
        return db.execute("SHOW server_version").fetchone()[0]


def environment(postgres) -> dict:
    versions = throughput.environment()
    with contextlib.suppress(ImportError):
        import ray
        versions["ray"] = ray.__version__
    versions["postgresql"] = postgres_version(postgres)
    return versions


def parse_deployments(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in DEPLOYMENTS]
    if unknown or not names or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f"deployments must be distinct names among {', '.join(DEPLOYMENTS)}: {text!r}")
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = throughput.build_parser(__doc__.split("\n\n")[0], [50], DEFAULT_OUT)
    parser.add_argument("--deployments", type=parse_deployments, default=list(DEPLOYMENTS),
                        help="comma-separated, among " + ", ".join(DEPLOYMENTS) + " (all; "
                             f"{BASELINE} is the baseline the ratios need)")
    return throughput.check_args(parser, parser.parse_args(argv))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        digits = load_pool(throughput.POOL)
    except (DatasetError, OSError) as exc:
        print(f"hosted_throughput: {exc}", file=sys.stderr)
        return 2
    images, labels, body = digits.images, digits.labels, npy_bytes(digits.images)
    names, levels = args.deployments, args.concurrency

    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    progress(f"pool: {len(images)} digits ({digits.source}); deployments {names}; levels "
             f"{levels}, {args.iterations} timed iterations per session")
    started = time.perf_counter()
    runs: list[dict] = []
    with postgres_if_needed(names) as postgres:
        for r in range(1, args.runs + 1):
            shift = (r - 1) % len(names)  # rotate the order, so drift favours none
            order = names[shift:] + names[:shift]
            records = {}
            for name in order:
                def step(text: str, r: int = r, name: str = name) -> None:
                    progress(f"run {r}/{args.runs}, {name}: {text}")

                began = time.perf_counter()
                records[name] = run_deployment(name, postgres, args, r, images, labels, body,
                                               step)
                step(f"done in {time.perf_counter() - began:.1f}s, checks "
                     f"{'ok' if records[name]['checks_ok'] else 'FAILED'}")
            with_baseline_ratios(records, levels)
            runs.append({"run": r, "order": order, "deployments": records})
        env = environment(postgres)

    per_run = [{f"{d}/{key}": value for d, record in run["deployments"].items()
                for key, value in record.get("figures", {}).items()} for run in runs]
    flat = {key: statistics.median(f[key] for f in per_run)
            for key in per_run[0] if all(key in f for f in per_run)}
    medians: dict[str, dict] = {d: {} for d in names}
    for key, value in flat.items():
        d, figure = key.split("/", 1)
        medians[d][figure] = value
    checks_ok = all(record["checks_ok"] for run in runs for record in run["deployments"].values())
    top = headline(medians, names, 50 if 50 in levels else max(levels))
    report = rounded({
        "benchmark": "hosted_throughput",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": time.perf_counter() - started,
        "parameters": {
            "runs": args.runs, "concurrency": levels, "deployments": names,
            "baseline": BASELINE, "iterations_per_session": args.iterations,
            "warmup_per_session": args.warmup, "initial_labels": args.initial_labels,
            "initial_labels_seed": args.seed, "query_k": args.query_k,
            "price_msat": args.price_msat,
            "pool": f"{len(images)} digits, uint8 {tuple(images.shape)}, {digits.source}",
            "deployment": "per deployment and run, a fresh temp dir: the simnet "
                          "(backend.lightning.simnet.cli) in its own process, then "
                          "backend.cli --processes K --learners L --ledger URL (no "
                          "--simnet) on a free loopback port, waited for until /healthz "
                          "answers 200 and K web processes logged 'Running on'; SIGTERM "
                          "to the backend, then to the simnet, at the end",
            "postgresql": "one tests.postgres.PostgresServer (Unix socket, fsync on) for "
                          "the whole benchmark, a new database per deployment and run",
            "server_cpu": "user + system CPU (psutil) of the web processes only: the "
                          "backend process for 1p-*-local, else the supervisor's children "
                          "whose cmdline holds spawn_main; never the simnet, Ray's "
                          "processes (with Ray: the fits), the supervisor or the load. "
                          "server_cpu_ms_per_iteration: during the timed loop; "
                          "server_cpu_learned_ms_per_iteration: until every model caught up",
            "ratios": f"c<n>_prepaid_ips_vs_baseline: a deployment's prepaid it/s over "
                      f"{BASELINE}'s in the same run, then the median over runs",
            "order": "deployments rotate from run to run; within a deployment, payg then "
                     "prepaid (odd runs) or prepaid then payg (even runs), as in "
                     "throughput.py",
            "load": "throughput.py's Load, Session and phase: see its parameters",
        },
        "environment": env,
        "median": medians,
        "headline": top,
        "checks_ok": checks_ok,
        "runs": runs,
    })
    print(table(figure_rows(names, levels), flat, per_run, args.runs))
    own = top["server_own_cpu_ms_per_paid_iteration"]
    print(f"\nserver's own CPU per paid iteration (prepaid, Ray, {top['sessions']} sessions): "
          + (", ".join(f"{d} {v:.2f} ms" for d, v in own.items()) or "no Ray deployment"))
    print(f"goals (reported, not asserted): {json.dumps(top['goals'])}")
    print(f"\nchecks (200s, 402s, payments, ledger, balances, web processes): "
          f"{'all ok' if checks_ok else 'FAILED, see the JSON'}")
    write_json(args.out, report)
    return 0 if checks_ok else 1


if __name__ == "__main__":
    sys.exit(main())
