"""kill -9 of a running simnet during a burst of payments: no msat created, lost or duplicated."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from backend.lightning import LightningError, LightningNode
from backend.lightning.simnet.cli import READY_LINE

pytestmark = pytest.mark.slow
NAMES = ("alice", "bob", "carol")


def start_simnet(network_file: Path, data_dir: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "backend.lightning.simnet.cli", "--network", str(network_file),
         "--data-dir", str(data_dir), "--quiet"],
        stdout=subprocess.PIPE, text=True,
    )
    line = process.stdout.readline()
    assert line.strip() == READY_LINE, f"simnet did not start: {line!r}"
    return process


def stop(process: subprocess.Popen) -> None:
    process.wait()
    process.stdout.close()


def connect(network_file: Path, data_dir: Path) -> dict[str, LightningNode]:
    return {n: LightningNode.from_polar(network_file, n, data_dir) for n in NAMES}


async def snapshot(nodes: dict[str, LightningNode]) -> dict:
    state = {"local": {}, "channels": {}, "payments": {}}
    for name, node in nodes.items():
        state["local"][name] = (await node.channel_balance()).local_msat
        for channel in await node.list_channels():
            state["channels"].setdefault(channel.channel_point, []).append(channel)
        state["payments"][name] = await node.list_payments()
    state["settled"] = [i for i in await nodes["alice"].list_invoices() if i.settled]
    return state


async def pay_until_killed(payer: LightningNode, requests: list[str], confirmed: list) -> None:
    for request in requests:
        try:
            confirmed.append(await payer.send_payment(request, fee_limit_msat=10_000,
                                                      timeout_seconds=5))
        except LightningError:
            return  # the node died under us: what matters is what the books say after


async def test_kill_9_during_payments_conserves_every_msat(network_file, data_dir):
    rng = random.Random(7)
    process = start_simnet(network_file, data_dir)
    nodes = connect(network_file, data_dir)
    initial = await snapshot(nodes)
    confirmed: list = []
    try:
        for _ in range(3):
            invoices = [await nodes["alice"].add_invoice(rng.randint(1, 50_000))
                        for _ in range(200)]
            requests = [i.payment_request for i in invoices]
            before = len(confirmed)
            payers = [
                asyncio.create_task(pay_until_killed(nodes[name], requests[k::4], confirmed))
                for k, name in enumerate(("bob", "carol", "bob", "carol"))
            ]
            target = before + rng.randint(20, 120)  # kill once this many went through
            while len(confirmed) < target:
                await asyncio.sleep(0.001)
            os.kill(process.pid, signal.SIGKILL)
            stop(process)
            await asyncio.gather(*payers)
            went_through = len(confirmed) - before
            assert 0 < went_through < len(requests), "the kill did not land mid-burst"
            for node in nodes.values():
                await node.close()
            process = start_simnet(network_file, data_dir)
            nodes = connect(network_file, data_dir)
            check_books(initial, await snapshot(nodes), confirmed)
    finally:
        for node in nodes.values():
            await node.close()
        process.kill()
        stop(process)


def check_books(initial: dict, now: dict, confirmed: list) -> None:
    # both ends of every channel agree, and it still holds its capacity (sat, floored)
    for one, other in now["channels"].values():
        assert (one.local_balance_sat, one.remote_balance_sat) == (
            other.remote_balance_sat, other.local_balance_sat)
        assert one.capacity_sat - 1 <= one.local_balance_sat + one.remote_balance_sat
        assert one.local_balance_sat + one.remote_balance_sat <= one.capacity_sat
    assert sum(now["local"].values()) == sum(initial["local"].values())

    paid = {p.payment_hash: p for name in ("bob", "carol") for p in now["payments"][name]}
    settled = {i.payment_hash: i for i in now["settled"]}
    assert paid.keys() == settled.keys(), "a settled invoice nobody paid, or a lost payment"
    for payment_hash, payment in paid.items():
        assert settled[payment_hash].amt_paid_msat == payment.value_msat
    for payment in confirmed:  # what a payer was told succeeded is in the books
        assert payment.payment_hash in paid
    assert len(paid) == sum(len(now["payments"][n]) for n in ("bob", "carol"))  # no duplicate

    def spent(name):
        return sum(p.value_msat + p.fee_msat for p in now["payments"][name])

    carol_fees = sum(p.fee_msat for p in now["payments"]["carol"])
    delta = {n: now["local"][n] - initial["local"][n] for n in NAMES}
    assert delta["alice"] == sum(i.amt_paid_msat for i in settled.values())
    assert delta["carol"] == -spent("carol")
    assert delta["bob"] == -spent("bob") + carol_fees
