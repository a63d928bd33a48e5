"""Payment latency and throughput against the embedded simnet, through the adapter.

Everything goes over real gRPC+TLS on loopback through ``LightningNode``; the simnet is
embedded (same process, same event loop as the clients). Each run starts a fresh simnet
in a fresh temp dir, on free ports, and measures:

- ``getinfo``: a bare GetInfo round trip to alice (the baseline);
- ``direct``: bob pays alice (one hop), sequentially, one payment at a time;
- ``two_hop``: carol pays alice through bob, sequentially;
- ``throughput_1`` / ``throughput_10``: payments per second with 1 and with 10 concurrent
  payers (asyncio tasks) draining one list of payments in which bob and carol alternate.

Only ``send_payment`` (or ``get_info``) is timed; invoices are made by alice beforehand.
Every figure is reported as the median across runs. Usage::

    python benchmarks/payment_latency.py [--payments N] [--runs R] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(REPO))

import grpc  # noqa: E402
from report import rounded, summary_ms, table, write_json  # noqa: E402

from backend.lightning import LightningNode, load_polar_network  # noqa: E402
from backend.lightning.polar import copy_with_free_ports  # noqa: E402
from backend.lightning.simnet import Simnet, SimnetError  # noqa: E402

NETWORK_FILE = REPO / "polar-network.json"
DEFAULT_OUT = REPO / "benchmarks" / "results" / "payment_latency.json"
AMOUNT_MSAT = 1000  # 1 sat a payment: a run moves ~1,300 sat, far below any balance
TWO_HOP_FEE_LIMIT_MSAT = 10_000  # bob charges 1000 msat base + 1 ppm
EXPECTED_TWO_HOP_FEE_MSAT = 1000 + AMOUNT_MSAT * 1 // 1_000_000
CONCURRENCY = (1, 10)
START_ATTEMPTS = 3  # a free port can be taken between choosing it and binding it


# -- the network ------------------------------------------------------------------


class FreshSimnet:
    """A new simnet in a new temp dir on free ports, with adapters to its three nodes."""

    def __init__(self, network_file: Path) -> None:
        self._source = network_file
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._simnet: Simnet | None = None
        self.nodes: dict[str, LightningNode] = {}

    async def __aenter__(self) -> dict[str, LightningNode]:
        for attempt in range(1, START_ATTEMPTS + 1):
            self._tmp = tempfile.TemporaryDirectory(prefix="alsats-bench-")
            tmp = Path(self._tmp.name)
            network_file = copy_with_free_ports(self._source, tmp / "network.json")
            data_dir = tmp / "data"
            network = load_polar_network(network_file, data_dir)
            self._simnet = Simnet(network, data_dir)
            try:
                await self._simnet.start()
                break
            except SimnetError:
                self._tmp.cleanup()
                if attempt == START_ATTEMPTS:
                    raise
        for name in ("alice", "bob", "carol"):
            spec = network.lnd(name)
            self.nodes[name] = LightningNode.from_files(
                spec.grpc_host, spec.tls_cert, spec.macaroon_path("admin"), name=name)
        return self.nodes

    async def __aexit__(self, *exc_info) -> None:
        for node in self.nodes.values():
            await node.close()
        if self._simnet is not None:
            await self._simnet.stop()
        if self._tmp is not None:
            self._tmp.cleanup()


# -- measuring ----------------------------------------------------------------------


async def make_invoices(alice: LightningNode, count: int, memo: str) -> list:
    """``count`` 1-sat invoices from alice (outside any timed region)."""
    invoices = []
    for start in range(0, count, 50):  # a few at a time keeps the simnet's queue short
        batch = range(start, min(start + 50, count))
        invoices += await asyncio.gather(
            *(alice.add_invoice(AMOUNT_MSAT, memo=f"{memo} {i}") for i in batch))
    return invoices


def check_payment(payment, invoice, expected_fee_msat: int) -> None:
    """Each timed payment really happened: the preimage opens the hash, the fee is right."""
    preimage_hash = hashlib.sha256(bytes.fromhex(payment.preimage)).hexdigest()
    if preimage_hash != invoice.payment_hash:
        raise AssertionError(f"preimage does not match invoice {invoice.payment_hash}")
    if payment.fee_msat != expected_fee_msat:
        raise AssertionError(f"fee {payment.fee_msat} msat, expected {expected_fee_msat}")


async def timed_calls(count: int, call: Callable[[], Awaitable[object]]) -> list[int]:
    samples = []
    for _ in range(count):
        start = time.perf_counter_ns()
        await call()
        samples.append(time.perf_counter_ns() - start)
    return samples


async def timed_payments(payer: LightningNode, invoices: list, fee_limit_msat: int,
                         expected_fee_msat: int) -> list[int]:
    samples = []
    for invoice in invoices:
        start = time.perf_counter_ns()
        payment = await payer.send_payment(invoice.payment_request,
                                           fee_limit_msat=fee_limit_msat)
        samples.append(time.perf_counter_ns() - start)
        check_payment(payment, invoice, expected_fee_msat)
    return samples


async def throughput(nodes: dict[str, LightningNode], invoices: list, concurrency: int) -> dict:
    """``concurrency`` tasks drain one list of payments in which bob and carol alternate."""
    jobs = [
        (nodes["bob"], invoice, 0) if i % 2 == 0
        else (nodes["carol"], invoice, EXPECTED_TWO_HOP_FEE_MSAT)
        for i, invoice in enumerate(invoices)
    ]
    pending = iter(jobs)

    async def payer() -> None:
        for node, invoice, fee in pending:  # a shared iterator: each job taken once
            limit = 0 if fee == 0 else TWO_HOP_FEE_LIMIT_MSAT
            payment = await node.send_payment(invoice.payment_request, fee_limit_msat=limit)
            check_payment(payment, invoice, fee)

    start = time.perf_counter_ns()
    await asyncio.gather(*(payer() for _ in range(concurrency)))
    elapsed_s = (time.perf_counter_ns() - start) / 1e9
    return {"payments": len(jobs), "seconds": elapsed_s,
            "payments_per_second": len(jobs) / elapsed_s}


async def one_run(network_file: Path, payments: int, throughput_payments: int,
                  warmup: int, aged: int, progress: Callable[[str], None]) -> dict:
    async with FreshSimnet(network_file) as nodes:
        alice, bob, carol = nodes["alice"], nodes["bob"], nodes["carol"]
        before = (await alice.channel_balance()).local_msat

        # each phase's invoices are made just before it, outside the timed region, so a
        # phase sees only the invoices and payments of the phases before it
        progress("warm-up")  # TLS handshakes, HTTP/2 windows, first-call caches
        for node in (alice, bob, carol):
            await node.get_info()
        await timed_calls(warmup, alice.get_info)
        await timed_payments(bob, await make_invoices(alice, warmup, "warm-up direct"), 0, 0)
        await timed_payments(carol, await make_invoices(alice, warmup, "warm-up two-hop"),
                             TWO_HOP_FEE_LIMIT_MSAT, EXPECTED_TWO_HOP_FEE_MSAT)

        progress("getinfo")
        gc.collect()
        getinfo = summary_ms(await timed_calls(payments, alice.get_info))

        progress("direct")
        invoices = await make_invoices(alice, payments, "direct")
        gc.collect()
        direct = summary_ms(await timed_payments(bob, invoices, 0, 0))

        progress("two-hop")
        invoices = await make_invoices(alice, payments, "two-hop")
        gc.collect()
        two_hop = summary_ms(await timed_payments(
            carol, invoices, TWO_HOP_FEE_LIMIT_MSAT, EXPECTED_TWO_HOP_FEE_MSAT))

        result = {"getinfo": getinfo, "direct": direct, "two_hop": two_hop}
        for c in CONCURRENCY:
            progress(f"throughput x{c}")
            invoices = await make_invoices(alice, throughput_payments, f"throughput x{c}")
            gc.collect()
            result[f"throughput_{c}"] = await throughput(nodes, invoices, c)

        if aged:
            progress(f"aging +{aged}")  # fill the ledger, then measure direct payments again
            await throughput(nodes, await make_invoices(alice, aged, "aging"), 10)
            invoices = await make_invoices(alice, payments, "direct, aged")
            gc.collect()
            result["direct_aged"] = summary_ms(await timed_payments(bob, invoices, 0, 0))

        paid = AMOUNT_MSAT * (2 * warmup + 2 * payments + len(CONCURRENCY) * throughput_payments
                              + (aged + payments if aged else 0))
        after = (await alice.channel_balance()).local_msat
        if after - before != paid:
            raise AssertionError(f"alice received {after - before} msat, expected {paid}")
    return result


# -- reporting ----------------------------------------------------------------------

FIGURES = [  # (key in the summary, label, unit)
    ("getinfo_p50_ms", "GetInfo round trip (alice), p50", "ms"),
    ("getinfo_p95_ms", "GetInfo round trip (alice), p95", "ms"),
    ("direct_p50_ms", "direct payment bob->alice, p50", "ms"),
    ("direct_p95_ms", "direct payment bob->alice, p95", "ms"),
    ("two_hop_p50_ms", "two-hop payment carol->bob->alice, p50", "ms"),
    ("two_hop_p95_ms", "two-hop payment carol->bob->alice, p95", "ms"),
    ("throughput_1_pps", "throughput, 1 concurrent payer", "pay/s"),
    ("throughput_10_pps", "throughput, 10 concurrent payers", "pay/s"),
    ("direct_over_getinfo_p50", "direct p50 / GetInfo p50", "x"),
    ("direct_aged_p50_ms", "direct p50 after --aged more payments", "ms"),
    ("direct_aged_p95_ms", "direct p95 after --aged more payments", "ms"),
]


def shown(figures: dict) -> list[tuple[str, str, str]]:
    return [f for f in FIGURES if f[0] in figures]


def flatten(run: dict) -> dict[str, float]:
    figures = {}
    for key in ("getinfo", "direct", "two_hop"):
        figures[f"{key}_p50_ms"] = run[key]["p50_ms"]
        figures[f"{key}_p95_ms"] = run[key]["p95_ms"]
    for c in CONCURRENCY:
        figures[f"throughput_{c}_pps"] = run[f"throughput_{c}"]["payments_per_second"]
    figures["direct_over_getinfo_p50"] = run["direct"]["p50_ms"] / run["getinfo"]["p50_ms"]
    if "direct_aged" in run:
        figures["direct_aged_p50_ms"] = run["direct_aged"]["p50_ms"]
        figures["direct_aged_p95_ms"] = run["direct_aged"]["p95_ms"]
    return figures


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payments", type=int, default=200,
                        help="payments (and GetInfo calls) per latency measurement (200)")
    parser.add_argument("--throughput-payments", type=int, default=400,
                        help="payments per throughput measurement (400)")
    parser.add_argument("--runs", type=int, default=5, help="runs, each on a fresh simnet (5)")
    parser.add_argument("--warmup", type=int, default=10,
                        help="untimed calls of each kind before measuring (10)")
    parser.add_argument("--aged", type=int, default=0,
                        help="then make this many more payments and measure direct again (0)")
    parser.add_argument("--network", type=Path, default=NETWORK_FILE,
                        help="Polar network file (its ports are replaced by free ones)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="where the JSON goes (benchmarks/results/payment_latency.json)")
    args = parser.parse_args(argv)
    for name in ("payments", "throughput_payments", "runs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0 or args.aged < 0:
        parser.error("--warmup and --aged must not be negative")
    if args.runs < 3:
        print(f"note: {args.runs} run(s); medians are meant to be taken over 3 or more",
              file=sys.stderr)
    return args


async def main_async(args: argparse.Namespace) -> dict:
    runs, per_run = [], []
    interactive = sys.stdout.isatty()
    redraw = "\r" if interactive else ""
    started = time.perf_counter()
    for r in range(1, args.runs + 1):
        run_start = time.perf_counter()

        def progress(phase: str, r: int = r) -> None:
            if interactive:  # redraw one line; a log file gets only the per-run lines
                print(f"\rrun {r}/{args.runs}: {phase:<16}", end="", flush=True)

        run = await one_run(args.network, args.payments, args.throughput_payments,
                            args.warmup, args.aged, progress)
        figures = flatten(run)
        runs.append(run)
        per_run.append(figures)
        print(f"{redraw}run {r}/{args.runs}: done in {time.perf_counter() - run_start:5.1f}s  "
              f"getinfo p50 {figures['getinfo_p50_ms']:.2f} ms, "
              f"direct p50 {figures['direct_p50_ms']:.2f} ms, "
              f"two-hop p50 {figures['two_hop_p50_ms']:.2f} ms, "
              f"x1 {figures['throughput_1_pps']:.0f}/s, "
              f"x10 {figures['throughput_10_pps']:.0f}/s", flush=True)
    medians = {key: statistics.median(f[key] for f in per_run)
               for key, _, _ in shown(per_run[0])}
    return {
        "benchmark": "payment_latency",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(time.perf_counter() - started, 2),
        "parameters": {
            "runs": args.runs, "payments": args.payments,
            "throughput_payments": args.throughput_payments,
            "throughput_concurrency": list(CONCURRENCY), "warmup": args.warmup,
            "aged": args.aged,
            "amount_msat": AMOUNT_MSAT, "two_hop_fee_limit_msat": TWO_HOP_FEE_LIMIT_MSAT,
            "network": args.network.name,  # no machine path in a committed result
            "simnet": "embedded (same process and event loop as the clients)",
            "transport": "gRPC over TLS on 127.0.0.1 through LightningNode",
        },
        "environment": {
            "python": sys.version.split()[0], "implementation": platform.python_implementation(),
            "platform": platform.platform(), "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
            "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count(),
            "grpcio": grpc.__version__,
        },
        "median": medians,
        "target": {"direct_p50_ms_under": 5.0, "met": medians["direct_p50_ms"] < 5.0},
        "runs": [{"figures": f, "detail": run}
                 for f, run in zip(per_run, runs, strict=True)],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = rounded(asyncio.run(main_async(args)))
    print()
    print(table(FIGURES, report["median"], [r["figures"] for r in report["runs"]],
                args.runs))
    target = "met" if report["target"]["met"] else "NOT met"
    print(f"\ntarget 'direct payment p50 under 5 ms': {target} "
          f"({report['median']['direct_p50_ms']:.2f} ms)")
    write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
